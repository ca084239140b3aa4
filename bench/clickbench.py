#!/usr/bin/env python3
"""ClickBench-shaped benchmark: Floe vs DuckDB vs chDB on a synthetic `hits`.

ClickBench (github.com/ClickHouse/ClickBench, Apache-2.0) runs 43 queries
over `hits`, a 105-column, 100M-row extract of Yandex.Metrica web analytics
hits. It publishes the data but no generator, so this script generates a
table with the same schema and similar shape (seeded and deterministic):
skewed counters (CounterID = 62, the counter the last seven queries filter
on, is the hottest), Zipf-like users, search phrases on about an eighth of the
rows, URLs, referers and titles of realistic lengths, mostly-empty text
columns, and a month of hits in July 2013 in arrival (EventTime) order.

As in tpch.py, "datafusion" (the Python DataFusion package) and
"duckdb-files" (DuckDB) query the Parquet files Floe wrote, in place: the
first shows how much of Floe's time is the query engine, the second is the
fastest peer on exactly the bytes Floe reads.

Steps:
  1. generate bench/data/clickbench-<rows>/hits.parquet (in chunks of
     500,000 rows, so memory stays bounded), unless it is already there;
  2. load it into each engine (DuckDB and chDB tables, Floe COPY), timing the
     load and measuring the on-disk size;
  3. run the 43 queries: one cold run, then --runs hot runs, keeping the
     median of the hot runs;
  4. check every engine's answers against DuckDB's, tolerant of the order of
     rows that tie on the ORDER BY key (and of which tied rows a LIMIT keeps:
     those are looked up in DuckDB's full answer);
  5. print a markdown report and write it, plus a JSON file, to
     bench/out/clickbench-<date>.{md,json}.

Run with the project venv (bench/setup-venv.sh creates it):
  .venv/bin/python bench/clickbench.py                    # 10M rows
  .venv/bin/python bench/clickbench.py --rows 200000 --runs 1 --engines duckdb,floe
  .venv/bin/python bench/clickbench.py --rows 1000000 --generate-only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import sys
import time
import urllib.parse
from pathlib import Path

from common import BENCH_DIR, default_floe_bin, ensure_venv, exit_on_signal, log

ensure_venv(__file__, ["duckdb", "pyarrow", "numpy"])

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

# The engine plumbing (server lifecycle, timeouts, value comparison, sizes)
# is tpch.py's; the classes below only change what is ClickBench's.
import tpch  # noqa: E402
from tpch import (  # noqa: E402
    fmt_check, fmt_ms, fmt_ratio, geomean, human_bytes,
    sql_str, values_equal,
)

ALL_ENGINES = ["duckdb", "chdb", "floe", "datafusion", "duckdb-files"]
GENERATOR_VERSION = 1
CHUNK_ROWS = 500_000  # fixed: the data depends on --rows and --seed only
DEFAULT_SEED = 42

# ClickBench's `hits` schema (its create.sql for PostgreSQL), in column order.
HITS_SCHEMA: list[tuple[str, str]] = [
    ("WatchID", "BIGINT"), ("JavaEnable", "SMALLINT"), ("Title", "TEXT"),
    ("GoodEvent", "SMALLINT"), ("EventTime", "TIMESTAMP"), ("EventDate", "DATE"),
    ("CounterID", "INTEGER"), ("ClientIP", "INTEGER"), ("RegionID", "INTEGER"),
    ("UserID", "BIGINT"), ("CounterClass", "SMALLINT"), ("OS", "SMALLINT"),
    ("UserAgent", "SMALLINT"), ("URL", "TEXT"), ("Referer", "TEXT"), ("IsRefresh", "SMALLINT"),
    ("RefererCategoryID", "SMALLINT"), ("RefererRegionID", "INTEGER"),
    ("URLCategoryID", "SMALLINT"), ("URLRegionID", "INTEGER"), ("ResolutionWidth", "SMALLINT"),
    ("ResolutionHeight", "SMALLINT"), ("ResolutionDepth", "SMALLINT"), ("FlashMajor", "SMALLINT"),
    ("FlashMinor", "SMALLINT"), ("FlashMinor2", "TEXT"), ("NetMajor", "SMALLINT"),
    ("NetMinor", "SMALLINT"), ("UserAgentMajor", "SMALLINT"), ("UserAgentMinor", "VARCHAR(255)"),
    ("CookieEnable", "SMALLINT"), ("JavascriptEnable", "SMALLINT"), ("IsMobile", "SMALLINT"),
    ("MobilePhone", "SMALLINT"), ("MobilePhoneModel", "TEXT"), ("Params", "TEXT"),
    ("IPNetworkID", "INTEGER"), ("TraficSourceID", "SMALLINT"), ("SearchEngineID", "SMALLINT"),
    ("SearchPhrase", "TEXT"), ("AdvEngineID", "SMALLINT"), ("IsArtifical", "SMALLINT"),
    ("WindowClientWidth", "SMALLINT"), ("WindowClientHeight", "SMALLINT"),
    ("ClientTimeZone", "SMALLINT"), ("ClientEventTime", "TIMESTAMP"),
    ("SilverlightVersion1", "SMALLINT"), ("SilverlightVersion2", "SMALLINT"),
    ("SilverlightVersion3", "INTEGER"), ("SilverlightVersion4", "SMALLINT"),
    ("PageCharset", "TEXT"), ("CodeVersion", "INTEGER"), ("IsLink", "SMALLINT"),
    ("IsDownload", "SMALLINT"), ("IsNotBounce", "SMALLINT"), ("FUniqID", "BIGINT"),
    ("OriginalURL", "TEXT"), ("HID", "INTEGER"), ("IsOldCounter", "SMALLINT"),
    ("IsEvent", "SMALLINT"), ("IsParameter", "SMALLINT"), ("DontCountHits", "SMALLINT"),
    ("WithHash", "SMALLINT"), ("HitColor", "CHAR"), ("LocalEventTime", "TIMESTAMP"),
    ("Age", "SMALLINT"), ("Sex", "SMALLINT"), ("Income", "SMALLINT"), ("Interests", "SMALLINT"),
    ("Robotness", "SMALLINT"), ("RemoteIP", "INTEGER"), ("WindowName", "INTEGER"),
    ("OpenerName", "INTEGER"), ("HistoryLength", "SMALLINT"), ("BrowserLanguage", "TEXT"),
    ("BrowserCountry", "TEXT"), ("SocialNetwork", "TEXT"), ("SocialAction", "TEXT"),
    ("HTTPError", "SMALLINT"), ("SendTiming", "INTEGER"), ("DNSTiming", "INTEGER"),
    ("ConnectTiming", "INTEGER"), ("ResponseStartTiming", "INTEGER"),
    ("ResponseEndTiming", "INTEGER"), ("FetchTiming", "INTEGER"),
    ("SocialSourceNetworkID", "SMALLINT"), ("SocialSourcePage", "TEXT"), ("ParamPrice", "BIGINT"),
    ("ParamOrderID", "TEXT"), ("ParamCurrency", "TEXT"), ("ParamCurrencyID", "SMALLINT"),
    ("OpenstatServiceName", "TEXT"), ("OpenstatCampaignID", "TEXT"), ("OpenstatAdID", "TEXT"),
    ("OpenstatSourceID", "TEXT"), ("UTMSource", "TEXT"), ("UTMMedium", "TEXT"),
    ("UTMCampaign", "TEXT"), ("UTMContent", "TEXT"), ("UTMTerm", "TEXT"), ("FromTag", "TEXT"),
    ("HasGCLID", "SMALLINT"), ("RefererHash", "BIGINT"), ("URLHash", "BIGINT"), ("CLID", "INTEGER"),
]
assert len(HITS_SCHEMA) == 105, len(HITS_SCHEMA)

ARROW_TYPES = {"BIGINT": pa.int64(), "INTEGER": pa.int32(), "SMALLINT": pa.int16(),
               "TEXT": pa.string(), "VARCHAR(255)": pa.string(), "CHAR": pa.string(),
               "TIMESTAMP": pa.timestamp("us"), "DATE": pa.date32()}
# ClickBench's ClickHouse create.sql types. DateTime is pinned to UTC so that
# the hour and minute functions agree with the other engines on any machine.
CLICKHOUSE_TYPES = {"BIGINT": "Int64", "INTEGER": "Int32", "SMALLINT": "Int16", "TEXT": "String",
                    "VARCHAR(255)": "String", "CHAR": "FixedString(1)",
                    "TIMESTAMP": "DateTime('UTC')", "DATE": "Date"}
HITS_ARROW_SCHEMA = pa.schema([pa.field(c, ARROW_TYPES[t], nullable=False) for c, t in HITS_SCHEMA])

# ClickBench's ClickHouse primary key; --sort-key clickbench sorts the DuckDB
# and Floe tables by it too and makes it chDB's MergeTree ORDER BY.
CLICKBENCH_SORT_KEY = ["CounterID", "EventDate", "UserID", "EventTime", "WatchID"]


# --------------------------------------------------------------------------
# the 43 queries
#
# From ClickBench (github.com/ClickHouse/ClickBench, Apache-2.0), numbered
# 1-43 (ClickBench's result files count them 0-42). The texts are its
# standard-SQL form, which DuckDB, DataFusion and Floe accept as they are;
# chDB gets the ClickHouse spelling where it differs (CHDB_REWRITES).

QUERIES: dict[int, str] = {
    1: "SELECT COUNT(*) FROM hits",
    2: "SELECT COUNT(*) FROM hits WHERE AdvEngineID <> 0",
    3: "SELECT SUM(AdvEngineID), COUNT(*), AVG(ResolutionWidth) FROM hits",
    4: "SELECT AVG(UserID) FROM hits",
    5: "SELECT COUNT(DISTINCT UserID) FROM hits",
    6: "SELECT COUNT(DISTINCT SearchPhrase) FROM hits",
    7: "SELECT MIN(EventDate), MAX(EventDate) FROM hits",
    8: "SELECT AdvEngineID, COUNT(*) FROM hits WHERE AdvEngineID <> 0 GROUP BY AdvEngineID "
       "ORDER BY COUNT(*) DESC",
    9: "SELECT RegionID, COUNT(DISTINCT UserID) AS u FROM hits GROUP BY RegionID "
       "ORDER BY u DESC LIMIT 10",
    10: "SELECT RegionID, SUM(AdvEngineID), COUNT(*) AS c, AVG(ResolutionWidth), "
        "COUNT(DISTINCT UserID) FROM hits GROUP BY RegionID ORDER BY c DESC LIMIT 10",
    11: "SELECT MobilePhoneModel, COUNT(DISTINCT UserID) AS u FROM hits "
        "WHERE MobilePhoneModel <> '' GROUP BY MobilePhoneModel ORDER BY u DESC LIMIT 10",
    12: "SELECT MobilePhone, MobilePhoneModel, COUNT(DISTINCT UserID) AS u FROM hits "
        "WHERE MobilePhoneModel <> '' GROUP BY MobilePhone, MobilePhoneModel "
        "ORDER BY u DESC LIMIT 10",
    13: "SELECT SearchPhrase, COUNT(*) AS c FROM hits WHERE SearchPhrase <> '' "
        "GROUP BY SearchPhrase ORDER BY c DESC LIMIT 10",
    14: "SELECT SearchPhrase, COUNT(DISTINCT UserID) AS u FROM hits WHERE SearchPhrase <> '' "
        "GROUP BY SearchPhrase ORDER BY u DESC LIMIT 10",
    15: "SELECT SearchEngineID, SearchPhrase, COUNT(*) AS c FROM hits WHERE SearchPhrase <> '' "
        "GROUP BY SearchEngineID, SearchPhrase ORDER BY c DESC LIMIT 10",
    16: "SELECT UserID, COUNT(*) FROM hits GROUP BY UserID ORDER BY COUNT(*) DESC LIMIT 10",
    17: "SELECT UserID, SearchPhrase, COUNT(*) FROM hits GROUP BY UserID, SearchPhrase "
        "ORDER BY COUNT(*) DESC LIMIT 10",
    18: "SELECT UserID, SearchPhrase, COUNT(*) FROM hits GROUP BY UserID, SearchPhrase LIMIT 10",
    19: "SELECT UserID, extract(minute FROM EventTime) AS m, SearchPhrase, COUNT(*) FROM hits "
        "GROUP BY UserID, m, SearchPhrase ORDER BY COUNT(*) DESC LIMIT 10",
    20: "SELECT UserID FROM hits WHERE UserID = 435090932899640449",
    21: "SELECT COUNT(*) FROM hits WHERE URL LIKE '%google%'",
    22: "SELECT SearchPhrase, MIN(URL), COUNT(*) AS c FROM hits WHERE URL LIKE '%google%' "
        "AND SearchPhrase <> '' GROUP BY SearchPhrase ORDER BY c DESC LIMIT 10",
    23: "SELECT SearchPhrase, MIN(URL), MIN(Title), COUNT(*) AS c, COUNT(DISTINCT UserID) "
        "FROM hits WHERE Title LIKE '%Google%' AND URL NOT LIKE '%.google.%' "
        "AND SearchPhrase <> '' GROUP BY SearchPhrase ORDER BY c DESC LIMIT 10",
    24: "SELECT * FROM hits WHERE URL LIKE '%google%' ORDER BY EventTime LIMIT 10",
    25: "SELECT SearchPhrase FROM hits WHERE SearchPhrase <> '' ORDER BY EventTime LIMIT 10",
    26: "SELECT SearchPhrase FROM hits WHERE SearchPhrase <> '' ORDER BY SearchPhrase LIMIT 10",
    27: "SELECT SearchPhrase FROM hits WHERE SearchPhrase <> '' "
        "ORDER BY EventTime, SearchPhrase LIMIT 10",
    28: "SELECT CounterID, AVG(length(URL)) AS l, COUNT(*) AS c FROM hits WHERE URL <> '' "
        "GROUP BY CounterID HAVING COUNT(*) > 100000 ORDER BY l DESC LIMIT 25",
    29: "SELECT REGEXP_REPLACE(Referer, '^https?://(?:www\\.)?([^/]+)/.*$', '\\1') AS k, "
        "AVG(length(Referer)) AS l, COUNT(*) AS c, MIN(Referer) FROM hits WHERE Referer <> '' "
        "GROUP BY k HAVING COUNT(*) > 100000 ORDER BY l DESC LIMIT 25",
    30: "SELECT " + ", ".join(["SUM(ResolutionWidth)"] + [f"SUM(ResolutionWidth + {i})"
                                                          for i in range(1, 90)]) + " FROM hits",
    31: "SELECT SearchEngineID, ClientIP, COUNT(*) AS c, SUM(IsRefresh), AVG(ResolutionWidth) "
        "FROM hits WHERE SearchPhrase <> '' GROUP BY SearchEngineID, ClientIP "
        "ORDER BY c DESC LIMIT 10",
    32: "SELECT WatchID, ClientIP, COUNT(*) AS c, SUM(IsRefresh), AVG(ResolutionWidth) "
        "FROM hits WHERE SearchPhrase <> '' GROUP BY WatchID, ClientIP ORDER BY c DESC LIMIT 10",
    33: "SELECT WatchID, ClientIP, COUNT(*) AS c, SUM(IsRefresh), AVG(ResolutionWidth) "
        "FROM hits GROUP BY WatchID, ClientIP ORDER BY c DESC LIMIT 10",
    34: "SELECT URL, COUNT(*) AS c FROM hits GROUP BY URL ORDER BY c DESC LIMIT 10",
    35: "SELECT 1, URL, COUNT(*) AS c FROM hits GROUP BY 1, URL ORDER BY c DESC LIMIT 10",
    36: "SELECT ClientIP, ClientIP - 1, ClientIP - 2, ClientIP - 3, COUNT(*) AS c FROM hits "
        "GROUP BY ClientIP, ClientIP - 1, ClientIP - 2, ClientIP - 3 ORDER BY c DESC LIMIT 10",
    37: "SELECT URL, COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 "
        "AND EventDate >= '2013-07-01' AND EventDate <= '2013-07-31' AND DontCountHits = 0 "
        "AND IsRefresh = 0 AND URL <> '' GROUP BY URL ORDER BY PageViews DESC LIMIT 10",
    38: "SELECT Title, COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 "
        "AND EventDate >= '2013-07-01' AND EventDate <= '2013-07-31' AND DontCountHits = 0 "
        "AND IsRefresh = 0 AND Title <> '' GROUP BY Title ORDER BY PageViews DESC LIMIT 10",
    39: "SELECT URL, COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 "
        "AND EventDate >= '2013-07-01' AND EventDate <= '2013-07-31' AND IsRefresh = 0 "
        "AND IsLink <> 0 AND IsDownload = 0 GROUP BY URL ORDER BY PageViews DESC "
        "LIMIT 10 OFFSET 1000",
    40: "SELECT TraficSourceID, SearchEngineID, AdvEngineID, CASE WHEN (SearchEngineID = 0 "
        "AND AdvEngineID = 0) THEN Referer ELSE '' END AS Src, URL AS Dst, "
        "COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 AND EventDate >= '2013-07-01' "
        "AND EventDate <= '2013-07-31' AND IsRefresh = 0 GROUP BY TraficSourceID, "
        "SearchEngineID, AdvEngineID, Src, Dst ORDER BY PageViews DESC LIMIT 10 OFFSET 1000",
    41: "SELECT URLHash, EventDate, COUNT(*) AS PageViews FROM hits WHERE CounterID = 62 "
        "AND EventDate >= '2013-07-01' AND EventDate <= '2013-07-31' AND IsRefresh = 0 "
        "AND TraficSourceID IN (-1, 6) AND RefererHash = 3594120000172545465 "
        "GROUP BY URLHash, EventDate ORDER BY PageViews DESC LIMIT 10 OFFSET 100",
    42: "SELECT WindowClientWidth, WindowClientHeight, COUNT(*) AS PageViews FROM hits "
        "WHERE CounterID = 62 AND EventDate >= '2013-07-01' AND EventDate <= '2013-07-31' "
        "AND IsRefresh = 0 AND DontCountHits = 0 AND URLHash = 2868770270353813622 "
        "GROUP BY WindowClientWidth, WindowClientHeight ORDER BY PageViews DESC "
        "LIMIT 10 OFFSET 10000",
    43: "SELECT DATE_TRUNC('minute', EventTime) AS M, COUNT(*) AS PageViews FROM hits "
        "WHERE CounterID = 62 AND EventDate >= '2013-07-14' AND EventDate <= '2013-07-15' "
        "AND IsRefresh = 0 AND DontCountHits = 0 GROUP BY DATE_TRUNC('minute', EventTime) "
        "ORDER BY DATE_TRUNC('minute', EventTime) LIMIT 10 OFFSET 1000",
}
assert sorted(QUERIES) == list(range(1, 44))

# Constants the queries look for; the generator plants them.
HOT_COUNTER = 62
Q20_USER_ID = 435090932899640449
Q41_REFERER_HASH = 3594120000172545465   # a page of counter 62 that links to many others
Q42_URL_HASH = 2868770270353813622       # counter 62's home page

# ClickHouse adaptations:
#  - avg() of an Int64 sums in Int64, which wraps around for UserID (about
#    4.6e18 on average); Q4 averages in Float64, as the other engines do;
#  - its string literals take backslash escapes, so Q29's regular expression
#    has its backslashes doubled (as in ClickBench's clickhouse/queries.sql).
CHDB_REWRITES: dict[int, list[tuple[str, str]]] = {
    4: [("AVG(UserID)", "AVG(toFloat64(UserID))")],
    29: [("'^https?://(?:www\\.)?([^/]+)/.*$', '\\1'",
          "'^https?://(?:www\\\\.)?([^/]+)/.*$', '\\\\1'")],
}

# For answer checking: the result columns (0-based) of each query's ORDER BY.
# Rows that tie on them may come in any order, and where LIMIT/OFFSET cuts a
# run of ties, any of the tied rows is right. [] = no ORDER BY (a multiset).
# None = the whole row sequence is fixed (Q27: its key EventTime is not
# returned, but rows with equal EventTime and SearchPhrase are equal rows).
ORDER_KEYS: dict[int, list[int] | None] = {
    8: [1], 9: [1], 10: [2], 11: [1], 12: [2], 13: [1], 14: [1], 15: [2], 16: [1], 17: [2],
    19: [3], 22: [2], 23: [3], 24: [4], 26: [0], 27: None, 28: [1], 29: [1], 31: [2], 32: [2],
    33: [2], 34: [1], 35: [2], 36: [4], 37: [1], 38: [1], 39: [1], 40: [5], 41: [2], 42: [2],
    43: [0],
}
# Queries ordered by a column they do not return: the same query with the key
# as its last column, to judge which rows LIMIT may keep.
HIDDEN_KEYS: dict[int, str] = {
    25: "SELECT SearchPhrase, EventTime FROM hits WHERE SearchPhrase <> ''",
}


# --------------------------------------------------------------------------
# data generation

def hits_data_dir(rows: int) -> Path:
    return BENCH_DIR / "data" / f"clickbench-{rows}"


def hits_file(rows: int) -> Path:
    return hits_data_dir(rows) / "hits.parquet"


_M64 = (1 << 64) - 1


def mix64(x: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64's finaliser of x + salt: a bijection on uint64, so distinct
    keys get distinct, well-spread hashes."""
    z = np.asarray(x).astype(np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) & _M64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def unit(h: np.ndarray) -> np.ndarray:
    """A uint64 hash as a float in [0, 1)."""
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def powerlaw(u: np.ndarray, n, s: float) -> np.ndarray:
    """Map uniforms u to ranks in [0, n) with P(rank k) about (k + 1)^-s
    (n may be an array, one bound per element)."""
    n = np.asarray(n, dtype=np.float64)
    if abs(s - 1.0) < 1e-9:
        x = np.exp(u * np.log(n + 1.0))
    else:
        a = 1.0 - s
        x = ((np.power(n + 1.0, a) - 1.0) * u + 1.0) ** (1.0 / a)
    return np.minimum(x.astype(np.int64) - 1, (n - 1).astype(np.int64))


def categorical(u: np.ndarray, values, weights) -> np.ndarray:
    """Map uniforms u to `values` drawn with the given relative weights."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    idx = np.searchsorted(cdf / cdf[-1], u, side="right")
    return np.asarray(values)[np.minimum(idx, len(cdf) - 1)]


def as_i64(h: np.ndarray) -> np.ndarray:
    return h.view(np.int64) if h.dtype == np.uint64 else h.astype(np.int64)


# Word lists for titles and search phrases: Russian (the real data is from
# Yandex.Metrica) and some Latin, including "Google" for Q23.
_RU_WORDS = (
    "купить продажа цены отзывы скачать бесплатно смотреть онлайн фильм сериал игры погода "
    "новости москва санкт-петербург квартира аренда авто работа вакансии рецепт торт салат "
    "ремонт дом дача телефон ноутбук планшет одежда обувь детская платье сумка часы кредит "
    "банк ипотека карта курс доллар евро билеты поезд самолет отель тур отдых море турция "
    "египет школа университет книга музыка песни клипы видео фото картинки обои знакомства "
    "форум блог шины диски запчасти мотоцикл велосипед мебель диван кухня окна двери ламинат "
    "плитка сантехника стройка врач клиника стоматология аптека лекарство диета фитнес "
    "йога красота маникюр прическа свадьба подарки цветы доставка такси расписание карта "
    "словарь перевод гдз решебник реферат презентация"
).split()
_LATIN_WORDS = (
    "iphone samsung galaxy nokia lumia windows android apple ipad sony xperia htc lg asus "
    "acer lenovo canon nikon mp3 dvd hd online torrent download free skype vk youtube "
    "minecraft warcraft fifa gta avito ikea toyota bmw audi ford opel kia mazda honda lada"
).split()
_TITLE_TAILS = [
    "", "", "", " — официальный сайт", " — купить в интернет-магазине", " | Новости",
    " — отзывы и цены", " — смотреть онлайн", " | Форум", " — Google Chrome", " — Google Maps",
    " (Google)", " — скачать бесплатно", " — фото и видео", " | Каталог", " — Яндекс",
]
_SECTIONS = ["news", "catalog", "forum", "shop", "video", "photo", "blog", "cars", "realty",
             "jobs", "sport", "travel", "games", "music", "kino", "auto", "doma", "index.php",
             "item", "user", "search", "articles", "product", "category", "board", "topic"]
_URL_TAILS = ["", ".html", "/", ".html", "", "/?page=2", "#comments", ".php?id=1",
              "?sort=price&order=asc&view=list", "/?from=main", ".html?ref=menu&pos=3",
              "?utm_source=yandex&utm_medium=cpc&utm_campaign=summer2013",
              "/photo/", ".htm", "?ref=menu", "?lang=ru", "/print/", "/reviews/?sort=date",
              "?p=3", ".html?city=moscow&type=all", "/comments/#last", "?from=yandex_news"]
_GOOGLE_TAIL = "?utm_source=google&utm_medium=cpc&gclid=CjwKEAjw"
_SYLLABLES = ["ka", "mo", "ru", "li", "ta", "no", "vi", "ze", "pa", "do", "ro", "mi", "sa",
              "ne", "bo", "ku", "te", "la", "go", "vo", "fi", "di", "ma", "le", "so", "pe",
              "ri", "na", "to", "be", "ko", "ve", "ly", "zu", "ni", "po", "se", "ga", "re", "mu"]
_TLDS = ["ru", "ru", "ru", "ru", "com", "net", "org", "ua", "su", "info", "by", "kz"]
_SEARCH_ENGINES = {  # SearchEngineID -> (weight, referer prefix)
    2: (60, "http://yandex.ru/yandsearch?text="),
    3: (25, "http://www.google.ru/search?q="),
    1: (5, "http://go.mail.ru/search?q="),
    4: (3, "http://nova.rambler.ru/search?query="),
    5: (2, "http://www.bing.com/search?q="),
    6: (2, "http://search.qip.ru/search?query="),
    7: (1, "http://nigma.ru/?s="),
    8: (1, "http://www.yandex.ua/yandsearch?text="),
    9: (1, "http://search.ukr.net/?q="),
}
_SOCIAL = [("vk.com", "vkontakte"), ("odnoklassniki.ru", "odnoklassniki"),
           ("facebook.com", "facebook"), ("twitter.com", "twitter"), ("my.mail.ru", "moimir")]
_RESOLUTIONS = [  # (width, height, weight, mobile)
    (1366, 768, 28, 0), (1920, 1080, 16, 0), (1280, 1024, 10, 0), (1600, 900, 7, 0),
    (1440, 900, 6, 0), (1280, 800, 6, 0), (1024, 768, 6, 0), (1680, 1050, 4, 0),
    (1360, 768, 3, 0), (1280, 720, 2, 0), (1920, 1200, 2, 0), (2560, 1440, 1, 0),
    (1024, 600, 2, 0), (1152, 864, 1, 0), (1280, 768, 1, 0),
    (320, 480, 1, 1), (320, 568, 1, 1), (360, 640, 1, 1), (480, 800, 1, 1), (768, 1024, 2, 1),
    (800, 1280, 0.5, 1), (540, 960, 0.5, 1), (720, 1280, 0.5, 1),
]
_PHONE_MODELS = ["iPad", "iPhone", "GT-I9300", "GT-I9100", "GT-N7100", "GT-S5830i", "GT-P5110",
                 "Lumia 520", "HTC One", "Nexus 7", "Xperia Z", "GT-I8190", "GT-S7562",
                 "Galaxy Tab 2", "Nexus 4", "ME173X", "A1000", "Lenovo S820", "SM-T211",
                 "Desire HD", "Optimus L7", "Kindle Fire", "GT-P3100", "MT27i", "LT26i",
                 "E15i", "Lumia 920", "GT-I9500", "C6603", "Nokia 5800", "ONE TOUCH 6030D",
                 "Explay N1", "TF300T", "K900", "iPod", "PAP5430", "ZTE V970", "Fly IQ450"]


def _syllable_name(i: int, min_len: int = 2) -> str:
    """A pronounceable name, distinct for each i (bijective base-40 digits)."""
    parts = []
    i += 1
    while i > 0:
        i -= 1
        parts.append(_SYLLABLES[i % len(_SYLLABLES)])
        i //= len(_SYLLABLES)
    while len(parts) < min_len:
        parts.append(_SYLLABLES[(len(parts) * 7 + 3) % len(_SYLLABLES)])
    return "".join(parts)


def _sarr(xs) -> pa.Array:
    return pa.array(list(xs), pa.string())


def _join(*parts) -> pa.Array:
    """Concatenate string arrays (or str scalars) element-wise."""
    return pc.binary_join_element_wise(*parts, "")


class HitsGenerator:
    """Seeded generator of ClickBench `hits` rows, one Arrow table per chunk.

    The model: a site (counter) is drawn for each hit, the hottest ones with
    fixed shares and the rest by a power law; a page of the site by a power
    law (its home page is the most visited); a user by a power law over
    about 0.2 x rows users, whose browser, screen, region and IP are hashes of
    the user, so they stay the same across the user's hits. A hit is a search
    landing (with a search phrase and a search engine referer), an internal
    click (the referer is another page of the site), a link from another site,
    or direct (no referer). URLHash and RefererHash are hashes of what makes
    up the URL, so equal URLs have equal hashes; the hashes the queries look
    for are planted on pages of counter 62.
    """

    def __init__(self, rows: int, seed: int = DEFAULT_SEED):
        self.rows = rows
        self.seed = seed
        rng = np.random.default_rng([seed, 0])
        salt = int(rng.integers(1, 1 << 62))
        self.salt = salt

        # Sites (counters). Hot counters have fixed shares; the rest share
        # the remainder by a power law. Three mid-ranked sites are Google's.
        hot = [(HOT_COUNTER, 0.06), (1704509, 0.05), (732797, 0.045), (598875, 0.03),
               (792887, 0.025), (3807842, 0.02), (25703952, 0.018), (716829, 0.015),
               (59183, 0.012), (33010362, 0.011), (800784, 0.010)]
        n_sites = int(min(8000, max(300, rows // 1200)))
        n_rest = n_sites - len(hot)
        rest_ids = rng.choice(np.arange(100, 40_000_000, dtype=np.int64), n_rest + 100,
                              replace=False)
        hot_ids = {c for c, _ in hot}
        rest_ids = np.array([i for i in rest_ids if i not in hot_ids][:n_rest], dtype=np.int64)
        # (offset so that the top of the rest stays below the hot counters)
        rest_w = np.power(np.arange(21, n_rest + 21, dtype=np.float64), -1.1)
        rest_w *= (1.0 - sum(s for _, s in hot)) / rest_w.sum()
        self.site_id = np.concatenate([[c for c, _ in hot], rest_ids]).astype(np.int32)
        self.site_share = np.concatenate([[s for _, s in hot], rest_w])
        self.site_cdf = np.cumsum(self.site_share)
        self.site_cdf /= self.site_cdf[-1]
        domains = [_syllable_name(i) + "." + _TLDS[i % len(_TLDS)] for i in range(n_sites)]
        google = {len(hot) + 60: "www.google.ru", len(hot) + 150: "images.google.com",
                  len(hot) + 280: "google.com.ua"}
        # (with the pages whose URL has a Google tail, about 0.6% of URLs
        # contain 'google'; 2-3% of titles contain 'Google')
        site_titles = [d.split(".")[0].capitalize() for d in domains]
        for i, d in google.items():
            domains[i] = d
            site_titles[i] = "Google" if "images" not in d else "Google Картинки"
        self.site_domain = _sarr(domains)
        self.site_title = _sarr(site_titles)
        self.site_scheme = _sarr("https://" if (i * 7919) % 5 == 0 else "http://"
                                 for i in range(n_sites))
        # pages per site: about one distinct page per 2-3 expected hits
        self.site_pages = np.maximum(8, (self.site_share * rows / 2.5)).astype(np.int64)
        sh = mix64(np.arange(n_sites), salt + 1)
        self.site_class = (sh % np.uint64(3)).astype(np.int16)
        self.site_category = (1 + (sh >> np.uint64(8)) % np.uint64(40)).astype(np.int16)
        self.site_old = ((sh >> np.uint64(16)) % np.uint64(10) == 0).astype(np.int16)
        self.site_code_version = categorical(unit(mix64(np.arange(n_sites), salt + 2)),
                                             [0, 500, 501, 502, 503, 504], [2, 10, 15, 30, 25, 18])
        self.site_charset = (sh >> np.uint64(24)) % np.uint64(4)

        # Regions: a power law over region ids (the first is the capital).
        self.region_ids = np.concatenate([[213, 2, 54, 47, 43, 66, 65, 35, 39, 62],
                                          rng.choice(np.arange(100, 20000), 8990, replace=False)])

        # Words, titles, search phrases.
        words = _RU_WORDS + _LATIN_WORDS + ["Google", "google"]
        self.page_titles = _sarr(self._phrases(rng, words, max(2000, min(50_000, rows // 100)),
                                               tails=_TITLE_TAILS))
        phrases = self._phrases(rng, _RU_WORDS * 3 + _LATIN_WORDS + ["google"],
                                max(1000, rows // 25))
        self.phrases = _sarr([""] + phrases)  # index 0 = no search phrase
        self.phrases_q = _sarr([""] + [urllib.parse.quote_plus(p) for p in phrases])
        self.n_phrases = len(phrases)
        self.sections = _sarr(_SECTIONS)
        self.slugs = _sarr(_LATIN_WORDS + [urllib.parse.quote(w) for w in _RU_WORDS[:40]]
                           + [_syllable_name(i) for i in range(200)])
        self.url_tails = _sarr(_URL_TAILS + [_GOOGLE_TAIL])
        ext = [d for d, _ in _SOCIAL] + ["livejournal.com", "mail.ru", "rambler.ru",
                                         "wikipedia.org", "youtube.com", "liveinternet.ru"]
        ext += [_syllable_name(i + 5000, 3) + "." + _TLDS[i % len(_TLDS)] for i in range(3000)]
        self.ext_domains = _sarr(ext)
        self.ext_www = _sarr("http://www." if i % 3 == 0 else "http://" for i in range(len(ext)))
        self.engine_ids = np.array(list(_SEARCH_ENGINES), dtype=np.int16)
        self.engine_w = [w for w, _ in _SEARCH_ENGINES.values()]
        prefixes = [""] * (int(self.engine_ids.max()) + 1)
        for e, (_, pre) in _SEARCH_ENGINES.items():
            prefixes[e] = pre
        self.engine_prefix = _sarr(prefixes)

        self.n_users = max(1000, int(rows * 0.2))
        self.res = np.array([(w, h) for w, h, _, _ in _RESOLUTIONS], dtype=np.int16)
        self.res_w = [w for _, _, w, _ in _RESOLUTIONS]
        self.res_mobile = np.array([m for *_, m in _RESOLUTIONS], dtype=np.int16)
        self.phone_models = _sarr([""] + _PHONE_MODELS)
        self.small = {  # mostly-empty text columns: value lists, index 0 = ''
            "FlashMinor2": ["", "0", "5", "12", "29", "68", "124", "152", "159", "202"],
            "UserAgentMinor": ["", "0", "1", "2", "5", "1b", "6", "D", "9", "17", "10", "4"],
            "Params": ["", "hl=ru", "page=2", "sort=price", "id=1", "tab=reviews", "q=1"],
            "PageCharset": ["", "utf-8", "windows-1251", "koi8-r"],
            "OriginalURL": [""],
            "HitColor": ["F", "D", "E", "T"],
            "BrowserLanguage": ["ru", "en", "uk", "de", "be", "kk", "tr", "fr", "es", "pl"],
            "BrowserCountry": ["ru", "ua", "by", "kz", "us", "de", "tr", "uz", "gb", "il"],
            "SocialAction": ["", "like", "share", "tweet", "comment"],
            "ParamCurrency": ["", "RUB", "USD", "EUR", "UAH"],
            "OpenstatServiceName": ["", "direct.yandex.ru", "begun.ru", "adwords.google.com"],
            "OpenstatCampaignID": [""] + [str(1000 + i * 37) for i in range(50)],
            "OpenstatAdID": [""] + [str(50_000 + i * 101) for i in range(200)],
            "OpenstatSourceID": [""] + [_syllable_name(i) + ".ru" for i in range(100)],
            "UTMSource": ["", "yandex", "google", "direct", "vk", "begun", "email", "facebook"],
            "UTMMedium": ["", "cpc", "banner", "email", "social", "cpm", "referral"],
            "UTMCampaign": [""] + [f"campaign_{i}" for i in range(60)],
            "UTMContent": [""] + [f"ad{i}" for i in range(100)],
            "UTMTerm": [""] + phrases[:300],
            "FromTag": ["", "main", "menu", "banner", "rss", "mail"],
            "SocialSourcePage": ["", "/feed", "/im", "/groups", "/id1", "/wall", "/photo"],
        }
        self.small = {k: _sarr(v) for k, v in self.small.items()}

        # Per-minute weights for July 2013: a daily cycle (quiet at night,
        # Moscow time) and quieter weekends; EventTime follows them.
        minutes = np.arange(31 * 1440)
        hour = (minutes // 60 + 4) % 24
        day = minutes // 1440
        w = 0.35 + np.sin(np.pi * np.clip((hour - 6) / 18.0, 0, 1)) ** 1.5
        w *= np.where((day % 7) >= 5, 0.8, 1.0)  # 2013-07-01 was a Monday
        self.minute_cdf = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
        self.t0 = int(dt.datetime(2013, 7, 1, tzinfo=dt.timezone.utc).timestamp())

    @staticmethod
    def _phrases(rng, words: list[str], n: int, tails=None) -> list[str]:
        """n distinct phrases of 1-4 words (2-5 words and a tail for titles)."""
        out: dict[str, None] = {}
        words = np.array(words, dtype=object)
        k = np.array([1, 2, 2, 2, 3, 3, 4] if tails is None else [2, 3, 3, 4, 4, 5])
        batch = 0
        while len(out) < n and batch < 50:
            m = n * 2
            lens = k[rng.integers(0, len(k), m)]
            idx = rng.integers(0, len(words), (m, 5))
            tail_idx = rng.integers(0, len(tails), m) if tails else None
            for j in range(m):
                s = " ".join(words[idx[j, :lens[j]]])
                if tails:
                    s = s.capitalize() + tails[tail_idx[j]]
                out.setdefault(s, None)
                if len(out) >= n:
                    break
            batch += 1
        return list(out)

    # --- URLs

    def url_key(self, site: np.ndarray, page: np.ndarray) -> np.ndarray:
        return site.astype(np.uint64) << np.uint64(36) | page.astype(np.uint64)

    def page_urls(self, site: np.ndarray, page: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """The URL text and URLHash of pages (site index, page number)."""
        scheme = self.site_scheme.take(site)
        domain = self.site_domain.take(site)
        ph = mix64(page, self.salt + 10)
        section = self.sections.take(((page * 7 + site) % len(self.sections)).astype(np.int32))
        slug = self.slugs.take((ph % np.uint64(len(self.slugs))).astype(np.int32))
        slug2 = self.slugs.take(((ph >> np.uint64(40)) % np.uint64(len(self.slugs))).astype(np.int32))
        tail = np.where(page % 211 == 117, len(self.url_tails) - 1,
                        (ph >> np.uint64(20)) % np.uint64(len(self.url_tails) - 1)).astype(np.int32)
        num = pc.cast(pa.array(page), pa.string())
        full = _join(scheme, domain, "/", section, "/", slug, "/", slug2, "-", num,
                     self.url_tails.take(tail))
        home = _join(scheme, domain, "/")
        url = pc.if_else(pa.array(page == 0), home, full)
        h = as_i64(mix64(self.url_key(site, page), self.salt + 11)).copy()
        hot = site == 0  # site index 0 is counter 62
        h[hot & (page == 0)] = Q42_URL_HASH
        h[hot & (page == 1)] = Q41_REFERER_HASH
        return url, h

    def empty_hash(self) -> int:
        return int(as_i64(mix64(np.array([0], dtype=np.uint64), self.salt + 12))[0])

    # --- one chunk

    def chunk(self, k: int) -> pa.Table:
        start = k * CHUNK_ROWS
        n = min(CHUNK_ROWS, self.rows - start)
        rng = np.random.default_rng([self.seed, 1, k])
        r = lambda: rng.random(n)  # noqa: E731
        salt = self.salt
        g = np.arange(start, start + n, dtype=np.uint64)
        cols: dict[str, pa.Array | np.ndarray] = {}

        def bern(p: float) -> np.ndarray:
            return (rng.random(n) < p).astype(np.int16)

        def rare(name: str, p: float, s: float = 1.0, idx: np.ndarray | None = None) -> pa.Array:
            """A mostly-empty text column: '' unless a coin with p comes up."""
            vocab = self.small[name]
            if idx is None:
                idx = 1 + powerlaw(r(), len(vocab) - 1, s)
            return vocab.take(np.where(r() < p, idx, 0).astype(np.int32))

        # time: rows arrive in EventTime order over July 2013
        frac = (start + np.sort(rng.random(n)) * n) / self.rows
        secs = self.t0 + np.floor(np.interp(frac, self.minute_cdf,
                                            np.arange(len(self.minute_cdf)) * 60.0)).astype(np.int64)
        # site, page, user
        site = np.minimum(np.searchsorted(self.site_cdf, r(), side="right"),
                          len(self.site_cdf) - 1).astype(np.int64)
        pages = self.site_pages[site]
        page = np.where(r() < 0.10, 0, powerlaw(r(), pages, 0.95))
        user = powerlaw(r(), self.n_users, 0.6)
        uh = lambda i: unit(mix64(user, salt + 100 + i))  # noqa: E731  per-user uniform

        user_id = as_i64(mix64(user, salt + 99) >> np.uint64(1))
        user_id[user == 137] = Q20_USER_ID  # a user with tens of hits per 200,000
        watch = as_i64(mix64(g, salt + 98) >> np.uint64(1))

        # what brought the hit: search / internal / external / direct
        search = r() < 0.13
        phrase = np.where(search, 1 + powerlaw(r(), self.n_phrases, 0.8), 0)
        engine = np.where(search, categorical(r(), self.engine_ids, self.engine_w), 0)
        engine = np.where(~search & (r() < 0.01), 2, engine).astype(np.int16)
        u = r()
        kind = np.where(search, 2, np.where(u < 0.40, 1, np.where(u < 0.70, 0, 3)))
        ref_page = powerlaw(r(), pages, 0.95)
        ext = powerlaw(r(), len(self.ext_domains), 1.1)
        ext_k = powerlaw(r(), 2000, 1.0)
        int_url, int_hash = self.page_urls(site, ref_page)
        ext_url = _join(self.ext_www.take(ext), self.ext_domains.take(ext), "/",
                        self.slugs.take((ext_k % len(self.slugs)).astype(np.int32)), "/",
                        pc.cast(pa.array(ext_k), pa.string()))
        search_url = _join(self.engine_prefix.take(engine.astype(np.int32)),
                           self.phrases_q.take(phrase.astype(np.int32)))
        kind_a = pa.array(kind)
        referer = pc.if_else(pc.equal(kind_a, 1), int_url,
                             pc.if_else(pc.equal(kind_a, 2), search_url,
                                        pc.if_else(pc.equal(kind_a, 3), ext_url, "")))
        ref_hash = np.where(kind == 1, int_hash, np.where(
            kind == 2, as_i64(mix64((engine.astype(np.uint64) << np.uint64(40))
                                    | phrase.astype(np.uint64), salt + 13)),
            np.where(kind == 3, as_i64(mix64((ext.astype(np.uint64) << np.uint64(20))
                                             | ext_k.astype(np.uint64), salt + 14)),
                     self.empty_hash())))
        social = (kind == 3) & (ext < len(_SOCIAL))
        adv = np.where(r() < 0.02, categorical(r(), [2, 3, 4, 13, 27, 30, 12, 16],
                                               [40, 25, 12, 8, 6, 4, 3, 2]), 0).astype(np.int16)
        trafic = np.select([adv != 0, kind == 1, kind == 2, social, kind == 3],
                           [3, -1, 2, 8, np.where(r() < 0.15, 6, 1)],
                           np.where(r() < 0.1, 4, 0)).astype(np.int16)
        trafic = np.where((kind == 1) & (r() < 0.05), 6, trafic).astype(np.int16)

        url, url_hash = self.page_urls(site, page)
        no_url = r() < 0.002
        url = pc.if_else(pa.array(no_url), "", url)
        url_hash = np.where(no_url, self.empty_hash(), url_hash)
        title_idx = ((mix64(page, salt + 15) + site.astype(np.uint64))
                     % np.uint64(len(self.page_titles))).astype(np.int64)
        title = _join(self.site_title.take(site), " — ", self.page_titles.take(title_idx))
        title = pc.if_else(pa.array(((site * 7 + page) % 29) == 3), "", title)

        # the user's device and browser
        res_i = categorical(uh(1), np.arange(len(self.res)), self.res_w)
        mobile = self.res_mobile[res_i]
        res_w, res_h = self.res[res_i, 0], self.res[res_i, 1]
        maximised = r() < 0.6
        win_w = np.where(mobile == 1, res_w, np.where(maximised, res_w - (r() < 0.5) * 17,
                                                      res_w - rng.integers(0, 500, n)))
        win_h = np.where(mobile == 1, res_h - rng.integers(0, 80, n),
                         res_h - rng.integers(60, 420, n))
        model = np.where(mobile == 1, 1 + powerlaw(uh(2), len(_PHONE_MODELS), 1.2), 0)
        phone = np.where(model > 0, 1 + (model * 7) % 40, np.where(uh(3) < 0.02, 1, 0))
        tz = categorical(uh(4), [4, 3, 2, 5, 6, 7, 0, 1, -5], [55, 15, 10, 6, 4, 3, 3, 2, 2])
        ip_base = (mix64(user, salt + 200) % np.uint64((1 << 32) - 64)).astype(np.int64) - (1 << 31) + 32
        ip_other = rng.integers(-(1 << 31) + 32, (1 << 31) - 32, n)
        ip = np.where(r() < 0.1, ip_other, ip_base)
        region = self.region_ids[powerlaw(uh(5), len(self.region_ids), 1.1)]
        client_time = secs + tz * 3600 + rng.integers(-40, 40, n)

        def per_user(i, values, weights):
            return categorical(uh(i), values, weights)

        def timing(p0: float, scale: float):
            return np.where(r() < p0, 0, np.exp(rng.normal(np.log(scale), 1.0, n))).astype(np.int32)

        i16, i32 = np.int16, np.int32
        cols["WatchID"] = watch
        cols["JavaEnable"] = (uh(6) < 0.55).astype(i16)
        cols["Title"] = title
        cols["GoodEvent"] = (r() > 0.001).astype(i16)
        cols["EventTime"] = secs
        cols["EventDate"] = (secs // 86400).astype(i32)
        cols["CounterID"] = self.site_id[site]
        cols["ClientIP"] = ip.astype(i32)
        cols["RegionID"] = region.astype(i32)
        cols["UserID"] = user_id
        cols["CounterClass"] = self.site_class[site]
        cols["OS"] = per_user(7, [2, 1, 3, 4, 5, 7, 6, 44, 126, 38],
                              [40, 20, 12, 8, 6, 5, 3, 2, 2, 2]).astype(i16)
        cols["UserAgent"] = per_user(8, [7, 2, 3, 4, 6, 1, 9, 5, 15],
                                     [30, 25, 15, 12, 6, 5, 3, 2, 2]).astype(i16)
        cols["URL"] = url
        cols["Referer"] = referer
        cols["IsRefresh"] = bern(0.08)
        cols["RefererCategoryID"] = np.where(kind == 0, 0, 1 + (ext % 30)).astype(i16)
        cols["RefererRegionID"] = np.where(kind == 2, region, 0).astype(i32)
        cols["URLCategoryID"] = self.site_category[site]
        cols["URLRegionID"] = np.where(r() < 0.3, region, 0).astype(i32)
        cols["ResolutionWidth"] = res_w
        cols["ResolutionHeight"] = res_h
        cols["ResolutionDepth"] = per_user(9, [24, 32, 16, 0], [50, 45, 3, 2]).astype(i16)
        flash = per_user(10, [11, 10, 0, 9], [60, 15, 20, 5]).astype(i16)
        cols["FlashMajor"] = flash
        cols["FlashMinor"] = np.where(flash > 0, (uh(11) * 10).astype(i16), 0).astype(i16)
        cols["FlashMinor2"] = rare("FlashMinor2", 0.4, idx=1 + (uh(12) * 9).astype(np.int64))
        cols["NetMajor"] = np.where(uh(13) < 0.8, 0, 4).astype(i16)
        cols["NetMinor"] = np.where(uh(13) < 0.8, 0, (uh(14) * 6).astype(i16)).astype(i16)
        cols["UserAgentMajor"] = per_user(15, [0, 28, 27, 26, 10, 9, 17, 12, 5],
                                          [5, 25, 20, 10, 10, 8, 8, 8, 6]).astype(i16)
        cols["UserAgentMinor"] = rare("UserAgentMinor", 0.7, idx=1 + (uh(16) * 11).astype(np.int64))
        cols["CookieEnable"] = (r() > 0.02).astype(i16)
        cols["JavascriptEnable"] = (r() > 0.01).astype(i16)
        cols["IsMobile"] = mobile
        cols["MobilePhone"] = phone.astype(i16)
        cols["MobilePhoneModel"] = self.phone_models.take(model.astype(np.int32))
        cols["Params"] = rare("Params", 0.03)
        cols["IPNetworkID"] = ((ip + (1 << 31)) >> 12).astype(i32)
        cols["TraficSourceID"] = trafic
        cols["SearchEngineID"] = engine
        cols["SearchPhrase"] = self.phrases.take(phrase.astype(np.int32))
        cols["AdvEngineID"] = adv
        cols["IsArtifical"] = bern(0.01)
        cols["WindowClientWidth"] = np.maximum(win_w, 0).astype(i16)
        cols["WindowClientHeight"] = np.maximum(win_h, 0).astype(i16)
        cols["ClientTimeZone"] = tz.astype(i16)
        cols["ClientEventTime"] = client_time
        cols["SilverlightVersion1"] = per_user(17, [0, 5, 4], [55, 40, 5]).astype(i16)
        cols["SilverlightVersion2"] = np.where(uh(17) < 0.55, 0, 1).astype(i16)
        cols["SilverlightVersion3"] = per_user(18, [0, 51204, 50401, 60818, 41008],
                                               [55, 20, 10, 10, 5]).astype(i32)
        cols["SilverlightVersion4"] = np.where(uh(17) < 0.55, 0, (uh(19) * 3).astype(i16)).astype(i16)
        cols["PageCharset"] = self.small["PageCharset"].take(
            np.where(r() < 0.9, 1 + self.site_charset[site] % np.uint64(3), 0).astype(np.int32))
        cols["CodeVersion"] = self.site_code_version[site].astype(i32)
        cols["IsLink"] = bern(0.05)
        cols["IsDownload"] = bern(0.01)
        cols["IsNotBounce"] = bern(0.3)
        cols["FUniqID"] = np.where(uh(20) < 0.35, 0, as_i64(mix64(user, salt + 21) >> np.uint64(2)))
        cols["OriginalURL"] = pc.if_else(pa.array(r() < 0.04), url, "")
        cols["HID"] = rng.integers(-(1 << 31), (1 << 31) - 1, n, dtype=np.int64).astype(i32)
        cols["IsOldCounter"] = self.site_old[site]
        cols["IsEvent"] = bern(0.03)
        cols["IsParameter"] = bern(0.01)
        cols["DontCountHits"] = bern(0.03)
        cols["WithHash"] = bern(0.02)
        cols["HitColor"] = self.small["HitColor"].take(
            categorical(r(), np.arange(4), [60, 25, 10, 5]).astype(np.int32))
        cols["LocalEventTime"] = secs + tz * 3600
        cols["Age"] = per_user(22, [0, 17, 18, 25, 35, 45, 55], [30, 8, 15, 20, 14, 8, 5]).astype(i16)
        cols["Sex"] = per_user(23, [0, 1, 2], [30, 38, 32]).astype(i16)
        cols["Income"] = per_user(24, [0, 1, 2, 3, 4], [30, 25, 25, 15, 5]).astype(i16)
        cols["Interests"] = np.where(uh(25) < 0.4, 0, (uh(26) * 3000).astype(i16)).astype(i16)
        cols["Robotness"] = np.where(r() < 0.97, 0, rng.integers(1, 100, n)).astype(i16)
        cols["RemoteIP"] = rng.integers(-(1 << 31), (1 << 31) - 1, n, dtype=np.int64).astype(i32)
        cols["WindowName"] = np.where(r() < 0.8, -1, rng.integers(0, 1 << 30, n)).astype(i32)
        cols["OpenerName"] = np.where(r() < 0.9, -1, rng.integers(0, 1 << 30, n)).astype(i32)
        cols["HistoryLength"] = np.minimum(rng.geometric(0.3, n) - 1, 50).astype(i16)
        cols["BrowserLanguage"] = self.small["BrowserLanguage"].take(
            powerlaw(uh(27), 10, 2.0).astype(np.int32))
        cols["BrowserCountry"] = self.small["BrowserCountry"].take(
            powerlaw(uh(28), 10, 2.0).astype(np.int32))
        cols["SocialNetwork"] = _sarr([""] + [s for _, s in _SOCIAL]).take(
            np.where(social, 1 + ext, np.where(r() < 0.005, 1, 0)).astype(np.int32))
        cols["SocialAction"] = rare("SocialAction", 0.003)
        cols["HTTPError"] = np.where(r() < 0.995, 0, categorical(r(), [404, 500, 403, 502],
                                                                [70, 15, 10, 5])).astype(i16)
        cols["SendTiming"] = timing(0.75, 40)
        cols["DNSTiming"] = timing(0.8, 20)
        cols["ConnectTiming"] = timing(0.8, 60)
        cols["ResponseStartTiming"] = timing(0.75, 300)
        cols["ResponseEndTiming"] = timing(0.75, 600)
        cols["FetchTiming"] = timing(0.75, 900)
        cols["SocialSourceNetworkID"] = np.where(social, 1 + ext, 0).astype(i16)
        cols["SocialSourcePage"] = self.small["SocialSourcePage"].take(
            np.where(social, 1 + powerlaw(r(), 6, 1.0), 0).astype(np.int32))
        order = r() < 0.004
        cols["ParamPrice"] = np.where(order, np.round(np.exp(rng.normal(7.5, 1.2, n))), 0).astype(np.int64)
        cols["ParamOrderID"] = pc.if_else(pa.array(order), pc.cast(pa.array(
            rng.integers(100_000, 9_999_999, n)), pa.string()), "")
        cur = np.where(order, categorical(r(), [1, 2, 3, 4], [80, 10, 7, 3]), 0)
        cols["ParamCurrency"] = self.small["ParamCurrency"].take(cur.astype(np.int32))
        cols["ParamCurrencyID"] = np.array([0, 643, 840, 978, 980])[cur].astype(i16)
        openstat = r() < 0.01
        for name in ("OpenstatServiceName", "OpenstatCampaignID", "OpenstatAdID", "OpenstatSourceID"):
            cols[name] = rare(name, 1.0, idx=np.where(openstat, 1 + powerlaw(
                r(), len(self.small[name]) - 1, 1.0), 0))
        utm = r() < 0.06
        for name in ("UTMSource", "UTMMedium", "UTMCampaign", "UTMContent", "UTMTerm"):
            p = 0.5 if name in ("UTMContent", "UTMTerm") else 1.0
            cols[name] = rare(name, 1.0, idx=np.where(utm & (r() < p), 1 + powerlaw(
                r(), len(self.small[name]) - 1, 1.0), 0))
        cols["FromTag"] = rare("FromTag", 0.01)
        cols["HasGCLID"] = bern(0.01)
        cols["RefererHash"] = ref_hash.astype(np.int64)
        cols["URLHash"] = url_hash.astype(np.int64)
        cols["CLID"] = np.where(r() < 0.97, 0, rng.integers(1, 2_000_000, n)).astype(i32)

        arrays = []
        for f in HITS_ARROW_SCHEMA:
            v = cols[f.name]
            if pa.types.is_timestamp(f.type):
                v = pa.array(np.asarray(v, dtype=np.int64) * 1_000_000, pa.int64()).cast(f.type)
            elif pa.types.is_date32(f.type):
                v = pa.array(np.asarray(v, dtype=np.int32), pa.int32()).cast(f.type)
            elif isinstance(v, np.ndarray):
                v = pa.array(v, f.type)
            elif v.type != f.type:
                v = v.cast(f.type)
            arrays.append(v)
        table = pa.Table.from_arrays(arrays, schema=HITS_ARROW_SCHEMA)
        # about 0.2% of hits were sent twice: copies of the hit before
        src = np.arange(n)
        dup = np.nonzero(r() < 0.002)[0]
        dup = dup[dup > 0]
        src[dup] = dup - 1
        return table.take(src) if len(dup) else table


def generate(rows: int, seed: int) -> tuple[Path, dict]:
    """Write bench/data/clickbench-<rows>/hits.parquet unless it is there
    (made by this generator version with this seed)."""
    path = hits_file(rows)
    want = {"generator": "floe bench/clickbench.py", "version": str(GENERATOR_VERSION),
            "seed": str(seed), "rows": str(rows)}
    if path.exists():
        try:
            meta = pq.ParquetFile(path).schema_arrow.metadata or {}
            got = {k.decode(): v.decode() for k, v in meta.items()}
            if all(got.get(k) == v for k, v in want.items()):
                log(f"data: using {path}")
                return path, {"generated_s": None}
            log(f"data: {path} was made by another generator version or seed; regenerating")
        except Exception as e:  # noqa: BLE001
            log(f"data: cannot read {path} ({e}); regenerating")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    log(f"data: generating {rows:,} hits rows (seed {seed}) into {path} ...")
    t0 = time.perf_counter()
    gen = HitsGenerator(rows, seed)
    t_model = time.perf_counter() - t0
    schema = HITS_ARROW_SCHEMA.with_metadata(want)
    n_chunks = (rows + CHUNK_ROWS - 1) // CHUNK_ROWS
    gen_s = write_s = 0.0
    with pq.ParquetWriter(tmp, schema, compression="snappy") as w:
        for k in range(n_chunks):
            t1 = time.perf_counter()
            table = gen.chunk(k).replace_schema_metadata(want)
            t2 = time.perf_counter()
            w.write_table(table, row_group_size=CHUNK_ROWS)
            t3 = time.perf_counter()
            gen_s, write_s = gen_s + t2 - t1, write_s + t3 - t2
            log(f"data: chunk {k + 1}/{n_chunks}: {table.num_rows:,} rows, "
                f"generated in {t2 - t1:.1f} s, written in {t3 - t2:.1f} s")
    tmp.rename(path)
    total = time.perf_counter() - t0
    log(f"data: {rows:,} rows in {total:.1f} s ({rows / total:,.0f} rows/s; model "
        f"{t_model:.1f} s, rows {gen_s:.1f} s, Parquet {write_s:.1f} s), "
        f"{human_bytes(path.stat().st_size)}")
    return path, {"generated_s": total, "model_s": t_model, "rows_s": gen_s, "write_s": write_s}


def parquet_info(path: Path) -> dict:
    pf = pq.ParquetFile(path)
    got = [(f.name, f.type) for f in pf.schema_arrow]
    want = [(f.name, f.type) for f in HITS_ARROW_SCHEMA]
    if got != want:
        log(f"WARNING: {path} schema differs from the hits schema: "
            f"{[g for g, w in zip(got, want) if g != w][:5]}")
    return {"rows": pf.metadata.num_rows, "bytes": path.stat().st_size,
            "row_groups": pf.metadata.num_row_groups}


# --------------------------------------------------------------------------
# engines (tpch.py's, with ClickBench's table)


def floe_ddl(sort_key: list[str]) -> str:
    cols = ",\n  ".join(f"{c} {t} NOT NULL" for c, t in HITS_SCHEMA)
    order = f"\nORDER BY ({', '.join(sort_key)})" if sort_key else ""
    return f"CREATE TABLE hits (\n  {cols}\n){order}"


def chdb_ddl(sort_key: list[str]) -> str:
    cols = ",\n  ".join(f"{c} {CLICKHOUSE_TYPES[t]}" for c, t in HITS_SCHEMA)
    order = f"({', '.join(sort_key)})" if sort_key else "tuple()"
    return f"CREATE TABLE hits (\n  {cols}\n) ENGINE = MergeTree ORDER BY {order}"


class DuckDBEngine(tpch.DuckDBEngine):
    def __init__(self, work_dir: Path, sort_key: list[str]):
        self.path = work_dir / "duckdb.duckdb"
        for p in (self.path, Path(str(self.path) + ".wal")):
            p.unlink(missing_ok=True)
        self.con = duckdb.connect(str(self.path))
        self.sort_key = sort_key

    def load(self, files):
        order = f" ORDER BY {', '.join(self.sort_key)}" if self.sort_key else ""
        t0 = time.perf_counter()
        self.con.execute(f"CREATE TABLE hits AS SELECT * FROM "
                         f"read_parquet({sql_str(str(files['hits']))}){order}")
        times = {"hits": time.perf_counter() - t0}
        t0 = time.perf_counter()
        self.con.execute("CHECKPOINT")
        times["(checkpoint)"] = time.perf_counter() - t0
        return times


class DuckDBFilesEngine(tpch.DuckDBFilesEngine):
    def __init__(self, work_dir: Path):
        super().__init__(work_dir, sf=0)  # sf is not used: it reads <work_dir>/floe-data


class DataFusionEngine(tpch.DataFusionEngine):
    def __init__(self, work_dir: Path):
        super().__init__(work_dir, sf=0)  # sf is not used: it reads <work_dir>/floe-data


class ChdbEngine(tpch.ChdbEngine):
    def __init__(self, work_dir: Path, sort_key: list[str]):
        import chdb
        import chdb.session as chs
        self._chdb = chdb
        self.path = work_dir / "chdb"
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        self.sess = chs.Session(str(self.path))
        self.sess.query("CREATE DATABASE IF NOT EXISTS clickbench")
        self.sess.query("USE clickbench")
        self.sort_key = sort_key

    def load(self, files):
        t0 = time.perf_counter()
        self.sess.query(chdb_ddl(self.sort_key))
        self.sess.query(f"INSERT INTO hits SELECT * FROM file({sql_str(str(files['hits']))}, Parquet)")
        return {"hits": time.perf_counter() - t0}

    def query(self, sql):
        # ClickHouse's Arrow output has DateTime as uint32 seconds (there is
        # no setting for a timestamp). Nothing else here is UInt32: counts
        # are UInt64 and every hits column is signed.
        table = self.sess.query(sql, "ArrowTable")
        for i, f in enumerate(table.schema):
            if pa.types.is_uint32(f.type):
                ts = pc.cast(table.column(i), pa.int64()).cast(pa.timestamp("s", tz="UTC"))
                table = table.set_column(i, f.name, ts)
        return tpch.arrow_rows(table)

    def adapt(self, qnum, sql):
        for old, new in CHDB_REWRITES.get(qnum, []):
            if old not in sql:
                log(f"WARNING: chdb rewrite for Q{qnum} did not apply: {old!r}")
            sql = sql.replace(old, new)
        return sql


class FloeEngine(tpch.FloeEngine):
    def __init__(self, work_dir: Path, copy_dir: Path, binary: str, sort_key: list[str],
                 startup_timeout: float = 120):
        import psycopg
        self._psycopg = psycopg
        self.binary = binary
        self.data_dir = work_dir / "floe-data"
        self.log_path = work_dir / "floe-server.log"
        self.copy_dir = copy_dir.resolve()  # COPY ... FROM reads the Parquet file here
        self.startup_timeout = startup_timeout
        self.sort_key = sort_key
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.proc = None
        self.conn = None
        self.exit_codes: list[int | None] = []
        self._start()

    def load(self, files):
        t0 = time.perf_counter()
        self._exec(floe_ddl(self.sort_key))
        self._exec(f"COPY hits FROM {sql_str(str(files['hits'].resolve()))} (FORMAT parquet)")
        return {"hits": time.perf_counter() - t0}


def make_engine(name: str, args, work_dir: Path):
    sort_key = CLICKBENCH_SORT_KEY if args.sort_key == "clickbench" else []
    if name == "duckdb":
        return DuckDBEngine(work_dir, sort_key)
    if name == "chdb":
        return ChdbEngine(work_dir, sort_key)
    if name == "floe":
        return FloeEngine(work_dir, hits_data_dir(args.rows), args.floe_bin, sort_key)
    if name == "datafusion":
        return DataFusionEngine(work_dir)
    if name == "duckdb-files":
        return DuckDBFilesEngine(work_dir)
    raise ValueError(name)


# --------------------------------------------------------------------------
# answer checking


def _norm(v):
    """Values as the engines' clients return them, made comparable: text for
    bytes (chDB's FixedString), naive UTC for aware timestamps."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v


def _norm_rows(rows: list[tuple]) -> list[tuple]:
    return [tuple(_norm(v) for v in r) for r in rows]


def rows_equal(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))


def _row_key(row):
    return tuple((0, "") if v is None else (1, repr(v) if isinstance(v, float) else str(v))
                 for v in row)


def multiset_diff(expected: list[tuple], got: list[tuple]) -> list[tuple]:
    """The rows of `got` that have no equal row left in `expected`."""
    se, sg = sorted(expected, key=_row_key), sorted(got, key=_row_key)
    if len(se) == len(sg) and all(rows_equal(a, b) for a, b in zip(se, sg)):
        return []
    pool = list(expected)
    left = []
    for row in got:  # tolerant matching (floats that print differently)
        for i, cand in enumerate(pool):
            if rows_equal(cand, row):
                pool.pop(i)
                break
        else:
            left.append(row)
    return left


def _literal(v) -> str | None:
    """A DuckDB literal for an exactly comparable value (None: not one)."""
    if isinstance(v, bool) or isinstance(v, float):
        return None
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return sql_str(v)
    if isinstance(v, dt.datetime):
        return f"TIMESTAMP '{v.isoformat(sep=' ')}'"
    if isinstance(v, dt.date):
        return f"DATE '{v.isoformat()}'"
    return None


def _limit_offset(sql: str) -> tuple[str, int | None, int]:
    m = re.search(r"\s+LIMIT\s+(\d+)(?:\s+OFFSET\s+(\d+))?\s*;?\s*$", sql, re.I)
    if not m:
        return sql, None, 0
    return sql[:m.start()], int(m.group(1)), int(m.group(2) or 0)


class Reference:
    """DuckDB over the generated Parquet file, to look up rows of a full
    (un-LIMITed) answer when an engine kept other tied rows than DuckDB."""

    def __init__(self, parquet: Path):
        self.parquet = parquet
        self.con = None

    def query(self, sql: str) -> list[tuple]:
        if self.con is None:
            self.con = duckdb.connect()
            self.con.execute(f"CREATE VIEW hits AS SELECT * FROM read_parquet("
                             f"{sql_str(str(self.parquet))})")
        return self.con.execute(sql).fetchall()

    def in_full_answer(self, sql: str, rows: list[tuple]) -> list[tuple]:
        """The rows that are not in the answer of `sql` without its LIMIT."""
        base, _, _ = _limit_offset(sql)
        names = [f"c{i}" for i in range(len(rows[0]))]
        conds = []
        for row in rows:
            parts = [f"{n} = {lit}" if v is not None else f"{n} IS NULL"
                     for n, v in zip(names, row) if v is None or (lit := _literal(v))]
            conds.append("(" + (" AND ".join(parts) or "true") + ")")
        found = self.query(f"SELECT * FROM ({base}) AS t({', '.join(names)}) "
                           f"WHERE {' OR '.join(conds)} LIMIT 100000")
        return multiset_diff(_norm_rows(found), rows)

    def hidden_key_check(self, keyed_sql: str, limit: int, got: list[tuple]) -> str | None:
        """For an ORDER BY key that is not returned (keyed_sql returns it as
        its last column): got must hold every row before the last key value
        LIMIT reaches and otherwise rows at that value. None if so."""
        width = len(got[0])
        names = [f"c{i}" for i in range(width)] + ["k"]
        t = f"({keyed_sql}) AS t({', '.join(names)})"
        cut = self.query(f"SELECT max(k) FROM (SELECT k FROM {t} ORDER BY k LIMIT {limit})")[0][0]
        lit = _literal(cut)
        sel = ", ".join(names[:-1])
        before = _norm_rows(self.query(f"SELECT {sel} FROM {t} WHERE k < {lit}"))
        at = _norm_rows(self.query(f"SELECT {sel} FROM {t} WHERE k = {lit}"))
        missing = multiset_diff(got, before)
        if missing:
            return f"missing row {missing[0]!r}"
        rest = list(got)
        for row in before:
            for i, cand in enumerate(rest):
                if rows_equal(cand, row):
                    rest.pop(i)
                    break
        extra = multiset_diff(at, rest)
        return f"row {extra[0]!r} is not in the answer" if extra else None


def compare_answers(q: int, sql: str, expected: list[tuple], got: list[tuple],
                    ref: Reference) -> tuple[bool, str]:
    """Compare an answer with DuckDB's, tolerant of the order of rows that
    tie on the ORDER BY key and of which tied rows LIMIT/OFFSET keep."""
    expected, got = _norm_rows(expected), _norm_rows(got)
    if len(expected) != len(got):
        return False, f"row count {len(got)} != expected {len(expected)}"
    if not got:
        return True, "0 rows"
    for i, (er, gr) in enumerate(zip(expected, got)):
        if len(er) != len(gr):
            return False, f"row {i}: {len(gr)} columns != expected {len(er)}"
    _, limit, offset = _limit_offset(sql)
    keys = ORDER_KEYS.get(q, [])
    if keys is None:  # the row sequence is fixed
        for i, (er, gr) in enumerate(zip(expected, got)):
            if not rows_equal(er, gr):
                return False, f"row {i}: {gr!r} != expected {er!r}"
        return True, f"{len(got)} rows"
    if q in HIDDEN_KEYS:
        if not multiset_diff(expected, got):
            return True, f"{len(got)} rows"
        why = ref.hidden_key_check(HIDDEN_KEYS[q], limit + offset, got)
        return (True, f"{len(got)} rows (other tied rows)") if why is None else (False, why)
    # the key column values must come in the same order
    for i, (er, gr) in enumerate(zip(expected, got)):
        if not all(values_equal(er[k], gr[k]) for k in keys):
            return False, (f"row {i}: ORDER BY key {tuple(gr[k] for k in keys)!r} != expected "
                           f"{tuple(er[k] for k in keys)!r}")
    # runs of rows with equal keys: the same rows in any order; a run that
    # LIMIT or OFFSET may cut can hold any tied rows of the full answer
    runs, start = [], 0
    for i in range(1, len(expected) + 1):
        if i == len(expected) or tuple(expected[i][k] for k in keys) != \
                tuple(expected[start][k] for k in keys):
            runs.append((start, i))
            start = i
    other_ties = False
    for j, (a, b) in enumerate(runs):
        extra = multiset_diff(expected[a:b], got[a:b])
        if not extra:
            continue
        cut = (limit is not None and j == len(runs) - 1 and len(got) == limit) or \
              (offset > 0 and j == 0)
        if not cut:
            return False, f"rows {a}-{b - 1}: {extra[0]!r} is not in the expected rows"
        wrong = ref.in_full_answer(sql, extra)
        if wrong:
            return False, f"row {wrong[0]!r} is not in the full answer"
        other_ties = True
    return True, f"{len(got)} rows" + (" (other tied rows)" if other_ties else "")


# --------------------------------------------------------------------------
# benchmark driver


def build_report(args, engines, pq_info, gen_info, load, results, checks,
                 started: dt.datetime) -> tuple[str, dict]:
    qnums = sorted(next(iter(results.values())).keys()) if results else []
    lines = [f"# ClickBench-shaped `hits`, {args.rows:,} rows", "",
             f"- date: {started.isoformat(timespec='seconds')}",
             f"- machine: {platform.machine()}, {os.cpu_count()} cores, "
             f"{platform.system()} {platform.release()}",
             f"- command: `{shlex.join([Path(sys.executable).name] + sys.argv)}`",
             f"- data: synthetic hits (bench/clickbench.py generator v{GENERATOR_VERSION}, "
             f"seed {args.seed}), {pq_info['rows']:,} rows, {human_bytes(pq_info['bytes'])} "
             f"Parquet" + (f", generated in {gen_info['generated_s']:.1f} s"
                           if gen_info.get("generated_s") else ""),
             "- sort key: " + (", ".join(CLICKBENCH_SORT_KEY) if args.sort_key == "clickbench"
                               else "none (arrival order)"),
             f"- runs: 1 cold (first run after load) + {args.runs} hot, median of hot runs (ms)",
             "- engines: " + ", ".join(f"{e} {load[e].get('version', '')}".strip() for e in engines),
             "- queries: ClickBench's 43 (github.com/ClickHouse/ClickBench), numbered 1-43",
             ""]
    peers = [e for e in engines if e != "floe"]
    checked = [e for e in engines if e in checks]
    header = (["query", "rows"] + [f"{e} ms" for e in engines]
              + ([f"floe/{e}" for e in peers] if "floe" in engines else [])
              + [f"{e} correct" for e in checked])
    ratios = len(peers) if "floe" in engines else 0
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---", "---:"] + ["---:"] * (len(engines) + ratios)
                                + [":---:"] * len(checked)) + "|")
    for q in qnums:
        r = {e: results[e][q] for e in engines}
        ref = r.get("duckdb") or next(iter(r.values()))
        nrows = str(len(ref["rows"])) if ref.get("status") == "ok" else "-"
        cells = [f"Q{q:02d}", nrows] + [fmt_ms(r.get(e)) for e in engines]
        if "floe" in engines:
            cells += [fmt_ratio(r.get("floe"), r.get(e)) for e in peers]
        cells += [fmt_check(checks[e].get(q)) for e in checked]
        lines.append("| " + " | ".join(cells) + " |")

    common = [q for q in qnums if all(results[e][q].get("status") == "ok" for e in engines)]
    gm = {e: geomean([results[e][q]["median_ms"] for q in common]) for e in engines}
    summary: dict = {"common_queries": common, "geomean_ms": gm, "geomean_ratio": {}}
    lines += ["", f"Geometric mean over the {len(common)} queries that succeeded on every engine"
              f" ({', '.join(f'Q{q}' for q in common) or 'none'}):", ""]
    lines.append("| engine | geomean ms | load s | on-disk (du) |")
    lines.append("|---|---:|---:|---:|")
    for e in engines:
        li = load[e]
        lines.append(f"| {e} | {gm[e]:.1f} | " if gm[e] else f"| {e} | - | ")
        lines[-1] += (f"{li['total_s']:.2f}" if "total_s" in li else "failed") + " | " + \
            human_bytes(li.get("size", {}).get("du_bytes")) + " |"
    lines.append(f"| (parquet input) | | | {human_bytes(pq_info['bytes'])} |")
    pairs = [("floe", "duckdb"), ("floe", "chdb"), ("chdb", "duckdb"),
             ("floe", "datafusion"), ("datafusion", "duckdb"), ("floe", "duckdb-files"),
             ("duckdb-files", "duckdb")]
    ratio_lines = []
    for a, b in pairs:
        if a in engines and b in engines and gm.get(a) and gm.get(b):
            summary["geomean_ratio"][f"{a}/{b}"] = gm[a] / gm[b]
            ratio_lines.append(f"- geomean {a}/{b}: {gm[a] / gm[b]:.2f}")
    if ratio_lines:
        lines += [""] + ratio_lines

    for e, chk in checks.items():
        bad = {q: c for q, c in chk.items() if not c["ok"]}
        lines += ["", f"{e} vs duckdb: {len(chk) - len(bad)}/{len(chk)} queries match"]
        for q, c in sorted(bad.items()):
            lines.append(f"- Q{q:02d} mismatch: {c['detail']}")
    errs = [(e, q, results[e][q]) for e in engines for q in qnums
            if results[e][q].get("status") != "ok"]
    if errs:
        lines += ["", "Failures:", ""]
        for e, q, r in errs:
            lines.append(f"- {e} Q{q:02d} {r.get('status')}: {r.get('error')}")
    for e in engines:
        if load[e].get("error"):
            lines.append(f"- {e} load failed: {load[e]['error']}")
        if load[e].get("row_count_errors"):
            lines.append(f"- {e} row counts differ: {load[e]['row_count_errors']}")
    empty = [q for q in qnums if results.get("duckdb", {}).get(q, {}).get("status") == "ok"
             and not results["duckdb"][q]["rows"]]
    if empty:
        lines += ["", "Empty answers (DuckDB) at this size: " + ", ".join(f"Q{q}" for q in empty)]
    adapted = sorted(q for q in qnums if results.get("chdb", {}).get(q, {}).get("adapted"))
    if adapted:
        lines += ["", "chdb ran adapted texts for: " + ", ".join(f"Q{q}" for q in adapted)]

    data = {
        "benchmark": "clickbench", "rows": args.rows, "seed": args.seed,
        "generator_version": GENERATOR_VERSION, "sort_key": args.sort_key,
        "runs": args.runs, "timeout_s": args.timeout,
        "date": started.isoformat(timespec="seconds"), "engines": engines,
        "command": [Path(sys.executable).name] + sys.argv,
        "machine": {"arch": platform.machine(), "cpus": os.cpu_count(),
                    "os": f"{platform.system()} {platform.release()}"},
        "parquet": pq_info, "generation": gen_info, "load": load,
        "queries": {str(q): {e: {k: v for k, v in results[e][q].items() if k != "rows"}
                             | {"row_count": len(results[e][q].get("rows") or [])}
                             for e in engines} for q in qnums},
        "checks": {e: {str(q): c for q, c in chk.items()} for e, chk in checks.items()},
        "summary": summary,
    }
    return "\n".join(lines) + "\n", data


def parse_queries(spec: str | None) -> list[int]:
    if not spec:
        return list(QUERIES)
    out = []
    for part in spec.split(","):
        part = part.strip().lstrip("qQ")
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    bad = [q for q in out if q not in QUERIES]
    if bad:
        raise argparse.ArgumentTypeError(f"no such ClickBench query: {bad} (they are 1-43)")
    return sorted(set(out))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows of hits (default 10M)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed (default 42)")
    ap.add_argument("--generate-only", action="store_true",
                    help="generate (or reuse) the Parquet file and stop")
    ap.add_argument("--runs", type=int, default=3, help="hot runs per query (default 3)")
    ap.add_argument("--queries", type=parse_queries, default=parse_queries(None),
                    help="comma-separated query numbers or ranges, e.g. 1,3,6 or 37-43 (default all)")
    ap.add_argument("--engines", default=",".join(ALL_ENGINES),
                    help="comma-separated subset of " + ",".join(ALL_ENGINES) + " (default all)")
    ap.add_argument("--sort-key", choices=["none", "clickbench"], default="none",
                    help="none: tables in arrival order (default); clickbench: DuckDB, chDB and "
                         "Floe tables sorted by ClickBench's ClickHouse key "
                         f"({', '.join(CLICKBENCH_SORT_KEY)})")
    ap.add_argument("--timeout", type=float, default=600,
                    help="per-query client-side timeout in seconds, 0 = none (default 600)")
    ap.add_argument("--floe-bin", default=default_floe_bin(),
                    help="floe binary (default $FLOE_BIN or $CARGO_TARGET_DIR/release/floe)")
    ap.add_argument("--out-dir", default=str(BENCH_DIR / "out"), help="output directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.rows < 1:
        ap.error("--rows must be positive")

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ALL_ENGINES]
    if unknown or not engines:
        ap.error(f"unknown engines {unknown}; choose from {ALL_ENGINES}")
    engines = [e for e in ALL_ENGINES if e in engines]
    if not args.generate_only and "floe" in engines and not os.access(args.floe_bin, os.X_OK):
        ap.error(f"floe binary not found at {args.floe_bin} (build it with cargo build --release, "
                 f"set FLOE_BIN, or leave floe out with --engines duckdb,chdb)")

    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGHUP, exit_on_signal)

    started = dt.datetime.now()
    parquet, gen_info = generate(args.rows, args.seed)
    pq_info = parquet_info(parquet)
    if args.generate_only:
        print(json.dumps({"file": str(parquet), **pq_info, **gen_info}, indent=2))
        return 0

    out_dir = Path(args.out_dir).resolve()
    work_dir = out_dir / f"clickbench-{args.rows}"  # the engines' databases
    work_dir.mkdir(parents=True, exist_ok=True)
    files = {"hits": parquet}
    queries = {q: QUERIES[q] for q in args.queries}

    load: dict[str, dict] = {}
    results: dict[str, dict[int, dict]] = {}
    try:
        for e in engines:
            load[e], results[e] = tpch.run_engine(e, args, work_dir, files,
                                                  {"hits": pq_info["rows"]}, queries,
                                                  make_engine)
    finally:
        tpch._stop_all_floe()

    checks: dict[str, dict[int, dict]] = {}
    if "duckdb" in engines:
        ref = Reference(parquet)
        for e in engines:
            if e == "duckdb":
                continue
            checks[e] = {}
            for q in queries:
                exp, r = results["duckdb"][q], results[e][q]
                if exp.get("status") != "ok" or r.get("status") != "ok":
                    continue
                try:
                    ok, detail = compare_answers(q, QUERIES[q], exp["rows"], r["rows"], ref)
                except Exception as ex:  # noqa: BLE001
                    ok, detail = False, f"comparison failed: {type(ex).__name__}: {ex}"
                checks[e][q] = {"ok": ok, "detail": detail}
        for e, chk in checks.items():
            bad = sorted(q for q, c in chk.items() if not c["ok"])
            log(f"{e} vs duckdb: " + ("all compared queries match" if not bad else
                                     "MISMATCH in " + ", ".join(f"Q{q}" for q in bad)))

    md, data = build_report(args, engines, pq_info, gen_info, load, results, checks, started)
    stamp = started.strftime("%Y-%m-%d-%H%M%S")
    md_path = out_dir / f"clickbench-{stamp}.md"
    json_path = out_dir / f"clickbench-{stamp}.json"
    md_path.write_text(md)
    json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(md)
    log(f"wrote {md_path} and {json_path}")
    return 1 if any(load[e].get("error") for e in engines) else 0


if __name__ == "__main__":
    sys.exit(main())

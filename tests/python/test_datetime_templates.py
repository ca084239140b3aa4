"""`to_date` and `to_timestamp` with a template, checked against a live
PostgreSQL 15: every text and template below runs on both servers, and
Floe must give PostgreSQL's date or instant, or fail with PostgreSQL's
SQLSTATE. The templates include strftime patterns, which PostgreSQL reads
with its own rules (`%` is a separator, `Y` a year, `m` a text
character)."""

from __future__ import annotations

import datetime as dt
import itertools

import psycopg
import pytest

from floe_helpers import unique_name

# (text, template) pairs of every rule of PostgreSQL's reader.
CASES = [
    ("2022-01-23", "YYYY-MM-DD"),
    ("23 Jan 2022", "DD Mon YYYY"),
    ("23 JANUARY 2022", "DD MONTH YYYY"),
    ("Sunday 23 jan 2022", "Day DD mon YYYY"),
    ("20220123", "YYYYMMDD"),
    ("2022123", "YYYYMMDD"),
    ("2022-1-5", "YYYY-MM-DD"),
    ("  2022-01-05", "YYYY-MM-DD"),
    ("2022  01 05", "YYYY MM DD"),
    ("2022/01/05", "YYYY-MM-DD"),
    ("2022-01-05", "YYYY MM DD"),
    ("2022-01-05", "YYYYxMMxDD"),
    ("2022x01x05", "YYYY-MM-DD"),
    ("2022-01-23", "%Y-%m-%d"),
    ("2022-02-23", "%Y-%m-%d"),
    ("2020-09-08 13:42:29", "%Y-%m-%d %H:%M:%S"),
    ("2020-09-08 13:42:29 +0000", "%Y-%m-%d %H:%M:%S %z"),
    ("2020-09-08 13:42:29America/Toronto", "%Y-%m-%d %H:%M:%S%Z"),
    ("2020-09-08 12/00/00+00:00", "%q"),
    ("2020-09-08", "%d/%m/%Y"),
    ("08/09/2020", "%d/%m/%Y"),
    ("2020-09-08T13:42:29.123Z", "%Y-%m-%dT%H:%M:%S%.fZ"),
    ("2022-01-23", "Yyyy-Mm-Dd"),
    ("2022-01-23", "yyyy-mm-dd"),
    ("69-01-01", "YY-MM-DD"),
    ("70-01-01", "YY-MM-DD"),
    ("519-01-01", "YYY-MM-DD"),
    ("520-01-01", "YYY-MM-DD"),
    ("5", "Y"),
    ("21 05", "CC YY"),
    ("21 00", "CC YY"),
    ("21", "CC"),
    ("5 BC", "YYYY BC"),
    ("0005 B.C.", "YYYY B.C."),
    ("2024 060", "YYYY DDD"),
    ("2023 366", "YYYY DDD"),
    ("060", "DDD"),
    ("2020 01 1", "IYYY IW ID"),
    ("2020 10", "IYYY IW"),
    ("2020 100", "IYYY IDDD"),
    ("2020 10", "YYYY WW"),
    ("2020 03 2", "YYYY MM W"),
    ("2459000", "J"),
    ("2020 xii", "YYYY RM"),
    ("2020 IV", "YYYY RM"),
    ("2020 3", "YYYY Q"),
    ("02-31", "MM-DD"),
    ("2022-02-30", "YYYY-MM-DD"),
    ("2022-13-01", "YYYY-MM-DD"),
    ("2022-00-01", "YYYY-MM-DD"),
    ("2022-01-32", "YYYY-MM-DD"),
    ("20x2-01-23", "YYYY-MM-DD"),
    ("2022", "YYYYMMDD"),
    ("2020 01", "YYYY IW"),
    ("2020 2021", "YYYY YYYY"),
    ("2020 2020", "YYYY YYYY"),
    ("Foo 2020", "Mon YYYY"),
    ("1st 2020", "DDth YYYY"),
    ("21ST of March 2020", "DDTH of Month YYYY"),
    ("2022-01-23", '"year" YYYY-MM-DD'),
    ("year 2022-01-23", '"year "YYYY-MM-DD'),
    ("2022-01-23", "FXYYYY-MM-DD"),
    ("2022 -01-23", "FXYYYY-MM-DD"),
    ("2022-1-23", "FMYYYY-FMMM-FMDD"),
    ("99999999999", "YYYY"),
    ("", "YYYY"),
    ("2022", ""),
    ("-44-01-01", "YYYY-MM-DD"),
    ("2020-09-08 01:42:29 PM", "YYYY-MM-DD HH:MI:SS AM"),
    ("2020-09-08 12:42:29 a.m.", "YYYY-MM-DD HH:MI:SS A.M."),
    ("2020-09-08 13:42:29 PM", "YYYY-MM-DD HH:MI:SS AM"),
    ("2020-09-08 00:42:29", "YYYY-MM-DD HH:MI:SS"),
    ("2020-09-08 13:42:29", "YYYY-MM-DD HH24:MI:SS"),
    ("2020-09-08 24:00:00", "YYYY-MM-DD HH24:MI:SS"),
    ("2020-09-08 13:60:00", "YYYY-MM-DD HH24:MI:SS"),
    ("2020-09-08 13:42:29.5", "YYYY-MM-DD HH24:MI:SS.MS"),
    ("2020-09-08 13:42:29.05", "YYYY-MM-DD HH24:MI:SS.MS"),
    ("2020-09-08 13:42:29.123456", "YYYY-MM-DD HH24:MI:SS.US"),
    ("2020-09-08 13:42:29.12", "YYYY-MM-DD HH24:MI:SS.US"),
    ("2020-09-08 13:42:29.123456", "YYYY-MM-DD HH24:MI:SS.FF3"),
    ("2020-09-08 13:42:29.1239", "YYYY-MM-DD HH24:MI:SS.FF3"),
    ("2020-09-08 13:42:29.1", "YYYY-MM-DD HH24:MI:SS.FF6"),
    ("2020-09-08 13:42:29 +05", "YYYY-MM-DD HH24:MI:SS TZH"),
    ("2020-09-08 13:42:29 -05:30", "YYYY-MM-DD HH24:MI:SS TZH:TZM"),
    ("2020-09-08 13:42:29-05", "YYYY-MM-DD HH24:MI:SS-TZH"),
    ("2020-09-08 13:42:29 +16", "YYYY-MM-DD HH24:MI:SS TZH"),
    ("2020-09-08 13:42:29 UTC", "YYYY-MM-DD HH24:MI:SS TZ"),
    ("2020-09-08 13:42:29 +05", "YYYY-MM-DD HH24:MI:SS OF"),
    ("3661", "SSSS"),
    ("2020 3661", "YYYY SSSSS"),
    ("2020-09-08 1342", "YYYY-MM-DD HH24MI"),
    ("1,999 01 01", "Y,YYY MM DD"),
    ("2020 tuesday", "YYYY day"),
    ("2020 tue", "YYYY dy"),
    ("2022-01-23 10", "YYYY-MM-DD HH"),
    ("12 AM", "HH AM"),
    ("PM", "AM"),
    ("1500-01-01", "YYYY-MM-DD"),
    ("0001-01-01 BC", "YYYY-MM-DD BC"),
    ("Tue, 08 Sep 2020 13:42:29", "Dy, DD Mon YYYY HH24:MI:SS"),
    ("2020-09-08T13:42:29", 'YYYY-MM-DD"T"HH24:MI:SS'),
    ("September 8, 2020", "TMMonth DD, YYYY"),
    ("September 8, 2020", "FMMonth FMDD, YYYY"),
    ("2020-W37-2", "IYYY-\"W\"IW-ID"),
    ("2020 37 2", "IYYY IW D"),
    ("25:00", "HH24:MI"),
    ("2020-09-08 13:42", "YYYY-MM-DD HH24:MI:SS"),
    ("2020-09-08 13:42:29.999999", "YYYY-MM-DD HH24:MI:SS.FF1"),
    ("13:42:29 2020.09.08", "HH24:MI:SS YYYY.MM.DD"),
    ("2020, 252", "YYYY, DDD"),
    ("x2020", "YYYY"),
    ("2020ab09cd08", "YYYYxxMMxxDD"),
    ("2697", "CC"),
]

# Every template with every text, for the rules' interplay.
TEMPLATES = ["YYYY-MM-DD", "%Y-%m-%d", "DD/MM/YYYY", "YYYYMMDD HH24MISS", "Mon DD YYYY", "FMDD FMMM YY"]
TEXTS = ["2022-01-23", "23/01/2022", "20220123 134229", "Jan 23 2022", "3 1 22", "  2022 - 1 - 3"]
CASES += list(itertools.product(TEXTS, TEMPLATES))

# Floe's timestamps are nanoseconds: they run from 1677-09-21 to 2262-04-11;
# its dates end at 262142-12-31.
FLOE_FIRST = dt.datetime(1677, 9, 22, tzinfo=dt.timezone.utc)
FLOE_LAST = dt.datetime(2262, 4, 10, tzinfo=dt.timezone.utc)


def answer(conn, sql, args):
    """The value, or the SQLSTATE of the error."""
    try:
        return ("ok", conn.execute(sql, args).fetchone()[0])
    except psycopg.Error as e:
        if e.sqlstate is None:  # a value psycopg cannot load (a BC year)
            return ("unloadable", type(e).__name__)
        return ("error", e.sqlstate)


@pytest.fixture(scope="module")
def both(floe_shared, postgres):
    db = postgres.create_database(unique_name("tpl_db"))
    with postgres.connect(db) as pg, floe_shared.connect(autocommit=True) as fl:
        pg.execute("SET TimeZone = 'UTC'")
        yield pg, fl


def outside_floe(function: str, value) -> bool:
    """Whether PostgreSQL's answer lies past Floe's dates or timestamps."""
    if function == "to_date":
        return len(value.split("-")[0]) > 5
    return not FLOE_FIRST <= value <= FLOE_LAST


@pytest.mark.parametrize("function,sql", [
    ("to_date", "SELECT to_date(%s, %s)::text"),
    ("to_timestamp", "SELECT to_timestamp(%s, %s)"),
])
@pytest.mark.parametrize("text,template", CASES)
def test_issue23_templates_read_as_postgres(both, function, sql, text, template):
    pg, fl = both
    want = answer(pg, sql, (text, template))
    got = answer(fl, sql, (text, template))
    if want[0] == "ok" and outside_floe(function, want[1]):
        # Past Floe's range: an error that says so, never another value.
        assert got == ("error", "22008")
    elif want[0] == "unloadable":
        assert got[0] in ("error", "unloadable")
    else:
        assert got == want

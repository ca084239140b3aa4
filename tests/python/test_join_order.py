"""The join order: inner joins run in the order their estimated sizes
call for, not the order of the FROM list, with the same answers, through a
real `floe serve` and psycopg.

The tables are TPC-H's shape at a small scale: nation keys 0..24,
suppliers and customers spread over them, orders of customers, line items
of orders from suppliers. Answers are checked against the same joins done
in Python, and against Floe with reordering turned off."""

from __future__ import annotations

import random
import re

import psycopg
import pytest

_RNG = random.Random(15)
NATIONS = ["FRANCE", "GERMANY"] + [f"N{i:02}" for i in range(2, 25)]
SUPPLIERS = [(s, _RNG.randrange(25)) for s in range(1, 1001)]
CUSTOMERS = [(c, _RNG.randrange(25)) for c in range(1, 6001)]
ORDERS = [(o, _RNG.randrange(1, 6001)) for o in range(1, 6001)]
LINEITEMS = [(o, _RNG.randrange(1, 1001), o * 10 + k) for o in range(1, 6001) for k in range(4)]

# TPC-H Q7's FROM list, in its order: the filter on n1 comes last.
Q7 = """
SELECT n1.n_name, n2.n_name, count(*), sum(l_value)
FROM supplier, lineitem, orders, customer, nation n1, nation n2
WHERE s_suppkey = l_suppkey AND o_orderkey = l_orderkey AND c_custkey = o_custkey
  AND s_nationkey = n1.n_nationkey AND c_nationkey = n2.n_nationkey
  AND ((n1.n_name = 'FRANCE' AND n2.n_name = 'GERMANY')
    OR (n1.n_name = 'GERMANY' AND n2.n_name = 'FRANCE'))
GROUP BY 1, 2 ORDER BY 1, 2
"""

# TPC-H Q5's: customer and supplier are also linked by the nation key,
# which is no key of either: 240 customers to 40 suppliers a nation, so
# joined on it alone they make 9,600 rows a nation, against the 960 line
# items of its suppliers.
Q5 = """
SELECT n_name, count(*), sum(l_value)
FROM region, nation, customer, orders, lineitem, supplier
WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey
  AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey
  AND n_regionkey = r_regionkey AND r_name = 'R1'
GROUP BY n_name ORDER BY n_name
"""


def _insert(conn, table, rows):
    width = len(rows[0])
    for start in range(0, len(rows), 2000):
        chunk = rows[start:start + 2000]
        values = ", ".join(
            "(" + ", ".join(repr(v) if not isinstance(v, str) else f"'{v}'" for v in row) + ")"
            for row in chunk)
        assert width == len(chunk[0])
        conn.execute(f"INSERT INTO {table} VALUES {values}")


TABLES = {
    "region": ("r_regionkey int, r_name text", [(r, f"R{r}") for r in range(5)]),
    "nation": ("n_nationkey int, n_name text, n_regionkey int",
               [(i, name, i % 5) for i, name in enumerate(NATIONS)]),
    "supplier": ("s_suppkey int, s_nationkey int", SUPPLIERS),
    "customer": ("c_custkey int, c_nationkey int", CUSTOMERS),
    "orders": ("o_orderkey int, o_custkey int", ORDERS),
    "lineitem": ("l_orderkey int, l_suppkey int, l_value bigint", LINEITEMS),
}


@pytest.fixture(scope="module")
def tpch_like(floe_shared, postgres):
    """(Floe, PostgreSQL database) holding the same tables."""
    srv = floe_shared
    db = postgres.create_database("join_order")
    with psycopg.connect(srv.dsn, autocommit=True) as conn, postgres.connect(db) as pg:
        for name, (columns, rows) in TABLES.items():
            for c in (conn, pg):
                c.execute(f"CREATE TABLE {name} ({columns})")
                _insert(c, name, rows)
        # Into Parquet files, whose footers give the key columns' ranges.
        conn.execute("CHECKPOINT")
    return srv, lambda: postgres.connect(db)


def _joins(plan: str) -> list[tuple[int, str]]:
    """(depth, condition) of each inner join of a logical plan's text."""
    out = []
    for line in plan.splitlines():
        m = re.match(r"^(\s*)Inner Join: (.*)$", line)
        if m:
            out.append((len(m.group(1)), m.group(2)))
    return out


def _logical_plan(conn, sql) -> str:
    rows = conn.execute("EXPLAIN " + sql).fetchall()
    return next(text for kind, text in rows if kind == "logical_plan")


def _depth(joins, *names) -> int:
    """The depth of the join whose condition names all of `names`."""
    found = [d for d, cond in joins if all(n in cond for n in names)]
    assert len(found) == 1, (names, joins)
    return found[0]


def _same_answers(tpch_like, sql):
    """Floe's rows of `sql`, checked against PostgreSQL's."""
    srv, pg = tpch_like
    with psycopg.connect(srv.dsn, autocommit=True) as conn:
        got = conn.execute(sql).fetchall()
    with pg() as conn:
        want = conn.execute(sql).fetchall()
    assert got == want
    assert got, "the query must give rows"
    return got


def test_issue15_a_filtered_dimension_joins_first_whatever_the_from_order(tpch_like):
    _same_answers(tpch_like, Q7)
    with psycopg.connect(tpch_like[0].dsn, autocommit=True) as conn:
        joins = _joins(_logical_plan(conn, Q7))
    assert len(joins) == 5, joins
    # Suppliers are narrowed to the two nations before they meet the line
    # items (as written, line items meet every supplier first): the
    # suppliers' join with n1 lies below the line items' join.
    assert _depth(joins, "s_nationkey", "n1.n_nationkey") > _depth(joins, "l_suppkey")


def test_issue15_a_join_on_a_column_that_is_no_key_is_not_taken_for_one(tpch_like):
    _same_answers(tpch_like, Q5)
    with psycopg.connect(tpch_like[0].dsn, autocommit=True) as conn:
        joins = _joins(_logical_plan(conn, Q5))
    # Customers meet suppliers only after the line items have: the nation
    # key alone would pair every customer with every supplier of its nation.
    assert _depth(joins, "c_nationkey", "s_nationkey") < _depth(joins, "l_suppkey")


@pytest.mark.parametrize("sql", [
    # Every column, in the FROM list's order, with names two tables share.
    "SELECT * FROM nation a, nation b, region r WHERE a.n_regionkey = r.r_regionkey "
    "AND b.n_nationkey = a.n_nationkey AND r.r_name <> 'R0' ORDER BY 1, 4",
    # A condition over three tables, applied once all three are joined.
    "SELECT count(*) FROM supplier, customer, nation WHERE s_nationkey = n_nationkey "
    "AND c_nationkey = n_nationkey AND s_suppkey + c_custkey < n_nationkey * 10",
    # No condition links region to the rest: a cross join, kept.
    "SELECT count(*), sum(r_regionkey) FROM region, nation, supplier "
    "WHERE s_nationkey = n_nationkey AND n_name LIKE 'N1%'",
    # Joins written with JOIN ... ON and USING, and a derived table.
    "SELECT n_name, count(*) FROM orders JOIN customer ON o_custkey = c_custkey "
    "JOIN (SELECT n_nationkey AS c_nationkey, n_name FROM nation) n USING (c_nationkey) "
    "JOIN region ON r_regionkey = customer.c_nationkey % 5 WHERE r_name = 'R2' GROUP BY 1 ORDER BY 1",
    # A join inside a scalar subquery.
    "SELECT r_name, (SELECT count(*) FROM nation, supplier, customer WHERE n_regionkey = "
    "r_regionkey AND s_nationkey = n_nationkey AND c_nationkey = n_nationkey "
    "AND c_custkey < 100) FROM region ORDER BY 1",
    # Every table of a cross join.
    "SELECT count(*) FROM region a, region b, region c",
])
def test_issue15_reordered_joins_answer_as_postgresql_does(tpch_like, sql):
    _same_answers(tpch_like, sql)


# TPC-H Q18's shape: the IN keeps a few orders, then the joins.
Q18 = """
SELECT c_custkey, o_orderkey, sum(l_value)
FROM customer, orders, lineitem
WHERE o_orderkey IN (SELECT l_orderkey FROM lineitem GROUP BY l_orderkey
                     HAVING sum(l_value) > 239950)
  AND c_custkey = o_custkey AND o_orderkey = l_orderkey
GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT 10
"""


def test_issue15_an_in_subquery_filters_its_table_before_the_joins(tpch_like):
    _same_answers(tpch_like, Q18)
    with psycopg.connect(tpch_like[0].dsn, autocommit=True) as conn:
        plan = _logical_plan(conn, Q18)
    semi = [len(m.group(1)) for m in re.finditer(r"^(\s*)(Left|Right)Semi Join", plan, re.M)]
    assert len(semi) == 1, plan
    # Below both inner joins, not above them as written.
    assert all(semi[0] > depth for depth, _ in _joins(plan)), plan


@pytest.mark.parametrize("sql", [
    # EXISTS and NOT EXISTS with a condition besides the key (Q21's shape).
    "SELECT s_suppkey, count(*) FROM supplier, lineitem l1, orders WHERE s_suppkey = l1.l_suppkey "
    "AND o_orderkey = l1.l_orderkey AND o_custkey < 200 "
    "AND EXISTS (SELECT * FROM lineitem l2 WHERE l2.l_orderkey = l1.l_orderkey "
    "AND l2.l_suppkey <> l1.l_suppkey) "
    "AND NOT EXISTS (SELECT * FROM lineitem l3 WHERE l3.l_orderkey = l1.l_orderkey "
    "AND l3.l_suppkey <> l1.l_suppkey AND l3.l_value > l1.l_value) "
    "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
    # An IN whose key is computed from two tables stays above their join.
    "SELECT count(*) FROM customer, orders, nation WHERE c_custkey = o_custkey "
    "AND c_nationkey = n_nationkey AND (o_orderkey + c_custkey) IN "
    "(SELECT l_orderkey FROM lineitem WHERE l_value % 7 = 0)",
    # NOT IN, whose NULLs depend on the whole subquery.
    "SELECT count(*) FROM customer, orders, nation WHERE c_custkey = o_custkey "
    "AND c_nationkey = n_nationkey AND o_orderkey NOT IN "
    "(SELECT l_orderkey FROM lineitem WHERE l_value % 3 = 0)",
    # A semi join with a larger subquery than its table.
    "SELECT count(*) FROM nation, supplier, region WHERE s_nationkey = n_nationkey "
    "AND n_regionkey = r_regionkey AND s_suppkey IN (SELECT l_suppkey FROM lineitem)",
])
def test_issue15_semi_and_anti_joins_answer_as_postgresql_does(tpch_like, sql):
    _same_answers(tpch_like, sql)

"""Which words of an SQL expression are column names (`rename_in`, `mentions`): not a string
literal's prefix (x'41', E'…', N'…', U&'…', _utf8mb4'…') nor a typed literal's type
(DATE '2020-01-01'), not the type of a CAST or CONVERT nor one after "::" in several words
(double precision, timestamp with time zone), not a collation's name, nor the words of AT
TIME ZONE or EXTRACT's field. Read as columns, a rename rewrote them (`c = x'41'` became
`c = y'41'`) and a drop took a check or index that does not use the column: the replayed
schema, and so what a SQLite rebuild writes, differed from what the database holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import make_project, rows

from schemaflow.dialects.reflect import reflect
from schemaflow.state import expression_key, mentions, rename_in


@pytest.mark.parametrize(("expression", "renames", "renamed"), [
    # a string literal's prefix
    ("c = x'41' OR x = X'42'", {"x": "y"}, "c = x'41' OR y = X'42'"),
    ("b <> b'01' AND b <> B'10'", {"b": "bits"}, "bits <> b'01' AND bits <> B'10'"),
    (r"e <> E'it\'s e' AND e <> e'\n'", {"e": "f"}, r"f <> E'it\'s e' AND f <> e'\n'"),
    ("n <> N'abc'", {"n": "m"}, "m <> N'abc'"),
    (r"u <> U&'d\0061t' AND u <> u&'x'", {"u": "v"}, r"v <> U&'d\0061t' AND v <> u&'x'"),
    ("status IN (_utf8mb4'a', _latin1 'b')", {"_utf8mb4": "cs", "_latin1": "l1"},
     "status IN (_utf8mb4'a', _latin1 'b')"),
    # a typed literal's type
    ("date > DATE '2020-01-01' AND time < TIME '12:00'", {"date": "day", "time": "at"},
     "day > DATE '2020-01-01' AND at < TIME '12:00'"),
    ("timestamp >= TIMESTAMP '2020-01-01 00:00' - INTERVAL '1 day'",
     {"timestamp": "ts"}, "ts >= TIMESTAMP '2020-01-01 00:00' - INTERVAL '1 day'"),
    # the type of a CAST or a CONVERT
    ("CAST(created AS date) > '2020-01-01' AND date IS NULL", {"date": "day"},
     "CAST(created AS date) > '2020-01-01' AND day IS NULL"),
    ("cast(text AS text) <> '' AND cast(a AS varchar(20)) <> text", {"text": "t"},
     "cast(t AS text) <> '' AND cast(a AS varchar(20)) <> t"),
    ("CAST(n AS double precision) + CAST(n AS character varying(10)) + precision",
     {"n": "m", "precision": "p", "varying": "v"},
     "CAST(m AS double precision) + CAST(m AS character varying(10)) + p"),
    ("CAST(lower(zone) AS timestamp with time zone) > time", {"zone": "z", "time": "t"},
     "CAST(lower(z) AS timestamp with time zone) > t"),
    ("CAST(a AS SIGNED) + CAST(a AS UNSIGNED INTEGER) + CAST(a AS DECIMAL(10,2)) + signed",
     {"a": "b", "signed": "s", "unsigned": "u"},
     "CAST(b AS SIGNED) + CAST(b AS UNSIGNED INTEGER) + CAST(b AS DECIMAL(10,2)) + s"),
    ("CONVERT(date, DATE) > CONVERT(f(date, 1), DECIMAL(10, 2))", {"date": "day"},
     "CONVERT(day, DATE) > CONVERT(f(day, 1), DECIMAL(10, 2))"),
    ("CONVERT(name USING utf8mb4) <> utf8mb4", {"utf8mb4": "u", "name": "n"},
     "CONVERT(n USING utf8mb4) <> u"),
    # a type after "::", in several words
    ("ts > '2020-01-01'::timestamp without time zone AND zone <> ''", {"zone": "z"},
     "ts > '2020-01-01'::timestamp without time zone AND z <> ''"),
    ("n::double precision > 0 AND v::character varying(5) <> '' AND varying",
     {"n": "m", "varying": "w", "precision": "p"},
     "m::double precision > 0 AND v::character varying(5) <> '' AND w"),
    # a collation's name
    ('name COLLATE "C" <> "C" AND name COLLATE nocase <> nocase', {"C": "d", "nocase": "nc"},
     'name COLLATE "C" <> "d" AND name COLLATE nocase <> nc'),
    ("name COLLATE utf8mb4_bin <> '' AND s COLLATE pg_catalog.\"default\" <> ''",
     {"utf8mb4_bin": "x", "pg_catalog": "p", "default": "d"},
     "name COLLATE utf8mb4_bin <> '' AND s COLLATE pg_catalog.\"default\" <> ''"),
    # AT TIME ZONE's words, EXTRACT's field
    ("(ts AT TIME ZONE 'UTC')::date > time", {"time": "t", "zone": "z"},
     "(ts AT TIME ZONE 'UTC')::date > t"),
    ("EXTRACT(year FROM born) > year", {"year": "y"}, "EXTRACT(year FROM born) > y"),
])
def test_rename_in_leaves_what_is_not_a_column(expression: str, renames: dict[str, str],
                                               renamed: str) -> None:
    assert rename_in(expression, renames) == renamed


@pytest.mark.parametrize(("expression", "column"), [
    ("c = x'41'", "x"), ("c = X'41'", "x"), ("c <> b'01'", "b"), (r"c <> E'a\'b'", "e"),
    ("c <> N'abc'", "n"), ("c <> U&'abc'", "u"), ("created > DATE '2020-01-01'", "date"),
    ("CAST(created AS date) > '2020-01-01'", "date"), ("CAST(c AS text) <> ''", "text"),
    ("CAST(c AS double precision) > 0", "double"), ("CONVERT(c, DATE) > 0", "date"),
    ("c::timestamp with time zone > now()", "zone"), ('a COLLATE "C" <> \'\'', "C"),
    ("a COLLATE nocase <> ''", "nocase"), ("(c AT TIME ZONE 'UTC') > now()", "time"),
    ("EXTRACT(year FROM c) > 2000", "year"),
])
def test_mentions_leaves_what_is_not_a_column(expression: str, column: str) -> None:
    assert not mentions(expression, column)


@pytest.mark.parametrize(("expression", "column"), [
    (r"c <> E'a\'b' AND x > 0", "x"),       # a backslash escapes a quote in E'…'
    ("CAST(x AS date) > '2020-01-01'", "x"), ("CONVERT(x USING utf8mb4) <> ''", "x"),
    ("x COLLATE nocase <> ''", "x"), ("at > 0 AND time > 0", "at"), ("time > 0", "time"),
    ("EXTRACT(year FROM x) > 2000", "x"), ("x::double precision > 0", "x"),
])
def test_mentions_still_finds_the_column_beside_them(expression: str, column: str) -> None:
    assert mentions(expression, column)


def _checks(url: str) -> dict[str, str]:
    """The CHECK constraints of table t as SQLite gives them back, by name."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return {c.name or "": c.expression for c in reflect(conn).tables[(None, "t")].checks}
    finally:
        engine.dispose()


def test_a_renamed_column_leaves_a_hex_literal_and_a_cast_type_of_its_name(
        tmp_path: Path) -> None:
    """A table with columns x and date, checks using X'41' and CAST(... AS date): renaming x
    and date made the replayed checks `y <> y'41'` and `CAST(created AS day)`, which the next
    SQLite rebuild wrote (an error, or silently a CHECK other than the one SQLite kept). The
    rebuilt table holds what SQLite's own rename wrote, and the replayed schema agrees."""
    p = make_project(tmp_path / "p")
    p.chain([{"create_table": {"name": "t", "columns": [
                {"name": "id", "type": "integer", "primary_key": True},
                {"name": "x", "type": "binary"}, {"name": "date", "type": "text"},
                {"name": "created", "type": "text"}, {"name": "note", "type": "text"}],
              "checks": [{"name": "ck_t_x", "expression": "x IS NULL OR x <> X'41'"},
                         {"name": "ck_t_created",
                          "expression": "CAST(created AS date) >= date"}]}}],
            [{"rename_column": {"table": "t", "name": "x", "new_name": "y"}},
             {"rename_column": {"table": "t", "name": "date", "new_name": "day"}}],
            [{"alter_column": {"table": "t", "name": "note", "nullable": False,
                               "default": ""}}])
    done = p.cli("apply", "c002")
    assert done.returncode == 0, done.stderr
    kept = _checks(p.url)  # as SQLite's own RENAME COLUMN wrote them
    assert kept == {"ck_t_x": "y IS NULL OR y <> X'41'",
                    "ck_t_created": "CAST(created AS date) >= day"}
    done = p.cli("apply")  # a rebuild, from the replayed schema
    assert done.returncode == 0, done.stderr
    assert _checks(p.url) == kept
    (ddl,) = rows(p.url, "SELECT sql FROM sqlite_master WHERE name = 't'")[0]
    assert "X'41'" in ddl and "AS date" in ddl, ddl
    replayed = {c.name: c.expression for c in p.api().state_at().table("t", None).checks}
    assert {n: expression_key(e) for n, e in replayed.items()} == {
        n: expression_key(e) for n, e in kept.items()}
    assert p.cli("validate").returncode == 0


def test_a_dropped_column_leaves_the_checks_and_generated_columns_using_its_name_otherwise(
        tmp_path: Path) -> None:
    """Dropping column x of a table whose generated column computes from x'41' was refused
    (SF119, "used by generated column"), and the replayed schema dropped a CHECK comparing
    with x'41' that SQLite keeps: the next rebuild lost it."""
    p = make_project(tmp_path / "p")
    p.chain([{"create_table": {"name": "t", "columns": [
                {"name": "id", "type": "integer", "primary_key": True},
                {"name": "x", "type": "integer"}, {"name": "code", "type": "binary"},
                {"name": "note", "type": "text"},
                {"name": "hexed", "type": "text", "computed": {"expression": "hex(x'41')"}}],
              "checks": [{"name": "ck_t_code", "expression": "code <> x'41'"}]}}],
            [{"drop_column": {"table": "t", "name": "x"}}],
            [{"alter_column": {"table": "t", "name": "note", "nullable": False,
                               "default": ""}}])
    done = p.cli("apply")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert _checks(p.url) == {"ck_t_code": "code <> x'41'"}
    t = p.api().state_at().table("t", None)
    assert [c.expression for c in t.checks] == ["code <> x'41'"]
    assert [c.name for c in t.columns] == ["id", "code", "note", "hexed"]

"""A generated column's expression is read back as it was written, whatever its type and
expression hold: SQLite's Inspector finds it in the CREATE TABLE text with a pattern that
stopped at the comma of `NUMERIC(12, 2)` (an empty expression: a false difference in
`check --against-db`, and a baseline that exits 0 which validate then refuses), took a name
inside a longer one, and ran on to the last parenthesis of the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from conftest import DIALECTS, make_project
from test_autogenerate import run_sql
from test_fidelity import _driver, _round_trip

from schemaflow.dialects.read import Unexpressible
from schemaflow.dialects.reflect import _generated, reflect
from schemaflow.dialects.sqlite.generated import complete, generated
from schemaflow.state import Table

COMMAS = """
    sa.Table("lines", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("price", sa.Numeric(12, 2)), sa.Column("qty", sa.Integer),
             sa.Column("name", sa.String(20)), sa.Column("nick", sa.String(20)),
             sa.Column("subtotal", sa.Integer, sa.Computed("qty * 2")),
             sa.Column("total", sa.Numeric(12, 2), sa.Computed("price * qty")),
             sa.Column("net", sa.DECIMAL(10, 2), sa.Computed("price - 1", persisted=True)),
             sa.Column("short name", sa.String(10), sa.Computed("substr(name, 1, 3)")),
             sa.Column("label", sa.String(10), sa.Computed("coalesce(nick, name)",
                                                           persisted=True)))
"""


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_generated_column_with_commas_in_its_type_or_expression_round_trips(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """Models → changeset → apply → check --against-db; create_all() → check --against-db;
    its --from-db baseline → validate → applied to an empty database → check: no
    difference anywhere."""
    _round_trip(tmp_path, dialect, request, {
        "common": (COMMAS, ["expression: price * qty", "expression: qty * 2",
                            "expression: 'substr(name, 1, 3)'"]), dialect: ("", [])})


# Written by hand: no space in the type, `AS` without GENERATED ALWAYS, every quoting,
# comments with parentheses and commas, a name inside another, all on one line.
BY_HAND = ("CREATE TABLE t (id integer PRIMARY KEY, price NUMERIC(12,2), qty integer, "
           "name varchar(20), /* a comment (with, commas */ "
           "[sub total] integer as (qty*2) virtual, "
           "total NUMERIC(12,2) GENERATED ALWAYS AS (price*qty) STORED, -- so (, )\n"
           "`pre fix` varchar(10) AS (substr(name, 1, 3)) NOT NULL, 'q ty' integer AS (qty + 1), "
           "\"a \"\"b\"\"\" DECIMAL(10, 2) as ( coalesce(price, qty, ')') ) stored)")


def test_a_baseline_reads_generated_columns_as_written(tmp_path: Path) -> None:
    """A --from-db baseline of a table written by hand holds each expression and kind as
    written, validates, and builds a table read back the same elsewhere."""
    p = make_project(tmp_path / "p")
    run_sql(p.url, BY_HAND)
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    columns = doc["operations"][0]["create_table"]["columns"]
    assert {c["name"]: c.get("computed") for c in columns if "computed" in c} == {
        "sub total": {"expression": "qty*2", "stored": False},
        "total": {"expression": "price*qty", "stored": True},
        "pre fix": {"expression": "substr(name, 1, 3)", "stored": False},
        "q ty": {"expression": "qty + 1", "stored": False},
        'a "b"': {"expression": "coalesce(price, qty, ')')", "stored": True}}
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    for args in (("validate",), ("--url", empty, "apply")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert _read(empty) == _read(p.url)


def _read(url: str) -> Table:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return reflect(conn).tables[(None, "t")]
    finally:
        engine.dispose()


@pytest.mark.parametrize(("definition", "read"), [
    (" NUMERIC(12, 2) GENERATED ALWAYS AS (price * qty)", ("price * qty", False)),
    (" varchar(10) as (substr(name, 1, 3)) STORED", ("substr(name, 1, 3)", True)),
    (" AS ( a || ')' || \"b)\" ) virtual NOT NULL", ("a || ')' || \"b)\"", False)),
    (" integer DEFAULT (1) CHECK (x AS y)", None),
    (" integer AS (a", None),
])
def test_the_generated_clause_of_a_definition(definition: str,
                                              read: tuple[str, bool] | None) -> None:
    """What follows a column's name: its expression and whether it is stored; None where
    there is none, or it does not end (the read column is then refused)."""
    assert generated(definition) == read


def test_a_generated_column_not_read_is_refused() -> None:
    """An expression that cannot be read (none found, or of another kind than SQLite reports)
    is refused by name rather than written empty."""
    cols = [{"name": "a", "computed": {"sqltext": "x", "persisted": True}},
            {"name": "b", "computed": {"sqltext": "y", "persisted": False}}]
    complete(cols, {"a": " integer AS (1) VIRTUAL", "b": " integer"})
    assert [c["computed"] for c in cols] == [{"sqltext": "", "persisted": True},
                                             {"sqltext": "", "persisted": False}]
    with pytest.raises(Unexpressible, match=r"column t\.a: a generated column whose "
                                            "expression could not be read"):
        _generated("t", cols[0])


_COLUMNS = [{"name": "id", "type": "integer", "primary_key": True},
            {"name": "qty", "type": "integer"}, {"name": "price", "type": "integer"}]


def _table_t(tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> tuple[Any, str]:
    """A project on a fresh database of `dialect`, and its URL."""
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url")
    return make_project(tmp_path / "p", url), url


def _total(url: str) -> Any:
    """Table t's generated column `total`, of its one row."""
    engine = sa.create_engine(_driver(url))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT total FROM t")).scalar()
    finally:
        engine.dispose()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_column_renamed_is_renamed_in_the_generated_columns_that_use_it(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """rename_column renamed the column in checks and index expressions but not in the
    generated columns of its table, as every database does: the replayed schema kept
    `price * qty`. On SQLite a later rebuild wrote that text back, so `total` was computed
    from another column (a new `qty`: 0 instead of 6), exit 0; elsewhere `check` saw a false
    difference. Renamed, with a new column of the old name, then the table changed again."""
    p, url = _table_t(tmp_path, dialect, request)
    p.chain([{"create_table": {"name": "t", "columns": [*_COLUMNS,
                {"name": "total", "type": "integer",
                 "computed": {"expression": "price * qty", "stored": True}}]}}],
            [{"rename_column": {"table": "t", "name": "qty", "new_name": "quantity"}},
             {"add_column": {"table": "t", "column": {"name": "qty", "type": "integer",
                                                      "default": 0}}}],
            [{"alter_column": {"table": "t", "name": "price", "nullable": False,
                               "default": 1}}])
    done = p.cli("apply", "c002")
    assert done.returncode == 0, done.stderr
    run_sql(url, "INSERT INTO t (id, quantity, price) VALUES (1, 2, 3)")
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert _total(url) == 6
    state = p.api().state_at()
    total = state.table("t", None).column("total")
    assert total is not None and total.computed is not None
    assert total.computed.expression == "price * quantity"


def _renamed_to_a_reserved_word(tmp_path: Path, dialect: str,
                                request: pytest.FixtureRequest) -> tuple[Any, str]:
    p, url = _table_t(tmp_path, dialect, request)
    p.chain([{"create_table": {"name": "t", "columns": [*_COLUMNS,
                {"name": "total", "type": "integer",
                 "computed": {"expression": "price * QTY", "stored": True}}],
                "checks": [{"name": "ck_t_qty", "expression": "QTY >= 0"}]}}],
            [{"rename_column": {"table": "t", "name": "qty", "new_name": "order"}}])
    return p, url


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql",
                                                      marks=pytest.mark.postgresql)])
def test_a_column_renamed_to_a_reserved_word_is_quoted_where_expressions_name_it(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """The replayed schema renamed a column in expressions only where they wrote it in the
    same case, and wrote the new name bare: `price * QTY` stayed as it was (a column that no
    longer exists) and `qty` became `order` (a keyword), so a SQLite rebuild failed and
    PostgreSQL's rollback of a dropped column re-added `price * QTY`. The name is found in
    any case, as the databases find it, and quoted where it needs quotes (MySQL: below)."""
    p, url = _renamed_to_a_reserved_word(tmp_path, dialect, request)
    p.write("d001", [{"alter_column": {"table": "t", "name": "price", "nullable": False,
                                       "default": 1}}], parents=["c002"])
    p.write("d002", [{"drop_column": {"table": "t", "name": "total"}}], parents=["d001"])
    done = p.cli("apply", "c002")
    assert done.returncode == 0, done.stderr
    run_sql(url, 'INSERT INTO t (id, "order", price) VALUES (1, 2, 3)')
    for args in (("apply",), ("rollback", "d001"), ("apply",), ("rollback", "c002")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stderr)
    engine = sa.create_engine(_driver(url))
    try:
        with engine.connect() as conn:  # computed from the renamed column, and checked
            assert conn.execute(sa.text("SELECT total FROM t")).scalar() == 6
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
            conn.execute(sa.text('INSERT INTO t (id, "order", price) VALUES (2, -1, 1)'))
    finally:
        engine.dispose()
    t = p.api().state_at("c002").table("t", None)
    total = t.column("total")
    assert total is not None and total.computed is not None
    assert total.computed.expression == 'price * "order"'
    assert [c.expression for c in t.checks] == ['"order" >= 0']


@pytest.mark.mysql
def test_mysql_refuses_a_column_named_in_double_quotes(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """MySQL and MariaDB read "order" as a string: a generated column restated with the
    name a rename quoted so computed 0 from the text, without a word (exit 0). Refused by
    validate and before anything runs, with the way out."""
    p, url = _renamed_to_a_reserved_word(tmp_path, "mysql", request)
    p.write("d001", [{"alter_column": {"table": "t", "name": "total", "comment": "doubled"}}],
            parents=["c002"])
    done = p.cli("validate")
    assert done.returncode != 0 and "SF331" in done.stdout, done.stdout
    assert 'names column order in double quotes' in done.stdout and "`order`" in done.stdout
    done = p.cli("apply")
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "double quotes" in done.stderr
    engine = sa.create_engine(_driver(url))
    try:
        assert "t" not in sa.inspect(engine).get_table_names()  # nothing ran
    finally:
        engine.dispose()


@pytest.mark.mysql
def test_mysql_takes_a_mixed_case_rename_and_a_double_quoted_string(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """(From a review.) A rename to orderQty was written "orderQty" into the replayed
    expression, which MySQL refused afterwards (it applied before); and a CHECK comparing
    with the string "active" beside a column `active` was refused as a column."""
    p, url = _table_t(tmp_path, "mysql", request)
    p.chain([{"create_table": {"name": "t", "columns": [
                *_COLUMNS, {"name": "active", "type": "string(10)"},
                {"name": "total", "type": "integer",
                 "computed": {"expression": "price * qty", "stored": True}}],
                "checks": [{"name": "ck_t_active",
                            "expression": 'active IN ("active", "closed")'}]}}],
            [{"rename_column": {"table": "t", "name": "qty", "new_name": "orderQty"}}],
            [{"alter_column": {"table": "t", "name": "total", "comment": "doubled"}}])
    for args in (("validate",), ("apply",)):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    run_sql(url, "INSERT INTO t (id, orderQty, price, active) VALUES (1, 2, 3, 'active')")
    assert _total(url) == 6

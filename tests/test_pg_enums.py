"""PostgreSQL enum types lose values the way PostgreSQL allows (a new type, the columns cast
to it, the old one dropped), so adding a value rolls back, on the real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Project, make_project, reflect, rows
from test_execute_sqlite import run_sql

pytestmark = pytest.mark.postgresql

ORDERS = {"create_table": {
    "name": "orders",
    "columns": [{"name": "id", "type": "integer", "primary_key": True},
                {"name": "status", "type": "enum(new,paid,shipped,name=order_status)",
                 "nullable": False, "default": "new"}],
    "checks": [{"name": "ck_orders_not_shipped_early", "expression": "status <> 'paid' "
                                                                      "OR id > 0"}],
    "indexes": [{"name": "ix_orders_status", "columns": ["status"]},
                {"name": "ix_orders_open", "columns": ["id"], "where": "status = 'new'"}]}}
SEED = {"insert_rows": {"table": "orders", "rows": [{"id": 1, "status": "paid"},
                                                    {"id": 2, "status": "new"}]}}


def _status(values: str) -> dict[str, Any]:
    return {"alter_column": {"table": "orders", "name": "status",
                             "type": f"enum({values},name=order_status)"}}


def _enum(url: str) -> list[str]:
    return [r[0] for r in rows(url, "SELECT enumlabel FROM pg_enum e JOIN pg_type t ON "
                                    "t.oid = e.enumtypid WHERE t.typname = 'order_status' "
                                    "ORDER BY enumsortorder")]


def _types(url: str) -> list[str]:
    return [r[0] for r in rows(url, "SELECT typname FROM pg_type WHERE typtype = 'e' "
                                    "ORDER BY typname")]


def _indexes(url: str) -> list[tuple[Any, ...]]:
    return rows(url, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'orders' "
                     "ORDER BY indexname")


def _ok(p: Project, *args: str) -> str:
    done = p.cli(*args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout + done.stderr


@pytest.fixture
def pg_project(tmp_path: Path, pg_url: str) -> Project:
    return make_project(tmp_path / "proj", pg_url)


def test_an_added_value_rolls_back_and_the_enum_is_as_before(pg_project: Project) -> None:
    p, url = pg_project, pg_project.url
    p.chain([ORDERS, SEED], [_status("new,paid,shipped,refunded")])
    assert "SF332" not in _ok(p, "validate", "--dialect", "postgresql")
    _ok(p, "apply", "c001")
    schema, indexes, defaults = reflect(url), _indexes(url), _defaults(url)
    _ok(p, "apply")
    assert _enum(url) == ["new", "paid", "shipped", "refunded"]
    _ok(p, "rollback", "c001")
    assert _enum(url) == ["new", "paid", "shipped"]
    assert _types(url) == ["order_status"]  # the old type is gone, nothing left aside
    assert reflect(url) == schema and _indexes(url) == indexes and _defaults(url) == defaults
    assert rows(url, "SELECT id, status::text FROM orders ORDER BY id") == [(1, "paid"),
                                                                           (2, "new")]
    _ok(p, "apply")  # and forward again
    assert _enum(url) == ["new", "paid", "shipped", "refunded"]


def _defaults(url: str) -> list[tuple[Any, ...]]:
    return rows(url, "SELECT column_name, column_default FROM information_schema.columns "
                     "WHERE table_name = 'orders' ORDER BY column_name")


def test_a_value_dropped_with_a_default_an_index_a_partial_index_and_a_check(
        pg_project: Project) -> None:
    p, url = pg_project, pg_project.url
    p.chain([ORDERS, SEED], [_status("new,paid")])
    _ok(p, "validate", "--dialect", "postgresql")
    _ok(p, "apply")
    assert _enum(url) == ["new", "paid"] and _types(url) == ["order_status"]
    assert _defaults(url)[1] == ("status", "'new'::order_status")
    assert [name for name, _ in _indexes(url)] == ["ix_orders_open", "ix_orders_status",
                                                   "pk_orders"]
    assert "WHERE (status = 'new'::order_status)" in dict(_indexes(url))["ix_orders_open"]
    assert rows(url, "SELECT count(*) FROM pg_constraint WHERE conname = "
                     "'ck_orders_not_shipped_early'") == [(1,)]
    # The column works with the new type: its default, its index, the values it keeps.
    run_sql(url, "INSERT INTO orders (id) VALUES (3)")
    assert rows(url, "SELECT status::text FROM orders WHERE id = 3") == [("new",)]
    # Rolling it back adds the value again (ADD VALUE).
    _ok(p, "rollback", "c001")
    assert _enum(url) == ["new", "paid", "shipped"]


def test_rows_holding_the_removed_value_fail_with_a_message_naming_it(
        pg_project: Project) -> None:
    p, url = pg_project, pg_project.url
    p.chain([ORDERS, SEED], [_status("new,paid,shipped,refunded")])
    _ok(p, "apply")
    run_sql(url, "INSERT INTO orders VALUES (3, 'refunded')")
    done = p.cli("rollback", "c001")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "c002" in done.stderr and '"refunded"' in done.stderr, done.stderr
    assert "ALTER TABLE orders ALTER COLUMN status TYPE order_status" in done.stderr
    # Rolled back as a whole: the type and the version table as they were.
    assert _enum(url) == ["new", "paid", "shipped", "refunded"]
    assert _types(url) == ["order_status"]
    assert rows(url, "SELECT id FROM schemaflow_version ORDER BY id") == [("c001",), ("c002",)]


def test_values_added_between_others_take_their_place(pg_project: Project) -> None:
    """ADD VALUE appended every new value at the end: a value written between two others
    (or one a rollback gives back) came last, and ORDER BY and `<` on the column followed
    that order, not the changeset's, with exit 0. Each now goes BEFORE the value that
    follows it; a change of the order of the values kept replaces the type."""
    p, url = pg_project, pg_project.url
    p.chain([ORDERS, SEED], [_status("draft,new,paid,packed,boxed,shipped,returned")],
            [_status("draft,new,paid,shipped,returned")],
            [_status("returned,draft,new,paid,shipped")])
    _ok(p, "apply", "c002")
    assert _enum(url) == ["draft", "new", "paid", "packed", "boxed", "shipped", "returned"]
    _ok(p, "apply")
    assert _enum(url) == ["returned", "draft", "new", "paid", "shipped"]
    assert rows(url, "SELECT status::text FROM orders ORDER BY status") == [
        ("new",), ("paid",)]
    _ok(p, "rollback", "c003")  # the reorder undone (the type replaced again)
    _ok(p, "rollback", "c002")  # the removal undone: ADD VALUE ... BEFORE
    assert _enum(url) == ["draft", "new", "paid", "packed", "boxed", "shipped", "returned"]


# --- an enum type's name -----------------------------------------------------------------------

_SHARED = """\
import sqlalchemy as sa

metadata = sa.MetaData()
kind = sa.Enum("new", "paid", name="{name}")
orders = sa.Table("orders", metadata, sa.Column("id", sa.Integer, primary_key=True),
                  sa.Column("status", kind))
refunds = sa.Table("refunds", metadata, sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("status", kind, nullable=False, server_default="new"))
"""


def _models(p: Project, name: str) -> None:
    (p.root / "enum_models.py").write_text(_SHARED.format(name=name), encoding="utf-8")
    (p.root / "schemaflow.toml").write_text(f'url = "{p.url}"\nmodels = "enum_models:metadata"\n',
                                            encoding="utf-8")


def _column_types(url: str) -> list[tuple[Any, ...]]:
    return rows(url, "SELECT table_name, udt_name, column_default FROM "
                     "information_schema.columns WHERE column_name = 'status' "
                     "AND table_schema = 'public' ORDER BY 1")


def test_an_enum_type_renamed_in_the_models_is_renamed_in_the_database(
        pg_project: Project) -> None:
    """The type's name was left out of the comparison: models that renamed an enum type
    (two tables share it, one column has a default) gave "No differences" against the
    changesets and the database, and the database kept the old name."""
    p, url = pg_project, pg_project.url
    _models(p, "order_status")
    _ok(p, "new", "--autogenerate", "-m", "orders")
    _ok(p, "apply")
    _models(p, "status_kind")
    for args in (("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "alter_column orders.status (type=enum(new,paid,name=status_kind))" \
            in done.stdout and "alter_column refunds.status" in done.stdout, done.stdout
    _ok(p, "new", "--autogenerate", "-m", "rename the type")
    _ok(p, "apply")
    assert _types(url) == ["status_kind"]
    # The default moved with its column (PostgreSQL does not cast it by itself).
    assert _column_types(url) == [("orders", "status_kind", None),
                                  ("refunds", "status_kind", "'new'::status_kind")]
    assert "No differences" in _ok(p, "check", "--against-db")
    assert "No differences" in _ok(p, "check")
    heads = _ok(p, "heads").split()
    _ok(p, "rollback", "base")
    assert _types(url) == []
    _ok(p, "apply")
    assert _types(url) == ["status_kind"] and heads == _ok(p, "heads").split()


def test_a_baseline_keeps_the_enum_type_name_the_database_has(pg_project: Project) -> None:
    """A baseline read from the database wrote the models' name for an enum type the
    database holds under another name: it no longer described the database."""
    p, url = pg_project, pg_project.url
    run_sql(url, "CREATE TYPE order_status AS ENUM ('new', 'paid')",
            "CREATE TABLE orders (id serial PRIMARY KEY, status order_status)",
            "CREATE TABLE refunds (id serial PRIMARY KEY, status order_status NOT NULL "
            "DEFAULT 'new')")
    _models(p, "status_kind")
    _ok(p, "new", "--autogenerate", "--from-db", "-m", "baseline")
    (baseline,) = p.changesets.glob("*.yaml")
    assert "name=order_status" in baseline.read_text() and "status_kind" not in \
        baseline.read_text()
    done = p.cli("check")
    assert done.returncode == 1 and "name=status_kind" in done.stdout, done.stdout


def test_a_column_with_a_default_becomes_an_enum_and_back(pg_project: Project) -> None:
    """A column with a default could not be made an enum ("default for column cannot be
    cast automatically"), and one made text again kept a default naming the enum type,
    which then could not be dropped."""
    p, url = pg_project, pg_project.url
    p.chain([{"create_table": {"name": "orders", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "status", "type": "string(10)", "nullable": False, "default": "new"}]}}],
        [{"alter_column": {"table": "orders", "name": "status",
                           "type": "enum(new,paid,name=order_status)"}}])
    _ok(p, "apply")
    assert _column_types(url) == [("orders", "order_status", "'new'::order_status")]
    _ok(p, "rollback", "c001")
    assert _types(url) == []
    assert _column_types(url) == [("orders", "varchar", "'new'::character varying")]


def test_an_enum_type_renamed_under_a_partial_index_and_a_check(pg_project: Project) -> None:
    """A partial index's condition (and a CHECK) comparing the column with a value keeps the
    value's old type: moving the column to the renamed type failed ("operator does not
    exist: state_kind = order_status"), rolled back. They are dropped and made again."""
    p, url = pg_project, pg_project.url
    p.chain([ORDERS, SEED], [{"alter_column": {"table": "orders", "name": "status",
                                               "type": "enum(new,paid,shipped,name=kind)"}}])
    _ok(p, "apply")
    assert _types(url) == ["kind"]
    assert "WHERE (status = 'new'::kind)" in dict(_indexes(url))["ix_orders_open"]
    assert rows(url, "SELECT count(*) FROM pg_constraint WHERE conname = "
                     "'ck_orders_not_shipped_early'") == [(1,)]
    assert _defaults(url)[1] == ("status", "'new'::kind")
    _ok(p, "rollback", "c001")
    assert _types(url) == ["order_status"]
    assert "WHERE (status = 'new'::order_status)" in dict(_indexes(url))["ix_orders_open"]


def test_an_enum_type_renamed_under_conditions_that_cast_to_it(pg_project: Project) -> None:
    """(From a review.) A baseline read from the database writes a partial index's
    condition as PostgreSQL gives it back, with a cast to the enum type: made again after
    the column moved to the renamed type, it still cast to the old one ("operator does not
    exist: kind = order_status"), rolled back. The cast is written to the new type (or
    left out where the column becomes text)."""
    p, url = pg_project, pg_project.url
    orders = {"create_table": {**ORDERS["create_table"],
                               "checks": [{"name": "ck_orders_not_shipped_early",
                                           "expression": "status <> 'paid'::order_status "
                                                         "OR id > 0"}],
                               "indexes": [{"name": "ix_orders_open", "columns": ["id"],
                                            "where": "(status = 'new'::order_status)"}]}}
    p.chain([orders, SEED], [{"alter_column": {"table": "orders", "name": "status",
                                               "type": "enum(new,paid,shipped,name=kind)"}}],
            [{"alter_column": {"table": "orders", "name": "status", "type": "string(10)"}}])
    _ok(p, "apply")
    assert _types(url) == []
    assert "WHERE ((status)::text = 'new'::text)" in dict(_indexes(url))["ix_orders_open"]
    _ok(p, "rollback", "c002")
    assert _types(url) == ["kind"]
    assert "WHERE (status = 'new'::kind)" in dict(_indexes(url))["ix_orders_open"]
    _ok(p, "rollback", "c001")
    assert _types(url) == ["order_status"]

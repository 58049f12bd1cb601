"""Every operation and column type executed on SQLite, PostgreSQL and MariaDB (the real servers).

The matrix writes a two-changeset project (a base, then the changeset under test), applies it,
and compares the reflected schema with what SQLAlchemy's own `create_all` builds for the same
definition in a second, empty database of the same server (on PostgreSQL a fresh schema of the
test database). It then rolls the changeset back and compares with the schema reflected before
it. Where a dialect legitimately differs, `snapshot`
normalises with a comment; nothing is skipped (the server fixtures fail under CI=true).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import (
    DEMO,
    DIALECTS,
    MYSQL_URL,
    Project,
    _server_database,
    make_project,
    rows,
    sql_of,
)

from schemaflow.dialects.tables import to_metadata
from schemaflow.errors import ChangesetFailed, UsageError

VERSION_TABLE = "schemaflow_version"


# --- databases --------------------------------------------------------------------------------


def backend(url: str) -> str:
    """sqlite, postgresql or mysql (MariaDB included)."""
    return sa.engine.make_url(url).get_backend_name()


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, or one on the PostgreSQL / MariaDB server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'main.db'}"
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return str(request.getfixturevalue("mysql_url"))


@pytest.fixture
def other_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second fresh, empty database on the same server as `db_url`."""
    kind = backend(db_url)
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    if kind == "postgresql":
        # A second database costs PostgreSQL a second or two to create and drop; a schema of
        # the same database, made the default through search_path, is just as empty.
        yield pg_schema_url(db_url, "expected")
    else:
        yield from _server_database(MYSQL_URL, "MySQL")


def pg_schema_url(url: str, schema: str) -> str:
    """Create `schema` in the database of `url`; the URL of a session whose default it is."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    finally:
        engine.dispose()
    u = sa.engine.make_url(url)
    return u.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


def db_name(url: str) -> str:
    """The database part of a server URL."""
    return str(sa.engine.make_url(url).database)


# --- reflection -------------------------------------------------------------------------------


def _squash(text: str | None) -> str | None:
    """An SQL expression without case, quoting, parentheses or whitespace differences."""
    if text is None:
        return None
    return re.sub(r"[\s()`\"]", "", str(text)).lower()


def _default(value: Any, kind: str) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    if kind == "postgresql":
        # A serial column's sequence keeps its first table's name after a rename
        # (child_id_seq behind a table now called kid); create_all names it after the
        # current table. Either way the column draws from its own sequence.
        text = re.sub(r"nextval\('[^']*'::regclass\)", "nextval(<sequence>)", text)
    return text


def _serial_default(default: str | None, in_key: bool) -> str | None:
    # A SERIAL column keeps drawing from its sequence when its primary key is dropped:
    # schemaflow leaves that default so inserts keep working, while create_all gives a
    # non-key integer none. The sequence is the key's, so it is compared on keys only.
    if default == "nextval(<sequence>)" and not in_key:
        return None
    return default


def _table(insp: Any, engine: sa.Engine, table: str) -> dict[str, Any]:
    kind = engine.dialect.name
    pk = insp.get_pk_constraint(table)
    keyed = set(pk.get("constrained_columns") or ())
    columns = {
        c["name"]: (c["type"].compile(dialect=engine.dialect), c["nullable"],
                    _serial_default(_default(c.get("default"), kind), c["name"] in keyed),
                    c.get("comment"))
        for c in insp.get_columns(table)
    }
    fks = sorted(
        (f.get("name") or "", tuple(f["constrained_columns"]), f["referred_table"],
         tuple(f["referred_columns"]),
         str((f.get("options") or {}).get("ondelete") or "").upper(),
         str((f.get("options") or {}).get("onupdate") or "").upper())
        for f in insp.get_foreign_keys(table))
    indexes = []
    for i in insp.get_indexes(table):
        # InnoDB creates an index named after a foreign key when no index serves it, and keeps
        # it when the key is dropped or another index comes to serve it. It is the server's,
        # not the migration's: every foreign key here is named fk_*.
        if kind == "mysql" and not i["unique"] and (i["name"] or "").startswith("fk_"):
            continue
        opts = i.get("dialect_options") or {}
        where = opts.get("postgresql_where") or opts.get("sqlite_where")
        indexes.append((i["name"], tuple(i["column_names"]), bool(i["unique"]),
                        _squash(where)))
    try:
        comment = insp.get_table_comment(table).get("text")
    except NotImplementedError:
        # SQLite keeps no comments at all: both sides are None.
        comment = None
    return {
        "columns": columns,
        "pk": (pk.get("name"), tuple(pk["constrained_columns"])),
        "fks": fks,
        "indexes": sorted(indexes),
        "uniques": sorted((u["name"], tuple(u["column_names"]))
                          for u in insp.get_unique_constraints(table)),
        "checks": sorted((c.get("name") or "", _squash(c["sqltext"]))
                         for c in insp.get_check_constraints(table)),
        "comment": comment,
    }


def snapshot(url: str) -> dict[str, Any]:
    """Everything schemaflow manages in a database, as comparable plain data."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        # One connection for the whole reflection (PyMySQL's connect is slow).
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            out: dict[str, Any] = {"tables": {
                t: _table(insp, engine, t) for t in sorted(insp.get_table_names())
                if t != VERSION_TABLE}}
            if engine.dialect.name == "postgresql":
                out["enums"] = enum_types(conn)
        return out
    finally:
        engine.dispose()


def enum_types(conn: sa.Connection) -> dict[str, list[str]]:
    """PostgreSQL's enum types in the current schema and their labels, in order."""
    found = conn.exec_driver_sql(
        "SELECT t.typname, e.enumlabel FROM pg_type t "
        "JOIN pg_enum e ON e.enumtypid = t.oid "
        "JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = current_schema() ORDER BY t.typname, e.enumsortorder").all()
    out: dict[str, list[str]] = {}
    for name, label in found:
        out.setdefault(name, []).append(label)
    return out


def assert_same(actual: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    """Fail with just the differences between two snapshots."""
    if actual == expected:
        return
    lines = []
    tables = sorted(set(actual["tables"]) | set(expected["tables"]))
    for t in tables:
        a, e = actual["tables"].get(t), expected["tables"].get(t)
        if a is None or e is None:
            lines.append(f"table {t}: {'missing' if a is None else 'not expected'}")
            continue
        for key in a:
            if key == "columns":
                lines += [f"{t}.{c}: {a[key].get(c)!r}, expected {e[key].get(c)!r}"
                          for c in sorted(set(a[key]) | set(e[key]))
                          if a[key].get(c) != e[key].get(c)]
            elif a[key] != e[key]:
                lines.append(f"{t} {key}: {a[key]!r}, expected {e[key]!r}")
    if actual.get("enums") != expected.get("enums"):
        lines.append(f"enum types: {actual.get('enums')!r}, expected {expected.get('enums')!r}")
    pytest.fail(f"{what} differs:\n" + "\n".join(lines))


def built_by_create_all(project: Project, url: str, ids: list[str]) -> dict[str, Any]:
    """The snapshot of what SQLAlchemy's create_all builds for the state after `ids`."""
    state = project.api().history.replay(ids)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        to_metadata(state).create_all(engine)
    finally:
        engine.dispose()
    return snapshot(url)


def applied_ids(url: str) -> list[str]:
    """The ids in the version table, in order."""
    return [r[0] for r in rows(url, f"SELECT id FROM {VERSION_TABLE} ORDER BY exec_order")]


def run(fn: Any, *args: Any) -> Any:
    """Call an api method; a failed changeset fails the test with its statement and message."""
    try:
        return fn(*args)
    except ChangesetFailed as exc:
        pytest.fail(f"{exc.message}\nstatement: {exc.statement}\ndatabase said: "
                    f"{exc.db_message}\nran: {exc.ran}")


# --- the schemas the operations run on --------------------------------------------------------

PARENT = {"create_table": {"name": "parent", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "name", "type": "string(50)", "nullable": False},
]}}

CHILD = {"create_table": {
    "name": "child",
    "comment": "the children",
    "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "parent_id", "type": "integer"},
        {"name": "label", "type": "string(50)", "nullable": False, "default": "none",
         "comment": "a label"},
        {"name": "qty", "type": "integer", "default": 0},
        {"name": "note", "type": "text"},
        {"name": "price", "type": "numeric(10,2)"},
        {"name": "code", "type": "string(20)"},
        {"name": "slot", "type": "integer"},
    ],
    "unique": [{"name": "uq_child_code_slot", "columns": ["code", "slot"]}],
    "foreign_keys": [{"name": "fk_child_parent", "columns": ["parent_id"],
                      "references": {"table": "parent", "columns": ["id"]},
                      "ondelete": "CASCADE"}],
    "checks": [{"name": "ck_child_qty", "expression": "qty >= 0"}],
    "indexes": [{"name": "ix_child_label", "columns": ["label"]},
                {"name": "ix_child_parent_id", "columns": ["parent_id"]}],
}}

# A table without a primary key.
LOOSE = {"create_table": {"name": "loose", "columns": [
    {"name": "code", "type": "string(20)", "nullable": False},
    {"name": "val", "type": "integer"},
    {"name": "flag", "type": "boolean"},
]}}

# A table with a composite primary key nothing references.
PAIR = {"create_table": {"name": "pair", "primary_key": {"columns": ["a", "b"], "name": "pk_pair"},
                         "columns": [
                             {"name": "a", "type": "integer", "nullable": False},
                             {"name": "b", "type": "string(10)", "nullable": False},
                             {"name": "c", "type": "integer"},
                         ]}}

# A foreign key whose only serving index is a two-column one.
LINE = {"create_table": {"name": "line", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "parent_id", "type": "integer"},
    {"name": "pos", "type": "integer"},
], "foreign_keys": [{"name": "fk_line_parent", "columns": ["parent_id"],
                     "references": {"table": "parent", "columns": ["id"]}}],
   "indexes": [{"name": "ix_line_parent_pos", "columns": ["parent_id", "pos"]}]}}

# A table with a PostgreSQL enum type named after the table and the column.
MOOD = {"create_table": {"name": "mood", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "feeling", "type": "enum(happy,sad)", "default": "happy"},
]}}

BASE = [PARENT, CHILD, LOOSE, PAIR]
SEEDED = [*BASE, {"insert_rows": {"table": "parent", "rows": [
    {"id": 1, "name": "p1"}, {"id": 2, "name": "p2"}, {"id": 3, "name": "p3"}]}}]


@dataclass(frozen=True)
class Case:
    """One changeset under test, on top of a base changeset."""

    id: str
    ops: list[Any]
    base: list[Any] = field(default_factory=lambda: BASE)
    only: tuple[str, ...] = ("sqlite", "postgresql", "mysql")
    extra: dict[str, Any] = field(default_factory=dict)
    # A query whose rows are checked after apply (and equal their old value after rollback).
    query: str | None = None
    rows_after: list[tuple[Any, ...]] | None = None
    # False when the query needs what the changeset creates (it is then run after apply only).
    query_before: bool = True


def _alter(name: str, **kw: Any) -> dict[str, Any]:
    return {"alter_column": {"table": "child", "name": name, **kw}}


def _drop(name: str, kind: str, table: str = "child") -> dict[str, Any]:
    return {"drop_constraint": {"name": name, "table": table, "type": kind}}


def _sql_by(dialect: str) -> dict[str, Any]:
    names = ["mysql", "mariadb"] if dialect == "mysql" else [dialect]
    return {"sql": {"up": f"UPDATE parent SET name = 'by {dialect}' WHERE id = 1",
                    "down": "UPDATE parent SET name = 'p1' WHERE id = 1",
                    "dialects": names}}


OPERATION_CASES = [
    Case("create_table_full", [{"create_table": {
        "name": "orders",
        "comment": "customer orders",
        "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "parent_id", "type": "integer", "nullable": False},
            {"name": "ref", "type": "string(20)", "unique": True, "comment": "their reference"},
            {"name": "amount", "type": "numeric(10,2)", "nullable": False, "default": 0},
            {"name": "status", "type": "string(10)", "nullable": False, "default": "new",
             "index": True},
            {"name": "paid", "type": "boolean", "nullable": False, "default": False},
            {"name": "created_at", "type": "datetime", "nullable": False,
             "default_sql": "CURRENT_TIMESTAMP"},
        ],
        "unique": [{"name": "uq_orders_parent_status", "columns": ["parent_id", "status"]}],
        "foreign_keys": [{"name": "fk_orders_parent", "columns": ["parent_id"],
                          "references": {"table": "parent", "columns": ["id"]},
                          "ondelete": "CASCADE"}],
        "checks": [{"name": "ck_orders_amount", "expression": "amount >= 0"}],
        "indexes": [{"name": "ix_orders_created", "columns": ["created_at"]},
                    {"name": "ux_orders_ref_status", "columns": ["ref", "status"],
                     "unique": True}],
    }}]),
    Case("create_table_composite_pk_self_fk", [{"create_table": {
        "name": "node",
        "primary_key": {"columns": ["tree", "num"], "name": "pk_node"},
        "columns": [
            {"name": "tree", "type": "integer", "nullable": False},
            {"name": "num", "type": "integer", "nullable": False},
            {"name": "up_num", "type": "integer"},
        ],
        "foreign_keys": [{"name": "fk_node_up", "columns": ["tree", "up_num"],
                          "references": {"table": "node", "columns": ["tree", "num"]},
                          "ondelete": "CASCADE"}],
    }}]),
    Case("drop_table", [{"drop_table": {"name": "child"}}]),
    Case("rename_table", [{"rename_table": {"name": "child", "new_name": "kid"}}]),
    Case("add_column_nullable", [{"add_column": {"table": "child", "column": {
        "name": "extra", "type": "string(30)", "comment": "added later"}}}]),
    Case("add_column_not_null_default", [{"add_column": {"table": "child", "column": {
        "name": "status", "type": "string(10)", "nullable": False, "default": "new"}}}]),
    Case("add_column_boolean_not_null_default", [{"add_column": {"table": "child", "column": {
        "name": "active", "type": "boolean", "nullable": False, "default": True}}}]),
    Case("add_column_unique", [{"add_column": {"table": "child", "column": {
        "name": "email", "type": "string(100)", "unique": True}}}]),
    Case("add_column_index_default_sql", [{"add_column": {"table": "child", "column": {
        "name": "seen_at", "type": "datetime", "default_sql": "CURRENT_TIMESTAMP",
        "index": True}}}]),
    Case("drop_column_plain", [{"drop_column": {"table": "child", "name": "note"}}]),
    Case("drop_column_indexed", [{"drop_column": {"table": "child", "name": "label"}}]),
    Case("drop_column_in_multi_column_unique",
         [{"drop_column": {"table": "child", "name": "slot"}}]),
    Case("drop_column_in_check", [{"drop_column": {"table": "child", "name": "qty"}}]),
    Case("drop_column_with_foreign_key",
         [{"drop_column": {"table": "child", "name": "parent_id"}}]),
    Case("drop_column_in_the_index_a_foreign_key_uses",
         [{"drop_column": {"table": "line", "name": "pos"}}], base=[PARENT, LINE]),
    Case("rename_column", [
        {"rename_column": {"table": "child", "name": "note", "new_name": "remark"}},
        {"rename_column": {"table": "child", "name": "code", "new_name": "sku"}},
        {"rename_column": {"table": "child", "name": "label", "new_name": "title"}},
        {"rename_column": {"table": "child", "name": "parent_id", "new_name": "owner_id"}},
    ]),
    Case("rename_column_enum",
         [{"rename_column": {"table": "mood", "name": "feeling", "new_name": "state"}}],
         base=[MOOD]),
    Case("rename_table_enum", [{"rename_table": {"name": "mood", "new_name": "humour"}}],
         base=[MOOD]),
    Case("rename_column_referenced",
         [{"rename_column": {"table": "parent", "name": "id", "new_name": "pid"}}]),
    Case("rename_table_referenced", [{"rename_table": {"name": "parent", "new_name": "elder"}}]),
    Case("alter_column_type_widen", [_alter("label", type="string(120)")]),
    Case("alter_column_type_int_to_bigint", [_alter("slot", type="bigint")]),
    Case("alter_column_nullable", [_alter("label", nullable=True), _alter("price", nullable=False),
                                   _alter("parent_id", nullable=False)]),
    Case("alter_column_default", [
        _alter("qty", default=5), _alter("code", default="x"), _alter("label", default="unknown"),
        {"alter_column": {"table": "loose", "name": "flag", "default": True}}]),
    Case("alter_column_default_sql", [
        {"alter_column": {"table": "event", "name": "at", "default_sql": "CURRENT_TIMESTAMP"}},
    ], base=[{"create_table": {"name": "event", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "at", "type": "datetime", "nullable": False}]}}]),
    Case("alter_column_drop_default", [_alter("label", drop_default=True)]),
    Case("alter_column_comment", [_alter("label", comment=""),
                                  _alter("code", comment="stock keeping unit")]),
    Case("alter_column_type_nullable_default",
         [_alter("code", type="string(40)", nullable=False, default="none")]),
    Case("alter_column_type_using", [
        {"sql": {"up": "INSERT INTO child (id, label, code) VALUES (1, 'x', '42')",
                 "down": "DELETE FROM child WHERE id = 1"}},
        _alter("code", type="integer", using="code::integer"),
    ], only=("postgresql",), query="SELECT code FROM child", rows_after=[(42,)]),
    Case("create_index", [
        {"create_index": {"name": "ix_child_qty", "table": "child", "columns": ["qty"]}},
        {"create_index": {"name": "ux_child_parent_label", "table": "child",
                          "columns": ["parent_id", "label"], "unique": True}}]),
    Case("create_index_partial", [{"create_index": {
        "name": "ix_child_qty_positive", "table": "child", "columns": ["qty"],
        "where": "qty > 0"}}], only=("sqlite", "postgresql")),
    Case("create_index_concurrently", [{"create_index": {
        "name": "ix_child_price", "table": "child", "columns": ["price"],
        "concurrently": True}}], only=("postgresql",), extra={"transactional": False}),
    Case("drop_index", [{"drop_index": {"name": "ix_child_label", "table": "child"}}]),
    Case("drop_index_a_foreign_key_uses",
         [{"drop_index": {"name": "ix_child_parent_id", "table": "child"}}]),
    Case("create_unique_constraint", [{"create_unique_constraint": {
        "name": "uq_child_label_parent", "table": "child", "columns": ["label", "parent_id"]}}]),
    Case("create_foreign_key", [{"create_foreign_key": {
        "name": "fk_loose_val", "table": "loose", "columns": ["val"],
        "references": {"table": "parent", "columns": ["id"]}, "ondelete": "SET NULL"}}]),
    Case("create_check_constraint", [{"create_check_constraint": {
        "name": "ck_child_price", "table": "child", "expression": "price >= 0"}}]),
    Case("create_primary_key", [{"create_primary_key": {
        "name": "pk_loose", "table": "loose", "columns": ["code"]}}]),
    Case("drop_constraint_unique_foreign_key_check", [
        _drop("uq_child_code_slot", "unique"), _drop("fk_child_parent", "foreign_key"),
        _drop("ck_child_qty", "check")]),
    Case("drop_constraint_primary_key", [_drop("pk_pair", "primary_key", "pair")]),
    Case("drop_constraint_primary_key_integer", [_drop("pk_child", "primary_key")]),
    *[Case(f"sql_with_dialects_{d}", [
        _sql_by("sqlite"), _sql_by("postgresql"), _sql_by("mysql"),
        {"sql": {"up": ["INSERT INTO parent (id, name) VALUES (9, 'everywhere')"],
                 "down": ["DELETE FROM parent WHERE id = 9"]}},
    ], base=SEEDED, only=(d,), query="SELECT id, name FROM parent ORDER BY id",
        rows_after=[(1, f"by {d}"), (2, "p2"), (3, "p3"), (9, "everywhere")])
      for d in ("sqlite", "postgresql", "mysql")],
    Case("insert_rows", [{"insert_rows": {"table": "child", "rows": [
        {"id": 1, "parent_id": 1, "label": "a", "qty": 2, "price": 9.5, "code": "A"},
        {"id": 2, "parent_id": None, "label": "it's", "note": "quote'd"},
    ]}}], base=SEEDED, query="SELECT id, parent_id, label, qty, note FROM child ORDER BY id",
        rows_after=[(1, 1, "a", 2, None), (2, None, "it's", 0, "quote'd")]),
    Case("delete_rows", [{"delete_rows": {"table": "parent", "rows": [{"id": 2}, {"name": "p3"}]}}],
         base=SEEDED, extra={"rollback": [{"insert_rows": {"table": "parent", "rows": [
             {"id": 2, "name": "p2"}, {"id": 3, "name": "p3"}]}}]},
         query="SELECT id, name FROM parent ORDER BY id", rows_after=[(1, "p1")]),
]

COLUMN_TYPES = ["integer", "bigint", "smallint", "string(40)", "text", "boolean", "date",
                "datetime", "datetime(timezone=true)", "time", "float", "numeric(10,2)",
                "json", "uuid", "binary", "enum(a,b,c)"]

# A seed value per type, as a changeset writes it (binary has no YAML form: no row for it).
SAMPLES: dict[str, Any] = {
    "integer": 7, "bigint": 2**40, "smallint": 3, "string(40)": "abc", "text": "some text",
    "boolean": True, "date": "2024-01-02", "datetime": "2024-01-02T03:04:05",
    "datetime(timezone=true)": "2024-01-02T03:04:05+00:00", "time": "03:04:05",
    "float": 1.5, "numeric(10,2)": 12.34, "json": "a json string",
    "uuid": "12345678-1234-5678-1234-567812345678", "binary": None, "enum(a,b,c)": "b",
}


def _type_case(t: str) -> Case:
    ops: list[Any] = [
        {"create_table": {"name": "typed", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "v", "type": t},
            {"name": "v_required", "type": t, "nullable": False},
        ]}},
        {"add_column": {"table": "parent", "column": {"name": "w", "type": t}}},
    ]
    sample = SAMPLES[t]
    if sample is None:
        return Case(f"type_{_slug(t)}", ops, base=[PARENT])
    ops.append({"insert_rows": {"table": "typed", "rows": [
        {"id": 1, "v": sample, "v_required": sample}, {"id": 2, "v_required": sample}]}})
    return Case(f"type_{_slug(t)}", ops, base=[PARENT], query_before=False,
                query="SELECT id FROM typed WHERE v IS NOT NULL AND v_required IS NOT NULL",
                rows_after=[(1,)])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


TYPE_CASES = [_type_case(t) for t in COLUMN_TYPES]


def _matrix() -> list[Any]:
    marks = {"postgresql": [pytest.mark.postgresql], "mysql": [pytest.mark.mysql]}
    return [pytest.param(d, c, id=f"{c.id}-{d}", marks=marks.get(d, []))
            for c in OPERATION_CASES + TYPE_CASES for d in c.only]


@pytest.mark.parametrize(("db_url", "case"), _matrix(), indirect=["db_url"])
def test_operation_matrix(db_url: str, other_url: str, case: Case, tmp_path: Path) -> None:
    """Apply = create_all of the same definition; rollback = the schema before."""
    p = make_project(tmp_path / "proj", db_url)
    p.write("c001", case.base, slug="base")
    p.write("c002", case.ops, parents=["c001"], slug="under_test", **case.extra)
    api = p.api()
    run(api.apply, "c001")
    before = snapshot(db_url)
    data_before = rows(db_url, case.query) if case.query and case.query_before else None

    run(api.apply)
    assert applied_ids(db_url) == ["c001", "c002"]
    assert_same(snapshot(db_url), built_by_create_all(p, other_url, ["c001", "c002"]),
                "the schema after apply (vs create_all)")
    if case.query:
        assert rows(db_url, case.query) == case.rows_after

    run(api.rollback, "-1")
    assert applied_ids(db_url) == ["c001"]
    assert_same(snapshot(db_url), before, "the schema after rollback (vs before apply)")
    if data_before is not None:
        assert case.query is not None
        assert rows(db_url, case.query) == data_before


# --- PostgreSQL specifics ---------------------------------------------------------------------


ENUM_TABLE = {"create_table": {"name": "ticket", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "state", "type": "enum(a,b,c)", "nullable": False, "default": "a"},
]}}


@pytest.mark.postgresql
def test_postgresql_enum_add_value_and_drop_type(pg_url: str, tmp_path: Path) -> None:
    """A new enum value is ALTER TYPE ... ADD VALUE; dropping its last column drops the type."""
    p = make_project(tmp_path / "proj", pg_url)
    p.chain(
        [ENUM_TABLE],
        [_alter_t("state", type="enum(a,b,c,d)")],
        [{"insert_rows": {"table": "ticket", "rows": [{"id": 1, "state": "d"}]}}],
        [{"drop_column": {"table": "ticket", "name": "state"}}],
    )
    api = p.api()
    run(api.apply, "c001")
    assert enums(pg_url) == {"ticket_state_enum": ["a", "b", "c"]}
    sql = sql_of(api.apply("c002", dry_run=True))
    assert "ALTER TYPE ticket_state_enum ADD VALUE 'd'" in sql
    assert "DROP TYPE" not in sql and "CREATE TYPE" not in sql
    run(api.apply, "c002")
    assert enums(pg_url) == {"ticket_state_enum": ["a", "b", "c", "d"]}
    run(api.apply, "c003")
    assert rows(pg_url, "SELECT state::text FROM ticket") == [("d",)]

    assert "DROP TYPE ticket_state_enum" in sql_of(api.apply("c004", dry_run=True))
    run(api.apply, "c004")
    assert enums(pg_url) == {}
    assert rows(pg_url, "SELECT count(*) FROM pg_type "
                        "WHERE typname = 'ticket_state_enum'") == [(0,)]
    # Rolling the drop back recreates the type with every value, then the column.
    run(api.rollback, "-1")
    assert enums(pg_url) == {"ticket_state_enum": ["a", "b", "c", "d"]}
    assert snapshot(pg_url)["tables"]["ticket"]["columns"]["state"][:2] == (
        "ticket_state_enum", False)


def enums(url: str) -> dict[str, list[str]]:
    """PostgreSQL's enum types of a database."""
    return dict(snapshot(url)["enums"])


def _alter_t(name: str, **kw: Any) -> dict[str, Any]:
    return {"alter_column": {"table": "ticket", "name": name, **kw}}


@pytest.mark.postgresql
def test_postgresql_enum_value_added_rolls_back(pg_url: str, tmp_path: Path) -> None:
    """Rolling back an added enum value replaces the type (tests/test_pg_enums.py has more)."""
    p = make_project(tmp_path / "proj", pg_url)
    p.chain([ENUM_TABLE], [_alter_t("state", type="enum(a,b,c,d)")])
    run(p.api().apply)
    assert enums(pg_url) == {"ticket_state_enum": ["a", "b", "c", "d"]}
    done = p.cli("rollback", "-1")
    assert done.returncode == 0, done.stderr
    assert enums(pg_url) == {"ticket_state_enum": ["a", "b", "c"]}
    assert applied_ids(pg_url) == ["c001"]


@pytest.mark.postgresql
def test_postgresql_enum_column_to_text_and_back(pg_url: str, tmp_path: Path) -> None:
    """A string column becomes an enum (through text) and back; the type follows the column."""
    p = make_project(tmp_path / "proj", pg_url)
    p.chain(
        [{"create_table": {"name": "ticket", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "state", "type": "string(10)"}]}},
         {"insert_rows": {"table": "ticket", "rows": [{"id": 1, "state": "b"}]}}],
        [_alter_t("state", type="enum(a,b,c)")],
    )
    api = p.api()
    run(api.apply, "c001")
    before = snapshot(pg_url)
    run(api.apply)
    expected_url = pg_schema_url(pg_url, "expected")
    assert snapshot(pg_url) == built_by_create_all(p, expected_url, ["c001", "c002"])
    assert rows(pg_url, "SELECT state::text FROM ticket") == [("b",)]
    run(api.rollback, "-1")
    assert snapshot(pg_url) == before
    assert rows(pg_url, "SELECT state FROM ticket") == [("b",)]


CONCURRENT_INDEX = {"create_index": {"name": "ix_child_price", "table": "child",
                                     "columns": ["price"], "concurrently": True}}


@pytest.mark.postgresql
def test_postgresql_create_index_concurrently(pg_url: str, tmp_path: Path) -> None:
    """CONCURRENTLY runs outside a transaction, so the changeset must say transactional: false."""
    p = make_project(tmp_path / "proj", pg_url)
    p.write("c001", BASE, slug="base")
    p.write("c002", [CONCURRENT_INDEX], parents=["c001"], transactional=False)
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert ("ix_child_price", ("price",), False, None) in (
        snapshot(pg_url)["tables"]["child"]["indexes"])
    sql = p.cli("apply", "--sql", "--dialect", "postgresql").stdout
    assert "CREATE INDEX CONCURRENTLY ix_child_price ON child (price)" in sql
    assert applied_ids(pg_url) == ["c001", "c002"]


@pytest.mark.postgresql
def test_postgresql_create_index_concurrently_needs_transactional_false(
        pg_url: str, tmp_path: Path) -> None:
    """Without `transactional: false` apply refuses (exit 2) and says what to write."""
    p = make_project(tmp_path / "proj", pg_url)
    p.write("c001", BASE, slug="base")
    p.write("c002", [CONCURRENT_INDEX], parents=["c001"])
    assert p.cli("apply", "c001").returncode == 0
    before = snapshot(pg_url)
    done = p.cli("apply")
    assert done.returncode == 2, done.stderr
    assert "transactional: false" in done.stderr
    assert "CONCURRENTLY" in done.stderr
    assert "Traceback" not in done.stderr
    assert snapshot(pg_url) == before
    assert applied_ids(pg_url) == ["c001"]


# --- the demo, online and offline -------------------------------------------------------------


def demo(root: Path, url: str) -> Project:
    """A project with a copy of the demo changesets."""
    p = make_project(root, url)
    for f in DEMO.iterdir():
        shutil.copy(f, p.changesets / f.name)
    return p


@pytest.mark.parametrize("db_url", DIALECTS, indirect=True)
def test_demo_apply_rollback_apply(db_url: str, other_url: str, tmp_path: Path) -> None:
    """The demo applies, rolls back to base and applies again, to the schema create_all builds."""
    p = demo(tmp_path / "demo", db_url)
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    first = snapshot(db_url)
    ids = applied_ids(db_url)
    assert len(ids) == len(list(DEMO.iterdir()))
    assert first == built_by_create_all(p, other_url, ids)
    assert rows(db_url, "SELECT id, label FROM tags ORDER BY id") == [
        (1, "python"), (2, "databases"), (3, "announcements")]

    done = p.cli("rollback", "base")
    assert done.returncode == 0, done.stderr
    assert snapshot(db_url)["tables"] == {}
    assert applied_ids(db_url) == []
    if backend(db_url) == "postgresql":
        assert snapshot(db_url)["enums"] == {}

    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert snapshot(db_url) == first
    assert applied_ids(db_url) == ids


def _feed(kind: str, url: str, script: str) -> subprocess.CompletedProcess[str]:
    """Run an SQL script with the database's own command-line client."""
    env = dict(os.environ)
    if kind == "postgresql":
        # The schema that search_path names in the URL (see pg_schema_url) is psql's default too.
        options = sa.engine.make_url(url).query.get("options")
        if options:
            env["PGOPTIONS"] = str(options)
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U",
               "postgres", "-d", db_name(url)]
    elif kind == "mysql":
        cmd = ["mariadb", "-uroot", "-h127.0.0.1", db_name(url)]
    else:
        cmd = ["sqlite3", "-bail", str(sa.engine.make_url(url).database)]
    return subprocess.run(cmd, input=script, capture_output=True, text=True, timeout=120,
                          check=False, env=env)


@pytest.mark.parametrize("db_url", DIALECTS, indirect=True)
def test_offline_sql_builds_what_online_apply_builds(db_url: str, other_url: str,
                                                     tmp_path: Path) -> None:
    """`apply --sql --dialect D` fed to the database's own client = online apply."""
    kind = backend(db_url)
    online = demo(tmp_path / "online", db_url)
    assert online.cli("apply").returncode == 0
    offline = demo(tmp_path / "offline", other_url)

    script = offline.cli("apply", "--sql", "--dialect", kind)
    assert script.returncode == 0, script.stderr
    fed = _feed(kind, other_url, script.stdout)
    assert fed.returncode == 0, fed.stderr + "\n" + script.stdout
    assert snapshot(other_url) == snapshot(db_url)
    assert applied_ids(other_url) == applied_ids(db_url)
    assert rows(other_url, "SELECT id, label FROM tags ORDER BY id") == rows(
        db_url, "SELECT id, label FROM tags ORDER BY id")
    # The database now tells status that nothing is left to do.
    assert offline.api().status() == []

    back = offline.cli("rollback", "base", "--sql", "--dialect", kind)
    assert back.returncode == 0, back.stderr
    fed = _feed(kind, other_url, back.stdout)
    assert fed.returncode == 0, fed.stderr + "\n" + back.stdout
    assert snapshot(other_url)["tables"] == {}
    assert applied_ids(other_url) == []


# --- a failing statement in the middle of a changeset -----------------------------------------

DB_MESSAGES = {
    "sqlite": "no such table: no_such_table",
    "postgresql": 'relation "no_such_table" does not exist',
    "mysql": "no_such_table' doesn't exist",
}


@pytest.mark.parametrize("db_url", DIALECTS, indirect=True)
def test_failing_statement_in_the_middle(db_url: str, tmp_path: Path) -> None:
    """Exit 2 with the statement and the database's message; transactional DDL undoes it all."""
    kind = backend(db_url)
    p = make_project(tmp_path / "proj", db_url)
    p.write("c001", [PARENT], slug="base")
    p.write("c002", [
        {"create_table": {"name": "doomed", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}},
        {"add_column": {"table": "parent", "column": {"name": "extra", "type": "integer"}}},
        {"sql": {"up": "INSERT INTO no_such_table (x) VALUES (1)", "down": "SELECT 1"}},
        {"create_index": {"name": "ix_parent_extra", "table": "parent", "columns": ["extra"]}},
    ], parents=["c001"], slug="fails")
    assert p.cli("apply", "c001").returncode == 0
    before = snapshot(db_url)

    done = p.cli("apply")
    assert done.returncode == 2, done.stdout + done.stderr
    err = done.stderr
    assert "Traceback" not in err
    assert "c002" in err
    assert "statement: INSERT INTO no_such_table (x) VALUES (1)" in err
    assert DB_MESSAGES[kind] in err
    assert applied_ids(db_url) == ["c001"]
    if kind == "mysql":
        # No transactional DDL: what ran stays, and the message lists it.
        assert "statements that ran:" in err
        ran = err.split("statements that ran:", 1)[1]
        assert "CREATE TABLE doomed" in ran
        assert "ALTER TABLE parent ADD COLUMN extra INTEGER" in ran
        assert "ix_parent_extra" not in ran
        after = snapshot(db_url)["tables"]
        assert "doomed" in after and "extra" in after["parent"]["columns"]
    else:
        assert "nothing of it remains" in err
        assert "statements that ran" not in err
        assert snapshot(db_url) == before


@pytest.mark.parametrize("db_url", DIALECTS, indirect=True)
def test_failing_statement_api_error(db_url: str, tmp_path: Path) -> None:
    """The Python API raises ChangesetFailed carrying the statement and the database message."""
    p = make_project(tmp_path / "proj", db_url)
    p.chain([PARENT], [
        {"add_column": {"table": "parent", "column": {"name": "extra", "type": "integer"}}},
        {"sql": {"up": "INSERT INTO no_such_table (x) VALUES (1)", "down": "SELECT 1"}},
    ])
    with pytest.raises(ChangesetFailed) as info:
        p.api().apply()
    exc = info.value
    assert exc.exit_code == 2
    assert exc.statement == "INSERT INTO no_such_table (x) VALUES (1)"
    assert DB_MESSAGES[backend(db_url)] in (exc.db_message or "")
    if backend(db_url) == "mysql":
        assert exc.ran == ["ALTER TABLE parent ADD COLUMN extra INTEGER"]
    else:
        assert exc.ran == []
        assert "extra" not in snapshot(db_url)["tables"]["parent"]["columns"]
    assert applied_ids(db_url) == ["c001"]


@pytest.mark.mysql
def test_mysql_partial_index_is_a_usage_error(mysql_url: str, tmp_path: Path) -> None:
    """A `where` index on MariaDB: exit 2 naming the index, nothing applied."""
    p = make_project(tmp_path / "proj", mysql_url)
    p.chain([PARENT], [{"create_index": {"name": "ix_parent_name", "table": "parent",
                                          "columns": ["name"], "where": "id > 0"}}])
    with pytest.raises(UsageError, match="no partial indexes: index 'ix_parent_name'"):
        p.api().apply()
    done = p.cli("apply")
    assert done.returncode == 2
    assert "ix_parent_name" in done.stderr and "Traceback" not in done.stderr


# --- percent signs ------------------------------------------------------------------------------

PERCENT_OPS = [
    {"create_table": {"name": "pct", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "s", "type": "string(20)", "default": "50%"}],
        "checks": [{"name": "ck_pct_s", "expression": "s LIKE '%x%' OR s = '50%'"}]}},
    {"sql": {"up": "INSERT INTO pct (id, s) VALUES (1, 'x%b')",
             "down": "DELETE FROM pct WHERE s LIKE '%b'"}},
]


@pytest.mark.parametrize("db_url", DIALECTS, indirect=True)
def test_percent_signs_reach_the_database_as_written(db_url: str, other_url: str,
                                                     tmp_path: Path) -> None:
    """A `%` in raw SQL, a default or a check is one percent sign, online and in --sql
    scripts, on every driver (psycopg and PyMySQL read `%` as a placeholder when given
    parameters; schemaflow gives them none)."""
    kind = backend(db_url)
    online = make_project(tmp_path / "online", db_url)
    online.write("p1", PERCENT_OPS, message="50% of a percent test")
    done = online.cli("apply")
    assert done.returncode == 0, done.stderr
    assert rows(db_url, "SELECT id, s FROM pct") == [(1, "x%b")]
    with sa.create_engine(db_url, poolclass=sa.pool.NullPool).begin() as conn:
        conn.exec_driver_sql("INSERT INTO pct (id) VALUES (2)")
    assert rows(db_url, "SELECT s FROM pct WHERE id = 2") == [("50%",)]
    assert rows(db_url, "SELECT message FROM schemaflow_version") == [("50% of a percent test",)]

    offline = make_project(tmp_path / "offline", other_url)
    offline.write("p1", PERCENT_OPS, message="50% of a percent test")
    script = offline.cli("apply", "--sql", "--dialect", kind)
    assert script.returncode == 0, script.stderr
    assert "%%" not in script.stdout
    fed = _feed(kind, other_url, script.stdout)
    assert fed.returncode == 0, fed.stderr + "\n" + script.stdout
    assert rows(other_url, "SELECT id, s FROM pct") == [(1, "x%b")]
    assert snapshot(other_url) == snapshot(db_url)
    assert rows(other_url, "SELECT message FROM schemaflow_version") == [
        ("50% of a percent test",)]

    back = online.cli("rollback", "base")
    assert back.returncode == 0, back.stderr
    assert snapshot(db_url)["tables"] == {}

"""Running changesets on real SQLite files: every operation and type, failures, offline SQL.

Each operation is applied, the result reflected and compared with what SQLAlchemy's own
`create_all` builds for the same definition, then rolled back and compared with the schema
before. Bulk cases go through the Python API; the CLI is used where its exit code and
message are the point.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project, reflect, rows, sql_of
from sqlalchemy.dialects import sqlite

import schemaflow
from schemaflow import ir
from schemaflow.dialects.tables import to_metadata
from schemaflow.errors import ChangesetFailed
from schemaflow.history import checksum

SQLITE3 = "/usr/bin/sqlite3"

# --- helpers ----------------------------------------------------------------------------------


def run_sql(url: str, *statements: str) -> None:
    """Run statements and commit (test data, outside schemaflow)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for s in statements:
                conn.exec_driver_sql(s)
    finally:
        engine.dispose()


def sqlalchemy_schema(tmp_path: Path, metadata: sa.MetaData) -> dict[str, Any]:
    """What SQLAlchemy's own `create_all` builds for `metadata`, reflected."""
    path = tmp_path / f"reference_{uuid.uuid4().hex[:8]}.db"
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            metadata.create_all(conn)
    finally:
        engine.dispose()
    return reflect(f"sqlite:///{path}")


def expected_schema(tmp_path: Path, api: Any, ids: list[str]) -> dict[str, Any]:
    """The schema create_all builds for the replayed definition of `ids`."""
    return sqlalchemy_schema(tmp_path, to_metadata(api.history.replay(ids)))


def version_rows(url: str) -> list[tuple[Any, ...]]:
    return rows(url, "SELECT id, exec_order FROM schemaflow_version ORDER BY exec_order")


def applied_ids(url: str) -> list[str]:
    return [r[0] for r in version_rows(url)]


def table_names(url: str) -> set[str]:
    return set(reflect(url))


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def sqlite3_script(db: Path, script: str) -> None:
    """Feed a script to the sqlite3 command-line tool; it must run without an error."""
    done = subprocess.run([SQLITE3, "-bail", str(db)], input=script, text=True,
                          capture_output=True, timeout=60)
    assert done.returncode == 0 and not done.stderr, done.stderr


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- schemas used by the cases ----------------------------------------------------------------

USERS = {"create_table": {"name": "users", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "name", "type": "string(50)", "nullable": False},
]}}
ITEMS = {"create_table": {"name": "items", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "name", "type": "string(50)", "nullable": False},
    {"name": "qty", "type": "integer", "default": 0},
    {"name": "note", "type": "text"},
    {"name": "owner_id", "type": "integer"},
    {"name": "code", "type": "string(10)"},
], "indexes": [{"name": "ix_items_code", "columns": ["code"]}]}}
LOG = {"create_table": {"name": "log", "columns": [
    {"name": "day", "type": "date"},
    {"name": "seq", "type": "integer"},
    {"name": "msg", "type": "text"},
]}}
TAGS = {"create_table": {"name": "tags", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "label", "type": "string(20)"},
]}}
BASE: list[dict[str, Any]] = [USERS, ITEMS, LOG, TAGS]
CONSTRAINTS: list[dict[str, Any]] = [
    {"create_unique_constraint": {"name": "uq_items_note", "table": "items",
                                  "columns": ["note"]}},
    {"create_check_constraint": {"name": "ck_items_qty", "table": "items",
                                 "expression": "qty >= 0"}},
    {"create_foreign_key": {"name": "fk_items_owner", "table": "items", "columns": ["owner_id"],
                            "references": {"table": "users", "columns": ["id"]},
                            "ondelete": "SET NULL"}},
]
RICH = BASE + CONSTRAINTS
SEED = (
    "INSERT INTO users (id, name) VALUES (1, 'ann'), (2, 'bob')",
    "INSERT INTO items (id, name, qty, note, owner_id, code) VALUES "
    "(1, 'apple', 3, 'red', 1, 'A'), (2, 'pear', 0, NULL, 2, 'B'), (3, 'fig', 5, 'x', NULL, NULL)",
    "INSERT INTO log (day, seq, msg) VALUES ('2024-01-01', 1, 'a'), ('2024-01-01', 2, 'b')",
)
Q_ITEMS = "SELECT id, name, qty, note, owner_id, code FROM items ORDER BY id"
Q_USERS = "SELECT id, name FROM users ORDER BY id"

CREATE_FULL = {"create_table": {
    "name": "posts",
    "comment": "blog posts",
    "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "author_id", "type": "integer", "nullable": False},
        {"name": "title", "type": "string(200)", "nullable": False},
        {"name": "slug", "type": "string(80)", "unique": True},
        {"name": "published", "type": "boolean", "nullable": False, "default": False},
        {"name": "rating", "type": "float", "default": 1.5},
        {"name": "status", "type": "string(10)", "default": "draft"},
        {"name": "created_at", "type": "datetime", "nullable": False,
         "default_sql": "CURRENT_TIMESTAMP"},
        {"name": "views", "type": "integer", "index": True, "comment": "page views"},
    ],
    "unique": [{"columns": ["author_id", "title"]}],
    "foreign_keys": [{"columns": ["author_id"], "references": {"table": "users", "columns": ["id"]},
                      "ondelete": "CASCADE"}],
    "checks": [{"expression": "views >= 0", "name": "ck_posts_views"}],
    "indexes": [{"name": "ix_posts_title", "columns": ["title"], "unique": True},
                {"name": "ix_posts_author_created", "columns": ["author_id", "created_at"]}],
}}


@dataclass
class Case:
    """One operation (or a few) applied on top of a seeded schema, then rolled back."""

    ops: list[dict[str, Any]]
    setup: list[dict[str, Any]] = field(default_factory=lambda: list(BASE))
    query: str = Q_ITEMS
    after: tuple[str, list[tuple[Any, ...]]] | None = None
    rollback: list[dict[str, Any]] | None = None


CASES: dict[str, Case] = {
    "create_table": Case([CREATE_FULL], query=Q_USERS),
    "drop_table": Case([{"drop_table": {"name": "log"}}]),
    "rename_table": Case(
        [{"rename_table": {"name": "items", "new_name": "products"}}], query=Q_USERS,
        after=("SELECT id, name, qty, note FROM products ORDER BY id",
               [(1, "apple", 3, "red"), (2, "pear", 0, None), (3, "fig", 5, "x")])),
    "rename_table-referenced": Case(
        [{"rename_table": {"name": "users", "new_name": "people"}}], setup=RICH,
        query="SELECT id, name, owner_id FROM items ORDER BY id"),
    "add_column-in-place": Case(
        [{"add_column": {"table": "items", "column": {"name": "sku", "type": "string(20)",
                                                       "index": True}}}]),
    "add_column-not-null-default": Case(
        [{"add_column": {"table": "items", "column": {"name": "active", "type": "boolean",
                                                       "nullable": False, "default": True}}}],
        after=("SELECT id, active FROM items ORDER BY id", [(1, 1), (2, 1), (3, 1)])),
    "add_column-unique": Case(
        [{"add_column": {"table": "items", "column": {"name": "sku", "type": "string(20)",
                                                       "unique": True}}}]),
    "add_column-default_sql": Case(
        [{"add_column": {"table": "items", "column": {"name": "added_at", "type": "datetime",
                                                       "default_sql": "CURRENT_TIMESTAMP"}}}],
        after=("SELECT count(*) FROM items WHERE added_at IS NOT NULL", [(3,)])),
    "add_column-not-null-no-default": Case(
        [{"add_column": {"table": "tags", "column": {"name": "slug", "type": "string(20)",
                                                      "nullable": False}}}]),
    "drop_column-in-place": Case(
        [{"drop_column": {"table": "items", "name": "note"}}],
        query="SELECT id, name, qty, owner_id, code FROM items ORDER BY id"),
    "drop_column-indexed": Case(
        [{"drop_column": {"table": "items", "name": "code"}}],
        query="SELECT id, name, qty, note, owner_id FROM items ORDER BY id"),
    "drop_column-in-check": Case(
        [{"drop_column": {"table": "items", "name": "qty"}}], setup=RICH,
        query="SELECT id, name, note, owner_id, code FROM items ORDER BY id"),
    "drop_column-in-unique": Case(
        [{"drop_column": {"table": "items", "name": "note"}}], setup=RICH,
        query="SELECT id, name, qty, owner_id, code FROM items ORDER BY id"),
    "drop_column-in-foreign-key": Case(
        [{"drop_column": {"table": "items", "name": "owner_id"}}], setup=RICH,
        query="SELECT id, name, qty, note, code FROM items ORDER BY id"),
    "rename_column": Case(
        [{"rename_column": {"table": "items", "name": "note", "new_name": "remark"}}],
        query="SELECT id, name, qty, owner_id FROM items ORDER BY id",
        after=("SELECT remark FROM items ORDER BY id", [("red",), (None,), ("x",)])),
    "rename_column-indexed": Case(
        [{"rename_column": {"table": "items", "name": "code", "new_name": "sku"}}],
        query="SELECT id, name FROM items ORDER BY id",
        after=("SELECT sku FROM items ORDER BY id", [("A",), ("B",), (None,)])),
    "alter_column-type": Case(
        [{"alter_column": {"table": "items", "name": "qty", "type": "bigint"}},
         {"alter_column": {"table": "items", "name": "name", "type": "text"}}], setup=RICH),
    "alter_column-nullable-false": Case(
        [{"alter_column": {"table": "items", "name": "qty", "nullable": False}}], setup=RICH),
    "alter_column-nullable-true": Case(
        [{"alter_column": {"table": "items", "name": "name", "nullable": True}}]),
    "alter_column-default": Case(
        [{"alter_column": {"table": "items", "name": "note", "default": "n/a"}}]),
    "alter_column-drop_default": Case(
        [{"alter_column": {"table": "items", "name": "qty", "drop_default": True}}]),
    "alter_column-default_sql": Case(
        [{"alter_column": {"table": "items", "name": "note",
                           "default_sql": "(datetime('now'))"}}]),
    "alter_column-comment": Case(
        [{"alter_column": {"table": "items", "name": "note", "comment": "free text"}}]),
    "create_index": Case(
        [{"create_index": {"name": "ix_items_qty", "table": "items", "columns": ["qty", "name"]}},
         {"create_index": {"name": "ux_items_name", "table": "items", "columns": ["name"],
                           "unique": True}},
         {"create_index": {"name": "ix_items_live", "table": "items", "columns": ["owner_id"],
                           "where": "qty > 0"}}]),
    "drop_index": Case([{"drop_index": {"name": "ix_items_code", "table": "items"}}]),
    "create_unique_constraint": Case(
        [{"create_unique_constraint": {"name": "uq_items_name_note", "table": "items",
                                       "columns": ["name", "note"]}}]),
    "create_foreign_key": Case(
        [{"create_foreign_key": {"name": "fk_items_owner", "table": "items",
                                 "columns": ["owner_id"],
                                 "references": {"table": "users", "columns": ["id"]},
                                 "ondelete": "CASCADE"}}]),
    "create_check_constraint": Case(
        [{"create_check_constraint": {"name": "ck_items_qty", "table": "items",
                                      "expression": "qty >= 0"}}]),
    "create_primary_key": Case(
        [{"create_primary_key": {"name": "pk_log", "table": "log", "columns": ["day", "seq"]}}],
        query="SELECT day, seq, msg FROM log ORDER BY seq"),
    # SQLite keeps no comments and checked the rows when the constraint was added: both are
    # no-ops here that must still apply and roll back cleanly.
    "alter_table": Case([{"alter_table": {"name": "items", "comment": "stock"}}]),
    "validate_constraint": Case(
        [{"validate_constraint": {"name": "ck_items_qty", "table": "items"}}], setup=RICH),
    "drop_constraint-unique": Case(
        [{"drop_constraint": {"name": "uq_items_note", "table": "items", "type": "unique"}}],
        setup=RICH),
    "drop_constraint-check": Case(
        [{"drop_constraint": {"name": "ck_items_qty", "table": "items", "type": "check"}}],
        setup=RICH),
    "drop_constraint-foreign_key": Case(
        [{"drop_constraint": {"name": "fk_items_owner", "table": "items",
                              "type": "foreign_key"}}], setup=RICH),
    "drop_constraint-primary_key": Case(
        [{"drop_constraint": {"name": "pk_items", "table": "items", "type": "primary_key"}}],
        setup=RICH),
    "sql": Case(
        [{"sql": {"up": ["UPDATE items SET qty = qty + 1", "UPDATE users SET name = upper(name)"],
                  "down": ["UPDATE users SET name = lower(name)",
                           "UPDATE items SET qty = qty - 1"]}}],
        query="SELECT id, note FROM items ORDER BY id",
        after=("SELECT id, qty FROM items ORDER BY id", [(1, 4), (2, 1), (3, 6)])),
    "sql-postgresql-only": Case(
        [{"sql": {"up": "CREATE EXTENSION pg_trgm", "down": "DROP EXTENSION pg_trgm",
                  "dialects": ["postgresql"]}}]),
    "insert_rows": Case(
        [{"insert_rows": {"table": "users", "rows": [{"id": 3, "name": "cy"},
                                                     {"id": 4, "name": "di"}]}}],
        query=Q_USERS,
        after=(Q_USERS, [(1, "ann"), (2, "bob"), (3, "cy"), (4, "di")])),
    "delete_rows": Case(
        [{"delete_rows": {"table": "users", "rows": [{"id": 2}]}}], query=Q_USERS,
        after=(Q_USERS, [(1, "ann")]),
        rollback=[{"insert_rows": {"table": "users", "rows": [{"id": 2, "name": "bob"}]}}]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_operation_apply_and_rollback(name: str, project: Project, tmp_path: Path) -> None:
    case = CASES[name]
    p = project
    extra: dict[str, Any] = {"rollback": case.rollback} if case.rollback is not None else {}
    p.write("c001", case.setup)
    p.write("c002", case.ops, parents=["c001"], **extra)
    api = p.api()
    api.apply("c001")
    run_sql(p.url, *SEED)
    before = reflect(p.url)
    data = rows(p.url, case.query)

    api.apply()
    assert applied_ids(p.url) == ["c001", "c002"]
    assert reflect(p.url) == expected_schema(tmp_path, api, ["c001", "c002"])
    if case.after is None:
        assert rows(p.url, case.query) == data
    else:
        sql, expected = case.after
        assert rows(p.url, sql) == expected
        if sql != case.query:
            assert rows(p.url, case.query) == data
    assert rows(p.url, "PRAGMA foreign_key_check") == []

    api.rollback("-1")
    assert applied_ids(p.url) == ["c001"]
    assert reflect(p.url) == before
    assert rows(p.url, case.query) == data


def test_every_operation_kind_is_covered() -> None:
    kinds = {next(iter(op)) for c in CASES.values() for op in c.ops}
    # SQLite has no sequences (refused: tests/test_sequences.py, which runs them on
    # PostgreSQL and MariaDB).
    assert kinds | {"create_sequence", "drop_sequence"} == set(ir.OPERATIONS)


def test_create_table_matches_hand_written_sqlalchemy(project: Project, tmp_path: Path) -> None:
    project.chain([USERS, CREATE_FULL])
    project.api().apply()
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, nullable=False),
             sa.Column("name", sa.String(50), nullable=False),
             sa.PrimaryKeyConstraint("id", name="pk_users"))
    posts = sa.Table(
        "posts", md,
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("author_id", sa.Integer, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(80)),
        sa.Column("published", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("rating", sa.Float, server_default=sa.text("1.5")),
        sa.Column("status", sa.String(10), server_default="draft"),
        sa.Column("created_at", sa.DateTime, nullable=False,
                  server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.Column("views", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_posts"),
        sa.UniqueConstraint("slug", name="uq_posts_slug"),
        sa.UniqueConstraint("author_id", "title", name="uq_posts_author_id_title"),
        sa.CheckConstraint("views >= 0", name="ck_posts_views"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name="fk_posts_author_id_users",
                                ondelete="CASCADE"),
    )
    sa.Index("ix_posts_views", posts.c.views)
    sa.Index("ix_posts_title", posts.c.title, unique=True)
    sa.Index("ix_posts_author_created", posts.c.author_id, posts.c.created_at)
    assert reflect(project.url) == sqlalchemy_schema(tmp_path, md)
    run_sql(project.url, "INSERT INTO users (id, name) VALUES (1, 'ann')",
            "INSERT INTO posts (id, author_id, title) VALUES (1, 1, 't')")
    assert rows(project.url, "SELECT published, rating, status, created_at IS NOT NULL, views "
                             "FROM posts") == [(0, 1.5, "draft", 1, None)]


# --- every column type ------------------------------------------------------------------------

TYPES: dict[str, Any] = {
    "integer": sa.Integer(),
    "bigint": sa.BigInteger(),
    "smallint": sa.SmallInteger(),
    "string(40)": sa.String(40),
    "varchar(30)": sa.String(30),
    "text": sa.Text(),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "datetime": sa.DateTime(),
    "datetime(timezone=true)": sa.DateTime(timezone=True),
    "time": sa.Time(),
    "float": sa.Float(),
    "numeric(10,2)": sa.Numeric(10, 2),
    "json": sa.JSON(),
    "uuid": sa.Uuid(),
    "binary": sa.LargeBinary(),
    "enum(a,b,c)": sa.Enum("a", "b", "c", name="typed_c16_enum"),
    "sqlite.json": sqlite.JSON(),
}


def test_every_type_in_create_table_add_column_and_alter(project: Project,
                                                         tmp_path: Path) -> None:
    p = project
    names = [f"c{i:02d}" for i in range(len(TYPES))]
    create = {"create_table": {"name": "typed", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        *({"name": n, "type": t} for n, t in zip(names, TYPES, strict=True))]}}
    adds = [[{"add_column": {"table": "later", "column": {"name": n, "type": t}}}]
            for n, t in zip(names, TYPES, strict=True)]
    later = {"create_table": {"name": "later", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}
    ids = p.chain([create, later], *adds)
    api = p.api()
    api.apply(ids[0])

    md = sa.MetaData()
    sa.Table("typed", md, sa.Column("id", sa.Integer, nullable=False),
             *(sa.Column(n, tp) for n, tp in zip(names, TYPES.values(), strict=True)),
             sa.PrimaryKeyConstraint("id", name="pk_typed"))
    sa.Table("later", md, sa.Column("id", sa.Integer, nullable=False),
             sa.PrimaryKeyConstraint("id", name="pk_later"))
    reference = sqlalchemy_schema(tmp_path, md)
    assert reflect(p.url)["typed"] == reference["typed"]

    # one add_column per type, each checked, then each rolled back
    states = [reflect(p.url)]
    for k in range(1, len(ids)):
        api.apply("+1")
        got = reflect(p.url)
        assert got == expected_schema(tmp_path, api, ids[: k + 1])
        states.append(got)
    assert reflect(p.url)["later"]["columns"] == reference["typed"]["columns"]
    for k in range(len(ids) - 1, 0, -1):
        api.rollback("-1")
        assert reflect(p.url) == states[k - 1]


def test_alter_column_type_keeps_the_values(project: Project, tmp_path: Path) -> None:
    p = project
    ids = p.chain(
        [{"create_table": {"name": "m", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "n", "type": "integer"}, {"name": "s", "type": "string(10)"},
            {"name": "d", "type": "string(10)"}]}}],
        [{"alter_column": {"table": "m", "name": "n", "type": "numeric(12,2)"}},
         {"alter_column": {"table": "m", "name": "s", "type": "text", "nullable": False}},
         {"alter_column": {"table": "m", "name": "d", "type": "date"}}],
    )
    api = p.api()
    api.apply(ids[0])
    run_sql(p.url, "INSERT INTO m VALUES (1, 7, 'seven', '2024-02-29'), (2, NULL, '', NULL)")
    before = reflect(p.url)
    api.apply()
    assert reflect(p.url) == expected_schema(tmp_path, api, ids)
    engine = sa.create_engine(p.url, poolclass=sa.pool.NullPool)
    m = sa.Table("m", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("n", sa.Numeric(12, 2)),
                 sa.Column("s", sa.Text), sa.Column("d", sa.Date))
    with engine.connect() as conn:
        got = conn.execute(sa.select(m).order_by(m.c.id)).all()
    engine.dispose()
    assert [tuple(r) for r in got] == [(1, decimal.Decimal("7.00"), "seven", dt.date(2024, 2, 29)),
                                       (2, None, "", None)]
    api.rollback("base")
    assert reflect(p.url) == {}
    api.apply(ids[0])
    assert reflect(p.url) == before


def test_insert_rows_values_round_trip_through_sqlalchemy_types(project: Project) -> None:
    p = project
    p.chain(
        [{"create_table": {"name": "ev", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "title", "type": "string(50)"}, {"name": "day", "type": "date"},
            {"name": "at", "type": "datetime"}, {"name": "starts", "type": "time"},
            {"name": "public", "type": "boolean"}, {"name": "price", "type": "numeric(10,2)"},
            {"name": "ratio", "type": "float"}, {"name": "kind", "type": "enum(talk,party)"},
            {"name": "note", "type": "text"}]}}],
        [{"insert_rows": {"table": "ev", "rows": [
            {"id": 1, "title": "it's on", "day": "2024-02-29", "at": "2024-02-29T13:45:00",
             "starts": "09:30:00", "public": True, "price": 12.5, "ratio": 0.25, "kind": "talk",
             "note": "a\nb"},
            {"id": 2, "public": False, "note": None}]}}],
    )
    api = p.api()
    api.apply()
    ev = sa.Table("ev", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("title", sa.String),
                  sa.Column("day", sa.Date), sa.Column("at", sa.DateTime),
                  sa.Column("starts", sa.Time), sa.Column("public", sa.Boolean),
                  sa.Column("price", sa.Numeric(10, 2)), sa.Column("ratio", sa.Float),
                  sa.Column("kind", sa.String), sa.Column("note", sa.Text))
    engine = sa.create_engine(p.url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(sa.select(ev).order_by(ev.c.id))]
    engine.dispose()
    assert got == [
        (1, "it's on", dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 13, 45),
         dt.time(9, 30), True, decimal.Decimal("12.50"), 0.25, "talk", "a\nb"),
        (2, None, None, None, None, False, None, None, None, None),
    ]
    api.rollback("-1")
    assert rows(p.url, "SELECT count(*) FROM ev") == [(0,)]


def test_insert_rows_into_a_uuid_column(project: Project) -> None:
    # A changeset carries a uuid as a string: it must be stored the way SQLAlchemy stores
    # uuids on SQLite, and read back as the same uuid.
    p = project
    value = "12345678-1234-5678-1234-567812345678"
    p.chain([{"create_table": {"name": "keys", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "token", "type": "uuid"}]}}],
        [{"insert_rows": {"table": "keys", "rows": [{"id": 1, "token": value}]}}])
    result = p.cli("apply")
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr
    keys = sa.Table("keys", sa.MetaData(), sa.Column("id", sa.Integer),
                    sa.Column("token", sa.Uuid))
    engine = sa.create_engine(p.url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.execute(sa.select(keys.c.token)).scalar() == uuid.UUID(value)
    engine.dispose()


def test_another_dialects_type_on_sqlite_is_no_traceback(project: Project) -> None:
    project.chain([{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "body", "type": "mysql.mediumtext"}]}}])
    result = project.cli("apply")
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        assert "c001" in result.stderr and "mediumtext" in result.stderr.lower()


# --- rebuilds keep data and references --------------------------------------------------------


def test_rebuild_of_a_referenced_table_keeps_the_referencing_rows(project: Project,
                                                                  tmp_path: Path) -> None:
    p = project
    comments = {"create_table": {"name": "comments", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "user_id", "type": "integer", "nullable": False},
        {"name": "body", "type": "text"}],
        "foreign_keys": [{"columns": ["user_id"],
                          "references": {"table": "users", "columns": ["id"]},
                          "ondelete": "CASCADE"}]}}
    ids = p.chain(
        [USERS, comments],
        [{"alter_column": {"table": "users", "name": "name", "type": "string(200)"}},
         {"create_check_constraint": {"name": "ck_users_name", "table": "users",
                                      "expression": "length(name) > 0"}},
         {"add_column": {"table": "users", "column": {"name": "email", "type": "string(100)",
                                                      "unique": True}}}],
        [{"drop_column": {"table": "users", "name": "email"}},
         {"create_foreign_key": {"name": "fk_self", "table": "comments", "columns": ["id"],
                                 "references": {"table": "comments", "columns": ["id"]}}}],
    )
    api = p.api()
    api.apply(ids[0])
    run_sql(p.url, "INSERT INTO users VALUES (1, 'ann'), (2, 'bob')",
            "INSERT INTO comments VALUES (10, 1, 'hi'), (11, 2, 'yo'), (12, 1, 'again')")
    before = reflect(p.url)
    q = "SELECT c.id, u.name, c.body FROM comments c JOIN users u ON u.id = c.user_id ORDER BY 1"
    data = rows(p.url, q)
    api.apply()
    assert reflect(p.url) == expected_schema(tmp_path, api, ids)
    assert rows(p.url, q) == data
    assert rows(p.url, "PRAGMA foreign_key_check") == []
    fks = reflect(p.url)["comments"]["fks"]
    assert {f[1] for f in fks} == {"users", "comments"}
    api.rollback(ids[0])
    assert reflect(p.url) == before
    assert rows(p.url, q) == data
    assert rows(p.url, "PRAGMA foreign_key_check") == []


def test_an_offline_rebuild_keeps_the_referencing_rows_where_foreign_keys_are_on(
        project: Project) -> None:
    """`apply --sql` run where foreign keys are enforced (a connection, or the sqlite3 shell,
    with PRAGMA foreign_keys=ON): the script turns them off first, as schemaflow's own
    connections do, or the rebuild's DROP TABLE deleted the referencing rows (ON DELETE
    CASCADE) without a word."""
    p = project
    comments = {"create_table": {"name": "comments", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "user_id", "type": "integer", "nullable": False}],
        "foreign_keys": [{"columns": ["user_id"],
                          "references": {"table": "users", "columns": ["id"]},
                          "ondelete": "CASCADE"}]}}
    ids = p.chain([USERS, comments],
                  [{"alter_column": {"table": "users", "name": "name", "type": "string(200)"}}])
    api = p.api()
    api.apply(ids[0])
    run_sql(p.url, "INSERT INTO users VALUES (1, 'ann')", "INSERT INTO comments VALUES (10, 1)")
    script = sql_of(api.offline_sql("apply", f"{ids[0]}:{ids[1]}"))
    assert "_sf_new_users RENAME TO users" in script
    sqlite3_script(p.root / "app.db", "PRAGMA foreign_keys=ON;\n" + script)
    assert rows(p.url, "SELECT id, user_id FROM comments") == [(10, 1)]
    assert rows(p.url, "PRAGMA foreign_key_check") == []


def test_drop_column_used_by_a_partial_index_where(project: Project) -> None:
    # The column is only in the index's WHERE: dropping it must not fail on SQLite.
    p = project
    p.chain(
        [ITEMS, {"create_index": {"name": "ix_items_live", "table": "items",
                                  "columns": ["name"], "where": "qty > 0"}}],
        [{"drop_column": {"table": "items", "name": "qty"}}],
    )
    api = p.api()
    api.apply("c001")
    run_sql(p.url, SEED[1])
    api.apply()
    assert "qty" not in reflect(p.url)["items"]["columns"]
    assert rows(p.url, "SELECT id, name FROM items ORDER BY id") == [
        (1, "apple"), (2, "pear"), (3, "fig")]


def test_rebuild_after_renaming_a_column_used_by_a_check(project: Project) -> None:
    # SQLite rewrites the check on RENAME COLUMN; a later rebuild must not bring back the
    # old column name.
    p = project
    p.chain(
        [ITEMS, {"create_check_constraint": {"name": "ck_items_qty", "table": "items",
                                             "expression": "qty >= 0"}}],
        [{"rename_column": {"table": "items", "name": "qty", "new_name": "amount"}}],
        [{"alter_column": {"table": "items", "name": "note", "type": "string(200)"}}],
    )
    api = p.api()
    api.apply("c001")
    run_sql(p.url, SEED[1])
    api.apply()
    assert rows(p.url, "SELECT id, amount FROM items ORDER BY id") == [(1, 3), (2, 0), (3, 5)]
    with pytest.raises(sa.exc.IntegrityError):  # the check still holds after the rebuild
        run_sql(p.url, "UPDATE items SET amount = -1 WHERE id = 1")


# --- a failing changeset ----------------------------------------------------------------------


def test_failing_statement_rolls_back_the_whole_changeset(project: Project) -> None:
    p = project
    p.chain(
        [{"create_table": {"name": "first", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}}],
        [{"create_table": {"name": "second", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}},
         {"sql": {"up": "INSERT INTO nowhere VALUES (1)", "down": "SELECT 1"}},
         {"create_table": {"name": "third", "columns": [
             {"name": "id", "type": "integer", "primary_key": True}]}}],
    )
    result = p.cli("apply")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    err = result.stderr
    assert "c002" in err
    assert "INSERT INTO nowhere VALUES (1)" in err
    assert "no such table: nowhere" in err
    assert table_names(p.url) == {"first"}
    assert version_rows(p.url) == [("c001", 1)]
    # the failed changeset is still pending and runs once fixed
    p.write("c002", [{"create_table": {"name": "second", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}], parents=["c001"])
    p.api().apply()
    assert table_names(p.url) == {"first", "second"}


def test_syntax_error_in_the_middle_names_changeset_statement_and_error(project: Project) -> None:
    p = project
    p.chain(
        [USERS],
        [{"create_table": {"name": "a", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}},
         {"sql": {"up": "THIS IS NOT SQL", "down": "SELECT 1"}},
         {"create_table": {"name": "b", "columns": [
             {"name": "id", "type": "integer", "primary_key": True}]}}],
    )
    p.api().apply("c001")
    before = reflect(p.url)
    result = p.cli("apply")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "c002" in result.stderr
    assert "THIS IS NOT SQL" in result.stderr
    assert "syntax error" in result.stderr
    assert reflect(p.url) == before
    assert version_rows(p.url) == [("c001", 1)]


def test_not_null_on_a_column_holding_nulls_fails_cleanly(project: Project) -> None:
    p = project
    p.chain(
        [ITEMS],
        [{"create_table": {"name": "side", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}},
         {"alter_column": {"table": "items", "name": "note", "nullable": False}},
         {"create_index": {"name": "ix_items_qty", "table": "items", "columns": ["qty"]}}],
    )
    p.api().apply("c001")
    run_sql(p.url, SEED[1])
    before = reflect(p.url)
    data = rows(p.url, Q_ITEMS)
    result = p.cli("apply")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "c002" in result.stderr
    assert "NOT NULL constraint failed" in result.stderr
    assert "INSERT INTO _sf_new_items" in result.stderr
    assert reflect(p.url) == before
    assert rows(p.url, Q_ITEMS) == data
    assert version_rows(p.url) == [("c001", 1)]
    assert "_sf_new_items" not in table_names(p.url)


def test_failure_through_the_api_carries_the_details(project: Project) -> None:
    p = project
    p.chain([USERS], [{"sql": {"up": ["UPDATE users SET name = name", "SELEC 1"],
                                "down": "SELECT 1"}}])
    with pytest.raises(ChangesetFailed) as info:
        p.api().apply()
    exc = info.value
    assert exc.changeset == "c002"
    assert exc.statement == "SELEC 1"
    assert exc.db_message and "syntax error" in exc.db_message
    assert exc.exit_code == 2
    assert applied_ids(p.url) == ["c001"]


# --- offline SQL ------------------------------------------------------------------------------

REBUILD_HISTORY: list[list[dict[str, Any]]] = [
    [USERS, ITEMS, LOG],
    [{"insert_rows": {"table": "users",
                      "rows": [{"id": 1, "name": "ann"}, {"id": 2, "name": "b"}]}},
     {"insert_rows": {"table": "items", "rows": [
         {"id": 1, "name": "apple", "qty": 2, "note": "red", "owner_id": 1, "code": "A"},
         {"id": 2, "name": "pear", "owner_id": 2}]}}],
    CONSTRAINTS,
    [{"alter_column": {"table": "items", "name": "qty", "type": "bigint", "nullable": False}},
     {"add_column": {"table": "items", "column": {"name": "sku", "type": "string(20)",
                                                   "unique": True}}},
     {"drop_column": {"table": "items", "name": "code"}}],
    [{"rename_column": {"table": "items", "name": "note", "new_name": "remark"}},
     {"create_primary_key": {"name": "pk_log", "table": "log", "columns": ["day", "seq"]}},
     {"rename_table": {"name": "log", "new_name": "journal"}},
     {"create_index": {"name": "ux_items_name", "table": "items", "columns": ["name"],
                       "unique": True, "where": "qty > 0"}}],
]
LAST = (
    [{"drop_constraint": {"name": "ck_items_qty", "table": "items", "type": "check"}},
     {"sql": {"up": "UPDATE items SET qty = qty * 10", "dialects": ["sqlite"]}},
     {"delete_rows": {"table": "users", "rows": [{"id": 2}]}}],
    [{"insert_rows": {"table": "users", "rows": [{"id": 2, "name": "b"}]}},
     {"sql": {"up": "UPDATE items SET qty = qty / 10", "dialects": ["sqlite"]}},
     {"create_check_constraint": {"name": "ck_items_qty", "table": "items",
                                  "expression": "qty >= 0"}}],
)


def _offline_matches_online(p: Project, tmp_path: Path, script: str,
                            data_query: str | None) -> None:
    assert not (p.root / "app.db").exists()  # --sql needs no database
    offline = tmp_path / "offline.db"
    sqlite3_script(offline, script)
    api = p.api()
    api.apply()
    offline_url = f"sqlite:///{offline}"
    assert reflect(offline_url) == reflect(p.url)
    q = "SELECT id, checksum, message, exec_order FROM schemaflow_version ORDER BY exec_order"
    assert rows(offline_url, q) == rows(p.url, q)
    if data_query:
        assert rows(offline_url, data_query) == rows(p.url, data_query)
    # and the offline rollback script takes the offline database back to nothing
    back = sql_of(api.offline_sql("rollback", "base"))
    sqlite3_script(offline, back)
    assert reflect(offline_url) == {}
    assert rows(offline_url, "SELECT count(*) FROM schemaflow_version") == [(0,)]


def test_apply_sql_builds_the_demo_like_online_apply(demo_project: Project,
                                                     tmp_path: Path) -> None:
    script = ok(demo_project.cli("apply", "--sql")).stdout
    _offline_matches_online(demo_project, tmp_path, script,
                            "SELECT id, label FROM tags ORDER BY id")


def test_apply_sql_with_rebuilds_builds_like_online_apply(project: Project,
                                                          tmp_path: Path) -> None:
    ids = project.chain(*REBUILD_HISTORY)
    project.write("c999", LAST[0], parents=ids[-1:], rollback=LAST[1])
    script = sql_of(project.api().offline_sql("apply", None))
    assert script.count("_sf_new_items RENAME TO items") >= 3
    _offline_matches_online(project, tmp_path, script,
                            "SELECT id, name, qty, remark, owner_id, sku FROM items ORDER BY id")


def test_apply_sql_with_a_multi_line_message(project: Project, tmp_path: Path) -> None:
    project.write("c001", [USERS], message="create users\n\nDROP TABLE users;\nsee the ticket")
    script = sql_of(project.api().offline_sql("apply", None))
    offline = tmp_path / "offline.db"
    sqlite3_script(offline, script)
    assert set(reflect(f"sqlite:///{offline}")) == {"users"}
    assert rows(f"sqlite:///{offline}", "SELECT message FROM schemaflow_version") == [
        ("create users\n\nDROP TABLE users;\nsee the ticket",)]


# --- dry run ----------------------------------------------------------------------------------


def test_dry_run_changes_nothing(project: Project) -> None:
    p = project
    p.chain([USERS], [ITEMS], [{"add_column": {"table": "items", "column": {
        "name": "sku", "type": "string(20)", "unique": True}}}])
    api = p.api()
    api.apply("c002")
    db = p.root / "app.db"
    digest = file_digest(db)
    before = reflect(p.url)

    up = ok(p.cli("apply", "--dry-run")).stdout
    assert "_sf_new_items" in up and "'c003'" in up
    assert "CREATE TABLE users" not in up and "CREATE TABLE items" not in up
    down = api.rollback("base", dry_run=True)
    assert down.results == [] and down.sql
    assert "DROP TABLE items" in down.sql and "DROP TABLE users" in down.sql
    assert file_digest(db) == digest
    assert reflect(p.url) == before
    assert applied_ids(p.url) == ["c001", "c002"]


def test_dry_run_on_a_missing_database_creates_no_file(project: Project) -> None:
    project.chain([USERS])
    result = project.api().apply(dry_run=True)
    assert result.sql and "CREATE TABLE users" in result.sql
    assert not (project.root / "app.db").exists()


# --- the version table ------------------------------------------------------------------------


def test_version_table_rows(project: Project) -> None:
    p = project
    ids = p.chain([USERS], [ITEMS], [{"create_index": {"name": "ix_items_qty", "table": "items",
                                                      "columns": ["qty"]}}])
    api = p.api()
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    api.apply()
    finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    got = api.applied_rows()
    assert [r.id for r in got] == ids
    assert [r.exec_order for r in got] == [1, 2, 3]
    for r in got:
        cs = api.history.graph[r.id]
        assert r.checksum.startswith("v1:")
        assert r.checksum == checksum(cs)
        assert r.message == cs.message
        assert r.applied_at is not None
        slack = dt.timedelta(seconds=2)
        assert started - slack <= r.applied_at <= finished + slack  # UTC
        assert isinstance(r.execution_ms, int) and r.execution_ms >= 0
        assert r.applied_by and "@" in r.applied_by
        assert r.schemaflow_version == schemaflow.__version__
    cols = [c[1] for c in rows(p.url, "PRAGMA table_info(schemaflow_version)")]
    assert cols == ["id", "checksum", "message", "applied_at", "execution_ms", "applied_by",
                    "schemaflow_version", "exec_order"]
    # rolled back and applied again: it gets the next exec_order
    api.rollback("-1")
    assert version_rows(p.url) == [("c001", 1), ("c002", 2)]
    api.apply()
    assert version_rows(p.url) == [("c001", 1), ("c002", 2), ("c003", 3)]


def test_stamp_stamp_base_and_purge(project: Project) -> None:
    p = project
    p.chain([USERS], [ITEMS], [{"create_table": {"name": "other", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}])
    ok(p.cli("stamp", "c002"))
    assert version_rows(p.url) == [("c001", 1), ("c002", 2)]
    assert reflect(p.url) == {}  # nothing ran
    api = p.api()
    graph = api.history.graph
    assert [r.checksum for r in api.applied_rows()] == [checksum(graph["c001"]),
                                                         checksum(graph["c002"])]
    api.apply()
    assert table_names(p.url) == {"other"}
    assert version_rows(p.url) == [("c001", 1), ("c002", 2), ("c003", 3)]

    assert api.stamp("base") == ([], ["c001", "c002", "c003"])
    assert version_rows(p.url) == []
    assert table_names(p.url) == {"other"}

    api.stamp("c001")
    assert applied_ids(p.url) == ["c001"]
    # a changeset file that was removed: the database lists an id the folder lacks
    run_sql(p.url, "INSERT INTO schemaflow_version (id, checksum, message, applied_at, "
                   "execution_ms, exec_order) VALUES ('gone01', 'v1:x', 'm', "
                   "'2024-01-01 00:00:00', 0, 2)")
    drift = p.cli("apply")
    assert drift.returncode == 1 and "gone01" in drift.stderr
    assert "--purge" in drift.stderr
    ok(p.cli("stamp", "c002", "--purge"))
    assert version_rows(p.url) == [("c001", 1), ("c002", 2)]


# --- targets ----------------------------------------------------------------------------------


def _four(p: Project) -> list[str]:
    ids = ["ab12cd", "ab34ef", "cd56ab", "ef78gh"]
    for i, cid in enumerate(ids):
        extra = {"tag": "release-1"} if cid == "ab34ef" else {}
        p.write(cid, [{"create_table": {"name": f"t{i}", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}}],
            parents=ids[i - 1: i] if i else [], **extra)
    return ids


def test_apply_targets_partial_id_and_relative(project: Project) -> None:
    p = project
    ids = _four(p)
    ambiguous = p.cli("apply", "ab")
    assert ambiguous.returncode == 2
    assert "ab12cd" in ambiguous.stderr and "ab34ef" in ambiguous.stderr
    ok(p.cli("apply", "ab3"))
    assert applied_ids(p.url) == ids[:2]
    assert table_names(p.url) == {"t0", "t1"}
    api = p.api()
    api.apply("+1")
    assert applied_ids(p.url) == ids[:3]
    api.apply()
    assert applied_ids(p.url) == ids


def test_rollback_targets_relative_and_tag(project: Project) -> None:
    p = project
    ids = _four(p)
    p.api().apply()
    ok(p.cli("rollback", "-1"))
    assert applied_ids(p.url) == ids[:3]
    assert table_names(p.url) == {"t0", "t1", "t2"}
    api = p.api()
    api.rollback("release-1")
    assert applied_ids(p.url) == ids[:2]
    assert table_names(p.url) == {"t0", "t1"}
    api.rollback("base")
    assert applied_ids(p.url) == []
    assert reflect(p.url) == {}


def test_apply_head_with_two_heads_names_both(project: Project) -> None:
    p = project
    p.write("root01", [USERS])
    p.write("left01", [ITEMS], parents=["root01"])
    p.write("right1", [LOG], parents=["root01"])
    result = p.cli("apply", "head")
    assert result.returncode == 2
    assert "left01" in result.stderr and "right1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (p.root / "app.db").exists() or reflect(p.url) == {}
    api = p.api()
    assert api.applied_rows() == []
    api.apply()  # the default target is every head
    assert table_names(p.url) == {"users", "items", "log"}


# --- identifiers with odd characters ----------------------------------------------------------

ODD = 'x"; DROP TABLE users; --'


def test_odd_identifiers_are_created_as_such(project: Project, tmp_path: Path) -> None:
    p = project
    ids = p.chain(
        [USERS, {"insert_rows": {"table": "users", "rows": [{"id": 1, "name": "ann"}]}}],
        [{"create_table": {"name": ODD, "columns": [
            {"name": "select", "type": "integer", "primary_key": True},
            {"name": "from", "type": "text", "default": "'; DROP TABLE users; --"}],
            "indexes": [{"name": 'ix "odd"', "columns": ["from"]}]}},
         {"insert_rows": {"table": ODD, "rows": [
             {"select": 1, "from": "'); DROP TABLE users; --"}]}}],
        [{"alter_column": {"table": ODD, "name": "from", "nullable": False}},
         {"add_column": {"table": ODD, "column": {"name": "where", "type": "integer",
                                                  "unique": True}}}],
    )
    ok(p.cli("apply"))
    api = p.api()
    got = reflect(p.url)
    assert set(got) == {"users", ODD}
    assert set(got[ODD]["columns"]) == {"select", "from", "where"}
    assert got[ODD]["pk"] == ("select",)
    assert got == expected_schema(tmp_path, api, ids)
    assert rows(p.url, Q_USERS) == [(1, "ann")]
    assert rows(p.url, 'SELECT "select", "from" FROM "x""; DROP TABLE users; --"') == [
        (1, "'); DROP TABLE users; --")]

    offline = tmp_path / "odd.db"
    sqlite3_script(offline, sql_of(api.offline_sql("apply", None)))
    assert reflect(f"sqlite:///{offline}") == got

    api.rollback(ids[0])
    assert set(reflect(p.url)) == {"users"}
    assert rows(p.url, Q_USERS) == [(1, "ann")]

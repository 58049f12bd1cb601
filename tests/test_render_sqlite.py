"""The SQLite renderer as a table of "operation (+ the schema before) → expected SQL".

No database here: operations are rendered with `renderer_for("sqlite", version)` and compiled
with SQLAlchemy's SQLite dialect. Statements are compared after normalising whitespace.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any, cast

import pytest
import sqlalchemy as sa

from schemaflow import ir
from schemaflow.dialects import by_name, renderer_for
from schemaflow.dialects.render import compile_step
from schemaflow.dialects.sqlite import keep
from schemaflow.errors import UsageError
from schemaflow.state import SchemaState, apply_all

MODERN = (3, 45)
DIALECT = by_name("sqlite").sa_dialect()


def norm(sql: str) -> str:
    """One line, single spaces, no padding inside parentheses."""
    text = " ".join(sql.split())
    return re.sub(r"\s+\)", ")", re.sub(r"\(\s+", "(", text))


def state(*docs: dict[str, Any]) -> SchemaState:
    """The schema after the given operations (as written in a changeset)."""
    return apply_all(SchemaState(), [ir.parse_operation(d) for d in docs])


def render(before: SchemaState, doc: dict[str, Any],
           version: tuple[int, ...] = MODERN) -> list[str]:
    """The normalised statements of one operation (a rebuild's markers left out: see
    test_a_rebuild_is_bracketed_by_its_markers)."""
    op = ir.parse_operation(doc)
    steps = renderer_for("sqlite", version).render(op, before)
    texts = [compile_step(s, DIALECT) for s in steps]
    return [norm(keep.sent(t) or "" if keep.is_marker(t) else t) for t in texts
            if not keep.is_marker(t) or keep.sent(t)]


# --- the schemas the operations run on --------------------------------------------------------

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
], "indexes": [{"name": "ix_items_name", "columns": ["name"]}]}}

ITEMS_COLS = ("id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, qty INTEGER DEFAULT 0, "
              "note TEXT, owner_id INTEGER")
ITEMS_PK = "CONSTRAINT pk_items PRIMARY KEY (id)"
ITEMS_IX = "CREATE INDEX ix_items_name ON items (name)"

# items with a unique constraint, a check and a foreign key on top
RICH: list[dict[str, Any]] = [
    USERS, ITEMS,
    {"create_unique_constraint": {"name": "uq_items_note", "table": "items",
                                  "columns": ["note"]}},
    {"create_check_constraint": {"name": "ck_items_qty", "table": "items",
                                 "expression": "qty >= 0"}},
    {"create_foreign_key": {"name": "fk_items_owner", "table": "items", "columns": ["owner_id"],
                            "references": {"table": "users", "columns": ["id"]},
                            "ondelete": "SET NULL"}},
]
RICH_TAIL = ("CONSTRAINT pk_items PRIMARY KEY (id), CONSTRAINT uq_items_note UNIQUE (note), "
             "CONSTRAINT ck_items_qty CHECK (qty >= 0), CONSTRAINT fk_items_owner "
             "FOREIGN KEY(owner_id) REFERENCES users (id) ON DELETE SET NULL")

ALL_ITEMS = ["id", "name", "qty", "note", "owner_id"]


def rebuilt(table: str, body: str, columns: list[str], indexes: list[str],
            sources: list[str] | None = None) -> list[str]:
    """The statements of a table rebuild, in the order SQLite documents as safe."""
    src = sources or columns
    tmp = f"_sf_new_{table}"
    return [
        f"CREATE TABLE {tmp} ({body})",
        f"INSERT INTO {tmp} ({', '.join(columns)}) "
        f"SELECT {', '.join(f'{table}.{c}' for c in src)} FROM {table}",
        f"DROP TABLE {table}",
        f"ALTER TABLE {tmp} RENAME TO {table}",
        *indexes,
    ]


# --- the table --------------------------------------------------------------------------------

CREATE_FULL = {"create_table": {
    "name": "posts",
    "comment": "blog posts",
    "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "author_id", "type": "integer", "nullable": False},
        {"name": "title", "type": "string(200)", "nullable": False},
        {"name": "slug", "type": "string(80)", "unique": True},
        {"name": "published", "type": "boolean", "nullable": False, "default": False},
        {"name": "featured", "type": "boolean", "default": True},
        {"name": "rating", "type": "float", "default": 1.5},
        {"name": "status", "type": "string(10)", "default": "it's new"},
        {"name": "created_at", "type": "datetime", "nullable": False,
         "default_sql": "CURRENT_TIMESTAMP"},
        {"name": "views", "type": "integer", "index": True},
    ],
    "unique": [{"columns": ["author_id", "title"]}],
    "foreign_keys": [{"columns": ["author_id"], "references": {"table": "users", "columns": ["id"]},
                      "ondelete": "CASCADE", "onupdate": "RESTRICT"}],
    "checks": [{"expression": "views >= 0", "name": "ck_posts_views"},
               {"expression": "length(title) > 0"}],
    "indexes": [{"name": "ix_posts_title", "columns": ["title"], "unique": True},
                {"name": "ix_posts_author_created", "columns": ["author_id", "created_at"]}],
}}

CASES = [
    pytest.param(
        [], USERS, MODERN,
        ["CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, "
         "CONSTRAINT pk_users PRIMARY KEY (id))"],
        id="create_table-minimal"),
    pytest.param(
        [USERS], CREATE_FULL, MODERN,
        ["CREATE TABLE posts (id INTEGER NOT NULL, author_id INTEGER NOT NULL, "
         "title VARCHAR(200) NOT NULL, slug VARCHAR(80), published BOOLEAN DEFAULT 0 NOT NULL, "
         "featured BOOLEAN DEFAULT 1, rating FLOAT DEFAULT (1.5), "
         "status VARCHAR(10) DEFAULT 'it''s new', "
         "created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, views INTEGER, "
         "CONSTRAINT pk_posts PRIMARY KEY (id), CONSTRAINT uq_posts_slug UNIQUE (slug), "
         "CONSTRAINT uq_posts_author_id_title UNIQUE (author_id, title), "
         "CONSTRAINT ck_posts_views CHECK (views >= 0), "
         f"CONSTRAINT ck_posts_{hashlib.sha1(b'length(title) > 0').hexdigest()[:8]}"
         " CHECK (length(title) > 0), "
         "CONSTRAINT fk_posts_author_id_users FOREIGN KEY(author_id) REFERENCES users (id) "
         "ON DELETE CASCADE ON UPDATE RESTRICT)",
         "CREATE INDEX ix_posts_views ON posts (views)",
         "CREATE UNIQUE INDEX ix_posts_title ON posts (title)",
         "CREATE INDEX ix_posts_author_created ON posts (author_id, created_at)"],
        id="create_table-pk-unique-fk-check-indexes-defaults"),
    pytest.param(
        [], {"create_table": {"name": "tags", "columns": [
            {"name": "post_id", "type": "integer"}, {"name": "tag", "type": "string(20)"}],
            "primary_key": {"columns": ["post_id", "tag"], "name": "pk_tags_custom"}}}, MODERN,
        ["CREATE TABLE tags (post_id INTEGER NOT NULL, tag VARCHAR(20) NOT NULL, "
         "CONSTRAINT pk_tags_custom PRIMARY KEY (post_id, tag))"],
        id="create_table-composite-primary-key"),
    pytest.param(
        [USERS, ITEMS], {"drop_table": {"name": "items"}}, MODERN,
        ["DROP TABLE items"],
        id="drop_table"),
    # SQLite keeps no table comments and checks constraints when they are added: no SQL.
    pytest.param(
        [USERS, ITEMS], {"alter_table": {"name": "items", "comment": "stock"}}, MODERN, [],
        id="alter_table"),
    pytest.param(
        [USERS, ITEMS], {"validate_constraint": {"name": "pk_items", "table": "items"}}, MODERN,
        [], id="validate_constraint"),
    pytest.param(
        [USERS, ITEMS], {"rename_table": {"name": "items", "new_name": "products"}}, MODERN,
        ["ALTER TABLE items RENAME TO products"],
        id="rename_table"),
    pytest.param(
        [USERS, ITEMS], {"add_column": {"table": "items", "column": {"name": "sku",
                                                                     "type": "string(20)"}}},
        MODERN,
        ["ALTER TABLE items ADD COLUMN sku VARCHAR(20)"],
        id="add_column-in-place"),
    pytest.param(
        [USERS, ITEMS], {"add_column": {"table": "items", "column": {
            "name": "active", "type": "boolean", "nullable": False, "default": True}}}, MODERN,
        ["ALTER TABLE items ADD COLUMN active BOOLEAN DEFAULT 1 NOT NULL"],
        id="add_column-in-place-not-null-with-default"),
    pytest.param(
        [USERS, ITEMS], {"add_column": {"table": "items", "column": {
            "name": "sku", "type": "string(20)", "index": True}}}, MODERN,
        ["ALTER TABLE items ADD COLUMN sku VARCHAR(20)",
         "CREATE INDEX ix_items_sku ON items (sku)"],
        id="add_column-in-place-with-index"),
    pytest.param(
        [USERS, ITEMS], {"add_column": {"table": "items", "column": {
            "name": "sku", "type": "string(20)", "unique": True}}}, MODERN,
        rebuilt("items", f"{ITEMS_COLS}, sku VARCHAR(20), {ITEMS_PK}, "
                "CONSTRAINT uq_items_sku UNIQUE (sku)", ALL_ITEMS, [ITEMS_IX]),
        id="add_column-unique-rebuilds"),
    pytest.param(
        [USERS, ITEMS], {"add_column": {"table": "items", "column": {
            "name": "sku", "type": "string(20)", "nullable": False}}}, MODERN,
        rebuilt("items", f"{ITEMS_COLS}, sku VARCHAR(20) NOT NULL, {ITEMS_PK}",
                ALL_ITEMS, [ITEMS_IX]),
        id="add_column-not-null-without-default-rebuilds"),
    pytest.param(
        [USERS, ITEMS], {"add_column": {"table": "items", "column": {
            "name": "added_at", "type": "datetime", "default_sql": "CURRENT_TIMESTAMP"}}}, MODERN,
        rebuilt("items", f"{ITEMS_COLS}, added_at DATETIME DEFAULT CURRENT_TIMESTAMP, "
                f"{ITEMS_PK}", ALL_ITEMS, [ITEMS_IX]),
        id="add_column-default_sql-rebuilds"),
    pytest.param(
        [USERS, ITEMS], {"drop_column": {"table": "items", "name": "note"}}, MODERN,
        ["ALTER TABLE items DROP COLUMN note"],
        id="drop_column-in-place"),
    pytest.param(
        [USERS, ITEMS], {"drop_column": {"table": "items", "name": "note"}}, (3, 35),
        ["ALTER TABLE items DROP COLUMN note"],
        id="drop_column-in-place-at-3.35"),
    pytest.param(
        [USERS, ITEMS], {"drop_column": {"table": "items", "name": "note"}}, (3, 30),
        rebuilt("items", "id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, "
                f"qty INTEGER DEFAULT 0, owner_id INTEGER, {ITEMS_PK}",
                ["id", "name", "qty", "owner_id"], [ITEMS_IX]),
        id="drop_column-rebuilds-before-3.35"),
    pytest.param(
        [USERS, ITEMS], {"drop_column": {"table": "items", "name": "name"}}, MODERN,
        rebuilt("items", "id INTEGER NOT NULL, qty INTEGER DEFAULT 0, note TEXT, "
                f"owner_id INTEGER, {ITEMS_PK}", ["id", "qty", "note", "owner_id"], []),
        id="drop_column-with-index-rebuilds-and-drops-the-index"),
    pytest.param(
        RICH, {"drop_column": {"table": "items", "name": "qty"}}, MODERN,
        rebuilt("items", "id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, note TEXT, "
                "owner_id INTEGER, CONSTRAINT pk_items PRIMARY KEY (id), "
                "CONSTRAINT uq_items_note UNIQUE (note), CONSTRAINT fk_items_owner "
                "FOREIGN KEY(owner_id) REFERENCES users (id) ON DELETE SET NULL",
                ["id", "name", "note", "owner_id"], [ITEMS_IX]),
        id="drop_column-in-check-rebuilds"),
    pytest.param(
        RICH, {"drop_column": {"table": "items", "name": "note"}}, MODERN,
        rebuilt("items", "id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, "
                "qty INTEGER DEFAULT 0, owner_id INTEGER, CONSTRAINT pk_items PRIMARY KEY (id), "
                "CONSTRAINT ck_items_qty CHECK (qty >= 0), CONSTRAINT fk_items_owner "
                "FOREIGN KEY(owner_id) REFERENCES users (id) ON DELETE SET NULL",
                ["id", "name", "qty", "owner_id"], [ITEMS_IX]),
        id="drop_column-in-unique-rebuilds"),
    pytest.param(
        RICH, {"drop_column": {"table": "items", "name": "owner_id"}}, MODERN,
        rebuilt("items", "id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, "
                "qty INTEGER DEFAULT 0, note TEXT, CONSTRAINT pk_items PRIMARY KEY (id), "
                "CONSTRAINT uq_items_note UNIQUE (note), CONSTRAINT ck_items_qty CHECK (qty >= 0)",
                ["id", "name", "qty", "note"], [ITEMS_IX]),
        id="drop_column-in-foreign-key-rebuilds"),
    pytest.param(
        [USERS, ITEMS, {"create_index": {"name": "ix_items_part", "table": "items",
                                         "columns": ["name"], "where": "note IS NOT NULL"}}],
        {"drop_column": {"table": "items", "name": "qty"}}, MODERN,
        ["ALTER TABLE items DROP COLUMN qty"],
        id="drop_column-not-in-partial-index-in-place"),
    pytest.param(
        [USERS, ITEMS], {"rename_column": {"table": "items", "name": "note",
                                           "new_name": "remark"}}, MODERN,
        ["ALTER TABLE items RENAME COLUMN note TO remark"],
        id="rename_column-in-place"),
    pytest.param(
        [USERS, ITEMS], {"rename_column": {"table": "items", "name": "note",
                                           "new_name": "remark"}}, (3, 25),
        ["ALTER TABLE items RENAME COLUMN note TO remark"],
        id="rename_column-in-place-at-3.25"),
    pytest.param(
        [USERS, ITEMS], {"rename_column": {"table": "items", "name": "name",
                                           "new_name": "title"}}, (3, 20),
        rebuilt("items", "id INTEGER NOT NULL, title VARCHAR(50) NOT NULL, "
                f"qty INTEGER DEFAULT 0, note TEXT, owner_id INTEGER, {ITEMS_PK}",
                ["id", "title", "qty", "note", "owner_id"],
                ["CREATE INDEX ix_items_name ON items (title)"],
                sources=["id", "name", "qty", "note", "owner_id"]),
        id="rename_column-rebuilds-at-3.20"),
    pytest.param(
        [USERS, ITEMS], {"alter_column": {"table": "items", "name": "qty", "type": "bigint",
                                          "nullable": False}}, MODERN,
        rebuilt("items", "id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, "
                f"qty BIGINT DEFAULT 0 NOT NULL, note TEXT, owner_id INTEGER, {ITEMS_PK}",
                ALL_ITEMS, [ITEMS_IX]),
        id="alter_column-type-and-nullable-rebuilds"),
    pytest.param(
        [USERS, ITEMS], {"alter_column": {"table": "items", "name": "note",
                                          "default": "n/a"}}, MODERN,
        rebuilt("items", "id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, "
                "qty INTEGER DEFAULT 0, note TEXT DEFAULT 'n/a', owner_id INTEGER, "
                f"{ITEMS_PK}", ALL_ITEMS, [ITEMS_IX]),
        id="alter_column-default-rebuilds"),
    pytest.param(
        [USERS, ITEMS], {"alter_column": {"table": "items", "name": "qty",
                                          "drop_default": True}}, MODERN,
        rebuilt("items", "id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, qty INTEGER, "
                f"note TEXT, owner_id INTEGER, {ITEMS_PK}", ALL_ITEMS, [ITEMS_IX]),
        id="alter_column-drop_default-rebuilds"),
    pytest.param(
        [USERS, ITEMS], {"alter_column": {"table": "items", "name": "note",
                                          "default_sql": "(datetime('now'))"}}, MODERN,
        rebuilt("items", "id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, "
                "qty INTEGER DEFAULT 0, note TEXT DEFAULT (datetime('now')), owner_id INTEGER, "
                f"{ITEMS_PK}", ALL_ITEMS, [ITEMS_IX]),
        id="alter_column-default_sql-rebuilds"),
    pytest.param(
        [USERS, ITEMS], {"alter_column": {"table": "items", "name": "note",
                                          "comment": "free text"}}, MODERN,
        [],
        id="alter_column-comment-only-nothing"),
    pytest.param(
        [USERS, ITEMS], {"create_index": {"name": "ix_items_qty", "table": "items",
                                          "columns": ["qty", "name"]}}, MODERN,
        ["CREATE INDEX ix_items_qty ON items (qty, name)"],
        id="create_index"),
    pytest.param(
        [USERS, ITEMS], {"create_index": {"name": "ux_items_note", "table": "items",
                                          "columns": ["note"], "unique": True}}, MODERN,
        ["CREATE UNIQUE INDEX ux_items_note ON items (note)"],
        id="create_index-unique"),
    pytest.param(
        [USERS, ITEMS], {"create_index": {"name": "ux_items_live", "table": "items",
                                          "columns": ["name"], "unique": True,
                                          "where": "qty > 0"}}, MODERN,
        ["CREATE UNIQUE INDEX ux_items_live ON items (name) WHERE qty > 0"],
        id="create_index-unique-partial"),
    pytest.param(
        [USERS, ITEMS], {"create_index": {"name": "ix_items_c", "table": "items",
                                          "columns": ["qty"], "concurrently": True}}, MODERN,
        ["CREATE INDEX ix_items_c ON items (qty)"],
        id="create_index-concurrently-ignored"),
    pytest.param(
        [USERS, ITEMS], {"drop_index": {"name": "ix_items_name", "table": "items"}}, MODERN,
        ["DROP INDEX ix_items_name"],
        id="drop_index"),
    pytest.param(
        [USERS, ITEMS], {"create_unique_constraint": {"name": "uq_items_name_note",
                                                      "table": "items",
                                                      "columns": ["name", "note"]}}, MODERN,
        rebuilt("items", f"{ITEMS_COLS}, {ITEMS_PK}, "
                "CONSTRAINT uq_items_name_note UNIQUE (name, note)", ALL_ITEMS, [ITEMS_IX]),
        id="create_unique_constraint-rebuilds"),
    pytest.param(
        [USERS, ITEMS], {"create_foreign_key": {"name": "fk_items_owner", "table": "items",
                                                "columns": ["owner_id"],
                                                "references": {"table": "users",
                                                               "columns": ["id"]},
                                                "ondelete": "CASCADE"}}, MODERN,
        rebuilt("items", f"{ITEMS_COLS}, {ITEMS_PK}, CONSTRAINT fk_items_owner "
                "FOREIGN KEY(owner_id) REFERENCES users (id) ON DELETE CASCADE",
                ALL_ITEMS, [ITEMS_IX]),
        id="create_foreign_key-rebuilds"),
    pytest.param(
        [USERS, ITEMS], {"create_foreign_key": {"name": "fk_items_parent", "table": "items",
                                                "columns": ["owner_id"],
                                                "references": {"table": "items",
                                                               "columns": ["id"]}}}, MODERN,
        rebuilt("items", f"{ITEMS_COLS}, {ITEMS_PK}, CONSTRAINT fk_items_parent "
                "FOREIGN KEY(owner_id) REFERENCES items (id)", ALL_ITEMS, [ITEMS_IX]),
        id="create_foreign_key-self-reference-names-the-final-table"),
    pytest.param(
        [USERS, ITEMS], {"create_check_constraint": {"name": "ck_items_qty", "table": "items",
                                                     "expression": "qty >= 0"}}, MODERN,
        rebuilt("items", f"{ITEMS_COLS}, {ITEMS_PK}, CONSTRAINT ck_items_qty CHECK (qty >= 0)",
                ALL_ITEMS, [ITEMS_IX]),
        id="create_check_constraint-rebuilds"),
    pytest.param(
        [{"create_table": {"name": "log", "columns": [
            {"name": "day", "type": "date"}, {"name": "seq", "type": "integer"},
            {"name": "msg", "type": "text"}]}}],
        {"create_primary_key": {"name": "pk_log", "table": "log", "columns": ["day", "seq"]}},
        MODERN,
        rebuilt("log", "day DATE NOT NULL, seq INTEGER NOT NULL, msg TEXT, "
                "CONSTRAINT pk_log PRIMARY KEY (day, seq)", ["rowid", "day", "seq", "msg"], []),
        id="create_primary_key-rebuilds"),  # (no INTEGER PRIMARY KEY: the rowids copied)
    pytest.param(
        RICH, {"drop_constraint": {"name": "ck_items_qty", "table": "items", "type": "check"}},
        MODERN,
        rebuilt("items", f"{ITEMS_COLS}, CONSTRAINT pk_items PRIMARY KEY (id), "
                "CONSTRAINT uq_items_note UNIQUE (note), CONSTRAINT fk_items_owner "
                "FOREIGN KEY(owner_id) REFERENCES users (id) ON DELETE SET NULL",
                ALL_ITEMS, [ITEMS_IX]),
        id="drop_constraint-check-rebuilds"),
    pytest.param(
        RICH, {"drop_constraint": {"name": "uq_items_note", "table": "items", "type": "unique"}},
        MODERN,
        rebuilt("items", f"{ITEMS_COLS}, CONSTRAINT pk_items PRIMARY KEY (id), "
                "CONSTRAINT ck_items_qty CHECK (qty >= 0), CONSTRAINT fk_items_owner "
                "FOREIGN KEY(owner_id) REFERENCES users (id) ON DELETE SET NULL",
                ALL_ITEMS, [ITEMS_IX]),
        id="drop_constraint-unique-rebuilds"),
    pytest.param(
        RICH, {"drop_constraint": {"name": "fk_items_owner", "table": "items",
                                   "type": "foreign_key"}},
        MODERN,
        rebuilt("items", f"{ITEMS_COLS}, CONSTRAINT pk_items PRIMARY KEY (id), "
                "CONSTRAINT uq_items_note UNIQUE (note), CONSTRAINT ck_items_qty CHECK (qty >= 0)",
                ALL_ITEMS, [ITEMS_IX]),
        id="drop_constraint-foreign_key-rebuilds"),
    pytest.param(
        RICH, {"drop_constraint": {"name": "pk_items", "table": "items", "type": "primary_key"}},
        MODERN,
        rebuilt("items", f"{ITEMS_COLS}, "
                "CONSTRAINT uq_items_note UNIQUE (note), CONSTRAINT ck_items_qty CHECK (qty >= 0), "
                "CONSTRAINT fk_items_owner FOREIGN KEY(owner_id) REFERENCES users (id) "
                "ON DELETE SET NULL", ALL_ITEMS, [ITEMS_IX]),
        id="drop_constraint-primary_key-rebuilds"),
    pytest.param(
        [USERS], {"sql": {"up": "UPDATE users SET name = upper(name)"}}, MODERN,
        ["UPDATE users SET name = upper(name)"],
        id="sql-no-dialects"),
    pytest.param(
        [USERS], {"sql": {"up": ["UPDATE users SET name = 'a'", "  ", "DELETE FROM users"],
                          "dialects": ["sqlite", "postgresql"]}}, MODERN,
        ["UPDATE users SET name = 'a'", "DELETE FROM users"],
        id="sql-dialects-include-sqlite"),
    pytest.param(
        [USERS], {"sql": {"up": "CREATE EXTENSION pg_trgm", "down": "DROP EXTENSION pg_trgm",
                          "dialects": ["postgresql"]}}, MODERN,
        [],
        id="sql-postgresql-only-skipped"),
    pytest.param(
        [{"create_table": {"name": "events", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "title", "type": "string(50)"},
            {"name": "day", "type": "date"},
            {"name": "at", "type": "datetime"},
            {"name": "starts", "type": "time"},
            {"name": "public", "type": "boolean"},
            {"name": "price", "type": "numeric(10,2)"},
            {"name": "ratio", "type": "float"}]}}],
        {"insert_rows": {"table": "events", "rows": [
            {"id": 1, "title": "it's on", "day": "2024-02-29", "at": "2024-02-29T13:45:00",
             "starts": "09:30:00", "public": True, "price": 12.5, "ratio": 0.25},
            {"id": 2, "title": None, "public": False},
        ]}}, MODERN,
        ["INSERT INTO events (id, title, day, at, starts, public, price, ratio) VALUES "
         "(1, 'it''s on', '2024-02-29', '2024-02-29 13:45:00.000000', '09:30:00.000000', 1, "
         "12.5, 0.25)",
         "INSERT INTO events (id, title, public) VALUES (2, NULL, 0)"],
        id="insert_rows-dates-booleans-literals"),
    pytest.param(
        [USERS], {"delete_rows": {"table": "users", "rows": [{"id": 1}, {"id": 2, "name": "b"},
                                                            {"name": None}]}}, MODERN,
        ["DELETE FROM users WHERE users.id = 1",
         "DELETE FROM users WHERE users.id = 2 AND users.name = 'b'",
         "DELETE FROM users WHERE users.name IS NULL"],
        id="delete_rows"),
]


@pytest.mark.parametrize(("before", "op", "version", "expected"), CASES)
def test_render(before: list[dict[str, Any]], op: dict[str, Any], version: tuple[int, int],
                expected: list[str]) -> None:
    assert render(state(*before), op, version) == expected


REBUILDS = [c for c in CASES if "rebuild" in str(c.id)]


# The kinds SQLite has no statement for: refused (SF331), never rendered as nothing.
REFUSED = {"create_sequence": {"name": "ticket_numbers"},
           "drop_sequence": {"name": "ticket_numbers"}}


def test_every_kind_of_the_contract_is_in_the_table() -> None:
    # every case's second value is the operation document, `{kind: {...}}`
    kinds = {next(iter(cast(dict[str, Any], c.values[1]))) for c in CASES}
    assert kinds | set(REFUSED) == set(ir.OPERATIONS)


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_a_kind_sqlite_has_no_statement_for_is_refused(kind: str) -> None:
    before = state({"create_sequence": REFUSED["create_sequence"]})
    with pytest.raises(UsageError, match="sqlite has no sequences"):
        render(before if kind == "drop_sequence" else SchemaState(), {kind: REFUSED[kind]})


@pytest.mark.parametrize(("before", "op", "version", "expected"), REBUILDS)
def test_rebuild_order(before: list[dict[str, Any]], op: dict[str, Any],
                       version: tuple[int, int], expected: list[str]) -> None:
    table = next(iter(op.values()))["table"]
    got = render(state(*before), op, version)
    tmp = f"_sf_new_{table}"
    assert got[0].startswith(f"CREATE TABLE {tmp} (")
    assert got[1].startswith(f"INSERT INTO {tmp} (")
    assert f" SELECT {table}." in got[1]
    assert got[1].endswith(f" FROM {table}")
    assert got[2] == f"DROP TABLE {table}"
    assert got[3] == f"ALTER TABLE {tmp} RENAME TO {table}"
    assert all(re.match(r"CREATE (UNIQUE )?INDEX \S+ ON " + re.escape(table) + r" \(", s)
               for s in got[4:])
    # no statement after the rename names the temporary table
    assert not any(tmp in s for s in got[4:])


@pytest.mark.parametrize(("before", "op", "version", "expected"), REBUILDS)
def test_a_rebuild_is_bracketed_by_its_markers(
        before: list[dict[str, Any]], op: dict[str, Any], version: tuple[int, int],
        expected: list[str]) -> None:
    """Every rebuild starts with the marker that checks the live table and remembers what
    only the database knows of it, and ends with the one that recreates that (run by
    schemaflow, comments in the offline script)."""
    steps = renderer_for("sqlite", version).render(ir.parse_operation(op), state(*before))
    texts = [s.sql if isinstance(s.sql, str) else "" for s in steps]
    marks = [i for i, t in enumerate(texts) if keep.is_marker(t)]
    assert len(marks) == 3 and marks[0] == 0 and marks[-1] == len(steps) - 1, texts
    assert '"phase":"before"' in texts[0] and '"phase":"after"' in texts[-1]
    assert '"phase":"rename"' in texts[marks[1]] and " RENAME TO " in texts[marks[1]]
    assert all(steps[i].compiled for i in marks)


def test_rebuild_recreates_every_index_of_the_table() -> None:
    before = state(USERS, ITEMS,
                   {"create_index": {"name": "ux_items_note", "table": "items",
                                     "columns": ["note"], "unique": True}},
                   {"create_index": {"name": "ix_items_live", "table": "items",
                                     "columns": ["qty"], "where": "qty > 0"}})
    got = render(before, {"alter_column": {"table": "items", "name": "note",
                                           "type": "string(200)"}})
    assert got[4:] == [ITEMS_IX, "CREATE UNIQUE INDEX ux_items_note ON items (note)",
                       "CREATE INDEX ix_items_live ON items (qty) WHERE qty > 0"]


def test_rebuild_leaves_other_tables_alone() -> None:
    # users is referenced by items; rebuilding users touches users only.
    before = state(*RICH)
    got = render(before, {"alter_column": {"table": "users", "name": "name",
                                           "type": "string(100)"}})
    assert got == rebuilt("users", "id INTEGER NOT NULL, name VARCHAR(100) NOT NULL, "
                          "CONSTRAINT pk_users PRIMARY KEY (id)", ["id", "name"], [])


def test_rebuild_keeps_foreign_keys_and_checks_of_the_table() -> None:
    got = render(state(*RICH), {"alter_column": {"table": "items", "name": "note",
                                                 "nullable": False}})
    assert got[0] == ("CREATE TABLE _sf_new_items (id INTEGER NOT NULL, "
                      "name VARCHAR(50) NOT NULL, qty INTEGER DEFAULT 0, note TEXT NOT NULL, "
                      f"owner_id INTEGER, {RICH_TAIL})")


def test_comment_only_alter_is_nothing_even_with_empty_comment() -> None:
    before = state(USERS, ITEMS, {"alter_column": {"table": "items", "name": "note",
                                                    "comment": "x"}})
    assert render(before, {"alter_column": {"table": "items", "name": "note",
                                            "comment": ""}}) == []


def test_server_version_none_means_a_modern_sqlite() -> None:
    before = state(USERS, ITEMS)
    op = ir.parse_operation({"drop_column": {"table": "items", "name": "note"}})
    steps = renderer_for("sqlite", None).render(op, before)
    assert [norm(compile_step(s, DIALECT)) for s in steps] == ["ALTER TABLE items DROP COLUMN note"]


def test_every_step_is_transactional_on_sqlite() -> None:
    before = state(USERS, ITEMS)
    for doc in ({"create_index": {"name": "ix_c", "table": "items", "columns": ["qty"],
                                  "concurrently": True}},
                {"alter_column": {"table": "items", "name": "qty", "type": "bigint"}}):
        steps = renderer_for("sqlite", MODERN).render(ir.parse_operation(doc), before)
        assert steps and all(s.transactional for s in steps)


# --- identifiers are quoted, values are escaped ---------------------------------------------

ODD = 'x"; DROP TABLE users; --'


def test_odd_identifiers_are_quoted_in_create_and_rebuild() -> None:
    create = {"create_table": {"name": ODD, "columns": [
        {"name": "select", "type": "integer", "primary_key": True},
        {"name": "a b", "type": "text"}]}}
    assert render(state(USERS), create) == [
        'CREATE TABLE "x""; DROP TABLE users; --" ("select" INTEGER NOT NULL, "a b" TEXT, '
        'CONSTRAINT "pk_x""; DROP TABLE users; --" PRIMARY KEY ("select"))']
    q = '"x""; DROP TABLE users; --"'
    tmp = '"_sf_new_x""; DROP TABLE users; --"'
    assert render(state(USERS, create), {"alter_column": {"table": ODD, "name": "a b",
                                                          "nullable": False}}) == [
        f'CREATE TABLE {tmp} ("select" INTEGER NOT NULL, "a b" TEXT NOT NULL, '
        'CONSTRAINT "pk_x""; DROP TABLE users; --" PRIMARY KEY ("select"))',
        f'INSERT INTO {tmp} ("select", "a b") SELECT {q}."select", {q}."a b" FROM {q}',
        f"DROP TABLE {q}",
        f"ALTER TABLE {tmp} RENAME TO {q}",
    ]


def test_odd_identifiers_in_alters_and_rows() -> None:
    create = {"create_table": {"name": ODD, "columns": [
        {"name": "select", "type": "integer", "primary_key": True},
        {"name": "from", "type": "text"}]}}
    before = state(create)
    q = '"x""; DROP TABLE users; --"'
    assert render(before, {"rename_column": {"table": ODD, "name": "from",
                                             "new_name": "to"}}) == [
        f'ALTER TABLE {q} RENAME COLUMN "from" TO "to"']
    assert render(before, {"drop_column": {"table": ODD, "name": "from"}}) == [
        f'ALTER TABLE {q} DROP COLUMN "from"']
    assert render(before, {"rename_table": {"name": ODD, "new_name": "order"}}) == [
        f'ALTER TABLE {q} RENAME TO "order"']
    assert render(before, {"insert_rows": {"table": ODD, "rows": [
        {"select": 1, "from": "'); DROP TABLE users; --"}]}}) == [
        f"INSERT INTO {q} (\"select\", \"from\") VALUES (1, '''); DROP TABLE users; --')"]


def test_insert_rows_uuid_value_given_as_a_string() -> None:
    # A changeset can only carry a uuid as a string; it must render the way SQLAlchemy
    # stores a uuid on SQLite (32 hex digits).
    before = state({"create_table": {"name": "keys", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "token", "type": "uuid"}]}})
    value = "12345678-1234-5678-1234-567812345678"
    expected_literal = sa.literal(uuid.UUID(value), sa.Uuid()).compile(
        dialect=DIALECT, compile_kwargs={"literal_binds": True})
    assert render(before, {"insert_rows": {"table": "keys", "rows": [
        {"id": 1, "token": value}]}}) == [
        f"INSERT INTO keys (id, token) VALUES (1, {expected_literal})"]

"""The PostgreSQL and MySQL/MariaDB renderers as tables of "operation → expected SQL".

No database here: an operation is rendered with `renderer_for(dialect, server version)` on the
schema its `before` operations build, and compiled with `sa_dialect(dialect)`. Statements are
compared after normalising whitespace. Execution against the real servers is in
test_dialects.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from schemaflow import ir
from schemaflow.dialects import by_name, capabilities, renderer_for
from schemaflow.dialects.render import compile_step
from schemaflow.errors import UsageError
from schemaflow.plans import Bound, Step
from schemaflow.state import SchemaState, apply_all


def sa_dialect(name: str) -> Any:
    """SQLAlchemy's dialect for offline compilation of database `name`."""
    return by_name(name).sa_dialect()

PG = ("postgresql", (15,))
PG11 = ("postgresql", (11,))
MYSQL8 = ("mysql", (8, 0, 36))
MYSQL57 = ("mysql", (5, 7, 44))
MARIADB = ("mariadb", (10, 11, 6))
MARIADB104 = ("mariadb", (10, 4, 32))


def norm(sql: str) -> str:
    """One line, single spaces, no padding inside parentheses."""
    text = " ".join(sql.split())
    return re.sub(r"\s+\)", ")", re.sub(r"\(\s+", "(", text))


def state(*docs: dict[str, Any]) -> SchemaState:
    """The schema after the given operations (as written in a changeset)."""
    return apply_all(SchemaState(), [ir.parse_operation(d) for d in docs])


def steps(target: tuple[str, tuple[int, ...] | None], before: list[dict[str, Any]],
          doc: dict[str, Any]) -> list[Step]:
    """The steps of one operation for (dialect, server version)."""
    name, version = target
    return renderer_for(name, version).render(ir.parse_operation(doc), state(*before))


def render(target: tuple[str, tuple[int, ...] | None], before: list[dict[str, Any]],
           doc: dict[str, Any]) -> list[str]:
    """The normalised statements of one operation."""
    dialect = sa_dialect(target[0])
    return [norm(compile_step(s, dialect)) for s in steps(target, before, doc)]


# --- the schemas the operations run on --------------------------------------------------------

USERS = {"create_table": {"name": "users", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "name", "type": "string(50)", "nullable": False},
]}}

ITEMS = {"create_table": {
    "name": "items",
    "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "name", "type": "string(50)", "nullable": False, "default": "none",
         "comment": "the name"},
        {"name": "qty", "type": "integer", "default": 0},
        {"name": "note", "type": "text"},
        {"name": "owner_id", "type": "integer"},
        {"name": "code", "type": "string(20)"},
        {"name": "slot", "type": "integer"},
    ],
    "unique": [{"name": "uq_items_code_slot", "columns": ["code", "slot"]}],
    "foreign_keys": [{"name": "fk_items_owner", "columns": ["owner_id"],
                      "references": {"table": "users", "columns": ["id"]},
                      "ondelete": "SET NULL"}],
    "checks": [{"name": "ck_items_qty", "expression": "qty >= 0"}],
    "indexes": [{"name": "ix_items_name", "columns": ["name"]},
                {"name": "ix_items_owner_qty", "columns": ["owner_id", "qty"]}],
}}
BASE: list[dict[str, Any]] = [USERS, ITEMS]

MOOD = {"create_table": {"name": "mood", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "feeling", "type": "enum(happy,sad)", "nullable": False},
]}}

ORDER_LINES = {"create_table": {"name": "order_lines", "columns": [
    {"name": "n", "type": "integer", "autoincrement": True},
    {"name": "order_id", "type": "integer"},
], "primary_key": {"columns": ["n", "order_id"]}}}

CHILD = {"create_table": {"name": "child", "columns": [
    {"name": "id", "type": "integer", "primary_key": True}],
    "foreign_keys": [{"columns": ["id"], "references": {"table": "users", "columns": ["id"]}}]}}

LOOSE_CHILD = {"create_table": {"name": "child", "columns": [
    {"name": "id", "type": "integer", "nullable": False}],
    "foreign_keys": [{"columns": ["id"], "references": {"table": "users", "columns": ["id"]}}]}}

DOCS = {"create_table": {"name": "docs", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "body", "type": "text", "default": "{}"},
    {"name": "tags", "type": "array(text)"},
    {"name": "Odd", "type": "integer"},
    {"name": "n", "type": "integer"},
    {"name": "size", "type": "integer", "computed": {"expression": "n * 2"}},
]}}

FIXED = {"create_table": {"name": "fixed", "columns": [
    {"name": "id", "type": "integer", "primary_key": True, "autoincrement": False},
]}}

CREATE_FULL = {"create_table": {
    "name": "posts",
    "comment": "blog posts",
    "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "author_id", "type": "integer", "nullable": False},
        {"name": "title", "type": "string(200)", "nullable": False, "comment": "it's shown"},
        {"name": "published", "type": "boolean", "nullable": False, "default": False},
        {"name": "status", "type": "enum(draft,live)", "default": "draft"},
        {"name": "kind", "type": "enum(a,b,name=post_kind)"},
        {"name": "created_at", "type": "datetime", "nullable": False,
         "default_sql": "CURRENT_TIMESTAMP"},
    ],
    "unique": [{"columns": ["author_id", "title"]}],
    "foreign_keys": [{"columns": ["author_id"], "references": {"table": "users", "columns": ["id"]},
                      "ondelete": "CASCADE"}],
    "checks": [{"expression": "length(title) > 0", "name": "ck_posts_title"}],
    "indexes": [{"name": "ix_posts_created", "columns": ["created_at"]}],
}}

CREATE_FULL_CONSTRAINTS = (
    "CONSTRAINT pk_posts PRIMARY KEY (id), "
    "CONSTRAINT uq_posts_author_id_title UNIQUE (author_id, title), "
    "CONSTRAINT ck_posts_title CHECK (length(title) > 0), "
    "CONSTRAINT fk_posts_author_id_users FOREIGN KEY(author_id) REFERENCES users (id) "
    "ON DELETE CASCADE")


def alter(name: str, **kw: Any) -> dict[str, Any]:
    return {"alter_column": {"table": "items", "name": name, **kw}}


def drop_constraint(name: str, kind: str) -> dict[str, Any]:
    return {"drop_constraint": {"name": name, "table": "items", "type": kind}}


# --- PostgreSQL -------------------------------------------------------------------------------

SERIAL_TO_BIGINT = ("DO $sf$ DECLARE s text := pg_get_serial_sequence('{table}', '{column}'); "
                    "BEGIN IF s IS NOT NULL THEN EXECUTE 'ALTER SEQUENCE ' || s || ' AS bigint'; "
                    "END IF; END $sf$")

DROP_ITEMS_SERIAL = ("DO $sf$ DECLARE s text := pg_get_serial_sequence('items', 'id'); BEGIN IF "
                     "s IS NOT NULL THEN EXECUTE 'DROP SEQUENCE ' || s; END IF; END $sf$")

POSTGRESQL_CASES = [
    # A SERIAL key's sequence follows its column's integer type (it kept the type it was
    # made with: a key widened to bigint still stopped at 2,147,483,647).
    pytest.param(
        BASE, alter("id", type="bigint"),
        ["ALTER TABLE items ALTER COLUMN id TYPE BIGINT",
         SERIAL_TO_BIGINT.format(table="items", column="id")],
        id="alter_column-serial-key-sequence-follows"),
    pytest.param(
        [ORDER_LINES], {"alter_column": {"table": "order_lines", "name": "n", "type": "bigint"}},
        ["ALTER TABLE order_lines ALTER COLUMN n TYPE BIGINT",
         SERIAL_TO_BIGINT.format(table="order_lines", column="n")],
        id="alter_column-serial-column-of-a-composite-key"),
    pytest.param(
        [ORDER_LINES], {"alter_column": {"table": "order_lines", "name": "order_id",
                                         "type": "bigint"}},
        ["ALTER TABLE order_lines ALTER COLUMN order_id TYPE BIGINT"],
        id="alter_column-plain-column-of-a-composite-key"),
    pytest.param(
        [FIXED], {"alter_column": {"table": "fixed", "name": "id", "type": "bigint"}},
        ["ALTER TABLE fixed ALTER COLUMN id TYPE BIGINT"], id="alter_column-key-not-serial"),
    pytest.param(
        BASE, alter("id", type="string(36)", default_sql="gen_random_uuid()::text"),
        ["ALTER TABLE items ALTER COLUMN id TYPE VARCHAR(36)",
         "ALTER TABLE items ALTER COLUMN id SET DEFAULT gen_random_uuid()::text",
         DROP_ITEMS_SERIAL],
        id="alter_column-serial-key-given-a-default-of-its-own-keeps-it"),
    pytest.param(
        [{"create_table": {"name": "t$sf$x", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}}],
        {"alter_column": {"table": "t$sf$x", "name": "id", "type": "bigint"}},
        ["ALTER TABLE t$sf$x ALTER COLUMN id TYPE BIGINT",
         "DO $sf1$ DECLARE s text := pg_get_serial_sequence('t$sf$x', 'id'); BEGIN IF s "
         "IS NOT NULL THEN EXECUTE 'ALTER SEQUENCE ' || s || ' AS bigint'; END IF; END $sf1$"],
        id="alter_column-serial-key-of-a-table-named-with-the-dollar-tag"),
    pytest.param(
        [{"create_table": {"name": "Odd's", "columns": [
            {"name": "Id", "type": "integer", "primary_key": True}]}}],
        {"alter_column": {"table": "Odd's", "name": "Id", "type": "bigint"}},
        ['ALTER TABLE "Odd\'s" ALTER COLUMN "Id" TYPE BIGINT',
         SERIAL_TO_BIGINT.format(table='"Odd\'\'s"', column="Id")],
        id="alter_column-serial-key-quoted-names"),
    # The collation goes with the type (it was left out: the column lost it, or never got it).
    pytest.param(
        BASE, alter("name", type="string(60)", collation="C"),
        ['ALTER TABLE items ALTER COLUMN name TYPE VARCHAR(60) COLLATE "C"'],
        id="alter_column-type-with-collation"),
    pytest.param(
        BASE, alter("name", type="string(50)", collation="C"),
        ['ALTER TABLE items ALTER COLUMN name TYPE VARCHAR(50) COLLATE "C"'],
        id="alter_column-collation-only"),
    # A key that stops or starts being an integer loses or gains SERIAL's numbering, as
    # create_all() builds it (its sequence and default stayed behind, refused by check).
    pytest.param(
        BASE, alter("id", type="numeric(12, 0)"),
        ["ALTER TABLE items ALTER COLUMN id TYPE NUMERIC(12, 0)",
         "ALTER TABLE items ALTER COLUMN id DROP DEFAULT",
         DROP_ITEMS_SERIAL],
        id="alter_column-serial-key-to-a-non-integer-type"),
    pytest.param(
        [{"create_table": {"name": "codes", "columns": [
            {"name": "id", "type": "string(10)", "primary_key": True}]}}],
        {"alter_column": {"table": "codes", "name": "id", "type": "integer",
                          "using": "id::integer"}},
        ["ALTER TABLE codes ALTER COLUMN id TYPE INTEGER USING id::integer",
         "CREATE SEQUENCE codes_id_seq AS integer OWNED BY codes.id",
         "ALTER TABLE codes ALTER COLUMN id SET DEFAULT nextval('codes_id_seq'::regclass)",
         "SELECT setval('codes_id_seq'::regclass, COALESCE(max(id), 0) + 1, false) FROM codes"],
        id="alter_column-string-key-to-an-integer-is-numbered"),
    pytest.param(
        [USERS], CREATE_FULL,
        ["CREATE TYPE posts_status_enum AS ENUM ('draft', 'live')",
         "CREATE TYPE post_kind AS ENUM ('a', 'b')",
         "CREATE TABLE posts (id SERIAL NOT NULL, author_id INTEGER NOT NULL, "
         "title VARCHAR(200) NOT NULL, published BOOLEAN DEFAULT false NOT NULL, "
         "status posts_status_enum DEFAULT 'draft', kind post_kind, "
         "created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL, "
         f"{CREATE_FULL_CONSTRAINTS})",
         "CREATE INDEX ix_posts_created ON posts (created_at)",
         "COMMENT ON TABLE posts IS 'blog posts'",
         "COMMENT ON COLUMN posts.title IS 'it''s shown'"],
        id="create_table-enum-types-and-comments"),
    pytest.param(
        BASE, {"drop_table": {"name": "items"}}, ["DROP TABLE items"], id="drop_table"),
    pytest.param(
        [MOOD], {"drop_table": {"name": "mood"}},
        ["DROP TABLE mood", "DROP TYPE mood_feeling_enum"], id="drop_table-drops-its-enum-type"),
    pytest.param(
        BASE, {"rename_table": {"name": "items", "new_name": "goods"}},
        ["ALTER TABLE items RENAME TO goods"], id="rename_table"),
    pytest.param(
        BASE, {"add_column": {"table": "items", "column": {
            "name": "sku", "type": "string(20)", "nullable": False, "default": "x",
            "unique": True, "comment": "the sku"}}},
        ["ALTER TABLE items ADD COLUMN sku VARCHAR(20) DEFAULT 'x' NOT NULL",
         "ALTER TABLE items ADD CONSTRAINT uq_items_sku UNIQUE (sku)",
         "COMMENT ON COLUMN items.sku IS 'the sku'"],
        id="add_column-not-null-default-unique-comment"),
    pytest.param(
        BASE, {"add_column": {"table": "items", "column": {
            "name": "seen", "type": "datetime(timezone=true)", "index": True}}},
        ["ALTER TABLE items ADD COLUMN seen TIMESTAMP WITH TIME ZONE",
         "CREATE INDEX ix_items_seen ON items (seen)"],
        id="add_column-indexed"),
    pytest.param(
        BASE, {"add_column": {"table": "items", "column": {"name": "st", "type": "enum(a,b)"}}},
        ["CREATE TYPE items_st_enum AS ENUM ('a', 'b')",
         "ALTER TABLE items ADD COLUMN st items_st_enum"],
        id="add_column-enum-creates-the-type-first"),
    pytest.param(
        BASE, {"drop_column": {"table": "items", "name": "owner_id"}},
        ["ALTER TABLE items DROP COLUMN owner_id"],
        id="drop_column-postgresql-drops-dependents-itself"),
    pytest.param(
        [MOOD, {"add_column": {"table": "mood", "column": {"name": "x", "type": "integer"}}}],
        {"drop_column": {"table": "mood", "name": "feeling"}},
        ["ALTER TABLE mood DROP COLUMN feeling", "DROP TYPE mood_feeling_enum"],
        id="drop_column-last-user-of-an-enum-drops-the-type-after"),
    pytest.param(
        BASE, {"rename_column": {"table": "items", "name": "name", "new_name": "title"}},
        ["ALTER TABLE items RENAME COLUMN name TO title"], id="rename_column"),
    pytest.param(
        BASE, alter("name", type="string(100)"),
        ["ALTER TABLE items ALTER COLUMN name TYPE VARCHAR(100)"], id="alter_column-type"),
    pytest.param(
        BASE, alter("code", type="integer", using="code::integer"),
        ["ALTER TABLE items ALTER COLUMN code TYPE INTEGER USING code::integer"],
        id="alter_column-type-using"),
    pytest.param(
        BASE, alter("code", type="enum(a,b)"),
        ["CREATE TYPE items_code_enum AS ENUM ('a', 'b')",
         'ALTER TABLE items ALTER COLUMN code TYPE items_code_enum '
         'USING "code"::text::"items_code_enum"'],
        id="alter_column-type-to-enum-casts-through-text"),
    # Where PostgreSQL has no assignment cast from the old type it refuses the change
    # ("cannot be cast automatically"), even on an empty table: the column is cast
    # explicitly, and a default (cast with the column, by assignment) is set again after.
    pytest.param(
        BASE, alter("note", type="json"),
        ["ALTER TABLE items ALTER COLUMN note TYPE JSON USING note::JSON"],
        id="alter_column-text-to-json-casts"),
    pytest.param(
        [DOCS], {"alter_column": {"table": "docs", "name": "body", "type": "postgresql.jsonb"}},
        ["ALTER TABLE docs ALTER COLUMN body DROP DEFAULT",
         "ALTER TABLE docs ALTER COLUMN body TYPE JSONB USING body::JSONB",
         "ALTER TABLE docs ALTER COLUMN body SET DEFAULT '{}'"],
        id="alter_column-cast-with-a-default-sets-it-again"),
    pytest.param(
        [DOCS], {"alter_column": {"table": "docs", "name": "tags", "type": "array(integer)"}},
        ['ALTER TABLE docs ALTER COLUMN tags TYPE INTEGER[] USING tags::INTEGER[]'],
        id="alter_column-array-elements-cast"),
    pytest.param(
        [DOCS], {"alter_column": {"table": "docs", "name": "Odd", "type": "boolean"}},
        ['ALTER TABLE docs ALTER COLUMN "Odd" TYPE BOOLEAN USING "Odd"::BOOLEAN'],
        id="alter_column-cast-quotes-the-column"),
    pytest.param(
        [MOOD], {"alter_column": {"table": "mood", "name": "feeling", "type": "integer"}},
        ["ALTER TABLE mood ALTER COLUMN feeling TYPE INTEGER USING feeling::text::INTEGER",
         "DROP TYPE mood_feeling_enum"],
        id="alter_column-enum-to-integer-casts-through-text"),
    # Not where an assignment cast exists: an explicit cast to a shorter VARCHAR would cut
    # the values that PostgreSQL's own conversion refuses.
    pytest.param(
        BASE, alter("name", type="string(10)"),
        ["ALTER TABLE items ALTER COLUMN name TYPE VARCHAR(10)"],
        id="alter_column-narrower-varchar-is-not-cast"),
    pytest.param(
        [DOCS], {"alter_column": {"table": "docs", "name": "tags", "type": "text"}},
        ["ALTER TABLE docs ALTER COLUMN tags TYPE TEXT"],
        id="alter_column-to-text-is-not-cast"),
    # PostgreSQL refuses USING on a generated column (it computes the values again): one
    # with an assignment cast is altered as it is; one without, refused (test_pg_casts.py).
    pytest.param(
        [DOCS], {"alter_column": {"table": "docs", "name": "size", "type": "bigint"}},
        ["ALTER TABLE docs ALTER COLUMN size TYPE BIGINT"],
        id="alter_column-generated-column-is-never-cast"),
    # A SERIAL key that becomes a type nextval()'s bigint has no assignment cast to loses
    # its default before the cast (PostgreSQL would cast the default too).
    pytest.param(
        BASE, alter("id", type="boolean"),
        ["ALTER TABLE items ALTER COLUMN id DROP DEFAULT",
         "ALTER TABLE items ALTER COLUMN id TYPE BOOLEAN USING id::BOOLEAN",
         DROP_ITEMS_SERIAL],
        id="alter_column-serial-key-cast-drops-its-default-first"),
    pytest.param(
        BASE, alter("name", nullable=True),
        ["ALTER TABLE items ALTER COLUMN name DROP NOT NULL"], id="alter_column-nullable"),
    pytest.param(
        BASE, alter("qty", nullable=False, default=5),
        ["ALTER TABLE items ALTER COLUMN qty SET NOT NULL",
         "ALTER TABLE items ALTER COLUMN qty SET DEFAULT 5"],
        id="alter_column-nullable-and-default-are-separate-clauses"),
    pytest.param(
        BASE, alter("name", drop_default=True),
        ["ALTER TABLE items ALTER COLUMN name DROP DEFAULT"], id="alter_column-drop_default"),
    pytest.param(
        BASE, alter("name", default_sql="upper('x')"),
        ["ALTER TABLE items ALTER COLUMN name SET DEFAULT upper('x')"],
        id="alter_column-default_sql"),
    pytest.param(
        BASE, alter("name", comment="it's new"),
        ["COMMENT ON COLUMN items.name IS 'it''s new'"], id="alter_column-comment"),
    pytest.param(
        BASE, alter("name", comment=""),
        ["COMMENT ON COLUMN items.name IS NULL"], id="alter_column-remove-comment"),
    pytest.param(
        BASE, alter("note", type="string(30)", nullable=False, default="it's", comment="c"),
        ["ALTER TABLE items ALTER COLUMN note TYPE VARCHAR(30)",
         "ALTER TABLE items ALTER COLUMN note SET NOT NULL",
         "ALTER TABLE items ALTER COLUMN note SET DEFAULT 'it''s'",
         "COMMENT ON COLUMN items.note IS 'c'"],
        id="alter_column-everything-one-clause-each"),
    pytest.param(
        [MOOD], {"alter_column": {"table": "mood", "name": "feeling",
                                  "type": "enum(happy,sad,meh)"}},
        ["ALTER TYPE mood_feeling_enum ADD VALUE 'meh'"],
        id="alter_column-enum-new-value-adds-it-to-the-type-only"),
    pytest.param(
        [MOOD], {"alter_column": {"table": "mood", "name": "feeling",
                                  "type": "enum(meh,happy,ok,fine,sad,great)"}},
        ["ALTER TYPE mood_feeling_enum ADD VALUE 'meh' BEFORE 'happy'",
         "ALTER TYPE mood_feeling_enum ADD VALUE 'ok' BEFORE 'sad'",
         "ALTER TYPE mood_feeling_enum ADD VALUE 'fine' BEFORE 'sad'",
         "ALTER TYPE mood_feeling_enum ADD VALUE 'great'"],
        id="alter_column-enum-new-values-where-the-list-puts-them"),
    pytest.param(
        BASE, {"create_index": {"name": "ix_q", "table": "items", "columns": ["qty"],
                                "where": "qty > 0"}},
        ["CREATE INDEX ix_q ON items (qty) WHERE qty > 0"], id="create_index-partial"),
    pytest.param(
        BASE, {"create_index": {"name": "ux_q", "table": "items", "columns": ["qty", "code"],
                                "unique": True}},
        ["CREATE UNIQUE INDEX ux_q ON items (qty, code)"], id="create_index-unique"),
    pytest.param(
        BASE, {"create_index": {"name": "ix_q", "table": "items", "columns": ["qty"],
                                "concurrently": True}},
        ["CREATE INDEX CONCURRENTLY ix_q ON items (qty)"], id="create_index-concurrently"),
    pytest.param(
        BASE, {"drop_index": {"name": "ix_items_owner_qty", "table": "items"}},
        ["DROP INDEX ix_items_owner_qty"], id="drop_index"),
    pytest.param(
        BASE, {"create_unique_constraint": {"name": "uq_n", "table": "items",
                                            "columns": ["name"]}},
        ["ALTER TABLE items ADD CONSTRAINT uq_n UNIQUE (name)"], id="create_unique_constraint"),
    pytest.param(
        BASE, {"create_foreign_key": {
            "name": "fk_x", "table": "items", "columns": ["slot"],
            "references": {"table": "users", "columns": ["id"]}, "ondelete": "CASCADE",
            "onupdate": "SET NULL"}},
        ["ALTER TABLE items ADD CONSTRAINT fk_x FOREIGN KEY(slot) REFERENCES users (id) "
         "ON DELETE CASCADE ON UPDATE SET NULL"], id="create_foreign_key"),
    pytest.param(
        BASE, {"create_check_constraint": {"name": "ck_x", "table": "items",
                                           "expression": "slot > 0"}},
        ["ALTER TABLE items ADD CONSTRAINT ck_x CHECK (slot > 0)"], id="create_check_constraint"),
    pytest.param(
        [{"create_table": {"name": "loose", "columns": [
            {"name": "code", "type": "string(20)", "nullable": False}]}}],
        {"create_primary_key": {"name": "pk_loose", "table": "loose", "columns": ["code"]}},
        ["ALTER TABLE loose ADD CONSTRAINT pk_loose PRIMARY KEY (code)"],
        id="create_primary_key"),
    *[pytest.param(BASE, drop_constraint(name, kind),
                   [f"ALTER TABLE items DROP CONSTRAINT {name}"], id=f"drop_constraint-{kind}")
      for name, kind in [("uq_items_code_slot", "unique"), ("fk_items_owner", "foreign_key"),
                         ("ck_items_qty", "check")]],
    # A key added later, or dropped, is ADD / DROP CONSTRAINT alone, as Alembic's and
    # Liquibase's histories build it (a SERIAL's sequence stays; see the README).
    pytest.param(
        BASE, drop_constraint("pk_items", "primary_key"),
        ["ALTER TABLE items DROP CONSTRAINT pk_items"], id="drop_constraint-primary_key-alone"),
    pytest.param(
        [{"create_table": {"name": "pair", "primary_key": {"columns": ["a", "b"]}, "columns": [
            {"name": "a", "type": "integer"}, {"name": "b", "type": "integer"}]}}],
        {"drop_constraint": {"name": "pk_pair", "table": "pair", "type": "primary_key"}},
        ["ALTER TABLE pair DROP CONSTRAINT pk_pair"], id="drop_constraint-primary_key"),
    pytest.param(
        [{"create_table": {"name": "loose", "schema": "app", "columns": [
            {"name": "id", "type": "bigint", "nullable": False}]}}],
        {"create_primary_key": {"name": "pk_loose", "table": "loose", "schema": "app",
                                "columns": ["id"]}},
        ["ALTER TABLE app.loose ADD CONSTRAINT pk_loose PRIMARY KEY (id)"],
        id="create_primary_key-alone"),
    pytest.param(
        [{"create_table": {"name": "loose", "columns": [
            {"name": "id", "type": "integer", "nullable": False, "autoincrement": False}]}}],
        {"create_primary_key": {"name": "pk_loose", "table": "loose", "columns": ["id"]}},
        ["ALTER TABLE loose ADD CONSTRAINT pk_loose PRIMARY KEY (id)"],
        id="create_primary_key-told-not-numbered"),
    pytest.param(
        [USERS, LOOSE_CHILD], {"create_primary_key": {"name": "pk_child", "table": "child",
                                                     "columns": ["id"]}},
        ["ALTER TABLE child ADD CONSTRAINT pk_child PRIMARY KEY (id)"],
        id="create_primary_key-on-a-foreign-key-leaves-it-unnumbered"),
    pytest.param(
        [USERS, CHILD], {"alter_column": {"table": "child", "name": "id", "type": "bigint"}},
        ["ALTER TABLE child ALTER COLUMN id TYPE BIGINT"],
        id="alter_column-key-that-is-a-foreign-key-has-no-sequence"),
    pytest.param(
        BASE, {"insert_rows": {"table": "items", "rows": [
            {"id": 1, "name": "it's", "qty": None, "note": "x"}]}},
        ["INSERT INTO items (id, name, qty, note) VALUES (1, 'it''s', NULL, 'x')"],
        id="insert_rows"),
    pytest.param(
        BASE, {"delete_rows": {"table": "items", "rows": [{"id": 1, "note": None}]}},
        ["DELETE FROM items WHERE items.id = 1 AND items.note IS NULL"], id="delete_rows"),
]


@pytest.mark.parametrize(("before", "op", "expected"), POSTGRESQL_CASES)
def test_postgresql(before: list[dict[str, Any]], op: dict[str, Any],
                    expected: list[str]) -> None:
    assert render(PG, before, op) == expected


# --- MySQL and MariaDB ------------------------------------------------------------------------

NAME_SPEC = "VARCHAR(50) NOT NULL COMMENT 'the name' DEFAULT 'none'"

MYSQL_CASES = [
    pytest.param(
        [USERS], CREATE_FULL, [MYSQL8, MARIADB],
        ["CREATE TABLE posts (id INTEGER NOT NULL AUTO_INCREMENT, author_id INTEGER NOT NULL, "
         "title VARCHAR(200) NOT NULL COMMENT 'it''s shown', "
         "published BOOL NOT NULL DEFAULT false, status ENUM('draft','live') DEFAULT 'draft', "
         "kind ENUM('a','b'), created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "
         f"{CREATE_FULL_CONSTRAINTS})COMMENT='blog posts'",
         "CREATE INDEX ix_posts_created ON posts (created_at)"],
        id="create_table-inline-comments-and-enums"),
    pytest.param(
        BASE, {"rename_table": {"name": "items", "new_name": "goods"}}, [MYSQL8, MARIADB],
        ["ALTER TABLE items RENAME TO goods"], id="rename_table"),
    pytest.param(
        BASE, {"add_column": {"table": "items", "column": {
            "name": "sku", "type": "string(20)", "nullable": False, "default": "x",
            "unique": True, "comment": "the sku"}}}, [MYSQL8, MARIADB],
        ["ALTER TABLE items ADD COLUMN sku VARCHAR(20) NOT NULL COMMENT 'the sku' DEFAULT 'x'",
         "ALTER TABLE items ADD CONSTRAINT uq_items_sku UNIQUE (sku)"],
        id="add_column-comment-inline"),
    # MODIFY COLUMN restates the whole column: what the operation leaves alone comes from the
    # state (type, nullability, default, comment).
    pytest.param(
        BASE, alter("name", type="string(100)"), [MYSQL8, MARIADB],
        ["ALTER TABLE items MODIFY COLUMN name VARCHAR(100) NOT NULL COMMENT 'the name' "
         "DEFAULT 'none'"], id="alter_column-type-keeps-the-rest"),
    pytest.param(
        BASE, alter("name", nullable=True), [MYSQL8, MARIADB],
        ["ALTER TABLE items MODIFY COLUMN name VARCHAR(50) COMMENT 'the name' DEFAULT 'none'"],
        id="alter_column-nullable-keeps-the-rest"),
    pytest.param(
        BASE, alter("name", default="other"), [MYSQL8, MARIADB],
        ["ALTER TABLE items MODIFY COLUMN name VARCHAR(50) NOT NULL COMMENT 'the name' "
         "DEFAULT 'other'"], id="alter_column-default-keeps-the-rest"),
    pytest.param(
        BASE, alter("qty", nullable=False, default=5), [MYSQL8, MARIADB],
        ["ALTER TABLE items MODIFY COLUMN qty INTEGER NOT NULL DEFAULT 5"],
        id="alter_column-nullable-and-default-one-statement"),
    pytest.param(
        BASE, alter("name", drop_default=True), [MYSQL8, MARIADB],
        ["ALTER TABLE items MODIFY COLUMN name VARCHAR(50) NOT NULL COMMENT 'the name'"],
        id="alter_column-drop_default-keeps-the-rest"),
    pytest.param(
        BASE, alter("name", comment="it's new"), [MYSQL8, MARIADB],
        ["ALTER TABLE items MODIFY COLUMN name VARCHAR(50) NOT NULL COMMENT 'it''s new' "
         "DEFAULT 'none'"], id="alter_column-comment-keeps-the-rest"),
    pytest.param(
        BASE, alter("name", comment=""), [MYSQL8, MARIADB],
        ["ALTER TABLE items MODIFY COLUMN name VARCHAR(50) NOT NULL DEFAULT 'none'"],
        id="alter_column-remove-comment"),
    pytest.param(
        BASE, alter("note", type="string(30)", nullable=False, default="it's", comment="c"),
        [MYSQL8, MARIADB],
        ["ALTER TABLE items MODIFY COLUMN note VARCHAR(30) NOT NULL COMMENT 'c' "
         "DEFAULT 'it''s'"], id="alter_column-everything-one-statement"),
    pytest.param(
        [MOOD], {"alter_column": {"table": "mood", "name": "feeling",
                                  "type": "enum(happy,sad,meh)"}}, [MYSQL8, MARIADB],
        ["ALTER TABLE mood MODIFY COLUMN feeling ENUM('happy','sad','meh') NOT NULL"],
        id="alter_column-enum-values"),
    # A numbered key restated keeps its numbering (it was restated without AUTO_INCREMENT:
    # the key's type change or rename silently stopped numbering it); one told not to be
    # numbered stays unnumbered.
    pytest.param(
        BASE, alter("id", type="bigint"), [MYSQL8, MARIADB],
        ["ALTER TABLE items MODIFY COLUMN id BIGINT NOT NULL AUTO_INCREMENT"],
        id="alter_column-numbered-key-stays-numbered"),
    pytest.param(
        BASE, {"rename_column": {"table": "items", "name": "id", "new_name": "item_id"}},
        [MYSQL57, MARIADB104],
        ["ALTER TABLE items CHANGE COLUMN id item_id INTEGER NOT NULL AUTO_INCREMENT"],
        id="rename_column-numbered-key-stays-numbered"),
    pytest.param(
        [ORDER_LINES], {"alter_column": {"table": "order_lines", "name": "n", "type": "bigint"}},
        [MYSQL8, MARIADB],
        ["ALTER TABLE order_lines MODIFY COLUMN n BIGINT NOT NULL AUTO_INCREMENT"],
        id="alter_column-numbered-column-of-a-composite-key"),
    pytest.param(
        [ORDER_LINES], {"alter_column": {"table": "order_lines", "name": "order_id",
                                         "type": "bigint"}},
        [MYSQL8, MARIADB], ["ALTER TABLE order_lines MODIFY COLUMN order_id BIGINT NOT NULL"],
        id="alter_column-unnumbered-column-of-a-composite-key"),
    pytest.param(
        [FIXED], {"alter_column": {"table": "fixed", "name": "id", "type": "bigint"}},
        [MYSQL8, MARIADB], ["ALTER TABLE fixed MODIFY COLUMN id BIGINT NOT NULL"],
        id="alter_column-key-told-not-numbered"),
    # Renaming a column: CHANGE COLUMN (restating it) before MySQL 8.0 / MariaDB 10.5.2.
    pytest.param(
        BASE, {"rename_column": {"table": "items", "name": "name", "new_name": "title"}},
        [MYSQL57, MARIADB104, ("mariadb", (10, 5, 1))],
        [f"ALTER TABLE items CHANGE COLUMN name title {NAME_SPEC}"],
        id="rename_column-change-column-on-old-servers"),
    pytest.param(
        BASE, {"rename_column": {"table": "items", "name": "name", "new_name": "title"}},
        [("mysql", (8, 0)), MYSQL8, ("mariadb", (10, 5, 2)), MARIADB, ("mysql", None)],
        ["ALTER TABLE items RENAME COLUMN name TO title"],
        id="rename_column-rename-column-on-new-servers"),
    pytest.param(
        BASE, drop_constraint("ck_items_qty", "check"), [MYSQL8],
        ["ALTER TABLE items DROP CHECK ck_items_qty"], id="drop_constraint-check-mysql"),
    pytest.param(
        BASE, drop_constraint("ck_items_qty", "check"), [MARIADB, MARIADB104],
        ["ALTER TABLE items DROP CONSTRAINT ck_items_qty"], id="drop_constraint-check-mariadb"),
    pytest.param(
        BASE, drop_constraint("uq_items_code_slot", "unique"), [MYSQL8, MARIADB],
        ["ALTER TABLE items DROP INDEX uq_items_code_slot"], id="drop_constraint-unique"),
    pytest.param(
        BASE, drop_constraint("fk_items_owner", "foreign_key"), [MYSQL8, MARIADB],
        ["ALTER TABLE items DROP FOREIGN KEY fk_items_owner"], id="drop_constraint-foreign_key"),
    pytest.param(
        [{"create_table": {"name": "pair", "primary_key": {"columns": ["a", "b"]}, "columns": [
            {"name": "a", "type": "integer"}, {"name": "b", "type": "integer"}]}}],
        {"drop_constraint": {"name": "pk_pair", "table": "pair", "type": "primary_key"}},
        [MYSQL8, MARIADB], ["ALTER TABLE pair DROP PRIMARY KEY"],
        id="drop_constraint-primary_key"),
    pytest.param(
        [{"create_table": {"name": "loose", "columns": [
            {"name": "id", "type": "integer", "nullable": False}]}}],
        {"create_primary_key": {"name": "pk_loose", "table": "loose", "columns": ["id"]}},
        [MYSQL8, MARIADB], ["ALTER TABLE loose ADD CONSTRAINT pk_loose PRIMARY KEY (id)"],
        id="create_primary_key-alone"),
    # A key that is also a foreign key is not numbered unless told (as create_all() has it).
    pytest.param(
        [USERS, CHILD], {"alter_column": {"table": "child", "name": "id", "comment": "c"}},
        [MYSQL8, MARIADB], ["ALTER TABLE child MODIFY COLUMN id INTEGER NOT NULL COMMENT 'c'"],
        id="alter_column-key-that-is-a-foreign-key-stays-unnumbered"),
    pytest.param(
        [USERS, LOOSE_CHILD], {"create_primary_key": {"name": "pk_child", "table": "child",
                                                     "columns": ["id"]}},
        [MYSQL8, MARIADB], ["ALTER TABLE child ADD CONSTRAINT pk_child PRIMARY KEY (id)"],
        id="create_primary_key-on-a-foreign-key-leaves-it-unnumbered"),
    # InnoDB refuses to drop the only index a foreign key can use: the key goes and comes back.
    pytest.param(
        BASE, {"drop_index": {"name": "ix_items_owner_qty", "table": "items"}},
        [MYSQL8, MARIADB],
        ["ALTER TABLE items DROP FOREIGN KEY fk_items_owner",
         "DROP INDEX ix_items_owner_qty ON items",
         "ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY(owner_id) "
         "REFERENCES users (id) ON DELETE SET NULL"],
        id="drop_index-a-foreign-key-needs"),
    pytest.param(
        [*BASE, {"create_index": {"name": "ix_items_owner", "table": "items",
                                  "columns": ["owner_id"]}}],
        {"drop_index": {"name": "ix_items_owner_qty", "table": "items"}}, [MYSQL8, MARIADB],
        ["DROP INDEX ix_items_owner_qty ON items"],
        id="drop_index-another-index-serves-the-foreign-key"),
    pytest.param(
        BASE, {"drop_index": {"name": "ix_items_name", "table": "items"}}, [MYSQL8, MARIADB],
        ["DROP INDEX ix_items_name ON items"], id="drop_index"),
    # MySQL shrinks a multi-column index or unique key instead of dropping it, and refuses to
    # drop a column a foreign key or a check uses: the dependents go first.
    pytest.param(
        BASE, {"drop_column": {"table": "items", "name": "note"}}, [MYSQL8, MARIADB],
        ["ALTER TABLE items DROP COLUMN note"], id="drop_column-no-dependents"),
    pytest.param(
        BASE, {"drop_column": {"table": "items", "name": "slot"}}, [MYSQL8, MARIADB],
        ["ALTER TABLE items DROP INDEX uq_items_code_slot", "ALTER TABLE items DROP COLUMN slot"],
        id="drop_column-in-a-multi-column-unique"),
    pytest.param(
        BASE, {"drop_column": {"table": "items", "name": "owner_id"}}, [MYSQL8, MARIADB],
        ["ALTER TABLE items DROP FOREIGN KEY fk_items_owner",
         "DROP INDEX ix_items_owner_qty ON items",
         "ALTER TABLE items DROP COLUMN owner_id"],
        id="drop_column-with-foreign-key-and-index"),
    pytest.param(
        BASE, {"drop_column": {"table": "items", "name": "name"}}, [MYSQL8, MARIADB],
        ["DROP INDEX ix_items_name ON items", "ALTER TABLE items DROP COLUMN name"],
        id="drop_column-indexed"),
    pytest.param(
        [{"create_table": {"name": "pair", "primary_key": {"columns": ["a", "b"]}, "columns": [
            {"name": "a", "type": "integer"}, {"name": "b", "type": "integer"},
            {"name": "c", "type": "integer"}]}}],
        {"drop_column": {"table": "pair", "name": "b"}}, [MYSQL8, MARIADB],
        ["ALTER TABLE pair DROP PRIMARY KEY", "ALTER TABLE pair DROP COLUMN b"],
        id="drop_column-in-a-composite-primary-key"),
    pytest.param(
        BASE, {"create_index": {"name": "ix_q", "table": "items", "columns": ["qty"],
                                "concurrently": True}}, [MYSQL8, MARIADB],
        ["CREATE INDEX ix_q ON items (qty)"], id="create_index-concurrently-is-plain"),
    pytest.param(
        BASE, {"create_check_constraint": {"name": "ck_x", "table": "items",
                                           "expression": "slot > 0"}},
        [("mysql", (8, 0, 16)), MARIADB, ("mariadb", (10, 2, 1))],
        ["ALTER TABLE items ADD CONSTRAINT ck_x CHECK (slot > 0)"], id="create_check_constraint"),
    pytest.param(
        BASE, {"insert_rows": {"table": "items", "rows": [{"id": 1, "name": "it's"}]}},
        [MYSQL8, MARIADB], ["INSERT INTO items (id, name) VALUES (1, 'it''s')"],
        id="insert_rows"),
    # MySQL refuses DATETIME(6) DEFAULT CURRENT_TIMESTAMP (ERROR 1067): the precision is the
    # column's throughout, as create_all() builds Dagster's timestamps there.
    pytest.param(
        [], {"create_table": {"name": "runs", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "created", "type": "datetime(6)", "default_sql": "CURRENT_TIMESTAMP"},
            {"name": "updated", "type": "datetime", "default_sql": "now()",
             "variants": {"mysql": "mysql.timestamp(fsp=3)"}}]}}, [MYSQL8, MARIADB],
        ["CREATE TABLE runs (id INTEGER NOT NULL AUTO_INCREMENT, "
         "created DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6), "
         "updated TIMESTAMP(3) NULL DEFAULT CURRENT_TIMESTAMP(3), CONSTRAINT pk_runs PRIMARY "
         "KEY (id))"], id="current-time-default-at-the-columns-precision"),
    pytest.param(
        BASE, {"add_column": {"table": "items", "column": {
            "name": "seen", "type": "datetime(3)", "default_sql": "current_timestamp()"}}},
        [MYSQL8, MARIADB],
        ["ALTER TABLE items ADD COLUMN seen DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3)"],
        id="add_column-current-time-default-at-the-columns-precision"),
    pytest.param(
        BASE, {"add_column": {"table": "items", "column": {
            "name": "seen", "type": "datetime", "default_sql": "CURRENT_TIMESTAMP",
            "variants": {"mysql": "sql(TIMESTAMP(3))"}}}}, [MYSQL8, MARIADB],
        ["ALTER TABLE items ADD COLUMN seen TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP(3)"],
        id="add_column-current-time-default-of-a-type-written-as-sql"),
    pytest.param(
        BASE, {"add_column": {"table": "items", "column": {
            "name": "n", "type": "mysql.integer(unsigned=False)"}}}, [MYSQL8, MARIADB],
        ["ALTER TABLE items ADD COLUMN n INTEGER"], id="add_column-a-keyword-false-in-any-case"),
]


@pytest.mark.parametrize(("before", "op", "targets", "expected"), MYSQL_CASES)
def test_mysql_and_mariadb(before: list[dict[str, Any]], op: dict[str, Any],
                           targets: list[tuple[str, tuple[int, ...] | None]],
                           expected: list[str]) -> None:
    for target in targets:
        assert render(target, before, op) == expected, target


@pytest.mark.parametrize("target", [MYSQL8, MARIADB], ids=["mysql", "mariadb"])
def test_drop_column_in_the_index_a_foreign_key_needs(target: tuple[str, tuple[int, ...]]
                                                      ) -> None:
    """ix_items_owner_qty is the only index fk_items_owner can use: InnoDB refuses to drop it
    while the key exists (error 1553), so the key goes before it and comes back after."""
    found = render(target, BASE, {"drop_column": {"table": "items", "name": "qty"}})
    drop_check = ("ALTER TABLE items DROP CHECK ck_items_qty" if target[0] == "mysql"
                  else "ALTER TABLE items DROP CONSTRAINT ck_items_qty")
    drop_fk = "ALTER TABLE items DROP FOREIGN KEY fk_items_owner"
    drop_index = "DROP INDEX ix_items_owner_qty ON items"
    add_fk = ("ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY(owner_id) "
              "REFERENCES users (id) ON DELETE SET NULL")
    drop_column = "ALTER TABLE items DROP COLUMN qty"
    assert set(found) == {drop_check, drop_fk, drop_index, add_fk, drop_column}, found
    assert found.index(drop_fk) < found.index(drop_index) < found.index(add_fk), found
    assert found.index(drop_check) < found.index(drop_column), found
    assert found.index(drop_index) < found.index(drop_column), found


# --- what each dialect refuses, with a message that says why ----------------------------------


@pytest.mark.parametrize("target", [MYSQL8, MARIADB], ids=["mysql", "mariadb"])
def test_partial_index_is_refused_on_mysql(target: tuple[str, tuple[int, ...]]) -> None:
    doc = {"create_index": {"name": "ix_part", "table": "items", "columns": ["qty"],
                            "where": "qty > 0"}}
    with pytest.raises(UsageError) as info:
        render(target, BASE, doc)
    assert info.value.message == (f"{target[0]} has no partial indexes: index 'ix_part' on "
                                  "'items' has `where`")
    assert info.value.hint is not None and "dialects" in info.value.hint
    assert info.value.exit_code == 2


@pytest.mark.parametrize("target", [MYSQL8, MARIADB], ids=["mysql", "mariadb"])
def test_using_is_refused_on_mysql(target: tuple[str, tuple[int, ...]]) -> None:
    with pytest.raises(UsageError, match=r"no USING clause .*alter_column items\.code"):
        render(target, BASE, alter("code", type="integer", using="code::integer"))


@pytest.mark.parametrize("target", [MYSQL8, MARIADB], ids=["mysql", "mariadb"])
def test_a_string_without_length_is_refused_on_mysql(target: tuple[str, tuple[int, ...]]
                                                     ) -> None:
    """VARCHAR needs a length there: validate passed it, and apply failed on SQLAlchemy's
    compile error after the journal recorded the changeset as started (INTERRUPTED)."""
    doc = {"add_column": {"table": "items", "column": {"name": "label", "type": "string"}}}
    with pytest.raises(UsageError, match=r"column 'items\.label': \w+ needs a length"):
        render(target, BASE, doc)
    render(target, BASE, {"add_column": {"table": "items", "column": {
        "name": "label", "type": "string(20)"}}})
    for other in ("postgresql", "sqlite"):  # unbounded VARCHAR / TEXT affinity there
        render((other, ()), BASE, doc)


@pytest.mark.parametrize(("target", "type_", "limit"), [
    (PG, "string(10485761)", "10,485,760"), (PG, "char(10485761)", "10,485,760"),
    (MYSQL8, "string(65533)", "65,532"), (MARIADB, "char(256)", "255")])
def test_a_string_longer_than_the_database_builds_is_refused(
        target: tuple[str, tuple[int, ...]], type_: str, limit: str) -> None:
    """`String(16777215)` (ZenML's trial): validate and autogenerate passed it on
    PostgreSQL and MySQL, and apply failed on the server's error (PostgreSQL: length for type
    varchar cannot exceed 10485760; MySQL: CHAR of more than 255)."""
    doc = {"add_column": {"table": "items", "column": {"name": "big", "type": type_}}}
    with pytest.raises(UsageError, match=rf"column 'items\.big': {re.escape(type_)} is longer "
                                         rf"than \w+ builds \(\w+\(n\) up to n = {limit}\)"):
        render(target, BASE, doc)
    render(("sqlite", ()), BASE, doc)  # (any length there)


def test_a_statement_that_does_not_compile_stops_before_its_changeset_runs() -> None:
    """A run's statements are compiled as each changeset is planned: one that does not
    compile raises then (planning names the changeset), not when the run gets to it."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql
    from sqlalchemy.schema import CreateTable

    from schemaflow.dialects.prepared import precompiled

    table = sa.Table("t", sa.MetaData(), sa.Column("s", sa.String()))
    with pytest.raises(sa.exc.CompileError, match="VARCHAR requires a length"):
        precompiled(mysql.dialect())(Step(CreateTable(table)), False)


@pytest.mark.parametrize("target", [MYSQL57, ("mysql", (8, 0, 15)), ("mariadb", (10, 1))],
                         ids=["mysql-5.7", "mysql-8.0.15", "mariadb-10.1"])
def test_check_constraint_refused_where_the_server_ignores_it(
        target: tuple[str, tuple[int, ...]]) -> None:
    doc = {"create_check_constraint": {"name": "ck_x", "table": "items",
                                       "expression": "slot > 0"}}
    with pytest.raises(UsageError, match="ignores CHECK constraints \\('ck_x'\\)"):
        render(target, BASE, doc)


MOOD_DEPENDENTS = {"create_table": {"name": "mood", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "feeling", "type": "enum(happy,sad,meh)", "nullable": False, "default": "happy"}],
    "checks": [{"name": "ck_mood_not_sad", "expression": "feeling <> 'sad' OR id > 0"}],
    "indexes": [{"name": "ix_mood_feeling", "columns": ["feeling"]},
                {"name": "ix_mood_sad", "columns": ["id"], "where": "feeling = 'sad'"}]}}


def test_postgresql_removes_an_enum_value_by_replacing_the_type() -> None:
    doc = {"alter_column": {"table": "mood", "name": "feeling", "type": "enum(happy,sad)"}}
    assert render(PG, [MOOD_DEPENDENTS], doc) == [
        "ALTER TYPE mood_feeling_enum RENAME TO mood_feeling_enum_old",
        "CREATE TYPE mood_feeling_enum AS ENUM ('happy', 'sad')",
        # What compares the column with a value of the old type goes first: no operator
        # would compare the new type with it. A plain index is rebuilt by the cast itself.
        "DROP INDEX ix_mood_sad",
        "ALTER TABLE mood DROP CONSTRAINT ck_mood_not_sad",
        "ALTER TABLE mood ALTER COLUMN feeling DROP DEFAULT",
        'ALTER TABLE mood ALTER COLUMN feeling TYPE mood_feeling_enum '
        'USING "feeling"::text::"mood_feeling_enum"',
        "ALTER TABLE mood ALTER COLUMN feeling SET DEFAULT 'happy'",
        "CREATE INDEX ix_mood_sad ON mood (id) WHERE feeling = 'sad'",
        "ALTER TABLE mood ADD CONSTRAINT ck_mood_not_sad CHECK (feeling <> 'sad' OR id > 0)",
        "DROP TYPE mood_feeling_enum_old"]


def test_postgresql_enum_replacement_keeps_the_rest_of_the_alter_and_a_using() -> None:
    doc = {"alter_column": {"table": "mood", "name": "feeling", "type": "enum(happy)",
                            "nullable": True, "default": "happy",
                            "using": "CASE WHEN feeling::text = 'sad' THEN 'happy' ELSE "
                                     "feeling::text END::mood_feeling_enum"}}
    found = render(PG, [MOOD], doc)
    assert found == [
        "ALTER TYPE mood_feeling_enum RENAME TO mood_feeling_enum_old",
        "CREATE TYPE mood_feeling_enum AS ENUM ('happy')",
        "ALTER TABLE mood ALTER COLUMN feeling TYPE mood_feeling_enum USING CASE WHEN "
        "feeling::text = 'sad' THEN 'happy' ELSE feeling::text END::mood_feeling_enum",
        "ALTER TABLE mood ALTER COLUMN feeling SET DEFAULT 'happy'",
        "DROP TYPE mood_feeling_enum_old",
        "ALTER TABLE mood ALTER COLUMN feeling DROP NOT NULL"]


def test_postgresql_refuses_removing_an_enum_value_a_check_still_names() -> None:
    doc = {"alter_column": {"table": "mood", "name": "feeling", "type": "enum(happy,sad)"}}
    named = {"create_table": {**MOOD_DEPENDENTS["create_table"], "checks": [
        {"name": "ck_mood_meh", "expression": "feeling <> 'meh' OR id > 0"}]}}
    with pytest.raises(UsageError, match="CHECK 'ck_mood_meh' on 'mood' compares 'feeling' "
                                         "with 'meh', a value removed from the enum type "
                                         "'mood_feeling_enum'"):
        render(PG, [named], doc)


def test_unknown_dialect() -> None:
    with pytest.raises(UsageError, match="the dialect 'oracle' is not supported yet"):
        renderer_for("oracle")
    with pytest.raises(UsageError, match="the dialect 'oracle' is not supported yet"):
        sa_dialect("oracle")


# --- transactions -----------------------------------------------------------------------------


def test_concurrently_is_not_transactional_on_postgresql() -> None:
    doc = {"create_index": {"name": "ix_q", "table": "items", "columns": ["qty"],
                            "concurrently": True}}
    assert [s.transactional for s in steps(PG, BASE, doc)] == [False]
    plain = {"create_index": {"name": "ix_q", "table": "items", "columns": ["qty"]}}
    assert [s.transactional for s in steps(PG, BASE, plain)] == [True]


@pytest.mark.parametrize(("target", "in_transaction"), [
    (PG, True), (("postgresql", (12,)), True), (PG11, False)], ids=["15", "12", "11"])
def test_enum_add_value_in_a_transaction_from_postgresql_12(
        target: tuple[str, tuple[int, ...]], in_transaction: bool) -> None:
    doc = {"alter_column": {"table": "mood", "name": "feeling", "type": "enum(happy,sad,meh)"}}
    found = steps(target, [MOOD], doc)
    assert norm(compile_step(found[0], sa_dialect("postgresql"))) == (
        "ALTER TYPE mood_feeling_enum ADD VALUE 'meh'")
    assert found[0].transactional is in_transaction


@pytest.mark.parametrize(("name", "transactional"), [
    ("postgresql", True), ("sqlite", True), ("mysql", False), ("mariadb", False)])
def test_transactional_ddl(name: str, transactional: bool) -> None:
    assert renderer_for(name).transactional_ddl is transactional


# --- enum types follow renames ----------------------------------------------------------------


@pytest.mark.parametrize("doc", [
    {"rename_column": {"table": "mood", "name": "feeling", "new_name": "state"}},
    {"rename_table": {"name": "mood", "new_name": "humour"}},
], ids=["rename_column", "rename_table"])
def test_postgresql_rename_keeps_the_enum_type_in_use(doc: dict[str, Any]) -> None:
    """The column keeps using its type: dropping that type is an error on the server."""
    found = render(PG, [MOOD], doc)
    assert "DROP TYPE mood_feeling_enum" not in found, found


# --- sql operations by dialect ----------------------------------------------------------------


@pytest.mark.parametrize(("dialects", "runs_on"), [
    (None, {"postgresql", "mysql", "mariadb", "sqlite"}),
    (["postgresql"], {"postgresql"}),
    (["mysql"], {"mysql", "mariadb"}),
    (["mariadb"], {"mariadb"}),
    (["sqlite", "mariadb"], {"sqlite", "mariadb"}),
])
def test_sql_dialects(dialects: list[str] | None, runs_on: set[str]) -> None:
    body: dict[str, Any] = {"up": ["SELECT 1", "  ", "SELECT 2"]}
    if dialects is not None:
        body["dialects"] = dialects
    for name in ("postgresql", "mysql", "mariadb", "sqlite"):
        expected = ["SELECT 1", "SELECT 2"] if name in runs_on else []
        assert render((name, None), BASE, {"sql": body}) == expected, name


def test_a_check_for_some_databases_only_is_built_and_dropped_there_only() -> None:
    flag = {"name": "flag", "type": "boolean"}
    scoped = {"expression": "flag IN (0, 1)", "name": "ck_flags_flag",
              "dialects": ["mysql", "sqlite"]}
    table = {"create_table": {"name": "flags", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}, flag], "checks": [scoped]}}
    add = {"create_check_constraint": {"table": "flags", **scoped}}
    drop = {"drop_constraint": {"name": "ck_flags_flag", "table": "flags", "type": "check"}}
    bare = {"create_table": {"name": "flags", "columns": table["create_table"]["columns"]}}
    enum_column = {"add_column": {"table": "flags", "column": {
        "name": "state", "type": "enum(new,done,native=false)"}}}
    for name in ("postgresql", "mysql", "mariadb", "sqlite"):
        here = name != "postgresql"
        created = " ".join(render((name, None), [], table))
        assert ("CHECK (flag IN (0, 1))" in created) is here, (name, created)
        assert bool(render((name, None), [bare], add)) is here, name
        # Dropped (and rolled back) only where it was built.
        assert bool(render((name, None), [table], drop)) is here, name
        # A non-native enum is a VARCHAR everywhere, never a type of its own.
        assert render((name, None), [bare], enum_column)[-1].endswith(
            "ADD COLUMN state VARCHAR(4)"), name


# --- compilation helpers ----------------------------------------------------------------------


def test_sa_dialect_tells_mariadb_apart() -> None:
    assert sa_dialect("mariadb").is_mariadb is True
    assert sa_dialect("mysql").is_mariadb is False
    assert sa_dialect("postgresql").name == "postgresql"


def test_compile_step_strips_raw_sql() -> None:
    assert compile_step(Step("  SELECT 1 \n"), sa_dialect("mysql")) == "SELECT 1"


# --- capabilities -----------------------------------------------------------------------------

CAPABILITIES = [
    ("postgresql", (15,), {"transactional_ddl": True, "partial_index": True, "comments": True,
                           "native_enum": True, "concurrent_index": True,
                           "enum_add_value_in_transaction": True, "rename_column": True,
                           "check_constraints": True, "max_identifier_length": 63}),
    ("postgresql", (11, 9), {"enum_add_value_in_transaction": False, "native_enum": True}),
    ("postgresql", None, {"enum_add_value_in_transaction": True}),
    ("mysql", (5, 7), {"transactional_ddl": False, "rename_column": False,
                       "check_constraints": False, "partial_index": False, "comments": True,
                       "native_enum": False, "concurrent_index": False,
                       "max_identifier_length": 64}),
    ("mysql", (8, 0, 15), {"rename_column": True, "check_constraints": False}),
    ("mysql", (8, 0, 16), {"rename_column": True, "check_constraints": True}),
    ("mysql", None, {"rename_column": True, "check_constraints": True,
                     "transactional_ddl": False}),
    ("mariadb", (10, 1), {"check_constraints": False, "rename_column": False}),
    ("mariadb", (10, 2, 1), {"check_constraints": True, "rename_column": False}),
    ("mariadb", (10, 5, 1), {"rename_column": False}),
    ("mariadb", (10, 5, 2), {"rename_column": True, "transactional_ddl": False,
                             "partial_index": False, "max_identifier_length": 64}),
    ("mariadb", (10, 11, 6), {"rename_column": True, "check_constraints": True}),
    ("sqlite", (3, 24), {"rename_column": False, "drop_column": False, "alter_column": False,
                         "alter_constraints": False, "partial_index": True,
                         "transactional_ddl": True, "comments": False}),
    ("sqlite", (3, 25), {"rename_column": True, "drop_column": False}),
    ("sqlite", (3, 35), {"rename_column": True, "drop_column": True}),
]


@pytest.mark.parametrize(("dialect", "version", "expected"), CAPABILITIES,
                         ids=[f"{d}-{v}" for d, v, _ in CAPABILITIES])
def test_capabilities(dialect: str, version: tuple[int, ...] | None,
                      expected: dict[str, Any]) -> None:
    caps = capabilities(dialect, version)
    assert caps.dialect == dialect
    assert {k: getattr(caps, k) for k in expected} == expected


def test_renderer_reads_the_capabilities_of_its_version() -> None:
    assert renderer_for("mariadb", (10, 4)).caps == capabilities("mariadb", (10, 4))
    assert renderer_for("mysql").caps == capabilities("mysql", None)


@pytest.mark.parametrize(("target", "key", "refusal"), [
    (MARIADB, {"expression": "lower(code)"}, "indexes on expressions"),
    (MYSQL8, {"name": "code", "nulls": "first"}, "NULLS FIRST/LAST in indexes"),
    (("sqlite", (3, 40)), {"name": "code", "nulls": "last"}, "NULLS FIRST/LAST in indexes"),
    (("mariadb", (10, 6)), {"name": "code", "order": "desc"}, "descending index key parts"),
], ids=["mariadb-expression", "mysql-nulls", "sqlite-nulls", "mariadb-10.6-desc"])
def test_index_key_parts_a_database_lacks_are_refused(target: tuple[str, tuple[int, ...]],
                                                      key: dict[str, Any], refusal: str) -> None:
    doc = {"create_index": {"name": "ix_k", "table": "items", "columns": [key]}}
    with pytest.raises(UsageError) as info:
        render(target, BASE, doc)
    assert info.value.message.startswith(f"{target[0]} has no {refusal}: index 'ix_k' on "
                                         "'items' has")
    table = {"create_table": {"name": "other", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "code", "type": "string(20)"}],
        "indexes": [{"name": "ix_k", "columns": [key]}]}}
    with pytest.raises(UsageError, match=f"has no {refusal}"):  # inside create_table too
        render(target, BASE, table)


def test_index_key_parts_render_per_database() -> None:
    doc = {"create_index": {"name": "ix_k", "table": "items", "columns": [
        {"name": "code", "order": "desc", "nulls": "last", "opclass": "text_pattern_ops"},
        {"expression": "qty + 1"}], "include": ["note"], "using": "btree"}}
    assert render(PG, BASE, doc) == [
        "CREATE INDEX ix_k ON items USING btree (code text_pattern_ops DESC NULLS LAST, "
        "(qty + 1)) INCLUDE (note)"]
    prefix = {"create_index": {"name": "ix_p", "table": "items", "columns": [
        {"name": "code", "length": 8, "order": "desc"}, "qty"]}}
    assert render(MARIADB, BASE, prefix) == ["CREATE INDEX ix_p ON items (code(8) DESC, qty)"]
    assert render(PG, BASE, prefix) == ["CREATE INDEX ix_p ON items (code DESC, qty)"]


@pytest.mark.parametrize("target", [("sqlite", (3, 40)), MARIADB, MYSQL8],
                         ids=["sqlite", "mariadb", "mysql"])
def test_postgresql_index_options_are_left_out_where_the_database_has_none(
        target: tuple[str, tuple[int, ...]]) -> None:
    """A method, INCLUDE columns and operator classes were refused where the database has
    none, so models shared by SQLite and PostgreSQL (Prefect's) could not run on SQLite: the
    index is built without them there, as `create_all()` builds `postgresql_using`,
    `postgresql_include` and `postgresql_ops`."""
    doc = {"create_index": {"name": "ix_k", "table": "items", "columns": [
        {"name": "code", "opclass": "text_pattern_ops"}, "qty"], "include": ["note"],
        "using": "gin"}}
    assert render(target, BASE, doc) == ["CREATE INDEX ix_k ON items (code, qty)"]


def test_drop_constraint_on_mysql_with_alembic_imported_in_the_same_process() -> None:
    """Alembic, once imported, replaces SQLAlchemy's MySQL DROP CONSTRAINT compilation with
    one that rejects compile flags (a pytest run or an app that imports both): schemaflow's
    own statements are unaffected."""
    import alembic.ddl.mysql  # noqa: F401  (registers Alembic's compilers)

    for kind, name, sql in (("unique", "uq_items_code_slot", "DROP INDEX"),
                            ("foreign_key", "fk_items_owner", "DROP FOREIGN KEY"),
                            ("check", "ck_items_qty", "DROP CHECK")):
        assert render(MYSQL8, BASE, drop_constraint(name, kind)) == [
            f"ALTER TABLE items {sql} {name}"]


# --- type variants, types written as SQL, collations, sized binaries ------------------------

DOCS = {"create_table": {"name": "docs", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "data", "type": "json", "variants": {"postgresql": "postgresql.jsonb",
                                                  "mariadb": "text"}},
    {"name": "body", "type": "text", "variants": {"mysql": "mysql.mediumtext"}}]}}


@pytest.mark.parametrize(("target", "data", "body"), [
    (PG, "data JSONB", "body TEXT"),
    (MYSQL8, "data JSON", "body MEDIUMTEXT"),
    (MARIADB, "data TEXT", "body MEDIUMTEXT"),  # its own entry first, then mysql's
    (("sqlite", None), "data JSON", "body TEXT"),
])
def test_each_database_builds_its_variant(target: tuple[str, tuple[int, ...] | None],
                                          data: str, body: str) -> None:
    (sql,) = render(target, [], DOCS)
    assert f"{data}," in sql and f"{body}," in sql


def test_a_variant_change_for_another_database_renders_nothing_here() -> None:
    change = {"alter_column": {"table": "docs", "name": "data", "type": "json",
                               "variants": {"postgresql": "text", "mariadb": "text"}}}
    assert render(MARIADB, [DOCS], change) == []
    assert render(PG, [DOCS], change) == ["ALTER TABLE docs ALTER COLUMN data TYPE TEXT"]


@pytest.mark.parametrize(("target", "expected"), [
    (PG, "(id SERIAL NOT NULL, v BYTEA, f BYTEA, p POINT, c VARCHAR(5) COLLATE \"C\","),
    (MARIADB, "(id INTEGER NOT NULL AUTO_INCREMENT, v VARBINARY(8), f BINARY(16), p POINT, "
              "c VARCHAR(5) COLLATE C,"),
    (("sqlite", None), "(id INTEGER NOT NULL, v BLOB, f BLOB, p POINT, c VARCHAR(5) COLLATE "
                       "\"C\","),
])
def test_sql_types_sized_binaries_and_collations(target: tuple[str, tuple[int, ...] | None],
                                                 expected: str) -> None:
    (sql,) = render(target, [], {"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "v", "type": "varbinary(8)"}, {"name": "f", "type": "binary(16, fixed=true)"},
        {"name": "p", "type": "sql(POINT)"}, {"name": "c", "type": "string(5)",
                                              "collation": "C"}]}})
    assert expected in sql, sql


# --- a run's statements compiled as planned (dialects.prepared) -------------------------------


@pytest.mark.parametrize("name", ["sqlite", "postgresql", "mysql"])
def test_a_plans_compiler_keeps_few_quoted_names_and_none_on_the_connections_dialect(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from schemaflow.dialects import prepared
    from schemaflow.dialects.render import literal_dialect

    monkeypatch.setattr(prepared, "NAMES", 3)
    connections = sa_dialect(name)
    finish = prepared.precompiled(connections)
    memos = dict(zip(finish.__code__.co_freevars,
                     (c.cell_contents for c in finish.__closure__ or ()), strict=True))["memos"]
    fresh = literal_dialect(sa_dialect(name))
    before: list[dict[str, Any]] = []
    bound = 0
    for i in range(12):
        table = {"create_table": {"name": f"t{i}", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "select", "type": "string(10)"}, {"name": f"Mixed{i}", "type": "text"}]}}
        rows = {"insert_rows": {"table": f"t{i}", "rows": [{"id": 1, "select": "50%"}]}}
        for doc in (table, rows):
            for step in steps((name, None), before, doc):
                done = finish(step, True)
                if isinstance(done.sql, Bound):
                    bound += 1
                    assert done.sql.shown == compile_step(step, fresh)
                    assert done.sql.sql == step.sql.compile(dialect=sa_dialect(name)).string
                else:
                    assert done.compiled and done.sql == compile_step(step, fresh)
                assert all(len(names) <= 3 + 8 for names in memos)
            before.append(doc)
    assert bound == 12 and connections.identifier_preparer._strings == {}

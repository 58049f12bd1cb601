"""`schemaflow validate` as a migration linter: every rule, triggered and not, selection, output.

Each rule has a history that triggers it and one that does not, checked through the API
(`Project.validate(dialect=..., server_version=...)`); a representative subset goes through the
command line as a user runs it. Also: selection in schemaflow.toml and per changeset, the rules
page (docs/rules.md) and the pre-commit hook (.pre-commit-hooks.yaml).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import uuid
from typing import Any

import pytest
import yaml
from conftest import ROOT, Project

from schemaflow.errors import CODES, Diagnostic
from schemaflow.rules import RULES

# c001 of every history: two tables with rows in production, and a legacy one without a key.
BASE: list[dict[str, Any]] = [
    {"create_table": {"name": "users", "columns": [
        {"name": "id", "type": "bigint", "primary_key": True},
        {"name": "email", "type": "string(255)", "nullable": False, "unique": True},
        {"name": "name", "type": "string(100)"},
        {"name": "bio", "type": "text"},
        {"name": "age", "type": "integer"},
    ]}},
    {"create_table": {"name": "orders", "columns": [
        {"name": "id", "type": "bigint", "primary_key": True},
        {"name": "user_id", "type": "bigint", "nullable": False},
        {"name": "referrer_id", "type": "bigint"},
        {"name": "code", "type": "string(20)"},
        {"name": "total", "type": "numeric(10,2)"},
        {"name": "quantity", "type": "integer", "nullable": False, "default": 1},
        {"name": "status", "type": "enum(new,paid,name=order_status)"},
    ], "foreign_keys": [{"name": "fk_orders_user", "columns": ["user_id"],
                         "references": {"table": "users", "columns": ["id"]}}],
       "indexes": [{"name": "ix_orders_user_id", "columns": ["user_id"]}],
       "checks": [{"name": "ck_orders_quantity", "expression": "quantity >= 0"}]}},
    {"create_table": {"name": "events", "columns": [
        {"name": "event_id", "type": "bigint", "nullable": False},
        {"name": "message", "type": "text"},
    ]}},
]
LOCK_TIMEOUT = {"sql": {"up": "SET lock_timeout = '5s'", "down": "SET lock_timeout = '5s'",
                        "dialects": ["postgresql"]}}
SCRATCH = {"create_table": {"name": "scratch", "columns": [
    {"name": "id", "type": "bigint", "primary_key": True},
    {"name": "name", "type": "string(100)"},
    {"name": "note", "type": "text"},
]}}
PG = ("postgresql", (16,))
DROP_FK_ORDERS_USER = {"drop_constraint": {"name": "fk_orders_user", "table": "orders",
                                         "type": "foreign_key"}}
# The reference errors a changeset file can have: the schema refuses SF113's operation first.
REFERENCE = {code for code, c in CODES.items() if c.group == "reference"} - {"SF113"}

Changeset = list[Any] | dict[str, Any]


def history(project: Project, *changesets: Changeset) -> list[str]:
    """Write c001 (BASE) and then one changeset per argument: a list of operations, or a
    mapping of changeset keys (`operations`, `rollback`, `lint`, `transactional`, `parents`)."""
    ids: list[str] = []
    for i, cs in enumerate((BASE, *changesets), 1):
        cid = f"c{i:03d}"
        doc: dict[str, Any] = {"operations": cs} if isinstance(cs, list) else dict(cs)
        ops = doc.pop("operations")
        parents = doc.pop("parents", ids[-1:])
        project.write(cid, ops, parents=parents, **doc)
        ids.append(cid)
    return ids


def lint(project: Project, *changesets: Changeset, dialect: str | None = "postgresql",
         server_version: tuple[int, ...] | None = (16,)) -> list[Diagnostic]:
    """The diagnostics of BASE followed by `changesets`, for that target database."""
    history(project, *changesets)
    return list(project.api().validate(dialect=dialect, server_version=server_version))


def codes(diags: list[Diagnostic], changeset: str | None = None) -> set[str]:
    return {d.code for d in diags if changeset is None or d.changeset == changeset}


def last_id(changesets: tuple[Changeset, ...]) -> str:
    return f"c{len(changesets) + 1:03d}"


def as_tuple(x: Changeset | tuple[Changeset, ...]) -> tuple[Changeset, ...]:
    return x if isinstance(x, tuple) else (x,)


# --- every rule: a history that triggers it, and one that does not ------------------------------
TOTAL = {"add_column": {"table": "orders", "column": {
    "name": "doubled", "type": "integer", "computed": {"expression": "quantity * 2"}}}}

# (code, bad, good, (dialect, server_version)); bad/good are one changeset or a tuple of them,
# and the code is looked for on the last one.

def _alter(table: str, name: str, **kw: Any) -> dict[str, Any]:
    return {"alter_column": {"table": table, "name": name, **kw}}


def _add(table: str, name: str, type_: str, **kw: Any) -> dict[str, Any]:
    return {"add_column": {"table": table, "column": {"name": name, "type": type_, **kw}}}


RULE_CASES = [
    pytest.param("SF301", [{"drop_table": {"name": "events"}}],
                 [SCRATCH, {"drop_table": {"name": "scratch"}}], PG, id="SF301"),
    pytest.param("SF302", [{"drop_column": {"table": "users", "name": "bio"}}],
                 [SCRATCH, {"drop_column": {"table": "scratch", "name": "note"}}], PG,
                 id="SF302"),
    pytest.param("SF303", [_alter("users", "name", type="string(50)")],
                 [_alter("users", "name", type="string(200)")], PG, id="SF303"),
    pytest.param("SF311", [_add("users", "country", "string(2)", nullable=False)],
                 [_add("users", "country", "string(2)", nullable=False, default="NL")], PG,
                 id="SF311"),
    pytest.param("SF312", [{"create_unique_constraint": {"name": "uq_users_name",
                                                         "table": "users",
                                                         "columns": ["name"]}}],
                 [SCRATCH, {"create_unique_constraint": {"name": "uq_scratch_name",
                                                         "table": "scratch",
                                                         "columns": ["name"]}}], PG,
                 id="SF312"),
    pytest.param("SF313", [_alter("orders", "code", type="integer")],
                 [_alter("orders", "code", type="text")], PG, id="SF313"),
    pytest.param("SF314", [_alter("users", "name", nullable=False)],
                 [SCRATCH, _alter("scratch", "name", nullable=False)], PG, id="SF314"),
    pytest.param("SF321", [{"rename_table": {"name": "orders", "new_name": "purchases"}}],
                 [_add("orders", "placed_at", "datetime(timezone=true)")], PG, id="SF321"),
    pytest.param("SF322", [{"rename_column": {"table": "users", "name": "name",
                                              "new_name": "full_name"}}],
                 [_add("users", "full_name", "string(100)")], PG, id="SF322"),
    pytest.param("SF331", [{"create_index": {"name": "ix_orders_open", "table": "orders",
                                             "columns": ["code"], "where": "status = 'new'"}}],
                 [{"create_index": {"name": "ix_orders_code", "table": "orders",
                                    "columns": ["code"]}}],
                 ("mysql", (8, 0, 36)), id="SF331-mysql-partial-index"),
    pytest.param("SF332", {"operations": [_alter("orders", "quantity", type="bigint")],
                           "rollback": [_alter("orders", "quantity", type="integer",
                                               using="quantity::integer")]},
                 {"operations": [_alter("orders", "quantity", type="bigint")],
                  "rollback": [_alter("orders", "quantity", type="integer")]},
                 ("mysql", (8, 0, 36)), id="SF332-mysql-rollback-with-using"),
    pytest.param("SF333", [_alter("orders", "quantity", default=2**31)],
                 [_alter("orders", "quantity", default=2**31 - 1)], PG,
                 id="SF333-integer-out-of-range"),
    # Without a target database: an index name that only MySQL and MariaDB take twice.
    pytest.param("SF334", [{"create_index": {"name": "ix_orders_user_id", "table": "users",
                                             "columns": ["name"]}}],
                 [{"create_index": {"name": "ix_users_name", "table": "users",
                                    "columns": ["name"]}}], (None, None), id="SF334"),
    pytest.param("SF341", [{"create_index": {"name": "ix_orders_code", "table": "orders",
                                             "columns": ["code"]}}],
                 {"transactional": False, "operations": [
                     {"create_index": {"name": "ix_orders_code", "table": "orders",
                                       "columns": ["code"], "concurrently": True}}]}, PG,
                 id="SF341"),
    pytest.param("SF342", [{"create_foreign_key": {
                     "name": "fk_orders_referrer", "table": "orders", "columns": ["referrer_id"],
                     "references": {"table": "users", "columns": ["id"]}}}],
                 [{"create_foreign_key": {
                     "name": "fk_orders_referrer", "table": "orders", "columns": ["referrer_id"],
                     "references": {"table": "users", "columns": ["id"]}, "not_valid": True}}],
                 PG, id="SF342-foreign-key"),
    pytest.param("SF342", [{"create_check_constraint": {"name": "ck_orders_total",
                                                        "table": "orders",
                                                        "expression": "total >= 0"}}],
                 [{"create_check_constraint": {"name": "ck_orders_total", "table": "orders",
                                               "expression": "total >= 0",
                                               "not_valid": True}}], PG, id="SF342-check"),
    pytest.param("SF343", [_alter("orders", "quantity", type="bigint")],
                 [_alter("users", "name", type="string(200)")], PG, id="SF343"),
    pytest.param("SF344", [_alter("users", "name", nullable=False)],
                 ([{"create_check_constraint": {"name": "ck_users_name", "table": "users",
                                                "expression": "name IS NOT NULL"}}],
                  [_alter("users", "name", nullable=False)]), PG, id="SF344"),
    pytest.param("SF345", [_add("users", "nickname", "text")],
                 [LOCK_TIMEOUT, _add("users", "nickname", "text")], PG, id="SF345"),
    pytest.param("SF346", [{"add_column": {"table": "users", "column": {
                     "name": "token", "type": "uuid", "default_sql": "gen_random_uuid()"}}}],
                 [{"add_column": {"table": "users", "column": {
                     "name": "seen", "type": "datetime", "default_sql": "CURRENT_TIMESTAMP"}}}],
                 PG, id="SF346"),
    # Reference errors: the operation does not fit the schema at that point.
    pytest.param("SF117", [{"drop_sequence": {"name": "ticket_numbers"}}],
                 [{"create_sequence": {"name": "ticket_numbers"}},
                  {"drop_sequence": {"name": "ticket_numbers"}}], PG, id="SF117"),
    pytest.param("SF118", [{"create_sequence": {"name": "ticket_numbers"}},
                           {"create_sequence": {"name": "ticket_numbers", "start": 10}}],
                 [{"create_sequence": {"name": "ticket_numbers"}}], PG, id="SF118"),
    pytest.param("SF101", [_add("usrs", "nickname", "text")],
                 [_add("users", "nickname", "text")], PG, id="SF101"),
    pytest.param("SF102", [{"drop_column": {"table": "users", "name": "nmae"}}],
                 [{"drop_column": {"table": "users", "name": "name"}}], PG, id="SF102"),
    pytest.param("SF103", [{"drop_index": {"name": "ix_orders_userid", "table": "orders"}}],
                 [{"drop_index": {"name": "ix_orders_user_id", "table": "orders"}}], PG,
                 id="SF103"),
    pytest.param("SF104", [{"drop_constraint": {"name": "uq_users_mail", "table": "users",
                                                "type": "unique"}}],
                 [{"drop_constraint": {"name": "uq_users_email", "table": "users",
                                       "type": "unique"}}], PG, id="SF104"),
    pytest.param("SF105", [{"create_table": {"name": "users", "columns": [
                     {"name": "id", "type": "bigint", "primary_key": True}]}}],
                 [{"create_table": {"name": "accounts", "columns": [
                     {"name": "id", "type": "bigint", "primary_key": True}]}}], PG, id="SF105"),
    pytest.param("SF106", [_add("users", "email", "text")], [_add("users", "email2", "text")],
                 PG, id="SF106"),
    pytest.param("SF107", [{"create_index": {"name": "ix_orders_user_id", "table": "orders",
                                             "columns": ["code"]}}],
                 [{"create_index": {"name": "ix_orders_code", "table": "orders",
                                    "columns": ["code"]}}], PG, id="SF107"),
    pytest.param("SF108", [{"create_foreign_key": {
                     "name": "fk_orders_referrer", "table": "orders", "columns": ["referrer_id"],
                     "references": {"table": "users", "columns": ["id", "email"]}}}],
                 [{"create_foreign_key": {
                     "name": "fk_orders_referrer", "table": "orders", "columns": ["referrer_id"],
                     "references": {"table": "users", "columns": ["id"]}}}], PG, id="SF108"),
    pytest.param("SF109", [{"create_primary_key": {"name": "pk_users2", "table": "users",
                                                   "columns": ["email"]}}],
                 [{"create_primary_key": {"name": "pk_events", "table": "events",
                                          "columns": ["event_id"]}}], PG, id="SF109"),
    pytest.param("SF110", [{"drop_table": {"name": "users"}}],
                 [DROP_FK_ORDERS_USER, {"drop_table": {"name": "users"}}], PG, id="SF110"),
    pytest.param("SF111", [{"drop_column": {"table": "users", "name": "id"}}],
                 [DROP_FK_ORDERS_USER, {"drop_column": {"table": "users", "name": "id"}}], PG,
                 id="SF111"),
    pytest.param("SF119", [TOTAL, {"drop_column": {"table": "orders", "name": "quantity"}}],
                 [TOTAL, {"drop_column": {"table": "orders", "name": "doubled"}},
                  {"drop_column": {"table": "orders", "name": "quantity"}}], PG, id="SF119"),
    pytest.param("SF112", [{"drop_column": {"table": "events", "name": "message"}},
                           {"drop_column": {"table": "events", "name": "event_id"}}],
                 [{"drop_table": {"name": "events"}}], PG, id="SF112"),
    pytest.param("SF114", [_alter("orders", "quantity", default=2, drop_default=True)],
                 [_alter("orders", "quantity", default=2)], PG, id="SF114"),
    pytest.param("SF115", [_alter("orders", "quantity", default=2, default_sql="1 + 1")],
                 [_alter("orders", "quantity", default_sql="1 + 1")], PG, id="SF115"),
    pytest.param("SF116", [{"create_foreign_key": {
                     "name": "fk_orders_referrer", "table": "orders", "columns": ["referrer_id"],
                     "references": {"table": "users", "columns": ["id"]},
                     "deferrable": False, "initially": "deferred"}}],
                 [{"create_foreign_key": {
                     "name": "fk_orders_referrer", "table": "orders", "columns": ["referrer_id"],
                     "references": {"table": "users", "columns": ["id"]},
                     "initially": "deferred"}}], PG, id="SF116"),
    pytest.param("SF120", [_add("orders", "weight", "integer", default="heavy")],
                 [_add("orders", "weight", "integer", default=3)], PG, id="SF120"),
    pytest.param("SF121", [{"insert_rows": {"table": "users",
                                            "rows": [{"id": 1, "name": {"first": "Ada"}}]}}],
                 [{"insert_rows": {"table": "users", "rows": [{"id": 1, "name": "Ada"}]}}],
                 PG, id="SF121"),
    # History checks.
    pytest.param("SF014", [], [LOCK_TIMEOUT], PG, id="SF014"),
    pytest.param("SF201", [{"sql": {"up": "UPDATE users SET bio = ''"}}],
                 [{"sql": {"up": "UPDATE users SET bio = ''", "down": "SELECT 1"}}], PG,
                 id="SF201-sql-without-down"),
    pytest.param("SF201", [{"insert_rows": {"table": "events",
                                            "rows": [{"event_id": 1, "message": "x"}]}}],
                 [{"insert_rows": {"table": "users",
                                   "rows": [{"id": 1, "email": "a@example.com"}]}}], PG,
                 id="SF201-insert-without-primary-key"),
    pytest.param("SF202", {"operations": [_add("users", "nickname", "text")], "rollback": []},
                 {"operations": [_add("users", "nickname", "text")],
                  "rollback": [{"drop_column": {"table": "users", "name": "nickname"}}]}, PG,
                 id="SF202"),
]
# Rules with tests of their own below (they need models, or several branches).
SEPARATE = {"SF323", "SF401", "SF402", "SF006"}


def test_every_rule_has_a_case() -> None:
    covered = {p.values[0] for p in RULE_CASES} | SEPARATE
    assert set(RULES) - covered == set()
    for code in ("SF014", "SF201", "SF202", *REFERENCE):
        assert code in covered


def test_rule_table_is_well_formed() -> None:
    for code, rule in RULES.items():
        assert re.fullmatch(r"SF\d{3}", code) and rule.code == code
        assert rule.severity in ("error", "warning", "info")
        assert rule.group and rule.title


@pytest.mark.parametrize(("code", "bad", "good", "target"), RULE_CASES)
def test_rule_fires(project: Project, code: str, bad: Any, good: Any,
                    target: tuple[str, tuple[int, ...]]) -> None:
    changesets = as_tuple(bad)
    diags = lint(project, *changesets, dialect=target[0], server_version=target[1])
    found = [d for d in diags if d.code == code and d.changeset == last_id(changesets)]
    assert found, f"{code} not reported; got {[(d.changeset, d.code) for d in diags]}"
    d = found[0]
    assert d.severity == CODES[code].severity
    assert d.file and d.file.endswith(".yaml") and d.line and d.message


@pytest.mark.parametrize(("code", "bad", "good", "target"), RULE_CASES)
def test_rule_does_not_fire(project: Project, code: str, bad: Any, good: Any,
                            target: tuple[str, tuple[int, ...]]) -> None:
    changesets = as_tuple(good)
    diags = lint(project, *changesets, dialect=target[0], server_version=target[1])
    assert code not in codes(diags), [(d.changeset, d.code, d.message) for d in diags]
    if code.startswith("SF1"):  # the corrected reference leaves no error at all
        assert [d for d in diags if d.severity == "error"] == []


# --- the details of each rule -------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "narrows"), [
    ("integer", "smallint", True),
    ("bigint", "integer", True),
    ("integer", "bigint", False),
    ("string(100)", "string(50)", True),
    ("string(100)", "string(200)", False),
    ("text", "string(100)", True),
    ("string(100)", "text", False),
    # An unbounded varchar / numeric is wider than any bounded one.
    ("string(100)", "string", False),
    ("numeric(10,2)", "numeric", False),
    ("numeric(10,2)", "numeric(12,2)", False),
    ("numeric(10,2)", "numeric(8,2)", True),
    ("numeric(10,2)", "numeric(10,1)", True),
    # Fewer decimal places round every value, even with more digits in all.
    ("numeric(10,2)", "numeric(12,1)", True),
    # 10 digits of which 4 decimals leave 6 before the point, where there were 8.
    ("numeric(10,2)", "numeric(10,4)", True),
    ("numeric(10,2)", "numeric(14,4)", False),
    ("enum(new,paid)", "enum(new,paid,shipped)", False),
    ("enum(new,paid)", "enum(new)", True),
    # A double holds integers exactly to 2**53, a single to 2**24; no fraction survives
    # an integer or a decimal (bigint to float rounded 9007199254740993 without a word).
    ("bigint", "float", True),
    ("integer", "float", False),
    ("integer", "float(24)", True),
    ("smallint", "float(24)", False),
    ("numeric(10,2)", "float", True),
    ("float", "integer", True),
    ("float", "numeric(12,4)", True),
    ("float", "float", False),
])
def test_sf303_narrowing(project: Project, old: str, new: str, narrows: bool) -> None:
    diags = lint(project, [_add("users", "x", old)], [_alter("users", "x", type=new)],
                 dialect=None, server_version=None)
    assert ("SF303" in codes(diags, "c003")) is narrows, diags


def test_data_rules_skip_tables_created_in_the_same_changeset(project: Project) -> None:
    diags = lint(project, [
        SCRATCH,
        _add("scratch", "country", "string(2)", nullable=False),
        _alter("scratch", "note", type="integer"),
        _alter("scratch", "name", nullable=False),
        {"create_unique_constraint": {"name": "uq_scratch_name", "table": "scratch",
                                      "columns": ["name"]}},
        {"create_index": {"name": "ix_scratch_note", "table": "scratch", "columns": ["note"]}},
        {"create_foreign_key": {"name": "fk_scratch_user", "table": "scratch",
                                "columns": ["id"], "references": {"table": "users",
                                                                  "columns": ["id"]}}},
    ])
    assert codes(diags, "c002") == set(), diags


def test_sf311_default_sql_counts_as_a_default(project: Project) -> None:
    diags = lint(project, [_add("users", "joined_at", "datetime(timezone=true)",
                                nullable=False, default_sql="CURRENT_TIMESTAMP")])
    assert "SF311" not in codes(diags)


@pytest.mark.parametrize("operation", [
    _add("users", "handle", "string(50)", unique=True),
    {"create_index": {"name": "ux_orders_code", "table": "orders", "columns": ["code"],
                      "unique": True, "concurrently": True}},
], ids=["add_column-unique", "create_index-unique"])
def test_sf312_other_unique_operations(project: Project, operation: dict[str, Any]) -> None:
    diags = lint(project, {"transactional": False, "operations": [operation]})
    assert "SF312" in codes(diags)


def test_sf312_primary_key_on_existing_rows(project: Project) -> None:
    # A primary key is a unique constraint: on a table with rows it fails on duplicates, the
    # same as create_unique_constraint (squawk: adding-serial-primary-key-field).
    diags = lint(project, [{"create_primary_key": {"name": "pk_events", "table": "events",
                                                   "columns": ["event_id"]}}])
    assert "SF312" in codes(diags, "c002")


def test_type_rules_quiet_on_binary_compatible_widening(project: Project) -> None:
    # varchar(n) -> varchar(m > n) and varchar -> text: no rewrite, no scan, nothing lost.
    diags = lint(project, [_alter("orders", "code", type="string(40)"),
                           _alter("users", "name", type="text")])
    assert {"SF303", "SF313", "SF343"} & codes(diags) == set()


def test_postgresql_lock_rules_need_the_postgresql_dialect(project: Project) -> None:
    ops = [{"create_index": {"name": "ix_orders_code", "table": "orders", "columns": ["code"]}},
           _alter("orders", "quantity", type="bigint"), _alter("users", "name", nullable=False),
           {"create_check_constraint": {"name": "ck_orders_total", "table": "orders",
                                        "expression": "total >= 0"}}]
    for dialect in (None, "sqlite", "mysql"):
        assert not {c for c in codes(lint(project, ops, dialect=dialect, server_version=None))
                    if c.startswith("SF34")}, dialect
        for f in project.changesets.iterdir():
            f.unlink()
    assert {"SF341", "SF342", "SF343", "SF344", "SF345"} <= codes(lint(project, ops))


def test_sf341_add_column_with_index_on_existing_table(project: Project) -> None:
    # `index: true` on add_column renders a plain CREATE INDEX on a table with rows: it blocks
    # writes exactly as create_index does (squawk: require-concurrent-index-creation).
    diags = lint(project, [LOCK_TIMEOUT, _add("users", "last_seen", "datetime", index=True)])
    assert "SF341" in codes(diags, "c002")


def test_sf344_a_check_that_is_not_validated_does_not_help(project: Project) -> None:
    # NOT VALID checks are not used by SET NOT NULL: it still scans the whole table.
    diags = lint(project,
                 [{"create_check_constraint": {"name": "ck_users_name", "table": "users",
                                               "expression": "name IS NOT NULL",
                                               "not_valid": True}}],
                 [_alter("users", "name", nullable=False)])
    assert "SF344" in codes(diags, "c003")


def test_sf345_once_per_changeset_and_only_before_lock_timeout(project: Project) -> None:
    diags = lint(project,
                 [_add("users", "a", "text"), _add("users", "b", "text"),
                  {"drop_column": {"table": "users", "name": "bio"}}],
                 [_add("users", "c", "text"), LOCK_TIMEOUT],
                 [{"sql": {"up": "SET LOCAL lock_timeout = '2s'", "down": "SELECT 1"}},
                  _add("users", "d", "text")])
    assert [(d.changeset, d.code) for d in diags if d.code == "SF345"] == [
        ("c002", "SF345"), ("c003", "SF345")]
    first = next(d for d in diags if d.code == "SF345")
    assert first.hint and "lock_timeout" in first.hint


def test_sf345_drop_index_takes_an_access_exclusive_lock(project: Project) -> None:
    # DROP INDEX (without CONCURRENTLY, which drop_index cannot say) locks the table ACCESS
    # EXCLUSIVE (squawk: require-lock-timeout, require-concurrent-index-deletion).
    diags = lint(project, [{"drop_index": {"name": "ix_orders_user_id", "table": "orders"}}])
    assert "SF345" in codes(diags, "c002")


def test_sf323_drops_a_column_the_models_still_have(project: Project) -> None:
    module = f"models_{uuid.uuid4().hex[:12]}"
    (project.root / f"{module}.py").write_text(
        "import sqlalchemy as sa\n"
        "metadata = sa.MetaData()\n"
        "sa.Table('users', metadata, sa.Column('id', sa.BigInteger, primary_key=True),\n"
        "         sa.Column('email', sa.String(255), nullable=False, unique=True),\n"
        "         sa.Column('name', sa.String(100)), sa.Column('bio', sa.Text))\n",
        encoding="utf-8")
    with (project.root / "schemaflow.toml").open("a", encoding="utf-8") as f:
        f.write(f'models = "{module}:metadata"\n')
    history(project, [{"drop_column": {"table": "users", "name": "bio"}}],
            [{"drop_column": {"table": "users", "name": "age"}}])
    assert "SF323" not in codes(project.api().validate(dialect="postgresql"))  # not asked
    diags = project.api().validate(dialect="postgresql", models=True)
    sf323 = [d for d in diags if d.code == "SF323"]
    assert [(d.changeset, d.severity) for d in sf323] == [("c002", "error")]
    assert "bio" in sf323[0].message


def test_sf323_needs_models(project: Project) -> None:
    assert "SF323" not in codes(lint(project, [{"drop_column": {"table": "users",
                                                                 "name": "bio"}}]))


def test_sf331_depends_on_the_server_version(project: Project) -> None:
    op = {"create_check_constraint": {"name": "ck_users_age", "table": "users",
                                      "expression": "age >= 0"}}
    assert "SF331" in codes(lint(project, [op], dialect="mysql", server_version=(8, 0, 15)))
    for f in project.changesets.iterdir():
        f.unlink()
    assert "SF331" not in codes(lint(project, [op], dialect="mysql", server_version=(8, 0, 16)))


@pytest.mark.parametrize("op", [
    {"create_foreign_key": {"name": "fk_orders_ref_name", "table": "orders",
                            "columns": ["code"], "references": {"table": "users",
                                                                "columns": ["name"]}}},
    {"drop_constraint": {"name": "pk_users", "table": "users", "type": "primary_key"}},
], ids=["to-no-key", "key-pointed-at-dropped"])
def test_sf331_a_foreign_key_without_a_key_to_point_at(project: Project,
                                                       op: dict[str, Any]) -> None:
    """A foreign key to columns that are no key of their table, and the key a foreign key
    points at dropped: validate passed, then PostgreSQL refused the apply ("no unique
    constraint matching given keys", "depends on index")."""
    sf331 = [d for d in lint(project, [op]) if d.code == "SF331"]
    assert sf331 and "users" in sf331[0].message, sf331
    # SQLite takes it (an applied history may hold one; a rebuild refuses what would fail
    # writes), and MySQL and MariaDB take any columns an index leads with.
    for dialect, version in (("sqlite", None), ("mysql", (8, 0, 36))):
        for f in project.changesets.iterdir():
            f.unlink()
        if "create_foreign_key" in op or dialect == "sqlite":
            assert "SF331" not in codes(lint(project, [op], dialect=dialect,
                                             server_version=version)), dialect


def test_sf331_a_unique_index_with_include_or_desc_is_a_key(project: Project) -> None:
    """(From a review.) PostgreSQL takes a foreign key to a unique index with INCLUDE
    columns or a DESC key part; `plain_key` left those out."""
    index = {"create_index": {"name": "ux_users_name", "table": "users", "unique": True,
                              "columns": [{"name": "name", "order": "desc"}],
                              "include": ["bio"]}}
    fk = {"create_foreign_key": {"name": "fk_orders_ref_name", "table": "orders",
                                 "columns": ["code"], "references": {"table": "users",
                                                                     "columns": ["name"]}}}
    assert "SF331" not in codes(lint(project, [index, fk]))


def test_sf331_partial_index_on_mysql(project: Project) -> None:
    op = {"create_index": {"name": "ix_orders_open", "table": "orders", "columns": ["code"],
                           "where": "status = 'new'"}}
    diags = lint(project, [op], dialect="mysql", server_version=(8, 0, 36))
    sf331 = [d for d in diags if d.code == "SF331"]
    assert sf331 and sf331[0].severity == "error" and "partial" in sf331[0].message


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite", "mysql", "mariadb", None])
@pytest.mark.parametrize("operation", [
    {"create_index": {"name": "ix_orders_user_id", "table": "users", "columns": ["name"]}},
    {"create_table": {"name": "payments", "columns": [
        {"name": "user_id", "type": "bigint", "index": True}],
        "indexes": [{"name": "ix_orders_user_id", "columns": ["user_id"]}]}},
    {"add_column": {"table": "users", "column": {"name": "user_id", "type": "bigint",
                                                  "index": True}}},
], ids=["create_index", "create_table", "add_column"])
def test_index_names_per_schema_or_per_table(project: Project, dialect: str | None,
                                             operation: dict[str, Any]) -> None:
    """Index names are per schema on PostgreSQL and SQLite (SF331 there), per table on MySQL
    and MariaDB (valid); without a target database, a warning says where it cannot run."""
    if "add_column" in operation:  # ix_users_user_id, the name `index: true` gives, taken
        history(project, [{"create_index": {"name": "ix_users_user_id", "table": "orders",
                                             "columns": ["user_id"]}}], [operation])
        diags = list(project.api().validate(dialect=dialect))
        last = "c003"
    else:
        diags = lint(project, [operation], dialect=dialect, server_version=None)
        last = "c002"
    found = [d for d in diags if d.changeset == last and d.code in ("SF331", "SF334", "SF107")]
    if dialect in ("postgresql", "sqlite"):
        assert [d.code for d in found] == ["SF331"], found
        assert "ix_" in found[0].message and "unique per schema" in found[0].message
        assert "orders" in found[0].message
    elif dialect is None:
        assert [(d.code, d.severity) for d in found] == [("SF334", "warning")], found
        assert "orders" in found[0].message and "postgresql" in found[0].message
    else:
        assert found == []
    assert [d for d in diags if d.severity == "error" and d.code != "SF331"] == []


# --- history checks -----------------------------------------------------------------------------


def test_sf014_not_for_a_merge(project: Project) -> None:
    diags = lint(project, [_add("users", "a", "text")],
                 {"parents": ["c001"], "operations": [_add("users", "b", "text")]},
                 {"parents": ["c002", "c003"], "operations": []})
    assert "SF014" not in codes(diags)
    assert "SF401" not in codes(diags)


def test_sf401_several_heads(project: Project) -> None:
    diags = lint(project, [_add("users", "a", "text")],
                 {"parents": ["c001"], "operations": [_add("users", "b", "text")]})
    sf401 = [d for d in diags if d.code == "SF401"]
    assert len(sf401) == 1 and sf401[0].severity == "warning"
    assert "c002" in sf401[0].message and "c003" in sf401[0].message
    assert sf401[0].hint and "schemaflow merge" in sf401[0].hint


def test_sf401_not_with_one_head(project: Project) -> None:
    diags = lint(project, [_add("users", "a", "text")], [_add("users", "b", "text")])
    assert "SF401" not in codes(diags)


def test_sf402_merge_of_unrelated_histories(project: Project) -> None:
    diags = lint(project, {"parents": [], "operations": [SCRATCH]},
                 {"parents": ["c001", "c002"], "operations": []})
    sf402 = [d for d in diags if d.code == "SF402"]
    assert [(d.changeset, d.severity) for d in sf402] == [("c003", "warning")]
    assert {"SF401", "SF013"} & codes(diags) == set()


def test_sf402_not_for_a_merge_with_a_common_ancestor(project: Project) -> None:
    diags = lint(project, [_add("users", "a", "text")],
                 {"parents": ["c001"], "operations": [_add("users", "b", "text")]},
                 {"parents": ["c002", "c003"], "operations": []})
    assert "SF402" not in codes(diags)


def test_sf013_merged_branches_conflict(project: Project) -> None:
    diags = lint(project, [_add("users", "a", "text")],
                 {"parents": ["c001"], "operations": [_add("users", "a", "integer")]},
                 {"parents": ["c002", "c003"], "operations": []})
    assert [(d.code, d.changeset, d.severity) for d in diags if d.code == "SF013"] == [
        ("SF013", "c004", "error")]


def _misnamed(project: Project, **extra: Any) -> None:
    project.write("c001", BASE, **extra)
    (project.changesets / "c001_change.yaml").rename(project.changesets / "base.yaml")


def test_sf006_file_name_must_start_with_the_id(project: Project) -> None:
    _misnamed(project)
    diags = project.api().validate()
    assert [(d.code, d.changeset) for d in diags] == [("SF006", "c001")]
    assert diags[0].hint and "c001_base.yaml" in diags[0].hint
    project.changesets.joinpath("base.yaml").rename(project.changesets / "c001_base.yaml")
    assert project.api().validate() == []


def test_sf006_can_be_ignored_in_the_configuration(project: Project) -> None:
    with (project.root / "schemaflow.toml").open("a", encoding="utf-8") as f:
        f.write('[lint]\nignore = ["SF006"]\n')
    _misnamed(project)
    assert "SF006" not in codes(project.api().validate())


def test_sf006_can_be_ignored_in_the_changeset(project: Project) -> None:
    _misnamed(project, lint={"ignore": ["SF006"]})
    assert "SF006" not in codes(project.api().validate())


def test_sf202_rollback_that_restores_nothing_names_a_difference(project: Project) -> None:
    diags = lint(project, {"operations": [_add("users", "nickname", "text")],
                           "rollback": []})
    (d,) = [d for d in diags if d.code == "SF202"]
    assert "1 difference" in d.message and d.hint and "rollback" in d.hint
    # What the rollback still has to do (it said `add_column`, what the changeset did).
    assert "it also needs: drop_column users.nickname" in d.message, d.message


def test_sf202_names_the_variants_a_rollback_leaves_out(project: Project) -> None:
    """A rollback that gives a column its type back but not its type variants: the
    difference named is the variants (it named the type alone, which the rollback gives)."""
    typed = {"table": "users", "name": "bio", "type": "json",
             "variants": {"postgresql": "postgresql.jsonb"}}
    diags = lint(project, [{"alter_column": typed}],
                 {"operations": [{"alter_column": {**typed, "type": "text", "variants": {}}}],
                  "rollback": [{"alter_column": {**typed, "variants": {}}}]})
    (d,) = [d for d in diags if d.code == "SF202"]
    assert ("it also needs: alter_column users.bio (type=json, variants={postgresql: "
            "postgresql.jsonb})") in d.message, d.message


def test_sf201_explicit_rollback_makes_sql_reversible(project: Project) -> None:
    diags = lint(project, {"operations": [{"sql": {"up": "UPDATE users SET bio = ''"}}],
                           "rollback": [{"sql": {"up": "SELECT 1"}}]})
    assert {"SF201", "SF202"} & codes(diags) == set()


# --- selection ----------------------------------------------------------------------------------

NOISY: list[Any] = [
    _add("users", "country", "string(2)", nullable=False),      # SF311, SF345
    {"drop_column": {"table": "users", "name": "bio"}},          # SF302
    {"create_index": {"name": "ix_orders_code", "table": "orders",
                      "columns": ["code"]}},                     # SF341
]


def _config(project: Project, text: str) -> None:
    with (project.root / "schemaflow.toml").open("a", encoding="utf-8") as f:
        f.write(text)


def test_everything_is_selected_by_default(project: Project) -> None:
    assert codes(lint(project, NOISY)) == {"SF311", "SF345", "SF302", "SF341"}


def test_select_in_the_configuration(project: Project) -> None:
    _config(project, '[lint]\nselect = ["SF302", "SF341"]\n')
    assert codes(lint(project, NOISY)) == {"SF302", "SF341"}


def test_ignore_in_the_configuration(project: Project) -> None:
    _config(project, '[lint]\nignore = ["SF302", "SF345"]\n')
    assert codes(lint(project, NOISY)) == {"SF311", "SF341"}


def test_ignore_wins_over_select(project: Project) -> None:
    _config(project, '[lint]\nselect = ["SF302", "SF341"]\nignore = ["SF341"]\n')
    assert codes(lint(project, NOISY)) == {"SF302"}


def test_select_by_prefix(project: Project) -> None:
    _config(project, '[lint]\nselect = ["SF34"]\n')
    assert codes(lint(project, NOISY)) == {"SF341", "SF345"}


def test_ignore_by_prefix(project: Project) -> None:
    _config(project, '[lint]\nignore = ["SF3"]\n')
    assert codes(lint(project, NOISY, [{"sql": {"up": "SELECT 1"}}])) == {"SF201"}


def test_select_applies_to_history_checks_too(project: Project) -> None:
    _config(project, '[lint]\nselect = ["SF302"]\n')
    diags = lint(project, NOISY, [], [{"sql": {"up": "SELECT 1"}}])
    assert codes(diags) == {"SF302"}  # no SF014, SF201, SF311, ...


def test_reference_errors_are_always_reported(project: Project) -> None:
    _config(project, '[lint]\nselect = ["SF302"]\nignore = ["SF101"]\n')
    diags = lint(project, [_add("usrs", "nickname", "text")])
    assert codes(diags) == {"SF101"}


def test_ignore_in_the_changeset(project: Project) -> None:
    diags = lint(project, {"lint": {"ignore": ["SF302", "SF345"]}, "operations": NOISY},
                 [{"drop_column": {"table": "users", "name": "age"}}])
    assert codes(diags, "c002") == {"SF311", "SF341"}
    assert codes(diags, "c003") == {"SF302", "SF345"}  # only that changeset


def test_ignore_by_prefix_in_the_changeset(project: Project) -> None:
    diags = lint(project, {"lint": {"ignore": ["SF34"]}, "operations": NOISY})
    assert codes(diags) == {"SF311", "SF302"}


def test_unknown_lint_key_in_the_changeset_is_an_error(project: Project) -> None:
    diags = lint(project, {"lint": {"ignroe": ["SF302"]}, "operations": NOISY})
    assert [d.severity for d in diags] == ["error"]
    assert "ignroe" in diags[0].message


# --- the command line ---------------------------------------------------------------------------

DIAG_LINE = re.compile(r"^(changesets/\S+\.yaml):(\d+):(\d+): (error|warning) (SF\d{3}) \S")


def test_cli_clean_history(project: Project) -> None:
    history(project, [LOCK_TIMEOUT, _add("users", "nickname", "text")])
    r = project.cli("validate", "--dialect", "postgresql")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No problems found in 2 changesets." in r.stdout


def test_cli_warnings_exit_0_unless_fail_on_warning(project: Project) -> None:
    history(project, [{"drop_column": {"table": "users", "name": "bio"}}])
    r = project.cli("validate")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [m for m in map(DIAG_LINE.match, r.stdout.splitlines()) if m]
    assert [(m.group(4), m.group(5)) for m in lines] == [("warning", "SF302")]
    assert "    hint: " in r.stdout
    assert r.stdout.rstrip().endswith("0 errors, 1 warning")
    r = project.cli("validate", "--fail-on", "warning")
    assert r.returncode == 1
    assert project.cli("validate", "--fail-on", "error").returncode == 0


def test_cli_errors_exit_1(project: Project) -> None:
    history(project, [_add("usrs", "nickname", "text"),
                      {"drop_column": {"table": "users", "name": "bio"}}])
    r = project.cli("validate")
    assert r.returncode == 1
    found = [m for m in map(DIAG_LINE.match, r.stdout.splitlines()) if m]
    assert [(m.group(4), m.group(5)) for m in found] == [("error", "SF101"),
                                                         ("warning", "SF302")]
    assert found[0].group(1) == "changesets/c002_change.yaml"
    assert "1 error, 1 warning" in r.stdout
    assert "Traceback" not in r.stderr


def test_cli_json_output(project: Project) -> None:
    history(project, [_add("usrs", "nickname", "text"),
                      {"drop_column": {"table": "users", "name": "bio"}}])
    r = project.cli("validate", "--format", "json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["summary"] == {"errors": 1, "warnings": 1, "files": 2}
    keys = {"code", "severity", "message", "file", "line", "col", "hint", "changeset"}
    assert all(set(d) == keys for d in doc["diagnostics"])
    assert [(d["code"], d["severity"], d["changeset"]) for d in doc["diagnostics"]] == [
        ("SF101", "error", "c002"), ("SF302", "warning", "c002")]
    assert all(isinstance(d["line"], int) and d["file"].endswith("c002_change.yaml")
               for d in doc["diagnostics"])


def test_cli_json_output_when_clean(project: Project) -> None:
    history(project)
    r = project.cli("validate", "--format", "json")
    assert r.returncode == 0
    assert json.loads(r.stdout) == {"diagnostics": [],
                                    "summary": {"errors": 0, "warnings": 0, "files": 1}}


def test_cli_github_output(project: Project) -> None:
    history(project, [_add("usrs", "nickname", "text"),
                      {"drop_column": {"table": "users", "name": "bio"}}])
    r = project.cli("validate", "--format", "github")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    pattern = (r"^::{level} file=changesets/c002_change\.yaml,line=\d+,col=\d+,"
               r"title={code}::.+")
    assert re.match(pattern.format(level="error", code="SF101"), lines[0]), lines[0]
    assert re.match(pattern.format(level="warning", code="SF302"), lines[1]), lines[1]
    assert "(hint: " in lines[1]


def test_cli_dialect_brings_in_the_postgresql_rules(project: Project) -> None:
    history(project, [{"create_index": {"name": "ix_orders_code", "table": "orders",
                                        "columns": ["code"]}}])
    # The project's URL is SQLite: no PostgreSQL lock rules unless asked for.
    plain = json.loads(project.cli("validate", "--format", "json").stdout)
    assert plain["diagnostics"] == []
    r = project.cli("validate", "--dialect", "postgresql", "--format", "json")
    assert r.returncode == 0
    assert [d["code"] for d in json.loads(r.stdout)["diagnostics"]] == ["SF341"]
    r = project.cli("validate", "--dialect", "postgresql", "--fail-on", "warning")
    assert r.returncode == 1 and "SF341" in r.stdout


def test_cli_server_version(project: Project) -> None:
    history(project, [{"create_check_constraint": {"name": "ck_users_age", "table": "users",
                                                   "expression": "age >= 0"}}])
    old = project.cli("validate", "--dialect", "mysql", "--server-version", "5.7")
    assert old.returncode == 1 and "SF331" in old.stdout
    new = project.cli("validate", "--dialect", "mysql", "--server-version", "8.0.16")
    assert new.returncode == 0, new.stdout
    bad = project.cli("validate", "--dialect", "mysql", "--server-version", "eight")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_cli_paths_limit_the_report(project: Project) -> None:
    history(project, [{"drop_column": {"table": "users", "name": "bio"}}],
            [{"drop_column": {"table": "users", "name": "age"}}])
    r = project.cli("validate", "--format", "json", "changesets/c003_change.yaml")
    doc = json.loads(r.stdout)
    assert [(d["code"], d["changeset"]) for d in doc["diagnostics"]] == [("SF302", "c003")]
    assert doc["summary"]["files"] == 3  # the whole history was checked


def test_cli_bad_format_is_a_usage_error(project: Project) -> None:
    history(project)
    r = project.cli("validate", "--format", "xml")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = project.cli("validate", "--fail-on", "info")
    assert r.returncode == 2


def test_cli_selection_from_the_configuration(project: Project) -> None:
    _config(project, '[lint]\nignore = ["SF302"]\n')
    history(project, [{"drop_column": {"table": "users", "name": "bio"}}])
    r = project.cli("validate", "--fail-on", "warning")
    assert r.returncode == 0 and "No problems found" in r.stdout


def test_cli_selection_by_prefix_from_the_configuration(project: Project) -> None:
    _config(project, '[lint]\nselect = ["SF3"]\n')
    history(project, [{"drop_column": {"table": "users", "name": "bio"}}], [])
    r = project.cli("validate", "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert [d["code"] for d in json.loads(r.stdout)["diagnostics"]] == ["SF302"]


# --- docs/rules.md ------------------------------------------------------------------------------

DOCS = ROOT / "docs" / "rules.md"
# Codes the page documents besides rules.RULES (the history checks a project can select).
DOCUMENTED = {*RULES, "SF006", "SF013", "SF014", "SF016", "SF201", "SF202", *REFERENCE}
# Examples that need models, or a file name of their own.
NOT_RUNNABLE = {"SF006", "SF323"}
# Rules whose examples are checked without a target database (with one, SF331 decides).
WITHOUT_TARGET = {"SF334"}


def _sections() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^### (SF\d{3})\b.*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _blocks(text: str, kind: str) -> list[Any]:
    return [yaml.safe_load(b) for b in re.findall(rf"^```yaml {kind}\n(.*?)^```", text,
                                                    flags=re.M | re.S)]


def test_docs_list_every_rule() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for code in RULES:
        assert code in text, f"{code} is missing from docs/rules.md"


def test_docs_have_a_section_with_examples_for_every_rule() -> None:
    sections = _sections()
    assert set(sections) >= DOCUMENTED, sorted(DOCUMENTED - set(sections))
    for code in DOCUMENTED:
        assert len(_blocks(sections[code], "bad")) == 1, code
        assert len(_blocks(sections[code], "good")) == 1, code


def test_docs_table_matches_the_rules() -> None:
    rows = re.findall(r"^\| \[?(SF\d{3})\]?[^|]* \| (\w+) \| ([\w-]+) \| (.+?) \|$",
                      DOCS.read_text(encoding="utf-8"), flags=re.M)
    table = {code: (severity, group) for code, severity, group, _ in rows}
    for code, rule in RULES.items():
        assert table.get(code) == (rule.severity, rule.group), code


def _doc_base() -> list[Any]:
    (base,) = _blocks(DOCS.read_text(encoding="utf-8"), "base")
    assert isinstance(base, list)
    return base


def _write_example(project: Project, example: Any) -> None:
    """The base as c001, then the example: operations, changeset keys, or a piece of history."""
    for f in project.changesets.iterdir():
        f.unlink()
    project.write("c001", _doc_base())
    if isinstance(example, list) and example and all(
            isinstance(x, dict) and "id" in x for x in example):
        for cs in example:
            doc = dict(cs)
            cid, ops = doc.pop("id"), doc.pop("operations")
            project.write(cid, ops, **doc)
        return
    doc = {"operations": example} if isinstance(example, list) else dict(example)
    ops = doc.pop("operations")
    project.write("c002", ops, parents=["c001"], **doc)


@pytest.mark.parametrize("code", sorted(DOCUMENTED - NOT_RUNNABLE))
def test_docs_examples_do_what_they_say(project: Project, code: str) -> None:
    section = _sections()[code]
    (bad,) = _blocks(section, "bad")
    (good,) = _blocks(section, "good")
    for example, expected in ((bad, True), (good, False)):
        _write_example(project, example)
        diags = project.api().validate(dialect=None, server_version=None) if (
            code in WITHOUT_TARGET) else project.api().validate(dialect="postgresql",
                                                                 server_version=(16,))
        found = code in {d.code for d in diags if d.changeset != "c001"}
        assert found is expected, (code, "bad" if expected else "good",
                                   [(d.changeset, d.code, d.message) for d in diags])


def test_docs_base_is_clean(project: Project) -> None:
    _write_example(project, [LOCK_TIMEOUT])
    assert project.api().validate(dialect="postgresql", server_version=(16,)) == []


def test_docs_examples_that_cannot_run_still_parse() -> None:
    sections = _sections()
    for code in NOT_RUNNABLE:
        for kind in ("bad", "good"):
            (block,) = _blocks(sections[code], kind)
            assert block, (code, kind)


# --- pre-commit ---------------------------------------------------------------------------------

HOOKS = ROOT / ".pre-commit-hooks.yaml"


def _hook() -> dict[str, Any]:
    hooks = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    (hook,) = [h for h in hooks if h.get("id") == "schemaflow-validate"]
    assert isinstance(hook, dict)
    return hook


def test_pre_commit_hook_definition() -> None:
    hook = _hook()
    assert hook["entry"] == "schemaflow validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    assert hook["name"]
    files = re.compile(hook["files"])
    for path in ("changesets/3f9a1c2b7d4e_create_user.yaml", "changesets/a_b.yml",
                 "db/changesets/a_b.toml"):
        assert files.search(path), path
    for path in ("schemaflow/cli.py", "README.md", "changesets/notes.txt",
                 ".github/workflows/ci.yaml"):
        assert not files.search(path), path


def test_pre_commit_hook_runs_as_pre_commit_would(project: Project) -> None:
    hook = _hook()
    history(project, [{"drop_column": {"table": "users", "name": "bio"}}],
            [_add("usrs", "nickname", "text")])
    entry = shlex.split(hook["entry"])
    assert entry[0] == "schemaflow"
    cmd = [sys.executable, "-m", "schemaflow", *entry[1:], *hook.get("args", [])]
    env = {"SCHEMAFLOW_URL": "postgresql://nobody@127.0.0.1:1/none"}  # never contacted
    ok = subprocess.run([*cmd, "changesets/c002_change.yaml"], cwd=project.root,
                        capture_output=True, text=True, timeout=120, check=False,
                        env={**_clean_env(), **env})
    # c003 is not given, but the history c002 belongs to is broken there: reported.
    assert ok.returncode == 1, ok.stdout + ok.stderr
    assert "SF302" in ok.stdout and "SF101" in ok.stdout
    assert "SF022" not in ok.stdout  # offline: the database is not contacted
    bad = subprocess.run([*cmd, "changesets/c002_change.yaml", "changesets/c003_change.yaml"],
                         cwd=project.root, capture_output=True, text=True, timeout=120,
                         check=False, env={**_clean_env(), **env})
    assert bad.returncode == 1 and "SF101" in bad.stdout


def _clean_env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    env["NO_COLOR"] = "1"
    return env


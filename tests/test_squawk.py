"""Our PostgreSQL safety rules against squawk (https://squawkhq.com), a migration linter.

A realistic history of changesets is rendered to SQL with `schemaflow apply --sql --dialect
postgresql`, each changeset's SQL is linted by `squawk`, and for every squawk rule that fires on
a changeset, `schemaflow validate --dialect postgresql` must report the corresponding SF code on
that same changeset. Squawk rules we deliberately do not match say why, below.

Written against squawk-cli 2.70; a squawk release with a new rule makes the comparison fail with
the rule's name until it is mapped or given a reason here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import IN_CI, Project, make_project

PG_VERSION = "16"

# --- the mapping: squawk rule -> the SF codes that match it (any one of them) -------------------

MATCHED: dict[str, tuple[str, ...]] = {
    # ADD COLUMN ... NOT NULL without a default on an existing table.
    "adding-required-field": ("SF311",),
    # ADD COLUMN ... DEFAULT <volatile function> rewrites the table (constant defaults don't).
    "adding-field-with-default": ("SF346",),
    # ALTER COLUMN ... SET NOT NULL scans the table under ACCESS EXCLUSIVE.
    "adding-not-nullable-field": ("SF344",),
    # ADD CONSTRAINT ... FOREIGN KEY without NOT VALID.
    "adding-foreign-key-constraint": ("SF342",),
    # Squawk fires this for CHECK and FOREIGN KEY (ours: SF342, `not_valid: true` fixes it) and
    # for UNIQUE / PRIMARY KEY, which PostgreSQL cannot add NOT VALID (ours: SF312, the
    # constraint is built and checked on the existing rows).
    "constraint-missing-not-valid": ("SF342", "SF312"),
    # ADD PRIMARY KEY on an existing table builds a unique index under ACCESS EXCLUSIVE.
    "adding-serial-primary-key-field": ("SF312",),
    # ADD CONSTRAINT ... UNIQUE on an existing table.
    "disallowed-unique-constraint": ("SF312",),
    # CREATE INDEX without CONCURRENTLY on an existing table.
    "require-concurrent-index-creation": ("SF341",),
    # ALTER COLUMN ... TYPE: a rewrite (SF343), a narrowing (SF303) or a cast that may fail
    # (SF313). Binary-compatible changes (varchar(n) -> varchar(m > n), varchar -> text) need no
    # rewrite in PostgreSQL; squawk flags them anyway and we deliberately do not (see the
    # `squawk_only` note on the changeset that does one).
    "changing-column-type": ("SF343", "SF303", "SF313"),
    "renaming-column": ("SF322",),
    "renaming-table": ("SF321",),
    "ban-drop-column": ("SF302",),
    "ban-drop-table": ("SF301",),
    # schemaflow drops a PostgreSQL enum type when the last column using it goes: with the
    # table (SF301), the column (SF302) or a type change away from the enum (SF343).
    "ban-drop-type": ("SF301", "SF302", "SF343"),
    # Only statements that squawk says need an ACCESS EXCLUSIVE lock are compared (see
    # `compared`): CREATE INDEX (SHARE, reported by SF341), CREATE INDEX CONCURRENTLY (SHARE
    # UPDATE EXCLUSIVE: reads and writes go on) and CREATE TYPE (a new object, no table lock)
    # are deliberately not asked for a lock_timeout.
    "require-lock-timeout": ("SF345",),
    # An identifier over 63 characters: PostgreSQL cannot do that as written (SF331). Such a
    # changeset cannot be rendered, so it is compared in a test of its own below.
    "identifier-too-long": ("SF331",),
}

NOT_MATCHED: dict[str, str] = {
    "prefer-robust-stmts": (
        "schemaflow runs each changeset once, recorded in the version table, in a transaction "
        "where PostgreSQL allows; IF [NOT] EXISTS would hide drift instead of reporting it"),
    "require-statement-timeout": (
        "a statement_timeout aborts long but legitimate work (CREATE INDEX CONCURRENTLY, "
        "backfills); the lock queue pile-up is what hurts, and lock_timeout (SF345) prevents it"),
    "require-concurrent-index-deletion": (
        "drop_index has no `concurrently` key, so there is nothing to suggest; the ACCESS "
        "EXCLUSIVE lock DROP INDEX takes is reported by SF345 (require-lock-timeout)"),
    "ban-concurrent-index-creation-in-transaction": (
        "never reaches squawk: `apply --sql` refuses to render CONCURRENTLY in a transactional "
        "changeset; test_concurrent_index_in_a_transaction_is_a_validate_error covers it"),
    "require-enum-value-ordering": (
        "the enum(...) type lists every value in order and schemaflow writes ALTER TYPE ... ADD "
        "VALUE itself; there is no hand-written statement to order"),
    "ban-drop-not-null": (
        "loosening a column is the 'expand' step of expand-and-contract, which our hints "
        "recommend; code written for the old schema keeps working"),
    "ban-drop-default": (
        "as ban-drop-not-null: loosening, the expand step; code that always writes the column "
        "keeps working"),
    "ban-drop-constraint": (
        "loosening: writes that passed the constraint still pass; rollback recreates it"),
    # Column-type style, not migration safety: the author chooses `type:`, and schemaflow
    # renders `integer, primary_key: true` as SERIAL as SQLAlchemy (and Alembic) do.
    "prefer-bigint-over-int": "column-type style, chosen by the author in `type:`",
    "prefer-bigint-over-smallint": "column-type style, chosen by the author in `type:`",
    "prefer-identity": "column-type style: SERIAL is SQLAlchemy's rendering of an integer key",
    "prefer-text-field": "column-type style: string(N) is a portable, deliberate choice",
    "prefer-timestamp-tz": "column-type style: `datetime(timezone=true)` is available",
    "ban-char-field": "column-type style: char(N) is only reachable as postgresql.char",
    "unused-ignore": "about squawk's own ignore comments, which schemaflow never writes",
}
# Rules about statements that only a raw `sql` operation can contain: schemaflow passes raw SQL
# through verbatim without parsing it (run squawk on `apply --sql` output to lint it).
for _rule in ("transaction-nesting", "ban-drop-database", "ban-truncate-cascade",
              "ban-create-domain-with-constraint", "ban-alter-domain-with-add-constraint",
              "ban-uncommitted-transaction", "require-concurrent-reindex",
              "require-concurrent-partition-detach", "prefer-repack", "renaming-object",
              "ban-drop-view", "ban-drop-function", "ban-drop-sequence", "ban-drop-domain",
              "ban-drop-schema", "ban-drop-extension", "ban-drop-trigger", "ban-set-schema",
              "ban-drop-policy", "ban-replace-view-function", "ban-disable-trigger"):
    NOT_MATCHED[_rule] = "only reachable through raw `sql`, which schemaflow does not parse"
# Squawk's opt-in rules (ban-add-column, require-table-schema, ...) are not enabled here.


# --- the corpus: one realistic history ----------------------------------------------------------

LOCK_TIMEOUT = {"sql": {"up": "SET lock_timeout = '5s'", "down": "SET lock_timeout = '5s'",
                        "dialects": ["postgresql"]}}


@dataclass
class Case:
    """One changeset of the corpus."""

    id: str
    message: str
    operations: list[Any]
    transactional: bool | None = None
    # A safe changeset: squawk must find nothing we compare, and we must report nothing.
    safe: bool = False
    # Squawk rules this changeset triggers that we deliberately do not report, with the reason.
    squawk_only: dict[str, str] = field(default_factory=dict)

    def doc(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"message": self.message}
        if self.transactional is not None:
            extra["transactional"] = self.transactional
        return extra


def col(name: str, type_: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **kw}


CORPUS: list[Case] = [
    Case("a001", "users, orders and an audit log", [
        {"create_table": {"name": "users", "columns": [
            col("id", "bigint", primary_key=True),
            col("email", "string(255)", nullable=False),
            col("name", "string(100)"),
            col("phone", "text"),
            col("created_at", "datetime(timezone=true)", nullable=False,
                default_sql="CURRENT_TIMESTAMP"),
        ]}},
        {"create_table": {"name": "orders", "columns": [
            col("id", "bigint", primary_key=True),
            col("user_id", "bigint", nullable=False),
            col("total", "numeric(10,2)", nullable=False, default=0),
            col("quantity", "integer", nullable=False, default=1),
            col("status", "enum(new,paid,name=order_status)", nullable=False, default="new"),
            col("note", "text", nullable=False, default=""),
        ], "foreign_keys": [{"name": "fk_orders_user", "columns": ["user_id"],
                             "references": {"table": "users", "columns": ["id"]}}],
           "indexes": [{"name": "ix_orders_user_id", "columns": ["user_id"]}]}},
        {"create_table": {"name": "audit_log", "columns": [
            col("event_id", "bigint", nullable=False),
            col("message", "text"),
        ]}},
    ]),
    Case("a002", "add a nickname, safely", [
        LOCK_TIMEOUT,
        {"add_column": {"table": "users", "column": col("nickname", "text")}},
    ], safe=True),
    Case("a003", "every user needs a country", [
        {"add_column": {"table": "users", "column": col("country", "string(2)", nullable=False)}},
    ]),
    Case("a004", "index orders by status", [
        {"create_index": {"name": "ix_orders_status", "table": "orders", "columns": ["status"]}},
    ]),
    Case("a005", "index orders by total, concurrently", [
        LOCK_TIMEOUT,
        {"create_index": {"name": "ix_orders_total", "table": "orders", "columns": ["total"],
                          "concurrently": True}},
    ], transactional=False, safe=True),
    Case("a006", "coupons for orders", [
        LOCK_TIMEOUT,
        {"create_table": {"name": "coupons", "columns": [
            col("id", "bigint", primary_key=True), col("code", "text", nullable=False)]}},
        {"add_column": {"table": "orders", "column": col("coupon_id", "bigint")}},
        {"create_foreign_key": {"name": "fk_orders_coupon", "table": "orders",
                                "columns": ["coupon_id"],
                                "references": {"table": "coupons", "columns": ["id"]}}},
    ]),
    Case("a007", "positive totals, validated later", [
        LOCK_TIMEOUT,
        {"create_check_constraint": {"name": "ck_orders_total", "table": "orders",
                                     "expression": "total >= 0", "not_valid": True}},
    ], safe=True),
    Case("a008", "quantity must be positive", [
        LOCK_TIMEOUT,
        {"create_check_constraint": {"name": "ck_orders_quantity", "table": "orders",
                                     "expression": "quantity > 0"}},
    ]),
    Case("a009", "names are required", [
        LOCK_TIMEOUT,
        {"alter_column": {"table": "users", "name": "name", "nullable": False}},
    ]),
    Case("a010", "one account per email", [
        LOCK_TIMEOUT,
        {"create_unique_constraint": {"name": "uq_users_email", "table": "users",
                                      "columns": ["email"]}},
    ]),
    Case("a011", "quantities as bigint", [
        LOCK_TIMEOUT,
        {"alter_column": {"table": "orders", "name": "quantity", "type": "bigint"}},
    ]),
    Case("a012", "longer names", [
        LOCK_TIMEOUT,
        {"alter_column": {"table": "users", "name": "name", "type": "string(200)"}},
    ], squawk_only={"changing-column-type": (
        "varchar(100) -> varchar(200) is binary-compatible: PostgreSQL changes the catalog "
        "only, no rewrite and no scan")}),
    Case("a013", "name is full_name", [
        LOCK_TIMEOUT,
        {"rename_column": {"table": "users", "name": "name", "new_name": "full_name"}},
    ]),
    Case("a014", "the audit log becomes events", [
        LOCK_TIMEOUT,
        {"rename_table": {"name": "audit_log", "new_name": "events"}},
    ]),
    Case("a015", "phone numbers moved elsewhere", [
        LOCK_TIMEOUT,
        {"drop_column": {"table": "users", "name": "phone"}},
    ]),
    Case("a016", "coupons are gone", [
        LOCK_TIMEOUT,
        {"drop_constraint": {"name": "fk_orders_coupon", "table": "orders",
                             "type": "foreign_key"}},
        {"drop_column": {"table": "orders", "name": "coupon_id"}},
        {"drop_table": {"name": "coupons"}},
    ]),
    Case("a017", "the status index is not used", [
        {"drop_index": {"name": "ix_orders_status", "table": "orders"}},
    ]),
    Case("a018", "track last sign-in", [
        LOCK_TIMEOUT,
        {"add_column": {"table": "users", "column": col(
            "last_seen", "datetime(timezone=true)", index=True)}},
    ]),
    Case("a019", "events get a primary key", [
        LOCK_TIMEOUT,
        {"create_primary_key": {"name": "pk_events", "table": "events",
                                "columns": ["event_id"]}},
    ]),
    Case("a020", "public ids for users", [
        LOCK_TIMEOUT,
        {"add_column": {"table": "users", "column": col(
            "public_id", "uuid", default_sql="gen_random_uuid()")}},
    ]),
    Case("a021", "shipped orders", [
        LOCK_TIMEOUT,
        {"alter_column": {"table": "orders", "name": "status",
                          "type": "enum(new,paid,shipped,name=order_status)"}},
    ]),
    Case("a022", "notes are optional", [
        LOCK_TIMEOUT,
        {"alter_column": {"table": "orders", "name": "note", "nullable": True,
                          "drop_default": True}},
    ]),
    Case("a023", "order codes, as text for now", [
        LOCK_TIMEOUT,
        {"add_column": {"table": "orders", "column": col("code", "text")}},
    ], safe=True),
    Case("a024", "order codes become numbers, part 2", [
        LOCK_TIMEOUT,
        {"alter_column": {"table": "orders", "name": "code", "type": "integer",
                          "using": "code::integer"}},
    ]),
    Case("a025", "orders get a currency", [
        LOCK_TIMEOUT,
        {"add_column": {"table": "orders", "column": col(
            "currency", "string(3)", nullable=False, default="EUR")}},
    ], safe=True),
    Case("a026", "free-form statuses", [
        LOCK_TIMEOUT,
        {"alter_column": {"table": "orders", "name": "status", "type": "text"}},
    ]),
]


def write_corpus(project: Project, cases: list[Case]) -> None:
    parent: list[str] = []
    for case in cases:
        project.write(case.id, case.operations, parents=parent, slug="corpus", **case.doc())
        parent = [case.id]


# --- squawk -------------------------------------------------------------------------------------


def _find_squawk() -> str | None:
    candidates = [shutil.which("squawk"),
                  str(Path(sys.executable).parent / "squawk"),
                  str(Path(sysconfig.get_path("scripts")) / "squawk")]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        candidates.append(str(Path(sysconfig.get_path("scripts", user_scheme)) / "squawk"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


@pytest.fixture(scope="session")
def squawk() -> str:
    """The squawk binary, installed from PyPI (squawk-cli) into this environment if missing."""
    found = _find_squawk()
    if found:
        return found
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", "squawk-cli>=2"],
                          capture_output=True, text=True, timeout=900, check=False)
    found = _find_squawk()
    if found:
        return found
    said = [line for line in (done.stderr + done.stdout).splitlines()
            if line.strip() and not line.startswith("WARNING: Running pip as")]
    errors = [line for line in said if line.startswith("ERROR")] or said[-1:]
    reason = (f"squawk is not available, even after `pip install squawk-cli` "
              f"(exit {done.returncode}): {' '.join(errors[-2:]) or 'no output'}")
    if IN_CI:
        pytest.fail(reason + " (CI=true: the squawk comparison must run)")
    pytest.skip(reason)


@dataclass(frozen=True)
class SquawkFinding:
    rule: str
    statement: str
    help: str


def run_squawk(squawk: str, sql_file: Path) -> list[SquawkFinding]:
    """Squawk's findings on one SQL file, through its JSON reporter."""
    done = subprocess.run([squawk, "--reporter", "json", f"--pg-version={PG_VERSION}.0",
                           str(sql_file)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode in (0, 1), done.stderr  # 1: violations found
    lines = sql_file.read_text().splitlines()
    out = []
    for v in json.loads(done.stdout or "[]"):
        line = int(v.get("line", 0))  # 0-based in squawk's JSON
        stmt = lines[line] if 0 <= line < len(lines) else ""
        out.append(SquawkFinding(v["rule_name"], stmt.strip(),
                                 str(v.get("help") or "") + " " + str(v.get("message") or "")))
    return out


_LOCK_LEVEL = re.compile(r"requires: ([A-Z ]+?) lock", re.I)


def compared(f: SquawkFinding) -> bool:
    """Whether a squawk finding is one we compare (require-lock-timeout: ACCESS EXCLUSIVE only)."""
    if f.rule == "require-lock-timeout":
        level = _LOCK_LEVEL.search(f.help)
        return level is not None and level.group(1).strip().upper() == "ACCESS EXCLUSIVE"
    return True


def split_by_changeset(sql: str) -> dict[str, str]:
    """The SQL of `apply --sql` cut at its `-- apply <id>: ...` headers."""
    parts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in sql.splitlines():
        m = re.match(r"^-- apply (\S+):", line)
        if m:
            current = parts.setdefault(m.group(1), [])
        if current is not None:
            current.append(line)
    return {cid: "\n".join(lines) + "\n" for cid, lines in parts.items()}


# --- the comparison -----------------------------------------------------------------------------


@dataclass
class Comparison:
    sql: dict[str, str]
    squawk: dict[str, list[SquawkFinding]]
    ours: dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def comparison(squawk: str, tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    project = make_project(tmp_path_factory.mktemp("squawk") / "proj")
    write_corpus(project, CORPUS)
    rendered = project.cli("apply", "--sql", "--dialect", "postgresql")
    assert rendered.returncode == 0, rendered.stderr
    sql = split_by_changeset(rendered.stdout)
    assert set(sql) == {c.id for c in CORPUS}
    found: dict[str, list[SquawkFinding]] = {}
    for cid, text in sql.items():
        path = project.root / f"{cid}.sql"
        path.write_text(text, encoding="utf-8")
        found[cid] = [f for f in run_squawk(squawk, path) if compared(f)]
    linted = project.cli("validate", "--dialect", "postgresql", "--server-version", PG_VERSION,
                         "--format", "json", "--no-db")
    assert linted.returncode in (0, 1), linted.stderr
    ours: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in json.loads(linted.stdout)["diagnostics"]:
        ours[d["changeset"]].append(d)
    return Comparison(sql, found, ours)


def test_mapping_is_consistent() -> None:
    from schemaflow.rules import RULES

    assert not set(MATCHED) & set(NOT_MATCHED)
    for rule, codes in MATCHED.items():
        assert codes, rule
        for code in codes:
            assert code in RULES, f"{rule} maps to {code}, which is not a rule"
    for rule, reason in NOT_MATCHED.items():
        assert reason.strip(), rule
    for case in CORPUS:
        for rule, reason in case.squawk_only.items():
            assert rule in MATCHED and reason.strip(), (case.id, rule)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: f"{c.id}-{c.message.replace(' ', '-')}")
def test_every_squawk_finding_is_matched_by_ours(case: Case, comparison: Comparison) -> None:
    squawked = comparison.squawk[case.id]
    ours = {d["code"] for d in comparison.ours.get(case.id, [])}
    problems = []
    for f in squawked:
        if f.rule in NOT_MATCHED or f.rule in case.squawk_only:
            continue
        if f.rule not in MATCHED:
            problems.append(f"squawk's {f.rule} fired on `{f.statement}` and no SF rule matches "
                            "it: add a rule, or map it in MATCHED or give a reason in "
                            "NOT_MATCHED")
            continue
        if not ours & set(MATCHED[f.rule]):
            problems.append(f"squawk's {f.rule} fired on `{f.statement}`; schemaflow reported "
                            f"{sorted(ours) or 'nothing'}, none of {list(MATCHED[f.rule])}")
    assert not problems, f"changeset {case.id}:\n" + "\n".join(problems) + (
        f"\n--- SQL ---\n{comparison.sql[case.id]}")


@pytest.mark.parametrize("case", [c for c in CORPUS if c.safe], ids=lambda c: c.id)
def test_safe_changesets_are_clean_for_both(case: Case, comparison: Comparison) -> None:
    squawked = [f for f in comparison.squawk[case.id] if f.rule not in NOT_MATCHED]
    assert squawked == [], comparison.sql[case.id]
    assert comparison.ours.get(case.id, []) == []


def test_deliberate_differences_really_occur(comparison: Comparison) -> None:
    """Each `squawk_only` note is about a finding squawk really makes (no stale excuses)."""
    for case in CORPUS:
        fired = {f.rule for f in comparison.squawk[case.id]}
        for rule in case.squawk_only:
            assert rule in fired, (case.id, rule)
            ours = {d["code"] for d in comparison.ours.get(case.id, [])}
            assert not ours & set(MATCHED[rule]), (case.id, rule, ours)


def test_the_corpus_exercises_the_mapping(comparison: Comparison) -> None:
    """The corpus triggers most mapped squawk rules, so the comparison means something."""
    fired = {f.rule for fs in comparison.squawk.values() for f in fs}
    untested = {"identifier-too-long"}  # cannot be rendered: tested on its own below
    assert set(MATCHED) - untested - fired == set()


# --- what squawk never sees: changesets schemaflow cannot render --------------------------------


def _validate_pg(project: Project) -> list[Any]:
    return project.api().validate(dialect="postgresql", server_version=(int(PG_VERSION),))


def test_concurrent_index_in_a_transaction_is_a_validate_error(project: Project) -> None:
    # squawk: ban-concurrent-index-creation-in-transaction. PostgreSQL refuses CREATE INDEX
    # CONCURRENTLY inside a transaction block, and so does `apply`; validate must say so first.
    write_corpus(project, [CORPUS[0], Case("b001", "index in a transaction", [
        {"create_index": {"name": "ix_orders_total", "table": "orders", "columns": ["total"],
                          "concurrently": True}}])])
    rendered = project.cli("apply", "--sql", "--dialect", "postgresql")
    assert rendered.returncode == 2 and "transaction" in rendered.stderr
    errors = [d for d in _validate_pg(project) if d.severity == "error"]
    assert [d.changeset for d in errors] == ["b001"], errors


def test_concurrent_index_outside_a_transaction_is_fine(project: Project) -> None:
    write_corpus(project, [CORPUS[0], Case("b001", "index", [
        LOCK_TIMEOUT,
        {"create_index": {"name": "ix_orders_total", "table": "orders", "columns": ["total"],
                          "concurrently": True}}], transactional=False)])
    assert project.cli("apply", "--sql", "--dialect", "postgresql").returncode == 0
    assert _validate_pg(project) == []


def test_identifier_too_long_is_sf331(project: Project) -> None:
    # squawk: identifier-too-long. PostgreSQL keeps 63 bytes of a name; schemaflow's renderer
    # refuses longer ones, so validate must report the changeset (SF331) before apply fails.
    name = "customer_lifetime_value_snapshots_by_region_and_marketing_channel"
    assert len(name) > 63
    write_corpus(project, [CORPUS[0], Case("b001", "long name", [
        {"create_table": {"name": name, "columns": [col("id", "bigint", primary_key=True)]}}])])
    rendered = project.cli("apply", "--sql", "--dialect", "postgresql")
    assert "Traceback" not in rendered.stderr, "a user error must not be a traceback"
    assert rendered.returncode == 2
    assert [(d.code, d.changeset) for d in _validate_pg(project)] == [("SF331", "b001")]


def test_identifier_of_63_characters_is_fine(project: Project) -> None:
    name = "t" * 60
    write_corpus(project, [CORPUS[0], Case("b001", "long name", [
        {"create_table": {"name": name, "columns": [col("id", "bigint", primary_key=True)]}}])])
    # The primary key's generated name (pk_<table>) is 63 characters: still fine.
    assert project.cli("apply", "--sql", "--dialect", "postgresql").returncode == 0
    assert _validate_pg(project) == []

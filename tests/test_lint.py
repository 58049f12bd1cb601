"""`lint.check` over a loaded history: references at each point, rollbacks, merges; and the CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from conftest import Project

from schemaflow import history, lint
from schemaflow.errors import Diagnostic

USER = {"create_table": {"name": "user", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "name", "type": "string(50)", "nullable": False},
    {"name": "email", "type": "string(120)", "unique": True},
]}}
LOG = {"create_table": {"name": "log", "columns": [{"name": "line", "type": "text"}]}}


def check(project: Project) -> list[Diagnostic]:
    return lint.check(history.load(project.changesets))


def errors(diags: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diags if d.severity == "error"]


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based number of the nth line of `path` that contains `needle`."""
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} not found {nth} times in {path}"
    return hits[nth - 1]


def same_file(diag_file: str | None, path: Path) -> bool:
    return diag_file is not None and os.path.realpath(diag_file) == os.path.realpath(path)


def only(diags: list[Diagnostic], code: str) -> Diagnostic:
    found = [d for d in diags if d.code == code]
    assert len(found) == 1, diags
    return found[0]


def db_tables(url: str) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return sorted(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def sole_error(project: Project) -> Diagnostic:
    errs = errors(check(project))
    assert len(errs) == 1, errs
    return errs[0]


# --- references at each point -------------------------------------------------------------------


@pytest.mark.parametrize(("operation", "code", "words", "hint"), [
    ({"drop_column": {"table": "usr", "name": "name"}}, "SF101", ["usr"], "user"),
    ({"add_column": {"table": "usr", "column": {"name": "x", "type": "text"}}}, "SF101",
     ["usr"], "user"),
    ({"rename_column": {"table": "user", "name": "nmae", "new_name": "full"}}, "SF102",
     ["nmae"], "name"),
    ({"create_index": {"name": "ix_x", "table": "user", "columns": ["emial"]}}, "SF102",
     ["emial"], "email"),
    ({"drop_index": {"name": "ix_user_emial", "table": "user"}}, "SF103",
     ["ix_user_emial"], None),
    ({"drop_constraint": {"name": "uq_user_emial", "table": "user", "type": "unique"}},
     "SF104", ["uq_user_emial"], "uq_user_email"),
    ({"create_table": {"name": "user", "columns": [{"name": "id", "type": "integer"}]}},
     "SF105", ["user"], None),
    ({"add_column": {"table": "user", "column": {"name": "email", "type": "text"}}},
     "SF106", ["email"], None),
], ids=lambda v: next(iter(v)) if isinstance(v, dict) else None)
def test_bad_reference_is_reported_with_file_line_and_code(
        project: Project, operation: dict[str, Any], code: str, words: list[str],
        hint: str | None) -> None:
    project.write("c001", [USER])
    path = project.write("c002", [{"sql": {"up": "SELECT 1", "down": "SELECT 2"}}, operation],
                         parents=["c001"])
    d = sole_error(project)
    assert d.code == code
    assert d.changeset == "c002"
    assert same_file(d.file, path)
    kind = next(iter(operation))
    assert d.line == line_of(path, f"- {kind}:")
    assert d.col is not None
    assert d.message.startswith(f"{kind}:")
    for w in words:
        assert w in d.message
    if hint:
        assert d.hint == f"did you mean '{hint}'?"


def test_reference_is_checked_at_that_point_not_at_the_end(project: Project) -> None:
    # The index is made in c001 on a table that c002 creates: fine at the end, wrong at c001.
    first = project.write("c001", [{"create_index": {"name": "ix_log_line", "table": "log",
                                                     "columns": ["line"]}}])
    project.write("c002", [LOG], parents=["c001"])
    d = sole_error(project)
    assert (d.code, d.changeset) == ("SF101", "c001")
    assert same_file(d.file, first)
    assert d.line == line_of(first, "- create_index:")


def test_table_dropped_earlier_is_unknown_later(project: Project) -> None:
    ids = project.chain([USER, LOG], [{"drop_table": {"name": "log"}}],
                        [{"add_column": {"table": "log",
                                         "column": {"name": "at", "type": "datetime"}}}])
    d = sole_error(project)
    assert (d.code, d.changeset) == ("SF101", ids[2])


def test_order_within_a_changeset_matters(project: Project) -> None:
    path = project.write("c001", [
        {"create_index": {"name": "ix_user_name", "table": "user", "columns": ["name"]}},
        USER,
    ])
    d = sole_error(project)
    assert d.code == "SF101"
    assert d.line == line_of(path, "- create_index:")


def test_renamed_column_is_unknown_under_its_old_name(project: Project) -> None:
    project.chain([USER], [{"rename_column": {"table": "user", "name": "name",
                                              "new_name": "full_name"}}],
                  [{"alter_column": {"table": "user", "name": "name", "nullable": True}}])
    d = sole_error(project)
    assert d.code == "SF102" and d.changeset == "c003"
    assert d.hint == "did you mean 'full_name'?"


def test_every_problem_is_reported_in_history_order(project: Project) -> None:
    project.chain([USER],
                  [{"drop_column": {"table": "user", "name": "nope"}},
                   {"drop_index": {"name": "nope", "table": "user"}}],
                  [{"drop_table": {"name": "nope"}}])
    errs = errors(check(project))
    assert [(d.changeset, d.code) for d in errs] == [
        ("c002", "SF102"), ("c002", "SF103"), ("c003", "SF101")]
    assert errs[0].line is not None and errs[1].line is not None
    assert errs[0].line < errs[1].line


def test_valid_history_has_no_diagnostics(project: Project) -> None:
    project.chain([USER, LOG],
                  [{"add_column": {"table": "log", "column": {"name": "user_id",
                                                              "type": "integer"}}},
                   {"create_foreign_key": {"name": "fk_log_user", "table": "log",
                                           "columns": ["user_id"],
                                           "references": {"table": "user",
                                                          "columns": ["id"]}}}],
                  [{"drop_column": {"table": "user", "name": "email"}},
                   {"insert_rows": {"table": "user", "rows": [{"id": 1, "name": "a"}]}},
                   {"sql": {"up": "UPDATE log SET line = ''", "down": "SELECT 1"}}])
    assert errors(check(project)) == []


def test_toml_changeset_position(project: Project) -> None:
    project.write("c001", [USER], fmt="toml")
    path = project.write("c002", [{"drop_index": {"name": "ix_nope", "table": "user"}}],
                         parents=["c001"], fmt="toml")
    d = sole_error(project)
    assert d.code == "SF103"
    assert same_file(d.file, path)
    assert d.line == line_of(path, "drop_index")


def test_a_finding_is_located_by_reading_its_file_up_to_it(project: Project) -> None:
    project.write("c001", [USER])
    path = project.write("c002", [{"drop_index": {"name": "ix_nope", "table": "user"}}],
                         parents=["c001"])
    loaded = history.load(project.changesets)
    assert only(lint.check(loaded), "SF103").line == line_of(path, "- drop_index:")
    src = loaded.source("c002")
    assert src is not None and "yaml" not in src.memo  # not every position was built


def test_a_file_changed_since_it_loaded_is_located_by_its_whole_text(
        project: Project) -> None:
    # Only the bytes that loaded are known to load: a file changed since (here into one that
    # no longer loads, a key twice after the finding) is positioned as every position says.
    project.write("c001", [USER])
    path = project.write("c002", [{"drop_index": {"name": "ix_nope", "table": "user"}}],
                         parents=["c001"])
    loaded = history.load(project.changesets)
    path.write_text(path.read_text() + "message: twice\n")
    d = only(lint.check(loaded), "SF103")
    assert same_file(d.file, path) and (d.line, d.col) == (None, None)


# --- rollbacks ----------------------------------------------------------------------------------


def test_sql_without_down_cannot_be_rolled_back_sf201(project: Project) -> None:
    project.write("c001", [USER])
    path = project.write("c002", [
        {"add_column": {"table": "user", "column": {"name": "x", "type": "integer"}}},
        {"sql": {"up": "UPDATE user SET x = 1"}},
    ], parents=["c001"])
    diags = check(project)
    assert errors(diags) == []
    d = only(diags, "SF201")
    assert d.severity == "warning"  # forward-only: applies, but cannot be rolled back
    assert d.changeset == "c002"
    assert same_file(d.file, path)
    assert d.line == line_of(path, "- sql:")
    assert "sql" in d.message and "rolled back" in d.message
    assert d.hint is not None and "rollback" in d.hint


def test_insert_rows_without_primary_key_sf201(project: Project) -> None:
    path = project.write("c001", [LOG, {"insert_rows": {"table": "log",
                                                        "rows": [{"line": "x"}]}}])
    d = only(check(project), "SF201")
    assert d.severity == "warning"
    assert d.line == line_of(path, "- insert_rows:")


def test_insert_rows_with_primary_key_is_reversible(project: Project) -> None:
    project.write("c001", [USER, {"insert_rows": {"table": "user",
                                                  "rows": [{"id": 1, "name": "a"}]}}])
    assert errors(check(project)) == []


def test_sql_with_down_is_reversible(project: Project) -> None:
    project.write("c001", [{"sql": {"up": "CREATE TABLE x (a int)", "down": "DROP TABLE x"}}])
    assert errors(check(project)) == []


def test_explicit_rollback_makes_it_reversible(project: Project) -> None:
    project.write("c001", [USER])
    project.write("c002", [{"sql": {"up": "UPDATE user SET name = upper(name)"}}],
                  parents=["c001"], rollback=[{"sql": {"up": "SELECT 1"}}])
    assert errors(check(project)) == []


def test_explicit_empty_rollback_counts_as_a_rollback(project: Project) -> None:
    project.write("c001", [{"sql": {"up": "SELECT 1"}}], rollback=[])
    assert errors(check(project)) == []


def test_explicit_rollback_referencing_something_missing(project: Project) -> None:
    project.write("c001", [USER])
    path = project.write("c002", [{"add_column": {"table": "user", "column": {
        "name": "age", "type": "integer"}}}], parents=["c001"],
        rollback=[{"drop_column": {"table": "user", "name": "agee"}},
                  {"drop_table": {"name": "usr"}}])
    errs = errors(check(project))
    assert [d.code for d in errs] == ["SF102", "SF101"]
    for d in errs:
        assert d.changeset == "c002"
        assert same_file(d.file, path)
        assert d.message.startswith("rollback ")
    assert errs[0].line == line_of(path, "- drop_column:")
    assert errs[1].line == line_of(path, "- drop_table:")
    assert errs[0].hint == "did you mean 'age'?"
    assert errs[1].hint == "did you mean 'user'?"


def test_explicit_rollback_is_checked_against_the_state_after_the_changeset(
        project: Project) -> None:
    # The rollback drops the table the changeset created: fine only because it runs after it.
    project.write("c001", [LOG], rollback=[{"drop_table": {"name": "log"}}])
    assert errors(check(project)) == []


# --- merges -------------------------------------------------------------------------------------


def test_merge_of_conflicting_branches_is_reported(project: Project) -> None:
    project.write("root", [USER])
    project.write("left", [LOG], parents=["root"])
    project.write("right", [LOG], parents=["root"])
    merge = project.write("merge", [], parents=["left", "right"])
    errs = errors(check(project))
    assert len(errs) == 1, errs
    d = errs[0]
    assert d.changeset == "merge"
    assert d.code == "SF013"
    assert same_file(d.file, merge)
    assert "conflict" in d.message and "log" in d.message


def test_merge_of_branches_altering_one_column_twice_conflicts(project: Project) -> None:
    project.write("root", [USER])
    project.write("left", [{"rename_column": {"table": "user", "name": "name",
                                              "new_name": "full_name"}}], parents=["root"])
    project.write("right", [{"drop_column": {"table": "user", "name": "name"}}],
                  parents=["root"])
    project.write("merge", [], parents=["left", "right"])
    d = only(errors(check(project)), "SF013")
    assert d.changeset == "merge"


def test_merge_of_independent_branches_sees_both(project: Project) -> None:
    project.write("root", [USER])
    project.write("left", [LOG], parents=["root"])
    project.write("right", [{"add_column": {"table": "user", "column": {
        "name": "age", "type": "integer"}}}], parents=["root"])
    project.write("merge", [], parents=["left", "right"])
    project.write("after", [{"add_column": {"table": "log", "column": {
        "name": "age", "type": "integer"}}},
        {"create_index": {"name": "ix_user_age", "table": "user", "columns": ["age"]}}],
        parents=["merge"])
    assert errors(check(project)) == []


def test_depends_on_brings_the_other_branch_state(project: Project) -> None:
    project.write("root", [USER])
    project.write("left", [LOG], parents=["root"])
    project.write("right", [{"add_column": {"table": "log", "column": {
        "name": "n", "type": "integer"}}}], parents=["root"], depends_on=["left"])
    assert errors(check(project)) == []


# --- empty changesets ---------------------------------------------------------------------------


def test_empty_changeset_is_an_error_sf014(project: Project) -> None:
    project.write("c001", [USER])
    path = project.write("c002", [], parents=["c001"])
    diags = check(project)
    d = only(diags, "SF014")
    assert errors(diags) == [d]
    assert d.changeset == "c002"
    assert same_file(d.file, path)
    assert d.line == line_of(path, "operations:")


def test_empty_merge_changeset_is_not_a_warning(project: Project) -> None:
    project.write("root", [USER])
    project.write("left", [LOG], parents=["root"])
    project.write("right", [{"drop_column": {"table": "user", "name": "email"}}],
                  parents=["root"])
    project.write("merge", [], parents=["left", "right"])
    diags = check(project)
    assert errors(diags) == []
    assert [d for d in diags if d.code == "SF014"] == []


def test_cli_validate_and_apply_refuse_an_empty_changeset(project: Project) -> None:
    project.chain([LOG], [])
    r = project.cli("validate")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "error SF014" in r.stdout and "c002" in r.stdout
    r = project.cli("apply")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "SF014" in r.stderr
    assert "log" not in db_tables(project.url)
    # Kept empty on purpose (an imported Alembic revision that did nothing): it says so.
    project.write("c002", [], parents=["c001"], lint={"ignore": ["SF014"]})
    r = project.cli("apply")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "log" in db_tables(project.url)


# --- the command line ---------------------------------------------------------------------------


def broken(project: Project) -> Path:
    project.write("c001", [USER, LOG])
    return project.write("c002", [{"drop_column": {"table": "usr", "name": "name"}}],
                         parents=["c001"])


def test_cli_validate_reports_and_exits_1(project: Project) -> None:
    path = broken(project)
    r = project.cli("validate")
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    line = line_of(path, "- drop_column:")
    assert f"c002_change.yaml:{line}:" in out
    assert "SF101" in out
    assert "table 'usr' does not exist" in out
    assert "did you mean 'user'?" in out
    assert "Traceback" not in out


def test_cli_validate_json(project: Project) -> None:
    import json

    broken(project)
    r = project.cli("validate", "--format", "json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    (d,) = doc["diagnostics"]
    assert (d["code"], d["severity"], d["changeset"]) == ("SF101", "error", "c002")
    assert d["file"].endswith("c002_change.yaml")
    assert doc["summary"]["errors"] == 1


def test_cli_apply_refuses_an_invalid_history_and_changes_nothing(project: Project) -> None:
    broken(project)
    r = project.cli("apply")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "SF101" in r.stderr
    assert "nothing was changed" in r.stderr
    assert "Traceback" not in r.stderr
    # Not even the valid first changeset ran.
    assert [t for t in db_tables(project.url) if t != "schemaflow_version"] == []

"""What the version table holds, read honestly: unreadable times, applied changesets whose
file is gone, and checksums that do not count saying a column's default nullability."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, make_project

from schemaflow import ir

COLUMNS: list[dict[str, Any]] = [{"name": "id", "type": "integer", "primary_key": True},
                                 {"name": "a", "type": "text"}]


def _table(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"create_table": {"name": "t", "columns": columns}}]


def _clean(done: Any) -> str:
    out: str = done.stdout + done.stderr
    assert "Traceback" not in out, out
    return out


@pytest.mark.parametrize("query", ["", "?timeout=5"], ids=["driver", "sqlalchemy"])
def test_an_unreadable_applied_at_is_told_not_a_traceback(tmp_path: Path, query: str) -> None:
    # With a query string the version table is read through SQLAlchemy, else through sqlite3.
    db = tmp_path / "app.db"
    p = make_project(tmp_path / "proj", f"sqlite:///{db}{query}")
    p.chain(_table(COLUMNS), [{"add_column": {"table": "t", "column": {
        "name": "b", "type": "text"}}}])
    assert p.cli("apply", "c001").returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schemaflow_version SET applied_at = 'not a time'")
    for args in (["current"], ["current", "--format", "json"], ["status"],
                 ["validate", "--db"], ["apply", "--dry-run"]):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stderr)
        if args[0] in ("current", "status"):
            assert "applied_at of c001 is not a date-time" in _clean(done), args
    assert '"applied_at": null' in p.cli("current", "--format", "json").stdout
    done = p.cli("apply")
    assert done.returncode == 0, _clean(done)
    assert [r.id for r in p.api().applied_rows()] == ["c001", "c002"]


def test_current_and_status_tell_of_an_applied_changeset_whose_file_is_missing(
        project: Project) -> None:
    project.chain(_table(COLUMNS), [{"sql": {"up": "SELECT 1", "down": "SELECT 1"}}])
    assert project.cli("apply").returncode == 0
    (project.changesets / "c002_change.yaml").unlink()
    done = project.cli("current")
    assert done.returncode == 0, done.stderr
    assert "applied but missing from changesets: c002" in _clean(done)
    # status agrees with apply, which stops here: an error, not "up to date".
    for args in (["status"], ["status", "--format", "json"], ["apply"]):
        done = project.cli(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "c002" in _clean(done) and "Up to date" not in done.stdout, args
        if args[0] == "status":
            assert "SF021" in _clean(done), args


def test_the_checksum_scheme_is_unchanged() -> None:
    # Every version table holds checksums of this scheme: it must never change.
    doc = {"schemaflow": 1, "id": "c1", "parents": [], "message": "m", "operations": [
        {"create_table": {"name": "t", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "a", "type": "text", "nullable": True}]}},
        {"add_column": {"table": "t", "column": {"name": "b", "type": "text"}}}]}
    assert ir.checksum(ir.parse(doc)) == \
        "v1:93eb1f822ca1d8ce5c169f6318e6ce58f596b6a68d288d32521db90e1ffa6a57"


@pytest.mark.parametrize(("before", "after", "edited"), [
    (COLUMNS, [COLUMNS[0], {**COLUMNS[1], "nullable": True}], False),  # the default said
    ([{**COLUMNS[0], "nullable": False}, {**COLUMNS[1], "nullable": True}], COLUMNS, False),
    (COLUMNS, [{**COLUMNS[0], "nullable": False}, COLUMNS[1]], False),  # a key's default
    (COLUMNS, [COLUMNS[0], {**COLUMNS[1], "nullable": False}], True),  # a real change
    (COLUMNS, [{**COLUMNS[0], "nullable": True}, COLUMNS[1]], True),
], ids=["add-true", "remove-all", "pk-false", "not-null", "pk-nullable"])
def test_saying_the_default_nullability_is_not_an_edit(project: Project, before: Any,
                                                       after: Any, edited: bool) -> None:
    project.write("c001", _table(before))
    assert project.cli("apply").returncode == 0
    project.write("c001", _table(after))
    done = project.cli("validate", "--db")
    assert ("SF020" in done.stdout) is edited, done.stdout
    applied = project.cli("apply")
    assert (applied.returncode == 1) is edited, applied.stderr

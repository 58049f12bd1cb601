"""Notes an import leaves for a hand (`TODO(schemaflow import)`, a `sql` operation that does
nothing): `validate` shows each (SF016, a warning), and apply and rollback refuse to run a
changeset that still holds one, naming its place, with nothing changed: run, it would do
nothing, and the database would not be what the imported history builds (a foreign key
SQLite's Alembic builds, rows a data migration fills). A changeset that ignores SF016 runs
as it is; a note in a changeset already applied (a stamped database) stops nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import Project, make_project, rows

NOTE = ["-- TODO(schemaflow import): Alembic revision a2 (versions/a2.py), upgrade(): Python "
        "code reads or writes rows: UPDATE t SET n = 1",
        "-- Translate this by hand into operations or SQL, then delete this note."]
TABLE = {"create_table": {"name": "t", "columns": [
    {"name": "id", "type": "integer", "primary_key": True}, {"name": "n", "type": "integer"}]}}


def _history(p: Project, **extra: Any) -> None:
    p.write("a1", [TABLE])
    p.write("a2", [{"add_column": {"table": "t", "column": {"name": "m", "type": "integer"}}},
                   {"sql": {"up": NOTE, "down": NOTE}}], parents=["a1"], **extra)


def _tables(p: Project) -> list[str]:
    return [r[0] for r in rows(p.url, "SELECT name FROM sqlite_master WHERE type = 'table' "
                                      "ORDER BY name")]


def test_validate_warns_and_apply_refuses_with_nothing_changed(tmp_path: Path) -> None:
    p = make_project(tmp_path / "p")
    _history(p)
    valid = p.cli("validate")
    assert valid.returncode == 0, valid.stdout
    assert "a2_change.yaml:12:3: warning SF016" in valid.stdout, valid.stdout
    assert "UPDATE t SET n = 1" in valid.stdout
    refused = p.cli("apply")
    assert refused.returncode == 1, refused.stderr
    assert "a2_change.yaml:12:3: error SF016" in refused.stderr, refused.stderr
    assert "would run as nothing (apply)" in refused.stderr
    assert "nothing was changed" in refused.stderr and "Traceback" not in refused.stderr
    assert _tables(p) == []  # not even the version table
    # The changesets before it run; it does not.
    assert p.cli("apply", "a1").returncode == 0
    assert p.cli("apply").returncode == 1
    assert [r[0] for r in rows(p.url, "SELECT id FROM schemaflow_version")] == ["a1"]


def test_the_offline_script_is_written(tmp_path: Path) -> None:
    """(Nothing runs: the script is what a person reads, note or not.)"""
    p = make_project(tmp_path / "p")
    _history(p)
    done = p.cli("apply", "--sql")
    assert done.returncode == 0, done.stderr
    assert "ALTER TABLE t ADD COLUMN m INTEGER" in done.stdout


def test_a_changeset_that_ignores_sf016_runs_as_it_is(tmp_path: Path) -> None:
    p = make_project(tmp_path / "p")
    _history(p, lint={"ignore": ["SF016"]})
    assert "SF016" not in p.cli("validate").stdout
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert p.cli("rollback", "base").returncode == 0


def test_a_note_in_an_applied_changeset_stops_nothing(tmp_path: Path) -> None:
    p = make_project(tmp_path / "p")
    _history(p)
    assert p.cli("stamp", "a2").returncode == 0  # (a database the other tool took there)
    p.write("a3", [{"add_column": {"table": "t", "column": {"name": "k", "type": "integer"}}}],
            parents=["a2"])
    done = p.cli("apply")
    assert done.returncode == 2  # t was never built here: the stamp was a lie ...
    assert "no such table: t" in done.stderr and "SF016" not in done.stderr, done.stderr


def test_rollback_refuses_a_note_in_the_rollback(tmp_path: Path) -> None:
    p = make_project(tmp_path / "p")
    p.write("a1", [TABLE], rollback=[{"sql": {"up": NOTE}}, {"drop_table": {"name": "t"}}])
    assert p.cli("apply").returncode == 0  # (the operations hold no note)
    refused = p.cli("rollback", "base")
    assert refused.returncode == 1, refused.stderr
    assert "error SF016" in refused.stderr and "(rollback)" in refused.stderr
    assert "t" in _tables(p)

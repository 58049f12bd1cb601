"""Histories as teams really write them: forward-only changesets, ids written as plain YAML
scalars, empty changesets, multi-statement SQL; through the CLI, on every database."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Project, make_project, reflect

LOG = {"create_table": {"name": "log", "columns": [{"name": "line", "type": "text"}]}}
ADD_N = {"add_column": {"table": "log", "column": {"name": "n", "type": "integer"}}}


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db_project(request: pytest.FixtureRequest, tmp_path: Any) -> Project:
    """An empty project on each database in turn (a fresh database on the servers)."""
    url = None if request.param == "sqlite" else request.getfixturevalue(
        {"postgresql": "pg_url", "mysql": "mysql_url"}[request.param])
    return make_project(tmp_path / "proj", url)


def applied(project: Project) -> str:
    r = project.cli("current")
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


# --- forward-only changesets --------------------------------------------------------------------


def test_forward_only_changeset_applies_and_blocks_rollback_past_it(
        db_project: Project) -> None:
    p = db_project
    p.chain([LOG], [{"sql": {"up": "INSERT INTO log (line) VALUES ('x')"}}], [ADD_N])
    r = p.cli("validate", "--no-db")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning SF201" in r.stdout and "c002" in r.stdout
    r = p.cli("apply")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "c003" in applied(p)
    before = reflect(p.url)
    r = p.cli("rollback", "c001")
    assert r.returncode != 0, r.stdout + r.stderr
    assert "c002" in r.stderr and "forward-only" in r.stderr
    assert "nothing was rolled back" in r.stderr and "Traceback" not in r.stderr
    # Nothing was rolled back: c003 (which could be) was not reversed either.
    assert "c003" in applied(p)
    assert reflect(p.url) == before
    r = p.cli("rollback", "c002")  # down to it, not past it: fine
    assert r.returncode == 0, r.stdout + r.stderr
    assert "c002" in applied(p) and "c003" not in applied(p)


def test_forward_only_is_an_error_when_the_project_says_so(project: Project) -> None:
    project.chain([LOG], [{"sql": {"up": "INSERT INTO log (line) VALUES ('x')"}}])
    with open(project.root / "schemaflow.toml", "a", encoding="utf-8") as fh:
        fh.write('[lint]\nerror = ["SF201"]\n')
    r = project.cli("validate", "--no-db")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "error SF201" in r.stdout
    r = project.cli("validate", "--no-db", "--format", "json")
    assert r.returncode == 1 and '"severity": "error"' in r.stdout
    # A changeset that says it has been looked at is still honoured.
    project.write("c002", [{"sql": {"up": "INSERT INTO log (line) VALUES ('x')"}}],
                  parents=["c001"], lint={"ignore": ["SF201"]})
    r = project.cli("validate", "--no-db")
    assert r.returncode == 0, r.stdout + r.stderr


def test_lint_error_key_is_checked(project: Project) -> None:
    project.chain([LOG])
    (project.root / "schemaflow.toml").write_text(
        f'url = "{project.url}"\n[lint]\nerror = "SF201"\n', encoding="utf-8")
    r = project.cli("validate", "--no-db")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "lint.error" in r.stderr and "Traceback" not in r.stderr

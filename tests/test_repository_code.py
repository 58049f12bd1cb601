"""Nothing from the repository runs unless the command needs it and the user asked: the
linter never imports the models, and post_write_hooks run only with --run-hooks or
SCHEMAFLOW_RUN_HOOKS=1."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from conftest import ROOT, Project

DROP_BIO = [{"create_table": {"name": "users", "columns": [
    {"name": "id", "type": "integer", "primary_key": True}, {"name": "bio", "type": "text"}]}}]


def _evil_models(project: Project) -> tuple[str, Path]:
    """A models module that leaves a marker file when imported; returns (module, marker)."""
    module = f"evilmodels_{uuid.uuid4().hex[:10]}"
    marker = project.root / "imported.marker"
    (project.root / f"{module}.py").write_text(
        "import pathlib, sqlalchemy as sa\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "metadata = sa.MetaData()\n"
        "sa.Table('users', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('bio', sa.Text))\n", encoding="utf-8")
    with (project.root / "schemaflow.toml").open("a", encoding="utf-8") as f:
        f.write(f'models = "{module}:metadata"\n')
    return module, marker


def test_validate_never_imports_the_models(project: Project) -> None:
    _, marker = _evil_models(project)
    project.write("c001", DROP_BIO)
    project.write("c002", [{"drop_column": {"table": "users", "name": "bio"}}],
                  parents=["c001"])
    files = [str(p) for p in sorted(project.changesets.iterdir())]
    for args in (["validate"], ["validate", "--no-db"], ["validate", "--format", "json"],
                 ["validate", "--no-db", *files]):  # as the pre-commit hook runs it
        done = project.cli(*args)
        assert "Traceback" not in done.stderr, done.stderr
        assert "SF323" not in done.stdout, args
        assert not marker.exists(), args
    asked = project.cli("validate", "--models")
    assert marker.exists()
    assert asked.returncode == 1 and "SF323" in asked.stdout, asked.stdout + asked.stderr


def test_validate_models_without_models_configured_is_a_usage_error(project: Project) -> None:
    project.write("c001", DROP_BIO)
    done = project.cli("validate", "--models")
    assert done.returncode == 2
    assert "no models configured" in done.stderr


def test_the_pre_commit_hook_does_not_ask_for_models() -> None:
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert "--models" not in hooks


@pytest.fixture
def hooked(project: Project) -> tuple[Project, Path]:
    marker = project.root / "hook.marker"
    with (project.root / "schemaflow.toml").open("a", encoding="utf-8") as f:
        f.write(f"post_write_hooks = [\"echo ran > '{marker}'\"]\n")
    return project, marker


def test_post_write_hooks_do_not_run_unless_allowed(hooked: tuple[Project, Path]) -> None:
    project, marker = hooked
    done = project.cli("new", "-m", "first")
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert "--run-hooks" in done.stderr and "SCHEMAFLOW_RUN_HOOKS" in done.stderr
    assert (project.root / done.stdout.strip()).is_file()
    project.cli("new", "-m", "second", env={"SCHEMAFLOW_RUN_HOOKS": "0"})
    assert not marker.exists()
    done = project.cli("merge", "-m", "nothing to merge")
    assert not marker.exists()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_post_write_hooks_run_when_allowed(hooked: tuple[Project, Path], how: str) -> None:
    project, marker = hooked
    if how == "flag":
        done = project.cli("new", "-m", "first", "--run-hooks")
    else:
        done = project.cli("new", "-m", "first", env={"SCHEMAFLOW_RUN_HOOKS": "1"})
    assert done.returncode == 0, done.stderr
    assert marker.read_text().strip() == "ran"
    assert "not run" not in done.stderr

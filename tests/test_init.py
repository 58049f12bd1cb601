"""`schemaflow init` in the projects users have: a pyproject.toml already there, VS Code
settings with comments, and a failure midway that must leave nothing behind."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import run_cli

from schemaflow.jsonc import loads

PYPROJECT = '[project]\nname = "app"\n\n[tool.ruff]\nline-length = 100\n'
SETTINGS = """\
{
  // editor settings of the team
  "editor.tabSize": 2, /* spaces */
  "yaml.schemas": {
    "https://json.schemastore.org/github-workflow.json": [".github/workflows/*.yml"],
  },
}
"""


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _dirs(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_dir()}


def test_init_writes_tool_schemaflow_into_an_existing_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    done = run_cli("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote [tool.schemaflow] in pyproject.toml" in done.stderr
    assert not (tmp_path / "schemaflow.toml").exists()
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(PYPROJECT)  # the user's text is kept as it was
    doc = tomllib.loads(text)
    assert doc["tool"]["ruff"] == {"line-length": 100}
    assert doc["tool"]["schemaflow"]["changesets"] == "changesets"
    # The project reads it.
    made = run_cli("new", "-m", "first", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / made.stdout.strip()).is_file()
    # A second init changes nothing.
    before = _files(tmp_path)
    again = run_cli("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "pyproject.toml already has [tool.schemaflow]; nothing was written" in again.stderr
    assert _files(tmp_path) == before


def test_init_config_file_chooses_schemaflow_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    done = run_cli("init", "--config-file", "schemaflow.toml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote schemaflow.toml" in done.stderr
    assert (tmp_path / "pyproject.toml").read_text() == PYPROJECT
    assert tomllib.loads((tmp_path / "schemaflow.toml").read_text())["format"] == "yaml"
    wrong = run_cli("init", "other", "--config-file", "setup.cfg", cwd=tmp_path)
    assert wrong.returncode == 2
    assert "--config-file must be schemaflow.toml or pyproject.toml" in wrong.stderr
    assert not (tmp_path / "other").exists()


def test_init_refuses_a_pyproject_it_cannot_extend(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('tool = { black = { line-length = 88 } }\n')
    done = run_cli("init", cwd=tmp_path)
    assert done.returncode == 2
    assert "cannot add [tool.schemaflow] to pyproject.toml" in done.stderr
    assert "--config-file schemaflow.toml" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def test_init_adds_the_schema_to_settings_with_comments(tmp_path: Path) -> None:
    (tmp_path / ".vscode").mkdir()
    settings = tmp_path / ".vscode" / "settings.json"
    settings.write_text(SETTINGS)
    done = run_cli("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = settings.read_text()
    # The user's comments and entries stay; the hook-up is added.
    assert "// editor settings of the team" in text and "/* spaces */" in text
    doc = loads(text)
    assert doc["editor.tabSize"] == 2
    assert doc["yaml.schemas"] == {
        "./.schemaflow/changeset.schema.json": ["changesets/*.yaml", "changesets/*.yml"],
        "https://json.schemastore.org/github-workflow.json": [".github/workflows/*.yml"]}
    # Hooked up already: another project's init in the same folder leaves the file alone.
    (tmp_path / "schemaflow.toml").unlink()
    again = run_cli("init", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert settings.read_text() == text
    assert ".vscode/settings.json" not in again.stderr


@pytest.mark.parametrize("broken", ['{"a": 1,,}', "[1, 2]", '{"a": 1 /* never ends'])
def test_init_refuses_settings_it_cannot_read(tmp_path: Path, broken: str) -> None:
    (tmp_path / ".vscode").mkdir()
    (tmp_path / ".vscode" / "settings.json").write_text(broken)
    done = run_cli("init", cwd=tmp_path)
    assert done.returncode == 2
    assert ".vscode/settings.json cannot be read as JSON with comments" in done.stderr
    assert "nothing was written" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".vscode"]


def test_a_failure_midway_leaves_nothing(tmp_path: Path) -> None:
    """The configuration is written first; a file that cannot be written after it (here a
    folder stands where a schema goes) undoes it: pyproject.toml gets its text back."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / ".schemaflow" / "config.schema.json").mkdir(parents=True)
    before, folders = _files(tmp_path), _dirs(tmp_path)
    done = run_cli("init", cwd=tmp_path)
    assert done.returncode == 2
    assert ("cannot write .schemaflow/config.schema.json: Is a directory; nothing was "
            "written") in done.stderr
    assert _files(tmp_path) == before
    assert _dirs(tmp_path) == folders  # no changesets/, no .vscode/

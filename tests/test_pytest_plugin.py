"""The pytest plugin as a project uses it: fixtures, and the opt-in built-in checks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import DEMO

TEST_FILE = '''
import sqlalchemy as sa

def test_the_migrated_engine_has_the_demo_tables(migrated_engine):
    assert {"users", "posts"} <= set(sa.inspect(migrated_engine).get_table_names())
'''


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    shutil.copytree(DEMO, root / "changesets")
    (root / "schemaflow.toml").write_text('url = "sqlite:///app.db"\n')
    (root / "test_app.py").write_text(TEST_FILE)
    return root


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *args], cwd=root, capture_output=True, text=True, timeout=300)


def test_builtin_checks_pass_on_the_demo(tmp_path: Path) -> None:
    root = _project(tmp_path)
    result = _pytest(root, "--schemaflow-checks")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed, 2 skipped" in result.stdout  # models/checksums need configuration


def test_checks_are_off_unless_enabled(tmp_path: Path) -> None:
    result = _pytest(_project(tmp_path))
    assert result.returncode == 0, result.stdout
    assert "1 passed" in result.stdout


def test_ini_flag_enables_them(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "pytest.ini").write_text("[pytest]\nschemaflow_checks = true\n")
    result = _pytest(root)
    assert "4 passed, 2 skipped" in result.stdout, result.stdout


def test_a_broken_rollback_fails_with_a_clear_message(tmp_path: Path) -> None:
    root = _project(tmp_path)
    path = root / "changesets" / "3e9c57d1f0ab_add_post_published_at.yaml"
    # An explicit rollback the linter cannot see through (raw SQL) that undoes nothing.
    path.write_text(path.read_text() + 'rollback:\n  - sql: {up: "SELECT 1"}\n')
    result = _pytest(root, "--schemaflow-checks")
    assert result.returncode == 1
    assert "every_step_rolls_back" in result.stdout
    assert ("rolling back 3e9c57d1f0ab (changesets/3e9c57d1f0ab_add_post_published_at.yaml) "
            "does not restore the schema") in result.stdout
    assert "drop_column posts.published_at" in result.stdout
    assert "Traceback" not in result.stdout


def test_two_heads_fail_the_single_head_check(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "changesets" / "b1_side.yaml").write_text(
        "schemaflow: 1\nid: b1\nparents: [4b7e2a9c1d30]\nmessage: side\noperations:\n"
        "  - create_table: {name: side, columns: [{name: id, type: integer, "
        "primary_key: true}]}\n")
    result = _pytest(root, "--schemaflow-checks", "-k", "single_head")
    assert result.returncode == 1
    assert "the history has 2 heads" in result.stdout

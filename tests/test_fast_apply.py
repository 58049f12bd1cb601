"""apply and rollback do only the work the plan needs: with nothing to do they answer from the
version table (no SQLAlchemy, no history check), and otherwise they check and replay only what
earlier runs did not already find clean. None of it hides a changed file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Project

from schemaflow import lint, memo
from schemaflow.errors import DriftError, ValidationFailed

TABLE = {"create_table": {"name": "t", "columns": [{"name": "id", "type": "integer",
                                                     "primary_key": True}]}}


def _column(name: str, table: str = "t") -> dict[str, Any]:
    return {"add_column": {"table": table, "column": {"name": name, "type": "integer"}}}


def _applied(project: Project, n: int = 3) -> list[str]:
    ids = project.chain([TABLE], *([_column(f"c{i}")] for i in range(2, n + 1)))
    assert project.cli("apply").returncode == 0
    return ids


def _versions(project: Project) -> list[str]:
    rows = project.api().applied_rows()
    return [r.id for r in rows]


def _python(project: Project, code: str, env: dict[str, str] | None = None) -> str:
    """What a fresh interpreter running `code` in the project's folder prints (`env`:
    variables set for it)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, cwd=project.root, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _check_before_apply(project: Project) -> str:
    """What the check before apply finds in a fresh interpreter, and whether it imported
    the linter."""
    return _python(project, "import sys\nfrom schemaflow.api import Project\n"
                   "from schemaflow.memo import history_errors\n"
                   "print(history_errors(Project.from_config().history), "
                   "'schemaflow.lint' in sys.modules)")


class _Checks:
    """Records which changesets each history check looked at."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.checked: list[list[str]] = []
        real = lint.check

        def spy(history: Any, *args: Any, **kwargs: Any) -> Any:
            skip = set(kwargs.get("skip", ()))
            self.checked.append([c for c in history.graph.order if c not in skip])
            return real(history, *args, **kwargs)

        monkeypatch.setattr(lint, "check", spy)


# --- nothing to do -----------------------------------------------------------------------------


def test_a_no_op_apply_imports_no_sqlalchemy_and_checks_no_history(project: Project) -> None:
    _applied(project)
    code = ("import sys; from schemaflow.api import Project; from schemaflow import lint\n"
            "lint.check = None  # the history check must not run\n"
            "p = Project.from_config()\n"
            "r = p.apply(); assert r.results == [] and r.plan.items == (), r\n"
            "r = p.rollback('head'); assert r.results == [], r\n"
            "print('sqlalchemy' in sys.modules)")
    assert _python(project, code) == "False"


def test_a_no_op_apply_still_sees_an_edited_applied_changeset(project: Project) -> None:
    ids = _applied(project)
    path = next(project.changesets.glob(f"{ids[1]}_*"))
    path.write_text(path.read_text().replace("c2", "c2_renamed"), encoding="utf-8")
    # (said first, whatever the target: as the full path, which checks it first, says it)
    for command in (["apply"], ["rollback", ids[-1]], ["apply", "+5"], ["rollback", "-3"]):
        done = project.cli(*command)
        assert done.returncode != 0
        assert "were edited after they were applied" in done.stderr and path.name in done.stderr
        assert "Traceback" not in done.stderr


def test_a_no_op_apply_still_sees_a_removed_applied_changeset(project: Project) -> None:
    ids = _applied(project)
    next(project.changesets.glob(f"{ids[-1]}_*")).unlink()
    with pytest.raises(DriftError, match="missing from the changesets folder"):
        project.api().apply()
    # From the command line, whatever the target: what is missing is said first (the
    # targets assume every applied changeset is in the folder).
    for command in (["rollback", "-1"], ["rollback", "base"], ["apply", "+5"],
                    ["apply", "nosuch"], ["apply"]):
        done = project.cli(*command)
        assert done.returncode == 1 and "Traceback" not in done.stderr, (command, done.stderr)
        assert f"missing from the changesets folder: {ids[-1]}" in done.stderr, command
    assert _versions(project) == ids


def test_a_renamed_and_edited_applied_changeset_is_reported_under_its_new_name(
        project: Project) -> None:
    ids = _applied(project)
    old = next(project.changesets.glob(f"{ids[1]}_*"))
    new = old.with_name(f"{ids[1]}_renamed.yaml")
    new.write_text(old.read_text().replace("c2", "c2b"), encoding="utf-8")
    old.unlink()
    done = project.cli("apply")
    assert done.returncode != 0 and new.name in done.stderr and old.name not in done.stderr


def test_a_renamed_applied_changeset_is_still_applied(project: Project) -> None:
    ids = _applied(project)
    old = next(project.changesets.glob(f"{ids[1]}_*"))
    old.rename(old.with_name(f"{ids[1]}_other_name.yaml"))
    done = project.cli("apply")
    assert done.returncode == 0, done.stderr
    assert "Nothing to do" in done.stderr


def test_an_inconsistent_version_table_stops_a_no_op_apply(project: Project) -> None:
    ids = _applied(project)
    import sqlite3

    with sqlite3.connect(project.root / "app.db") as conn:
        conn.execute("DELETE FROM schemaflow_version WHERE id = ?", (ids[0],))
    with pytest.raises(DriftError, match="without what they build on"):
        project.api().apply(ids[-1])


# --- something to do: only what changed is checked -------------------------------------------


def test_an_added_changeset_is_applied_and_only_it_is_checked(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _applied(project)
    checks = _Checks(monkeypatch)
    project.write("d001", [_column("added")], parents=[ids[-1]])
    result = project.api().apply()
    assert [r.id for r in result.results] == ["d001"]
    project.write("d002", [_column("added2")], parents=["d001"])
    assert [r.id for r in project.api().apply().results] == ["d002"]
    assert checks.checked == [["d001"], ["d002"]]
    assert _versions(project) == [*ids, "d001", "d002"]


def test_an_added_broken_changeset_is_refused_with_its_file(project: Project) -> None:
    ids = _applied(project)
    path = project.write("d001", [_column("x", table="missing")], parents=[ids[-1]])
    done = project.cli("apply")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert path.name in done.stderr and "missing" in done.stderr
    assert _versions(project) == ids


def test_a_broken_pending_changeset_is_refused_after_the_rest_was_found_clean(
        project: Project) -> None:
    ids = _applied(project)
    project.write("d001", [_column("ok")], parents=[ids[-1]])
    assert project.api().apply(dry_run=True).sql  # checks d001 too, and remembers it clean
    project.write("d002", [_column("ok")], parents=["d001"])  # a duplicate column
    with pytest.raises(ValidationFailed) as caught:
        project.api().apply()
    assert [d.changeset for d in caught.value.diagnostics] == ["d002"]
    assert _versions(project) == ids


def test_an_edit_upstream_rechecks_the_unchanged_changesets_below_it(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _applied(project, 1)
    project.write("d001", [{"create_table": {"name": "u", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}], parents=[ids[-1]])
    project.write("d002", [_column("x", table="u")], parents=["d001"])
    assert project.api().apply(dry_run=True).sql
    # d001 now makes a table of another name: d002, unchanged, no longer fits.
    project.write("d001", [{"create_table": {"name": "v", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}], parents=[ids[-1]])
    checks = _Checks(monkeypatch)
    with pytest.raises(ValidationFailed) as caught:
        project.api().apply()
    assert checks.checked == [["d001", "d002"]]
    assert [d.changeset for d in caught.value.diagnostics] == ["d002"]


def test_a_history_whose_heads_are_remembered_clean_is_not_linted_again(
        project: Project) -> None:
    # The check before apply finds every head remembered clean: nothing to check, and the
    # linter is not even imported (what a deploy of a remembered changeset pays).
    ids = _applied(project)
    project.write("d001", [_column("d")], parents=[ids[-1]])
    assert project.api().apply(dry_run=True).sql  # checks d001, remembers the head clean
    assert _check_before_apply(project) == "[] False"


def test_a_new_head_beside_a_clean_one_is_checked(project: Project,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # One head remembered clean is not the history: a second head, new and broken, is
    # checked (alone) and refused.
    ids = _applied(project)  # (its head remembered clean by the apply)
    project.write("b001", [_column("x", table="missing")], parents=[ids[0]])
    checks = _Checks(monkeypatch)
    with pytest.raises(ValidationFailed) as caught:
        project.api().apply()
    assert checks.checked == [["b001"]]
    assert [d.changeset for d in caught.value.diagnostics] == ["b001"]
    assert _versions(project) == ids


def test_a_head_edited_again_is_checked_alone(project: Project,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Write a changeset, apply it, roll it back, change it, apply again: the rest of the
    # history is known clean (the parents of a clean head are remembered with it).
    ids = project.chain([TABLE], [_column("c2")])
    project.write("d001", [_column("first")], parents=[ids[-1]])
    assert project.cli("apply").returncode == 0  # (its one head remembered clean)
    assert project.cli("rollback", ids[-1]).returncode == 0
    project.write("d001", [_column("second")], parents=[ids[-1]])
    checks = _Checks(monkeypatch)
    assert [r.id for r in project.api().apply().results] == ["d001"]
    assert checks.checked == [["d001"]]


def test_a_validate_that_finds_no_error_spares_apply_the_history_check(
        project: Project) -> None:
    # What validate checked (the history check with the rules on top) apply does not redo:
    # the linter is not even imported by the check before apply.
    ids = _applied(project)
    project.write("d001", [_column("d")], parents=[ids[-1]])
    assert project.cli("validate").returncode == 0
    assert _check_before_apply(project) == "[] False"


def test_what_another_build_found_clean_is_checked_again(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # The memo's folder is per build of what it stores (the IR, the schemas), not of the
    # checks: a check added without a new version (an editable install, a commit between
    # releases) must not pass what an older one remembered clean. Here the remembered
    # marks are of another build: the whole history is checked again.
    ids = _applied(project)
    project.write("d001", [_column("d")], parents=[ids[-1]])
    assert project.cli("validate").returncode == 0
    assert _check_before_apply(project) == "[] False"
    monkeypatch.setattr(memo, "_checker", lambda: "another build")
    checks = _Checks(monkeypatch)
    assert [r.id for r in project.api().apply().results] == ["d001"]
    assert checks.checked == [[*ids, "d001"]]


def test_a_validate_that_ignores_a_history_error_leaves_apply_to_refuse_it(
        project: Project) -> None:
    # With lint codes ignored or selected, validate does not show every error of the history
    # check: it remembers nothing, and apply still finds the error and refuses to run.
    ids = _applied(project)
    with (project.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('[lint]\nignore = ["SF202"]\n')
    project.write("d001", [_column("d")], parents=[ids[-1]],
                  rollback=[{"drop_column": {"table": "t", "name": "c2"}}])
    assert project.cli("validate").returncode == 0  # SF202 ignored there
    done = project.cli("apply")
    assert done.returncode != 0 and "SF202" in done.stderr, done.stderr
    assert _versions(project) == ids


def test_a_run_ages_what_its_imports_made_and_keeps_a_callers_freeze(project: Project) -> None:
    # Once SQLAlchemy is imported for a run, everything there is goes to the collector's
    # oldest generation before the run replays and plans (the collections of the young
    # would walk it all for nothing); a process that froze objects itself keeps them frozen.
    # (The history check replays before: a run through the driver alone needs no import.)
    ids = _applied(project)
    project.write("d001", [_column("d")], parents=[ids[-1]])
    project.write("d002", [_column("e")], parents=["d001"])
    # (Rendered here: `SCHEMAFLOW_JOBS=1`, no process of its own renders a deploy's few.)
    code = ("import gc, os, sys\nos.environ['SCHEMAFLOW_JOBS'] = '1'\n"
            "from schemaflow import memo\nfrom schemaflow.api import Project\n"
            "gc.set_threshold(100_000, 50, 100)  # as the command line sets it\n"
            "seen, real = [], memo.Memo.replay\n"
            "def replay(*args, **kwargs):\n"
            "    compiler = sys.modules.get('sqlalchemy.sql.compiler')\n"
            "    if compiler is not None:  # (the history check replays before the import)\n"
            "        seen.append(any(o is vars(compiler) for o in gc.get_objects(generation=2)))\n"
            "    return real(*args, **kwargs)\n"
            "memo.Memo.replay = replay\n"
            "p = Project.from_config()\n"
            "assert [r.id for r in p.apply('d001').results] == ['d001']\n"
            "gc.freeze(); frozen = gc.get_freeze_count()\n"
            "assert [r.id for r in p.apply().results] == ['d002']\n"
            "print(seen[0], len(seen) > 1, gc.get_freeze_count() == frozen)")
    assert _python(project, code) == "True True True"


def test_a_renamed_broken_pending_changeset_is_reported_under_its_new_name(
        project: Project) -> None:
    ids = _applied(project)
    old = project.write("d001", [_column("x", table="missing")], parents=[ids[-1]])
    assert project.cli("apply").returncode != 0
    new = old.rename(old.with_name("d001_moved.yaml"))
    done = project.cli("apply")
    assert done.returncode != 0 and new.name in done.stderr and old.name not in done.stderr


def test_a_removed_pending_changeset_is_not_applied(project: Project) -> None:
    ids = _applied(project)
    project.write("d001", [_column("x")], parents=[ids[-1]])
    assert project.api().apply(dry_run=True).sql
    next(project.changesets.glob("d001_*")).unlink()
    assert project.api().apply().results == []
    assert _versions(project) == ids


def test_apply_and_rollback_one_at_a_time_give_the_same_database(project: Project) -> None:
    ids = project.chain([TABLE], [_column("a")], [_column("b")],
                        [{"rename_column": {"table": "t", "name": "a", "new_name": "aa"}}])
    for target in ids:
        assert project.cli("apply", target).returncode == 0
    for _ in ids[1:]:
        assert project.cli("rollback", "-1").returncode == 0
    assert _versions(project) == ids[:1]
    assert project.cli("apply").returncode == 0
    import sqlite3

    with sqlite3.connect(project.root / "app.db") as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(t)")]
    assert columns == ["id", "aa", "b"]


# --- the remembered results: plain data, checked when read -------------------------------------


def _memo_dir(project: Project) -> Path:
    folder = memo.Memo(project.changesets).dir
    assert folder is not None
    return folder


def test_remembered_schemas_are_plain_json_equal_to_a_replay(demo_project: Project) -> None:
    from schemaflow.graph import replay
    from schemaflow.history import load

    assert demo_project.cli("apply").returncode == 0
    files = sorted(_memo_dir(demo_project).glob("state-*.json"))
    assert files
    for f in files:
        json.loads(f.read_text(encoding="utf-8"))
    history = load(demo_project.changesets)
    g = history.graph
    key = memo.sequence_keys(g, g.order).keys[-1]
    remembered = memo.Memo(demo_project.changesets).state(key)
    assert remembered is not None
    assert dict(remembered.tables.items()) == dict(replay(g, g.order)[0].tables.items())
    assert remembered == replay(g, g.order)[0]


@pytest.mark.parametrize("damage", ["garbage", "digest", "types"])
def test_a_damaged_memo_is_ignored(project: Project, damage: str) -> None:
    ids = _applied(project)
    for f in _memo_dir(project).glob("*.json"):
        if damage == "garbage":
            f.write_bytes(b"\x80not json")
            continue
        data = json.loads(f.read_text(encoding="utf-8"))
        if "buckets" in data:
            if damage == "digest":
                data["buckets"][0] = "[]"
            else:
                data["owner"] = [[1, 2, 3, 4]]
        else:
            data["keys"] = [1]
        f.write_text(json.dumps(data), encoding="utf-8")
    project.write("d001", [_column("x")], parents=[ids[-1]])
    done = project.cli("apply")
    assert done.returncode == 0, done.stderr
    assert _versions(project) == [*ids, "d001"]


def test_what_a_stopped_write_left_behind_is_removed(demo_project: Project) -> None:
    """A run stopped while it wrote a schema to the memo (a cancelled CI job) leaves a
    temporary file; the next write removes those older than an hour, not a newer one
    (another run's, being written)."""
    assert demo_project.cli("apply").returncode == 0
    folder = _memo_dir(demo_project)
    old, new = folder / ".tmp-stopped", folder / ".tmp-writing"
    for f in (old, new):
        f.write_bytes(b"{" * 1000)
    os.utime(old, (time.time() - 7200,) * 2)
    for f in folder.glob("state-*.json"):
        f.unlink()  # (so that the next run writes one)
    assert demo_project.cli("rollback", "base").returncode == 0
    assert list(folder.glob("state-*.json"))
    assert not old.exists() and new.exists()


def test_no_cache_writes_no_memo(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMAFLOW_NO_CACHE", "1")
    project.chain([TABLE], [_column("a")])
    assert project.api().apply().results
    assert memo.Memo(project.changesets).dir is None


def test_postgresql_no_op_and_one_pending(pg_url: str, tmp_path: Path) -> None:
    from conftest import make_project

    project = make_project(tmp_path / "pg", pg_url)
    ids = _applied(project)
    assert "Nothing to do" in project.cli("apply").stderr
    project.write("d001", [_column("x")], parents=[ids[-1]])
    done = project.cli("apply")
    assert done.returncode == 0, done.stderr
    assert _versions(project) == [*ids, "d001"]
    path = next(project.changesets.glob(f"{ids[1]}_*"))
    path.write_text(path.read_text().replace("c2", "c2_edited"), encoding="utf-8")
    done = project.cli("apply")
    assert done.returncode != 0 and path.name in done.stderr
    assert "were edited after they were applied" in done.stderr

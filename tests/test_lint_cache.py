"""The history check's remembered findings (`lintcache`): a second validate on an unchanged
history checks nothing again and parses no file, and whatever is remembered, an edited,
added, removed or renamed file, or another configuration, is always seen: every run reports
exactly what a run without any cache reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Project

from schemaflow import lint
from schemaflow.errors import ValidationFailed

TABLE = {"create_table": {"name": "t", "columns": [{"name": "id", "type": "integer",
                                                     "primary_key": True}]}}
SQL = {"sql": {"up": "SELECT 1"}}  # SF201: a warning, at the operation's line
CODES = ["SF201", "SF302", "SF201"]  # what the history below finds (SF302: a dropped column)


def _column(name: str) -> dict[str, Any]:
    return {"add_column": {"table": "t", "column": {"name": name, "type": "integer"}}}


def _drop(name: str) -> dict[str, Any]:
    return {"drop_column": {"table": "t", "name": name}}


def _validate(project: Project, *args: str, cache: bool = True) -> dict[str, Any]:
    env = None if cache else {"SCHEMAFLOW_NO_CACHE": "1"}
    done = project.cli("validate", "--no-db", "--format", "json", *args, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def _same_as_without_cache(project: Project, *args: str) -> dict[str, Any]:
    """validate with the cache, twice, reports what validate without any cache reports."""
    first = _validate(project, *args)
    again = _validate(project, *args)
    assert first == again == _validate(project, *args, cache=False)
    return again


def _history(project: Project) -> list[str]:
    # A warning in the middle, one at the end, and a drop the middle's edit can break.
    return project.chain([TABLE], [_column("a"), SQL], [_column("b")], [_drop("a")], [SQL])


def _codes(out: dict[str, Any]) -> list[tuple[str, str | None, int | None]]:
    return [(d["code"], d["changeset"], d["line"]) for d in out["diagnostics"]]


def _path(project: Project, cid: str) -> Path:
    return next(project.changesets.glob(f"{cid}_*"))


class _Counted:
    """Counts the changesets whose operations the check replays, and the YAML documents
    parsed for positions."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from schemaflow.source import yamlload

        self.replayed: list[str] = []
        self.parsed = 0
        real_ops, real_build = lint._operations, yamlload._build

        def operations(history: Any, cs: Any, *args: Any) -> Any:
            self.replayed.append(cs.id)
            return real_ops(history, cs, *args)

        def build(*args: Any, **kwargs: Any) -> Any:
            self.parsed += 1
            return real_build(*args, **kwargs)

        monkeypatch.setattr(lint, "_operations", operations)
        monkeypatch.setattr(yamlload, "_build", build)


def test_a_second_validate_replays_nothing_and_parses_no_file(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _history(project)
    counted = _Counted(monkeypatch)
    first = project.api().validate()
    assert counted.replayed == ids and counted.parsed > 0  # positions of the warnings
    counted.replayed.clear()
    counted.parsed = 0
    second = project.api().validate()
    assert second == first and [d.code for d in first] == CODES
    assert counted.replayed == [] and counted.parsed == 0


def test_the_findings_kept_stay_bounded_and_cover_the_history(
        project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each edit of the first changeset gives every changeset a new key: the findings file
    keeps the newest entries, at most two per changeset of the history, and the current
    history's among them (a validate after the edits replays nothing)."""
    monkeypatch.setenv("SCHEMAFLOW_CACHE_DIR", str(tmp_path / "cache"))
    ids = _history(project)
    first = _path(project, ids[0])
    text = first.read_text(encoding="utf-8")
    for i in range(4):
        first.write_text(text.replace("message: change c001", f"message: edit {i}"),
                         encoding="utf-8")
        project.api().validate()
    for f in (tmp_path / "cache").glob("memo-*/findings-*.json"):
        assert len(json.loads(f.read_text())["entries"]) <= 2 * len(ids), f.name
    counted = _Counted(monkeypatch)
    project.api().validate()
    assert counted.replayed == []


def test_warm_output_is_the_output_without_cache(project: Project) -> None:
    _history(project)
    out = _same_as_without_cache(project)
    assert [c for c, _, _ in _codes(out)] == CODES


def test_an_edit_that_moves_lines_moves_the_findings(project: Project) -> None:
    ids = _history(project)
    before = _same_as_without_cache(project)
    path = _path(project, ids[1])
    path.write_text("# a comment\n# another\n" + path.read_text(), encoding="utf-8")
    after = _same_as_without_cache(project)
    line = {cid: line for _, cid, line in _codes(before)}[ids[1]]
    assert {cid: line for _, cid, line in _codes(after)}[ids[1]] == (line or 0) + 2


def test_an_edit_in_the_middle_breaks_a_later_changeset(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _history(project)
    assert _same_as_without_cache(project)["summary"]["errors"] == 0
    path = _path(project, ids[1])
    path.write_text(path.read_text().replace("name: a", "name: renamed"), encoding="utf-8")
    out = _same_as_without_cache(project)
    errors = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert [d["changeset"] for d in errors] == [ids[3]]
    assert "'t.a' does not exist" in errors[0]["message"]
    # Only the edited changeset and those after it are checked again.
    project.api().validate()  # remembered for this configuration (no target database)
    counted = _Counted(monkeypatch)
    path.write_text(path.read_text().replace("name: renamed", "name: again"), encoding="utf-8")
    project.api().validate()
    assert counted.replayed == ids[1:]
    # And apply refuses the history, as it would without the cache.
    with pytest.raises(ValidationFailed) as caught:
        project.api().apply()
    assert [d.changeset for d in caught.value.diagnostics] == [ids[3]]
    done = project.cli("apply")
    assert done.returncode != 0 and ids[3] in done.stderr and "Traceback" not in done.stderr
    assert done.stderr == project.cli("apply", env={"SCHEMAFLOW_NO_CACHE": "1"}).stderr


def test_an_added_changeset_is_checked(project: Project) -> None:
    ids = _history(project)
    _same_as_without_cache(project)
    project.write("c900", [_drop("nope")], parents=[ids[-1]])
    out = _same_as_without_cache(project)
    assert ("c900", "error") in [(d["changeset"], d["severity"]) for d in out["diagnostics"]]


def test_a_removed_changeset_is_gone_from_the_findings(project: Project) -> None:
    ids = _history(project)
    before = _same_as_without_cache(project)
    assert ids[-1] in [cid for _, cid, _ in _codes(before)]
    _path(project, ids[-1]).unlink()
    after = _same_as_without_cache(project)
    assert ids[-1] not in [cid for _, cid, _ in _codes(after)]
    assert after["summary"]["files"] == len(ids) - 1


def test_a_removed_changeset_in_the_middle_is_seen(project: Project) -> None:
    ids = _history(project)
    _same_as_without_cache(project)
    # Re-parent the one after it: the history still holds together, without column b.
    _path(project, ids[2]).unlink()
    path = _path(project, ids[3])
    path.write_text(path.read_text().replace(ids[2], ids[1]), encoding="utf-8")
    out = _same_as_without_cache(project)
    assert out["summary"]["files"] == len(ids) - 1 and out["summary"]["errors"] == 0
    # Dropping column b (now never added) is an error found after the removal.
    path.write_text(path.read_text().replace("name: a", "name: b"), encoding="utf-8")
    out = _same_as_without_cache(project)
    assert [d["changeset"] for d in out["diagnostics"] if d["severity"] == "error"] == [ids[3]]


def test_a_renamed_file_is_reported_under_its_new_name(project: Project) -> None:
    ids = _history(project)
    _same_as_without_cache(project)
    path = _path(project, ids[1])
    moved = path.rename(path.with_name(f"{ids[1]}_renamed.yaml"))
    out = _same_as_without_cache(project)
    files = {d["changeset"]: d["file"] for d in out["diagnostics"]}
    assert files[ids[1]].endswith(moved.name)
    # A name that no longer starts with the id: SF006, found every run.
    odd = moved.rename(moved.with_name("oddly_named.yaml"))
    out = _same_as_without_cache(project)
    found = {(d["code"], d["file"].rsplit("/", 1)[-1]) for d in out["diagnostics"]}
    assert ("SF006", odd.name) in found and ("SF201", odd.name) in found


def test_a_configuration_change_changes_the_findings(project: Project) -> None:
    _history(project)
    assert [c for c, _, _ in _codes(_same_as_without_cache(project))] == CODES
    toml = project.root / "schemaflow.toml"
    text = toml.read_text()
    toml.write_text(text + '[lint]\nignore = ["SF201"]\n', encoding="utf-8")
    assert [c for c, _, _ in _codes(_same_as_without_cache(project))] == ["SF302"]
    toml.write_text(text + '[lint]\nselect = ["SF2"]\n', encoding="utf-8")
    assert [c for c, _, _ in _codes(_same_as_without_cache(project))] == ["SF201", "SF201"]
    toml.write_text(text + '[lint]\nerror = ["SF201"]\n', encoding="utf-8")
    out = _same_as_without_cache(project)
    assert [d["severity"] for d in out["diagnostics"]] == ["error", "warning", "error"]
    toml.write_text(text, encoding="utf-8")
    assert [c for c, _, _ in _codes(_same_as_without_cache(project))] == CODES


def test_another_target_database_is_another_check(project: Project) -> None:
    project.chain([TABLE], [{"add_column": {"table": "t", "column": {
        "name": "big", "type": "integer", "default": 2**40}}}])
    sqlite = _same_as_without_cache(project, "--dialect", "sqlite")
    postgres = _same_as_without_cache(project, "--dialect", "postgresql")
    assert sqlite != postgres
    assert _validate(project, "--dialect", "sqlite") == sqlite


def test_a_damaged_findings_file_is_a_miss(project: Project, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _history(project)
    env = {"SCHEMAFLOW_CACHE_DIR": str(cache)}
    args = ("validate", "--no-db", "--format", "json")
    first = project.cli(*args, env=env).stdout
    files = list(cache.glob("memo-*/findings-*.json"))
    assert files
    for f in files:
        data = json.loads(f.read_text())
        for key in data["entries"]:
            data["entries"][key] = [["SF999", "warning", "forged", None, 1, 1, True]]
        f.write_text(json.dumps(data))
    again = project.cli(*args, env=env)
    assert again.stdout == first and "Traceback" not in again.stderr
    for f in cache.glob("memo-*/findings-*.json"):
        f.write_text("{not json")
    assert project.cli(*args, env=env).stdout == first


def test_validate_remembers_what_apply_checks(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _history(project)
    project.api().validate()
    counted = _Counted(monkeypatch)
    result = project.api().apply()
    assert [r.id for r in result.results] == ids
    assert counted.replayed == []  # the check before apply found it all remembered


def test_one_new_changeset_is_checked_alone_before_apply(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _history(project)
    assert project.cli("apply").returncode == 0
    project.write("c900", [_column("late")], parents=[ids[-1]])
    counted = _Counted(monkeypatch)
    result = project.api().apply()
    assert [r.id for r in result.results] == ["c900"]
    assert counted.replayed == ["c900"]
    # A new changeset that does not fit is refused, its error where it is.
    project.write("c901", [_drop("nope")], parents=["c900"])
    with pytest.raises(ValidationFailed) as caught:
        project.api().apply()
    assert [d.changeset for d in caught.value.diagnostics] == ["c901"]


def test_an_edit_after_a_changeset_with_errors_is_checked_as_without_cache(
        project: Project) -> None:
    # c002 fails (no table u): what follows it meets the schema the check builds by going
    # past that operation, which no replay gives; the check starts over instead.
    ids = project.chain([TABLE], [{"add_column": {"table": "u", "column": {
        "name": "x", "type": "integer"}}}, _column("a")], [_column("b")], [_drop("a")])
    first = _same_as_without_cache(project)
    assert [d["changeset"] for d in first["diagnostics"] if d["severity"] == "error"] == [
        ids[1]]
    path = _path(project, ids[3])
    path.write_text(path.read_text().replace("name: a", "name: b"), encoding="utf-8")
    out = _same_as_without_cache(project)
    assert [d["changeset"] for d in out["diagnostics"] if d["severity"] == "error"] == [ids[1]]
    path.write_text(path.read_text().replace("name: b", "name: zz"), encoding="utf-8")
    out = _same_as_without_cache(project)
    assert [d["changeset"] for d in out["diagnostics"] if d["severity"] == "error"] == [
        ids[1], ids[3]]

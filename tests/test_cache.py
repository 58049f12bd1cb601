"""The parse cache: found by content, never stale, harmless when broken or missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import Project

from schemaflow.cache import ParseCache
from schemaflow.errors import ValidationFailed
from schemaflow.history import load

TABLE = {"create_table": {"name": "t", "columns": [{"name": "id", "type": "integer",
                                                     "primary_key": True}]}}


def _cache_file(folder: Path) -> Path:
    path = ParseCache(folder).path
    assert path is not None
    return path


def test_second_load_is_served_from_the_cache(project: Project) -> None:
    project.chain([TABLE])
    first = load(project.changesets)
    assert _cache_file(project.changesets).exists()
    second = load(project.changesets)
    assert second.graph["c001"] == first.graph["c001"]
    assert ParseCache(project.changesets).entries  # the entry is there to be found


def test_an_edit_is_seen_at_once(project: Project) -> None:
    path = project.write("c001", [TABLE])
    assert load(project.changesets).graph["c001"].operations[0].kind == "create_table"
    stat = path.stat()
    text = path.read_text().replace("integer", "bigint  ")  # same size, same mtime below
    path.write_text(text[: len(text)])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    op = load(project.changesets).graph["c001"].operations[0]
    assert op.columns[0].type.name == "bigint"  # type: ignore[attr-defined]


def test_an_invalid_edit_is_reported_even_after_a_valid_load(project: Project) -> None:
    path = project.write("c001", [TABLE])
    load(project.changesets)
    path.write_text(path.read_text().replace("primary_key", "primary_kee"))
    with pytest.raises(ValidationFailed) as info:
        load(project.changesets)
    assert "did you mean 'primary_key'" in info.value.diagnostics[0].message


def test_a_corrupt_cache_file_is_ignored(project: Project) -> None:
    project.chain([TABLE])
    load(project.changesets)
    _cache_file(project.changesets).write_bytes(b"\x80\x05garbage")
    assert load(project.changesets).graph.heads == ["c001"]
    result = project.cli("heads")
    assert result.returncode == 0, result.stderr
    assert "c001" in result.stdout


def test_renamed_file_keeps_its_new_path(project: Project) -> None:
    path = project.write("c001", [TABLE], slug="old")
    load(project.changesets)
    new = path.with_name("c001_new.yaml")
    path.rename(new)
    assert load(project.changesets).graph["c001"].path.endswith("c001_new.yaml")  # type: ignore[union-attr]


def test_no_cache_env_turns_it_off(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMAFLOW_NO_CACHE", "1")
    assert ParseCache(project.changesets).path is None
    project.chain([TABLE])
    assert load(project.changesets).graph.heads == ["c001"]

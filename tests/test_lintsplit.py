"""The history check split across processes (`lintsplit`) finds exactly what the check in one
process finds, in the same order, remembers the same schemas and findings, and a part whose
process fails is checked in this one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import Project

from schemaflow import lintsplit, parallel
from schemaflow.errors import Diagnostic

TABLE = {"create_table": {"name": "t", "columns": [{"name": "id", "type": "integer",
                                                     "primary_key": True}]}}
SQL = {"sql": {"up": "SELECT 1"}}  # SF201


def _column(table: str, name: str) -> dict[str, Any]:
    return {"add_column": {"table": table, "column": {"name": name, "type": "integer"}}}


def _history(project: Project) -> None:
    """Branches, merges (one of them conflicting), errors, warnings, rollbacks, two heads."""
    project.write("c000", [TABLE])
    previous = "c000"
    for i in range(1, 40):
        cid = f"c{i:03d}"
        ops: list[Any] = [_column("t", f"a{i}")]
        if i % 7 == 0:
            ops.append(SQL)
        if i % 11 == 0:
            ops.append({"drop_column": {"table": "t", "name": f"a{i - 1}"}})  # SF302
        if i == 17:
            ops.append(_column("missing", "x"))  # an error: the rest is still checked
        project.write(cid, ops, parents=[previous])
        previous = cid
        if i % 9 == 0:  # a branch on each side, merged
            project.write(f"l{i:03d}", [_column("t", f"l{i}")], parents=[cid])
            project.write(f"r{i:03d}", [_column("t", f"l{i}" if i == 27 else f"r{i}")],
                          parents=[cid])
            project.write(f"m{i:03d}", [], parents=[f"l{i:03d}", f"r{i:03d}"])
            previous = f"m{i:03d}"
    project.write("side", [_column("t", "side")], parents=["c030"])  # a second head


def _clean_history(project: Project) -> None:
    """No error: the schemas of the heads are remembered."""
    project.chain([TABLE], *[[_column("t", f"a{i}")] + ([SQL] if i % 5 == 0 else [])
                             for i in range(1, 30)])


def _validate(project: Project, cache: Path, *, parts: int, min_changesets: int,
              monkeypatch: pytest.MonkeyPatch) -> tuple[list[Diagnostic], dict[str, bytes]]:
    shutil.rmtree(cache, ignore_errors=True)
    monkeypatch.setenv("SCHEMAFLOW_CACHE_DIR", str(cache))
    monkeypatch.setattr(parallel, "workers", lambda: parts)
    monkeypatch.setattr(lintsplit, "MIN_CHANGESETS", min_changesets)
    found = project.api().validate()
    files = {p.name: p.read_bytes() for p in cache.rglob("*.json")}
    # Read back from what was remembered: the same again.
    assert project.api().validate() == found
    return found, files


@pytest.mark.parametrize("write", [_history, _clean_history])
@pytest.mark.parametrize("parts", [2, 3, 5])
def test_split_check_finds_and_remembers_what_one_process_does(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: int,
        write: Any) -> None:
    write(project)
    one, one_files = _validate(project, tmp_path / "one", parts=1, min_changesets=10**9,
                               monkeypatch=monkeypatch)
    split, split_files = _validate(project, tmp_path / "split", parts=parts, min_changesets=1,
                                   monkeypatch=monkeypatch)
    assert split == one
    assert split_files == one_files
    codes = {d.code for d in one}
    assert "SF201" in codes
    if write is _history:
        assert {"SF302", "SF013", "SF401"} <= codes and any(d.severity == "error" for d in one)
    else:
        assert any(name.startswith("state-") for name in one_files)


@pytest.mark.parametrize("failing", [{1}, {2}, {1, 2}, {2, 3}])
def test_a_part_whose_process_fails_is_checked_here(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        failing: set[int]) -> None:
    _history(project)
    one, one_files = _validate(project, tmp_path / "one", parts=1, min_changesets=10**9,
                               monkeypatch=monkeypatch)
    real = parallel.fork_call
    started: list[int] = []

    def dies(fn: Any) -> parallel.Forked | None:
        started.append(1)
        if len(started) not in failing:
            return real(fn)
        if len(started) % 2:
            return None  # could not start
        return real(lambda: os._exit(3))  # died without an answer

    monkeypatch.setattr(parallel, "fork_call", dies)
    split, split_files = _validate(project, tmp_path / "split", parts=4, min_changesets=1,
                                   monkeypatch=monkeypatch)
    assert split == one and split_files == one_files and len(started) >= 3


def test_bounds_cover_the_order_and_shrink() -> None:
    for count in (1, 2, 10, 1000, 10_000):
        for parts in (2, 3, 8):
            b = lintsplit.bounds(count, parts)
            assert b[0] == 0 and b[-1] == count and b == sorted(b)
    b = lintsplit.bounds(10_000, 2)
    assert b[1] - b[0] > b[2] - b[1]  # the part after a replay is the shorter

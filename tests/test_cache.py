"""The parse cache: found by content, never stale, harmless when broken or missing."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, count_parallel_maps, record_calls

from schemaflow import cache, cacheentry, cachefile, fileload, ir
from schemaflow.cache import ParseCache
from schemaflow.errors import ValidationFailed
from schemaflow.folderindex import FolderIndex
from schemaflow.graph import Graph
from schemaflow.history import checksum, load
from schemaflow.source import display_path, scan

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


def test_a_changeset_comes_back_field_for_field_its_body_loaded_on_first_use() -> None:
    parsed = ir.parse({
        "schemaflow": 1, "id": "c002", "parents": ["c001"], "message": "second",
        "author": "alice", "depends_on": ["x001"], "branch_labels": ["feature"],
        "tag": "v1", "transactional": False, "lint": {"ignore": ["SF101"]}, "replaces": ["b1"],
        "operations": [TABLE, {"insert_rows": {"table": "t", "rows": [{"id": 1}]}}],
        "rollback": [{"drop_table": {"name": "t"}}],
    }, path="old/c002_second.yaml")
    packed = cache.pack(parsed, "k1")
    assert packed[3] == "k1"
    assert len(packed[0]) == len([f for f in dataclasses.fields(ir.Changeset)
                                  if f.init and f.name not in ("operations", "rollback")])
    back = cacheentry.revive(packed, "new/c002_second.yaml")
    assert back.operation_kinds == ("create_table", "insert_rows")
    assert checksum(back) == checksum(parsed)
    assert back.deferred is not None  # the kinds and the checksum did not load the body
    assert back == parsed and back.path == "new/c002_second.yaml"
    assert back.deferred is None
    assert (back.operations, back.rollback) == (parsed.operations, parsed.rollback)
    assert checksum(back) == checksum(parsed)
    again = cacheentry.revive(cache.pack(back, "k1"))  # a loaded body is encoded anew
    assert again == parsed and again.rollback == parsed.rollback
    assert again.path == "new/c002_second.yaml"


def test_an_entry_of_another_layout_is_parsed_again(project: Project) -> None:
    project.chain([TABLE])
    load(project.changesets)
    parse_cache = ParseCache(project.changesets)
    key = next(iter(parse_cache.entries))
    parse_cache.entries[key] = (("c001",), (), "", key, b"", b"")  # type: ignore[assignment]
    assert parse_cache.get(key, "c001_change.yaml") is None
    good = ParseCache(project.changesets).entries[key]
    parse_cache.entries[key] = (*good[:3], "another key", *good[4:])
    assert parse_cache.get(key, "c001_change.yaml") is None  # not the entry of this file


def test_no_cache_env_turns_it_off(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEMAFLOW_NO_CACHE", "1")
    assert ParseCache(project.changesets).path is None
    project.chain([TABLE])
    assert load(project.changesets).graph.heads == ["c001"]


# --- the folder index: the whole folder's graph, while its listing is unchanged ------------

ADD = {"add_column": {"table": "t", "column": {"name": "x", "type": "integer"}}}


def _index_file(folder: Path) -> Path:
    path = FolderIndex(folder, display_path(folder), scan(folder)).path
    assert path is not None
    return path


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files load() goes through one by one from now on (none when the index serves)."""
    seen: list[str] = []
    real = fileload._lookup

    def counting(path: Path, shown: str, pc: ParseCache, *rest: Any) -> object:
        seen.append(path.name)
        return real(path, shown, pc, *rest)

    monkeypatch.setattr(fileload, "_lookup", counting)
    return seen


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """As if every file had been written long ago: the racy window is closed."""
    monkeypatch.setattr(cache, "_RACY_NS", 0)
    return _count_reads(monkeypatch)


def test_a_second_load_is_served_from_the_index_and_equal(demo_project: Project,
                                                          reads: list[str]) -> None:
    folder = demo_project.changesets
    cold = load(folder)
    assert len(reads) == 8 and _index_file(folder).exists()
    reads.clear()
    warm = load(folder)
    assert reads == []
    g, w = cold.graph, warm.graph
    assert isinstance(w.by_id, cache._LazyMap)
    assert w.resolve("v1.0") == g.resolve("v1.0") == ["f81b3a5c9e07"]
    assert w.heads == g.heads and not w.by_id._revived  # heads and tags revive nothing
    for attr in ("order", "position", "children", "dependents", "all_parents", "tags",
                 "replaced_by"):
        assert getattr(w, attr) == getattr(g, attr), attr
    assert list(w.by_id) == list(g.by_id) and dict(warm.files) == dict(cold.files)
    for cid in g.order:
        assert w[cid] == g[cid] and w[cid].path == g[cid].path
        assert (w[cid].operations, w[cid].rollback) == (g[cid].operations, g[cid].rollback)
        assert checksum(w[cid]) == checksum(g[cid])


def test_an_entry_unmarshalled_lets_go_of_its_bytes_and_still_answers(demo_project: Project,
                                                                      reads: list[str]) -> None:
    folder = demo_project.changesets
    cold = load(folder).graph
    warm = load(folder).graph
    by_id = warm.by_id
    assert isinstance(by_id, cache._LazyMap) and all(by_id._entries)
    first = cold.order[0]
    assert by_id.peek(first) == cache.summary(cold.by_id, first)  # unmarshalled, not revived
    assert by_id._entries[by_id._slots[first]] == b""
    for cid in cold.order:  # a plan revives every entry: each one's bytes let go of
        assert warm[cid] == cold[cid] and checksum(warm[cid]) == checksum(cold[cid])
        assert (warm[cid].operations, warm[cid].rollback) == (cold[cid].operations,
                                                              cold[cid].rollback)
        assert by_id._entries[by_id._slots[cid]] == b""
        assert by_id.listed(cid) == cache.listed(cold.by_id, cid)
        assert by_id.peek(cid) == cache.summary(cold.by_id, cid)
        assert cache.source_key(by_id, cid) == load(folder).content_key(cid) is not None


def test_the_memo_keys_chained_from_the_caches_are_those_computed(demo_project: Project,
                                                                  reads: list[str]) -> None:
    """The parse cache keeps each changeset's own key (`cache.own_key`) and the folder index
    a column of them: the memo keys chained from either (what apply and validate look their
    remembered checks and schemas up by) equal those of freshly parsed changesets, and
    sequence keys from the checksum column equal those from each changeset's checksum."""
    from schemaflow.memo import changeset_keys, sequence_keys

    folder = demo_project.changesets
    cold = load(folder).graph
    assert all(cold[c].deferred is None for c in cold.order)  # parsed: keys from the headers
    fresh = changeset_keys(Graph([cold.by_id[c] for c in cold.by_id]))
    warm = load(folder).graph
    assert reads and isinstance(warm.by_id, cache._LazyMap) and warm.memo_keys is None
    served = changeset_keys(warm)
    assert served == fresh and len(served) == len(cold.by_id)
    assert not warm.by_id._revived and not warm.by_id._packed  # no entry was read for them
    assert sequence_keys(warm, warm.order).keys == sequence_keys(cold, cold.order).keys
    # The whole sequence's key, hashed at once, is the last prefix's, and goes on alike.
    whole, start = sequence_keys(cold, cold.order), sequence_keys(cold, cold.order[:-1])
    assert whole.last == whole.keys[-1] == start.then(cold, cold.order[-1:]).last
    assert start.then(cold, cold.order[-1:]).keys == [whole.keys[-1]]
    # The parse cache's changesets (no index) carry their own keys.
    _index_file(folder).unlink()
    parsed = load(folder).graph
    assert not isinstance(parsed.by_id, cache._LazyMap)
    assert all(parsed[c].deferred.own for c in parsed.order)  # type: ignore[union-attr]
    assert changeset_keys(parsed) == fresh
    # A column of another shape is not trusted: the keys are computed from the entries.
    again = load(folder).graph
    again.by_id._owns = "00\n" * (len(cold.by_id) - 1) + "zz"  # type: ignore[attr-defined]
    assert changeset_keys(again) == fresh


def test_a_listing_reads_no_body_and_missing_bodies_are_parsed_again(
        project: Project, reads: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    project.chain([TABLE], [ADD])
    cold = load(project.changesets).graph
    reads.clear()
    opened: list[str] = []
    real = cachefile.read

    def reading(path: Path, *rest: Any) -> Any:
        opened.append(path.name.split("-")[0])
        return real(path, *rest)

    monkeypatch.setattr(cachefile, "read", reading)
    warm = load(project.changesets).graph
    info = [(warm[c].message, warm[c].operation_kinds, checksum(warm[c])) for c in warm.order]
    assert info == [(cold[c].message, cold[c].operation_kinds, checksum(cold[c]))
                    for c in cold.order]
    assert opened == ["index"] and reads == []  # the bodies file is not read for a listing
    assert warm["c002"].operations == cold["c002"].operations and opened[-1] == "bodies"
    index = FolderIndex(project.changesets, display_path(project.changesets),
                        scan(project.changesets))
    assert index.bodies is not None
    index.bodies.unlink()
    again = load(project.changesets).graph
    assert reads == []  # served by the index; its bodies are parsed from the files
    assert [again[c].operations for c in again.order] == [cold[c].operations
                                                        for c in cold.order]


def test_a_folder_whose_paths_cannot_be_columns_is_loaded_without_an_index(
        project: Project, reads: list[str]) -> None:
    project.chain([TABLE])
    (project.changesets / "c001_change.yaml").rename(project.changesets / "c001\nnew.yaml")
    for _ in range(2):
        assert load(project.changesets).graph.heads == ["c001"]
    assert len(reads) == 2  # read each time: no index was written
    assert not _index_file(project.changesets).exists()


def test_a_squashed_history_is_served_with_its_replacements(project: Project,
                                                            reads: list[str]) -> None:
    project.write("s001", [TABLE], replaces=["c001", "c002"], tag="squashed")
    project.write("c003", [ADD], parents=["c002"])
    cold = load(project.changesets).graph
    reads.clear()
    warm = load(project.changesets).graph
    assert reads == []
    assert warm.replaced_by == cold.replaced_by == {"c001": "s001", "c002": "s001"}
    assert warm["c003"].parents == ("s001",) and warm.heads == ["c003"]
    assert warm.resolve("squashed") == ["s001"] and warm["s001"] == cold["s001"]


@pytest.mark.parametrize("change", ["edit", "same-size", "touch", "add", "remove", "rename"])
def test_any_change_to_the_folder_invalidates_the_index(project: Project, reads: list[str],
                                                        change: str) -> None:
    first = project.write("c001", [TABLE])
    second = project.write("c002", [ADD], parents=["c001"])
    load(project.changesets)
    reads.clear()
    assert load(project.changesets).graph.heads == ["c002"] and reads == []
    if change == "edit":
        second.write_text(second.read_text().replace("name: x", "name: y"))
    elif change == "same-size":  # the mtime restored: only the ctime tells
        stat = first.stat()
        first.write_text(first.read_text().replace("integer", "bigint "))
        os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert first.stat().st_size == stat.st_size
    elif change == "touch":  # the same bytes, a new mtime
        os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 10**9))
    elif change == "add":
        project.write("c003", [], parents=["c002"])
    elif change == "remove":
        second.unlink()
    else:
        second.rename(second.with_name("c002_renamed.yaml"))
    got = load(project.changesets)
    assert reads, "the index was served"
    assert got.graph.heads == {"add": ["c003"], "remove": ["c001"]}.get(change, ["c002"])
    if change == "edit":
        assert got.graph["c002"].operations[0].column.name == "y"  # type: ignore[attr-defined]
    if change == "rename":
        assert str(got.path("c002")).endswith("c002_renamed.yaml")
        assert str(got.graph["c002"].path).endswith("c002_renamed.yaml")


def test_a_same_size_edit_with_the_mtime_restored_is_seen_after_the_racy_window(
        project: Project, reads: list[str]) -> None:
    path = project.write("c001", [TABLE])
    load(project.changesets)
    stat = path.stat()
    path.write_text(path.read_text().replace("integer", "bigint "))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    op = load(project.changesets).graph["c001"].operations[0]
    assert op.columns[0].type.name == "bigint"  # type: ignore[attr-defined]


def test_an_invalid_edit_after_an_indexed_load_is_reported(project: Project,
                                                           reads: list[str]) -> None:
    path = project.write("c001", [TABLE])
    load(project.changesets)
    load(project.changesets)
    path.write_text(path.read_text().replace("primary_key", "primary_kee"))
    with pytest.raises(ValidationFailed) as info:
        load(project.changesets)
    assert "did you mean 'primary_key'" in info.value.diagnostics[0].message


def test_files_within_the_racy_window_are_trusted_by_content(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file written just now cannot be trusted by its stat (a later edit may leave the same
    one): the index is written all the same, keeping that file's content key, and serves
    the folder while the file still holds those bytes, reading that one file alone."""
    from schemaflow import folderindex

    reads = _count_reads(monkeypatch)
    checked = record_calls(monkeypatch, folderindex.FolderIndex, "_same_bytes")
    project.chain([TABLE], [ADD])
    load(project.changesets)
    assert _index_file(project.changesets).exists()
    reads.clear()
    assert load(project.changesets).graph.heads == ["c002"]
    assert reads == [] and len(checked) == 1  # served, once its bytes were compared
    monkeypatch.setattr(cache, "_RACY_NS", 0)
    checked.clear()
    assert load(project.changesets).graph.heads == ["c002"]
    assert reads == [] and checked == []  # outside the window: the stats suffice


def test_an_index_of_files_fresh_when_it_was_written_settles_once_they_are_not(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh clone indexed at once (`validate` in CI): every file is within the racy
    window of the index, so every load compared all their bytes, for as long as the index
    lived. A load that compares them once the window has passed writes the index again
    trusting their stats: later loads read no file, and an edit is still seen."""
    import time

    from schemaflow import folderindex

    reads = _count_reads(monkeypatch)
    checked = record_calls(monkeypatch, folderindex.FolderIndex, "_same_bytes")
    project.chain([TABLE], [ADD])
    load(project.changesets)
    reads.clear()
    for _ in range(2):  # within the window: compared each time, never trusted by stat
        assert load(project.changesets).graph.heads == ["c002"]
    assert reads == [] and len(checked) == 2
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + 3 * 10**9)  # the window passed
    checked.clear()
    assert load(project.changesets).graph.heads == ["c002"]
    assert reads == [] and len(checked) == 1  # compared a last time
    checked.clear()
    assert load(project.changesets).graph.heads == ["c002"]
    assert reads == [] and checked == []  # the stats suffice
    path = next(project.changesets.glob("c002*"))
    path.write_text(path.read_text().replace("name: x", "name: y"))
    got = load(project.changesets)
    assert reads and got.graph["c002"].operations[0].column.name == "y"  # type: ignore[attr-defined]


def test_an_edit_while_a_fresh_index_is_compared_is_not_settled_as_the_old_bytes(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race settling must not lose: a same-size edit after the folder was scanned and
    before the bytes were compared, past the window (simulated: the scan is given the
    stats from before the edit). The bytes differ, the folder is loaded file by file, and
    no index of the old bytes is left to serve a later load."""
    import time

    from schemaflow import history

    path = project.write("c001", [TABLE])
    load(project.changesets)  # indexed at once: the file is racy
    before = scan(project.changesets)
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + 3 * 10**9)
    text = path.read_text()
    path.write_text(text.replace("integer", "bigint "))
    assert len(path.read_text()) == len(text)
    monkeypatch.setattr(history, "scan", lambda folder, limits=None: before)
    for _ in range(2):
        op = load(project.changesets).graph["c001"].operations[0]
        assert op.columns[0].type.name == "bigint"  # type: ignore[attr-defined]
    monkeypatch.undo()
    op = load(project.changesets).graph["c001"].operations[0]
    assert op.columns[0].type.name == "bigint"  # type: ignore[attr-defined]


def test_an_edit_that_keeps_the_stat_within_the_racy_window_is_seen(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The racy case itself: an edit within the clock's granularity of the index being
    written, of the same size, leaves size, mtime, ctime and inode as they were (simulated:
    the scan is given the stats from before the edit). The index must not serve the old
    content: the file's bytes are compared, and the folder is loaded file by file."""
    from schemaflow import history

    path = project.write("c001", [TABLE])
    before = scan(project.changesets)
    load(project.changesets)
    assert _index_file(project.changesets).exists()
    text = path.read_text()
    path.write_text(text.replace("integer", "bigint "))
    assert len(path.read_text()) == len(text)
    monkeypatch.setattr(history, "scan", lambda folder, limits=None: before)
    op = load(project.changesets).graph["c001"].operations[0]
    assert op.columns[0].type.name == "bigint"  # type: ignore[attr-defined]


def test_the_parse_cache_is_not_rewritten_for_a_stat_it_could_not_trust(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file changed within the racy window of now stays untrusted by its stat whatever is
    written: the parse cache is not written again for it (10,000 entries each run while a
    new file is fresh); the folder index written meanwhile (trusting that file by its
    content) serves the folder once the window has passed, and the parse cache records the
    new stat when a load next goes through it."""
    path = project.write("c001", [TABLE])
    load(project.changesets)
    written = _cache_file(project.changesets).read_bytes()
    os.utime(path)  # a new stat, same content: not trusted before the window passes
    assert load(project.changesets).graph.heads == ["c001"]
    assert _cache_file(project.changesets).read_bytes() == written
    monkeypatch.setattr(cache, "_RACY_NS", 0)
    reads = _count_reads(monkeypatch)
    assert load(project.changesets).graph.heads == ["c001"]
    assert reads == []  # the index written in the window
    _index_file(project.changesets).unlink()
    assert load(project.changesets).graph.heads == ["c001"]
    assert _cache_file(project.changesets).read_bytes() != written  # the stat recorded now


def test_memo_keys_follow_an_edit_within_the_racy_window(project: Project) -> None:
    """The own key the parse cache keeps is its entry's, found by the file's content: an
    edited header (the message) changes the key of that changeset and of every one below it,
    read within the racy window or not, and equals a fresh computation."""
    from schemaflow.memo import changeset_keys

    path = project.chain([TABLE], [ADD])[0]
    first = project.changesets / f"{path}_change.yaml"
    before = changeset_keys(load(project.changesets).graph)
    assert changeset_keys(load(project.changesets).graph) == before  # from the parse cache
    first.write_text(first.read_text().replace("change c001", "changed c001"))
    g = load(project.changesets).graph
    assert g["c001"].message == "changed c001"
    after = changeset_keys(g)
    assert after["c001"] != before["c001"] and after["c002"] != before["c002"]
    fresh = [ir.parse(_doc(project.changesets, c)) for c in g.order]  # nothing cached
    assert changeset_keys(Graph(fresh)) == after
    os.utime(first)  # read again by content: the same entry, the same keys
    assert changeset_keys(load(project.changesets).graph) == after


def _doc(folder: Path, cid: str) -> Any:
    import yaml

    return yaml.safe_load(next(folder.glob(f"{cid}_*.yaml")).read_text())


@pytest.mark.parametrize("damage", ["garbage", "empty", "header-cut", "body-cut"])
def test_a_corrupt_or_truncated_index_is_ignored(project: Project, reads: list[str],
                                                 damage: str) -> None:
    project.chain([TABLE], [ADD])
    load(project.changesets)
    index = _index_file(project.changesets)
    data = index.read_bytes()
    index.write_bytes({"garbage": b"\x80\x05garbage", "empty": b"", "header-cut": data[:12],
                       "body-cut": data[: len(data) - 40]}[damage])
    reads.clear()
    assert load(project.changesets).graph.heads == ["c002"]
    assert len(reads) == 2
    reads.clear()
    assert load(project.changesets).graph.heads == ["c002"] and reads == []  # written anew


def test_no_cache_writes_no_index(project: Project, reads: list[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    project.chain([TABLE])
    index = _index_file(project.changesets)
    monkeypatch.setenv("SCHEMAFLOW_NO_CACHE", "1")
    assert load(project.changesets).graph.heads == ["c001"]
    assert load(project.changesets).graph.heads == ["c001"]
    assert not index.exists() and len(reads) == 2


def test_paths_are_shown_relative_to_the_working_directory(project: Project, reads: list[str],
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    project.chain([TABLE])
    folder = project.changesets
    for cwd, shown in ((project.root, "changesets/c001_change.yaml"),
                       (folder, "./c001_change.yaml"),
                       (project.root.parent, "proj/changesets/c001_change.yaml"),
                       (project.root, "changesets/c001_change.yaml")):
        monkeypatch.chdir(cwd)
        for _ in range(2):  # cold for this folder name, then warm
            assert load(folder).graph["c001"].path == os.path.join(*shown.split("/"))
    assert len(reads) == 4


# `schemaflow ARGS` with the racy window closed, then how many files it went through.
MAIN = """
import sys
import schemaflow.cache, schemaflow.fileload as h
schemaflow.cache._RACY_NS = 0
real, seen = h._lookup, []
h._lookup = lambda *a: seen.append(a) or real(*a)
sys.argv = ["schemaflow", *sys.argv[1:]]
from schemaflow.cli import main
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(f"\\nREAD={len(seen)}")
"""


def test_listing_commands_print_the_same_from_a_cold_and_a_warm_index(
        demo_project: Project, tmp_path: Path) -> None:
    def run(cache_dir: Path, *args: str) -> tuple[str, int]:
        env = {**os.environ, "SCHEMAFLOW_CACHE_DIR": str(cache_dir), "NO_COLOR": "1",
               "COLUMNS": "200"}
        done = subprocess.run([sys.executable, "-c", MAIN, *args], cwd=demo_project.root,
                              env=env, capture_output=True, text=True, timeout=120)
        out, _, count = done.stdout.rpartition("\nREAD=")
        assert done.returncode == 0 and count, done.stderr
        return out, int(count)

    for i, args in enumerate([["heads"], ["heads", "--format", "json"], ["history", "-v"],
                              ["history", "--format", "json"], ["show", "v1.0"],
                              ["show", "9d3f", "--format", "json"]]):
        cold, cold_reads = run(tmp_path / f"cache{i}", *args)
        warm, warm_reads = run(tmp_path / f"cache{i}", *args)
        assert (cold_reads, warm_reads) == (8, 0), args
        assert warm == cold and cold.strip(), args


# Every changeset's body and checksum, as another process loads them.
BODIES = """
import sys
from pathlib import Path
import schemaflow.cache
schemaflow.cache._RACY_NS = 0
from schemaflow.history import checksum, load
g = load(Path(sys.argv[1])).graph
print(repr([(cid, g[cid].operations, g[cid].rollback, checksum(g[cid])) for cid in g.order]))
"""


@pytest.mark.parametrize("served_by", ["index", "parse cache"])
def test_bodies_cached_by_one_process_load_in_another(demo_project: Project, tmp_path: Path,
                                                      served_by: str) -> None:
    demo_project.write("z001", [ADD], parents=["f81b3a5c9e07"],
                       rollback=[{"drop_column": {"table": "t", "name": "x"}}])
    cache_dir = tmp_path / "cache"

    def bodies(**env: str) -> str:
        done = subprocess.run([sys.executable, "-c", BODIES, str(demo_project.changesets)],
                              env={**os.environ, "SCHEMAFLOW_CACHE_DIR": str(cache_dir), **env},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    parsed = bodies(SCHEMAFLOW_NO_CACHE="1")
    assert "DropColumn" in parsed
    assert bodies() == parsed  # cold: parsed, and both caches written
    if served_by == "parse cache":
        for index in cache_dir.glob("index-*.cache"):
            index.unlink()
    assert bodies() == parsed


def _many(project: Project, n: int) -> list[str]:
    """A linear history of `n` changesets: enough misses for `parallel` to use workers."""
    return project.chain([TABLE], *[[{"add_column": {
        "table": "t", "column": {"name": f"c{i}", "type": "integer"}}}] for i in range(n - 1)])


def test_files_read_by_the_workers_report_what_one_process_reports(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # With an empty cache the workers read the files too: a file that cannot be read, is
    # not UTF-8, is not YAML or fails the schema says so exactly as when read here.
    from schemaflow import parallel

    if parallel.workers() < 2:
        pytest.skip("one core: nothing runs in parallel")
    ids = _many(project, parallel.MIN_ITEMS + 50)
    folder = project.changesets
    (folder / f"{ids[3]}_change.yaml").write_bytes(b"schemaflow: 1\nmessage: \xff\n")
    (folder / f"{ids[5]}_change.yaml").write_text("schemaflow: 1\nid: [unclosed\n")
    broken = folder / f"{ids[8]}_change.yaml"
    broken.write_text(broken.read_text().replace("integer", "12"))
    fifo = folder / "zz_fifo.yaml"
    os.mkfifo(fifo)
    files = [*sorted(folder.glob("*.yaml")), folder / "zz_gone.yaml"]
    used = count_parallel_maps(monkeypatch)

    def problems(**env: str) -> list[tuple[Any, ...]]:
        with monkeypatch.context() as m:
            for name, value in env.items():
                m.setenv(name, value)
            with pytest.raises(ValidationFailed) as info:
                load(folder, files)
        return [(d.code, d.file, d.line, d.col, d.message) for d in info.value.diagnostics]

    alone = problems(SCHEMAFLOW_NO_CACHE="1", SCHEMAFLOW_JOBS="1")
    assert used == []
    assert problems(SCHEMAFLOW_CACHE_DIR=str(project.root / "fresh-cache")) == alone
    assert used == [len(files) - 1]  # the missing file is refused before
    assert problems() == alone  # the cache of the files that loaded, and the others again
    assert [p[4] for p in alone] == [
        "the file is not UTF-8 text", "YAML syntax error: did not find expected ',' or ']'",
        alone[2][4], "not a regular file", "cannot read the file: No such file or directory"]
    assert alone[2][0] == "SF002" and alone[2][1] == display_path(broken)


def test_many_files_parsed_on_every_core_load_as_in_one_process(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from schemaflow import parallel

    if parallel.workers() < 2:
        pytest.skip("one core: nothing runs in parallel")
    ids = _many(project, parallel.MIN_ITEMS + 50)
    used = count_parallel_maps(monkeypatch)

    def everything(g: Any) -> list[Any]:
        return [(cid, g[cid], g[cid].operations, g[cid].rollback, checksum(g[cid]), g[cid].path)
                for cid in g.order]

    with monkeypatch.context() as m:
        m.setenv("SCHEMAFLOW_NO_CACHE", "1")
        m.setenv("SCHEMAFLOW_JOBS", "1")
        alone = everything(load(project.changesets).graph)
    cold = everything(load(project.changesets).graph)  # workers parse, the caches are written
    assert used == [len(ids)]
    assert cold == alone and [c[0] for c in cold] == ids
    assert everything(load(project.changesets).graph) == alone  # served by the cache
    # an edit and a broken file after the parallel load are seen
    last = project.changesets / f"{ids[-1]}_change.yaml"
    last.write_text(last.read_text().replace("integer", "bigint"))
    edited = load(project.changesets).graph[ids[-1]].operations[0]
    assert edited.column.type.name == "bigint"  # type: ignore[attr-defined]
    broken = project.changesets / f"{ids[7]}_change.yaml"
    broken.write_text(broken.read_text().replace("add_column", "add_colum"))
    with monkeypatch.context() as m:
        m.setenv("SCHEMAFLOW_CACHE_DIR", str(project.root / "fresh-cache"))
        with pytest.raises(ValidationFailed) as info:
            load(project.changesets)
    assert used[-1] == len(ids)
    assert [d.file for d in info.value.diagnostics] == [display_path(broken)]
    assert "add_colum" in info.value.diagnostics[0].message


def _long_history_forks(project: Project, monkeypatch: pytest.MonkeyPatch
                        ) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A history long enough for a load to write its cache files in a forked process, its
    files trusted though seconds old: (its ids, the calls of `parallel.fork_call` from now
    on). Skips on one core."""
    from schemaflow import parallel

    if parallel.workers() < 2:
        pytest.skip("one core: nothing runs in parallel")
    monkeypatch.setattr(cache, "_RACY_NS", 0)
    ids = _many(project, parallel.MIN_ITEMS + 50)
    return ids, record_calls(monkeypatch, parallel, "fork_call")


def test_a_background_load_has_its_cache_files_once_cache_written_returns(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # validate loads a long history with background=True: the parse cache and the folder
    # index are written by a forked process while the history check runs; once
    # `cache_written` returns they are there, and the next load is served from the index.
    ids, forked = _long_history_forks(project, monkeypatch)
    folder = project.changesets
    loaded = load(folder, background=True)
    assert len(forked) == 1
    loaded.cache_written()
    assert not loaded._writing
    indexed = FolderIndex(folder, display_path(folder), scan(folder)).load()
    assert indexed is not None and list(indexed[0].order) == ids == list(loaded.graph.order)
    assert ParseCache(folder).entries  # the parse cache too


def _raises() -> None:
    raise RuntimeError("the writer failed")


def test_a_background_writer_that_fails_leaves_the_writing_to_this_process(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from schemaflow import parallel

    if parallel.workers() < 2:
        pytest.skip("one core: nothing runs in parallel")
    monkeypatch.setattr(cache, "_RACY_NS", 0)
    _many(project, parallel.MIN_ITEMS + 50)
    folder = project.changesets
    real = parallel.fork_call
    monkeypatch.setattr(parallel, "fork_call", lambda fn: real(_raises))
    loaded = load(folder, background=True)
    assert FolderIndex(folder, display_path(folder), scan(folder)).load() is None  # not yet
    loaded.cache_written()
    assert FolderIndex(folder, display_path(folder), scan(folder)).load() is not None


def test_apply_and_rollback_return_with_the_cache_files_a_forked_process_wrote(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # A run that loaded its history file by file leaves the cache files to a forked process
    # while it goes on (importing SQLAlchemy, running); it returns with them written, and
    # the next load is served from the index. Not with another thread running: then the
    # files are written here, as before.
    import threading

    ids, forked = _long_history_forks(project, monkeypatch)
    folder = project.changesets
    assert project.api().stamp("heads")[0] == ids
    del forked[:]  # (stamp's own load)

    def indexed() -> list[str] | None:
        got = FolderIndex(folder, display_path(folder), scan(folder)).load()
        return None if got is None else list(got[0].order)

    project.write("u001", [{"create_table": {"name": "u", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}], parents=[ids[-1]])
    assert indexed() is None
    api = project.api()
    assert [r.id for r in api.apply().results] == ["u001"]
    assert len(forked) == 1 and api._history is not None and not api._history._writing
    assert indexed() == [*ids, "u001"]
    project.write("u002", [{"create_table": {"name": "v", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}], parents=["u001"])
    assert [r.id for r in project.api().rollback(ids[-1]).results] == ["u001"]
    assert len(forked) == 2 and indexed() == [*ids, "u001", "u002"]
    (folder / "u002_change.yaml").unlink()
    other = threading.Event()
    waiting = threading.Thread(target=other.wait)
    waiting.start()
    try:
        assert [r.id for r in project.api().apply().results] == ["u001"]
    finally:
        other.set()
        waiting.join()
    assert len(forked) == 2 and indexed() == [*ids, "u001"]


def test_validate_returns_with_the_cache_files_written(project: Project,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from schemaflow import parallel

    monkeypatch.setattr(cache, "_RACY_NS", 0)
    _many(project, parallel.MIN_ITEMS + 50)
    folder = project.changesets
    assert project.api().validate() == []
    indexed = FolderIndex(folder, display_path(folder), scan(folder)).load()
    assert indexed is not None and len(indexed[0].order) == parallel.MIN_ITEMS + 50

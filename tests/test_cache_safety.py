"""The parse cache cannot run code or change what runs: files planted in its folder, damaged
files, another folder's files and unsafe folders give what a run without a cache gives (or
one clean error), never a traceback and never other SQL; and what is applied and recorded
comes from the changeset files themselves."""

from __future__ import annotations

import marshal
import os
import pickle
import random
import re
import shutil
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Project, count_parallel_maps, make_project, run_cli, sql_of

from schemaflow import cache, cacheentry, cachefile
from schemaflow.api import Project as ApiProject
from schemaflow.cache import ParseCache
from schemaflow.errors import SchemaflowError, UsageError
from schemaflow.folderindex import FolderIndex
from schemaflow.ir import checksum
from schemaflow.source import display_path, scan

LAST_BUT_ONE = "c40d8e2b6f95"  # of the demo; the last one alters the comments table
SEED = 20261202
TRIALS = 1000


def _normal(sql: str) -> str:
    """SQL without the times it was generated at."""
    return re.sub(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}", "<time>", sql)


def _outputs(root: Path) -> tuple[Any, ...]:
    """What a fresh process would print: the listing (headers and operation kinds), the
    schema every body replays to, and SQL rendered on the state the bodies before it replay
    to (SQLite rebuilds the altered table from it)."""
    project = ApiProject.from_config(cwd=root)
    listing = [(i.id, i.message, i.parents, i.path, i.operations, i.tag, i.author)
               for i in project.history_list()]
    sql = sql_of(project.offline_sql("apply", f"{LAST_BUT_ONE}:heads"))
    history = project.history
    return listing, history.replay(history.graph.order), _normal(sql)


def _cold(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    with monkeypatch.context() as m:
        m.setenv("SCHEMAFLOW_NO_CACHE", "1")
        return _outputs(root)


def _files(folder: Path) -> dict[str, Path]:
    """The cache's files for a changesets folder: the folder index, its bodies, the parse
    cache."""
    index = FolderIndex(folder, display_path(folder), scan(folder))
    parsed = ParseCache(folder).path
    assert index.path is not None and index.bodies is not None and parsed is not None
    return {"index": index.path, "bodies": index.bodies, "changesets": parsed}


def _keys(folder: Path) -> dict[str, bytes]:
    index = FolderIndex(folder, display_path(folder), scan(folder))
    assert index.path is not None
    got = cachefile.read(index.path, index.key)
    assert got is not None
    token = got[1][0][9]  # the bodies written with this index (then the own keys)
    return {"index": index.key, "bodies": cachefile.key("bodies", token),
            "changesets": ParseCache(folder).key}


Entry = tuple[Any, ...]


def _rewrite(folder: Path, change: Callable[[Entry], Entry | None]) -> None:
    """Every changeset's entry in the cache files (its body included) passed through
    `change` (None: kept as it is), written back with valid seals: the parse cache's
    entries, and the folder index's entries, bodies and column of checksums."""
    keys, files = _keys(folder), _files(folder)
    _reseal(files["changesets"], keys["changesets"],
            lambda v: (v[0], {k: change(e) or e for k, e in v[1].items()}))
    index = cachefile.read(files["index"], keys["index"])
    bodies = cachefile.read(files["bodies"], keys["bodies"])
    assert index is not None and bodies is not None
    columns, entries, paths = index[1]
    new = [(*marshal.loads(raw)[:5], body, b"")
           for raw, body in zip(entries, bodies[1], strict=True)]
    new = [change(e) or e for e in new]
    columns = (*columns[:4], "\n".join(e[2] for e in new), *columns[5:])
    cachefile.write(files["index"], keys["index"],
                    (columns, [marshal.dumps((*e[:5], b"", b"")) for e in new], paths))
    cachefile.write(files["bodies"], keys["bodies"], [e[5] for e in new])


def _with_body(entry: Entry, data: bytes) -> Entry:
    """`entry` with the body `data`, and its digest (its own key kept)."""
    header, kinds, known, source = entry[:4]
    own = entry[6] if len(entry) > 6 else b""
    digest = cacheentry.entry_digest(source, kinds, known, data)
    return header, kinds, known, source, digest, data, own


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder of this test's own, every file trusted by its stat at once (the racy
    window closed), so that the index and the stats are what serves."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("SCHEMAFLOW_CACHE_DIR", str(folder))
    monkeypatch.setattr(cache, "_RACY_NS", 0)
    return folder


# --- nothing planted runs -------------------------------------------------------------------


class _Payload:
    """A pickle that, loaded, writes `marker`: what a planted cache file would do to a
    loader that unpickles."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


# `schemaflow ARGS`, every file trusted by its stat (the racy window closed), as on a
# checkout older than two seconds: the index and the stats are what serves.
MAIN = """
import sys
import schemaflow.cache
schemaflow.cache._RACY_NS = 0
sys.argv = ["schemaflow", *sys.argv[1:]]
from schemaflow.cli import main
main()
"""


def _cli(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("SCHEMAFLOW_URL", "DATABASE_URL")}
    full.update({"NO_COLOR": "1", "COLUMNS": "200", **env})
    return subprocess.run([sys.executable, "-c", MAIN, *args], cwd=root, env=full,
                          capture_output=True, text=True, timeout=120)


def test_planted_files_run_nothing(demo_project: Project, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "planted"
    folder.mkdir(mode=0o700)
    marker = tmp_path / "marker"
    payload = pickle.dumps(_Payload(marker))
    pickle.loads(payload)  # the payload works: a loader that unpickles would run it
    assert marker.exists()
    marker.unlink()
    root, env = demo_project.root, {"SCHEMAFLOW_CACHE_DIR": str(folder)}
    commands = (["status"], ["apply", "--sql"], ["validate"])
    cold = [_cli(root, {"SCHEMAFLOW_NO_CACHE": "1"}, *c) for c in commands]
    monkeypatch.setenv("SCHEMAFLOW_CACHE_DIR", str(folder))
    monkeypatch.chdir(root)  # the index's key holds the folder as shown from there
    _cli(root, env, "status")  # the cache files, written
    files = _files(demo_project.changesets)
    good = {kind: path.read_bytes() for kind, path in files.items()}
    code = compile(f"open({str(marker)!r}, 'w').write('ran')", "planted", "exec")

    def plant() -> None:
        for kind, path in files.items():
            path.write_bytes(payload)  # the names this cache reads
            path.with_suffix(".pickle").write_bytes(payload)  # the names it used to read
            (folder / f"{kind}.pickle").write_bytes(payload)
        (folder / "anything").write_bytes(payload)
        (folder / "code.marshal").write_bytes(marshal.dumps(code))

    def pickles_sealed_in() -> None:  # files only this user could have written
        for kind in files:
            path = files[kind]
            path.write_bytes(good[kind])
        _rewrite(demo_project.changesets, lambda entry: _with_body(entry, payload))

    for damage in (plant, pickles_sealed_in):
        for command, expected in zip(commands, cold, strict=True):
            damage()
            got = _cli(root, env, *command)
            assert not marker.exists(), (damage, command)
            assert got.returncode == expected.returncode, (damage, command, got.stderr)
            assert _normal(got.stdout) == _normal(expected.stdout), (damage, command)
            assert "Traceback" not in got.stderr and "Traceback" not in expected.stderr


def _reseal(path: Path, key: bytes, mutate: Callable[[Any], Any]) -> None:
    """Rewrite a cache file with its data changed and a valid seal, as only its owner could."""
    got = cachefile.read(path, key)
    assert got is not None, path
    cachefile.write(path, key, mutate(got[1]))


# --- damage of every kind: a cold run's output, or one clean error --------------------------


def _flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _overwrite(rng: random.Random, data: bytes) -> bytes:
    start = rng.randrange(len(data))
    return data[:start] + rng.randbytes(rng.randint(1, 32)) + data[start + 32:]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every position in a nested structure of tuples, lists and dicts."""
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    items = list(value)
    items[head] = _replace(items[head], rest, new)
    return type(value)(items)


# Values of other types than any header field, stat or container holds where they are put.
_ODD = (3.5, b"bytes", ["a", "list"], {"a": "dict"}, (1, 2, 3), (1,) * 12, 10**30)


def _reshaped(rng: random.Random, value: Any) -> Any:
    """The data of a cache file with one entry, header, stat or body of another shape or
    type, sealed again (what a bug, or the user's own hand, could write)."""
    what = rng.choice(["entry", "body"])
    if what == "body":  # a body that decodes to something else than operations
        junk = rng.choice([marshal.dumps(rng.choice(_ODD)), rng.randbytes(40),
                           marshal.dumps(([0, "x"], None)), marshal.dumps(((), ([99],)))])

        def rebody(entries: dict[str, Any]) -> dict[str, Any]:
            key = rng.choice(sorted(entries))
            header, kinds, known, source, _, _, own = entries[key]
            digest = cacheentry.entry_digest(source, kinds, known, junk)
            return {**entries, key: (header, kinds, known, source, digest, junk, own)}

        if isinstance(value, list):  # the folder index's bodies
            i = rng.randrange(len(value))
            return [junk if j == i else body for j, body in enumerate(value)]
        if len(value) == 2:
            return value[0], rebody(value[1])
        entries = value[1]  # the folder index's entries, whose digests are for the bodies
        i = rng.randrange(len(entries))
        entry = marshal.loads(entries[i])
        changed = marshal.dumps((*_with_body(entry, junk)[:5], b"", b""))
        return value[0], [changed if j == i else e for j, e in enumerate(entries)], value[2]
    # Anywhere but inside the index's graph parts (its order, children...), whose contents
    # a sealed file is trusted for.
    index = len(value) == 3
    positions = [p for p in _leaves(value) if not (index and p[:1] == (0,) and len(p) > 2)]
    return _replace(value, rng.choice(positions), rng.choice(_ODD))


def _damage(rng: random.Random, good: dict[str, bytes], foreign: dict[str, bytes],
            keys: dict[str, bytes], files: dict[str, Path]) -> str:
    """Write the cache files damaged one way, chosen by `rng`; the way it was."""
    kind = rng.choice(["flip", "flip", "truncate", "append", "overwrite", "swap", "foreign",
                       "empty", "reshaped"])
    name = rng.choice(sorted(good))
    out = dict(good)
    data = good[name]
    if kind == "flip":
        out[name] = _flip(rng, data)
    elif kind == "truncate":
        out[name] = data[:rng.randrange(len(data))]
    elif kind == "append":
        out[name] = data + rng.randbytes(rng.randint(1, 64))
    elif kind == "overwrite":
        out[name] = _overwrite(rng, data)
    elif kind == "swap":
        out = {**good, "index": good["changesets"], "changesets": good["index"]}
    elif kind == "foreign":
        out[name] = foreign[name]
    elif kind == "empty":
        out[name] = b""
    for n, path in files.items():
        path.write_bytes(out[n])
    if kind == "reshaped":
        _reseal(files[name], keys[name], lambda v: _reshaped(rng, v))
    return kind


def test_a_thousand_damaged_caches_give_a_cold_runs_output(
        demo_project: Project, tmp_path: Path, cache_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    root = demo_project.root
    cold = _cold(root, monkeypatch)
    assert "CREATE TABLE _sf_new_comments" in cold[2]  # the whole table, as replayed
    assert _outputs(root) == cold  # written
    assert _outputs(root) == cold  # served by the index
    files = _files(demo_project.changesets)
    keys = _keys(demo_project.changesets)
    good = {name: path.read_bytes() for name, path in files.items()}
    other = make_project(tmp_path / "other")  # another folder's valid cache files
    for f in demo_project.changesets.iterdir():
        shutil.copy(f, other.changesets / f.name)
    next(other.changesets.glob("f81b3a5c9e07_*")).unlink()  # one changeset fewer
    _outputs(other.root)
    foreign = {name: path.read_bytes() for name, path in _files(other.changesets).items()}
    rng = random.Random(SEED)
    kinds: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for trial in range(TRIALS):
        kind = _damage(rng, good, foreign, keys, files)
        kinds[kind] += 1
        try:
            got = _outputs(root)
        except SchemaflowError as exc:  # a clean error is allowed, other output is not
            errors[type(exc).__name__] += 1
            continue
        except Exception as exc:
            raise AssertionError(f"trial {trial} ({kind}): {exc!r}") from exc
        assert got == cold, f"trial {trial} ({kind}): not what a cold run gives"
    assert len(kinds) == 8 and min(kinds.values()) > 50, kinds
    assert not errors, errors  # every one of them parsed its files again


# --- unsafe folders and files ---------------------------------------------------------------


def test_a_folder_others_can_write_is_not_used(demo_project: Project, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    cold = run_cli("history", cwd=demo_project.root, env={"SCHEMAFLOW_NO_CACHE": "1"})
    for _ in range(2):
        got = run_cli("history", cwd=demo_project.root, env={"SCHEMAFLOW_CACHE_DIR": str(shared)})
        assert got.returncode == 0 and got.stdout == cold.stdout
        warnings = [line for line in got.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1 and str(shared) in warnings[0], got.stderr
        assert "can be written by others (mode 777)" in warnings[0]
        assert os.listdir(shared) == []  # nothing written there either


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a folder to another user needs root")
def test_a_folder_of_another_user_is_not_used(demo_project: Project, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    got = run_cli("heads", cwd=demo_project.root, env={"SCHEMAFLOW_CACHE_DIR": str(theirs)})
    assert got.returncode == 0 and "f81b3a5c9e07" in got.stdout
    assert "is owned by another user (uid 65534)" in got.stderr
    assert os.listdir(theirs) == []


def test_a_cache_file_others_can_write_is_not_read(demo_project: Project, cache_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = demo_project.changesets
    cold = _cold(demo_project.root, monkeypatch)
    assert _outputs(demo_project.root) == cold
    for path in _files(folder).values():
        path.chmod(0o666)
    with pytest.warns(cachefile.CacheWarning, match="can be written by others"):
        assert ParseCache(folder).entries == {}
        assert FolderIndex(folder, display_path(folder), scan(folder)).load() is None
        assert _outputs(demo_project.root) == cold


def test_the_folder_is_created_private_and_its_files_too(demo_project: Project,
                                                         cache_dir: Path) -> None:
    _outputs(demo_project.root)
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    names = sorted(p.name for p in cache_dir.iterdir())
    assert [n.split("-")[0] for n in names] == ["bodies", "changesets", "index", "memo"]
    files = [cache_dir / n for n in names if not n.startswith("memo-")]
    files += [p for n in names if n.startswith("memo-") for p in (cache_dir / n).iterdir()]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert all(stat.S_IMODE((cache_dir / n).stat().st_mode) == 0o700 for n in names
               if n.startswith("memo-"))


# --- keyed by the build -----------------------------------------------------------------------


def test_another_build_does_not_read_this_ones_files(demo_project: Project, cache_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    folder = demo_project.changesets
    _outputs(demo_project.root)
    assert ParseCache(folder).entries
    monkeypatch.setattr(cachefile, "build", lambda: b"another build")
    assert ParseCache(folder).entries == {}
    assert FolderIndex(folder, display_path(folder), scan(folder)).load() is None


def test_the_build_changes_with_the_source_of_the_ir(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "schemaflow"
    shutil.copytree(ROOT / "schemaflow", copy)
    monkeypatch.setattr(cachefile, "_PACKAGE", copy)
    monkeypatch.setattr(cachefile, "build", cachefile.build.__wrapped__)
    same = cachefile.build()
    assert same is not None and same == cachefile.build()
    with (copy / "ir" / "parts.py").open("a") as fh:
        fh.write("\n# an edit, with the version unchanged\n")
    assert cachefile.build() != same


# --- what is run and recorded comes from the files -------------------------------------------


def _forge(folder: Path, cid: str, change: Callable[[Entry], Entry]) -> None:
    """Rewrite changeset `cid`'s entry in the cache files, digests and seals made valid:
    a cache consistent with itself, and wrong."""
    def forged(entry: Entry) -> Entry | None:
        if entry[0][0] != cid:
            return None
        header, kinds, known, source, data = change(entry[:4] + entry[5:6])
        return _with_body((header, kinds, known, source, b"", b"", entry[6]), data)

    _rewrite(folder, forged)


def _wrong_checksum(entry: tuple[Any, ...]) -> tuple[Any, ...]:
    header, kinds, _, source, data = entry
    return header, kinds, "v1:" + "0" * 64, source, data


BACKFILL = "3e9c57d1f0ab"  # its sql: UPDATE posts SET published_at = ... WHERE published = TRUE


def _backfill_all(entry: tuple[Any, ...]) -> tuple[Any, ...]:
    header, kinds, known, source, data = entry
    body = marshal.loads(data)
    forged = marshal.loads(marshal.dumps(body).replace(b"= TRUE", b"OR 1=1"))
    assert forged != body
    return header, kinds, known, source, marshal.dumps(forged)


def test_stamp_records_the_checksum_of_the_file(demo_project: Project, cache_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root, folder = demo_project.root, demo_project.changesets
    with monkeypatch.context() as m:
        m.setenv("SCHEMAFLOW_NO_CACHE", "1")
        expected = ApiProject.from_config(cwd=root).history.graph
        truth = {cid: checksum(expected[cid]) for cid in expected.order}
    _outputs(root)
    _forge(folder, LAST_BUT_ONE, _wrong_checksum)
    project = ApiProject.from_config(cwd=root)
    assert checksum(project.history.graph[LAST_BUT_ONE]) == "v1:" + "0" * 64  # served
    project.stamp("heads")
    assert {r.id: r.checksum for r in project.applied_rows()} == truth


def test_stamp_of_many_parsed_on_every_core_records_the_files(
        project: Project, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from schemaflow import parallel

    if parallel.workers() < 2:
        pytest.skip("one core: nothing runs in parallel")
    table = {"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}
    ids = project.chain([table], *[[{"add_column": {"table": "t", "column": {
        "name": f"c{i}", "type": "integer"}}}] for i in range(parallel.MIN_ITEMS + 20)])
    with monkeypatch.context() as m:
        m.setenv("SCHEMAFLOW_NO_CACHE", "1")
        expected = ApiProject.from_config(cwd=project.root).history.graph
        truth = {cid: checksum(expected[cid]) for cid in expected.order}
    assert len(ApiProject.from_config(cwd=project.root).history.graph) == len(ids)  # cached
    _forge(project.changesets, ids[9], _wrong_checksum)
    used = count_parallel_maps(monkeypatch)
    api = ApiProject.from_config(cwd=project.root)
    assert checksum(api.history.graph[ids[9]]) == "v1:" + "0" * 64  # served
    assert api.stamp("heads") == (ids, [])
    assert used == [len(ids)]
    assert {r.id: r.checksum for r in api.applied_rows()} == truth


def test_a_forged_body_never_reaches_the_sql(demo_project: Project, cache_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    root, folder = demo_project.root, demo_project.changesets
    _outputs(root)
    _forge(folder, BACKFILL, _backfill_all)
    project = ApiProject.from_config(cwd=root)
    served = project.history.graph[BACKFILL].operations[1]
    assert "published OR 1=1" in served.up[0]  # type: ignore[attr-defined]
    for run in (lambda: project.offline_sql("apply", None), project.apply,
                lambda: project.offline_sql("rollback", "base"),
                lambda: project.stamp("heads")):
        with pytest.raises(UsageError, match=f"changeset {BACKFILL} .* is not what was loaded"):
            run()
    assert project.applied_rows() == []  # nothing ran, nothing was recorded
    got = _cli(root, {"SCHEMAFLOW_CACHE_DIR": str(cache_dir)}, "apply", "--sql")
    assert got.returncode != 0 and "Traceback" not in got.stderr
    assert "is not what was loaded" in got.stderr and "OR 1=1" not in got.stdout


def test_no_pickle_in_the_cache() -> None:
    for name in ("cache.py", "cacheentry.py", "cachefile.py", "ir/plain.py"):
        assert "pickle" not in (ROOT / "schemaflow" / name).read_text(), name

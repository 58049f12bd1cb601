"""Loading the changesets folder into a validated Graph (files → schema check → IR → graph)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import ir, parallel
from .cache import Packed, ParseCache, checksum, content_key, pack, source_key
from .errors import Diagnostic, SchemaflowError, UsageError, ValidationFailed
from .folderindex import FolderIndex
from .graph import Graph
from .source import (
    DocPath,
    Limits,
    SourceError,
    SourceFile,
    StatKey,
    check_link,
    check_size,
    decode,
    display_path,
    format_of,
    read,
    read_bytes,
    scan,
    stat_key,
)

if TYPE_CHECKING:
    from .memo import Memo
    from .state import SchemaState



def locate(src: SourceFile, path: DocPath) -> tuple[int | None, int | None]:
    """`source.locate`, imported when a position is wanted: it needs yaml, which a history
    served from the cache does not."""
    from .source.positions import locate as find

    return find(src, path)


__all__ = ["History", "checksum", "load", "load_file", "position"]

_FILE_NAME = re.compile(r"^([A-Za-z0-9_]+?)_")


@dataclass(frozen=True)
class History:
    """The loaded changesets: their graph and the file of each."""

    graph: Graph
    files: Mapping[str, str]  # id → the file it came from
    folder: Path
    limits: Limits = field(default=Limits(), compare=False, repr=False)
    _texts: dict[str, SourceFile | None] = field(default_factory=dict, compare=False,
                                                  repr=False)
    # Changesets parsed from their files in this process (not served by the cache).
    _parsed: dict[str, ir.Changeset] = field(default_factory=dict, compare=False, repr=False)
    # id → the content key of its file, where the parse cache knew it (see `content_key`).
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    # The process writing the cache files of a `load(background=True)`, and what it writes.
    _writing: list[tuple[parallel.Forked, Callable[[], object]]] = field(
        default_factory=list, compare=False, repr=False)

    def cache_written(self) -> None:
        """Wait until the cache files a `load(background=True)` left to another process are
        written (written here when that process failed)."""
        while self._writing:
            writer, write = self._writing.pop()
            if writer.result() is None:
                write()

    def path(self, cid: str) -> Path | None:
        """The file changeset `cid` came from."""
        name = self.files.get(cid)
        return None if name is None else Path(name)

    def content_key(self, cid: str) -> str | None:
        """The hash of the bytes of changeset `cid`'s file, as the parse cache found it (None
        when it is not known: a history not loaded through the cache)."""
        return source_key(self.graph.by_id, cid) or self.sources.get(cid)

    def source(self, cid: str) -> SourceFile | None:
        """A changeset's file as text, for positions (read once, and only when a diagnostic
        needs it; the document itself is not parsed again)."""
        if cid not in self._texts:
            path = self.path(cid)
            self._texts[cid] = None
            if path is not None:
                shown = display_path(path)
                try:
                    text = read_bytes(path, self.limits, shown).decode("utf-8")
                    self._texts[cid] = SourceFile(shown, text, format_of(path) or "yaml", None)
                except (SourceError, UnicodeDecodeError):
                    pass
        return self._texts[cid]

    def from_file(self, cid: str, *, keep: bool = True) -> ir.Changeset:
        """Changeset `cid` as its file holds it, parsed in this process, never taken from the
        cache: what apply and rollback run and what the version table records. UsageError
        when it no longer does what the loaded history says it does (the file changed
        meanwhile). `keep=False`: not remembered for the next call (a plan lets go of it)."""
        fresh = self._parsed.get(cid)
        if fresh is not None:
            return fresh
        path = self.path(cid)
        if path is None:
            raise UsageError(f"changeset {cid} has no file to read")
        shown = display_path(path)
        try:
            src = decode(path, read_bytes(path, self.limits, shown))
            fresh = ir.parse(src.doc, path=src.path)
        except OSError as exc:
            raise ValidationFailed([Diagnostic(code="SF001", file=shown, message=(
                f"cannot read the file: {exc.strerror}"))]) from None
        except SourceError as exc:
            raise ValidationFailed([exc.diagnostic]) from None
        except ir.IRError as exc:
            line, col = locate(src, exc.path)
            raise ValidationFailed([Diagnostic(code="SF004", message=exc.message, file=shown,
                                               line=line, col=col)]) from None
        loaded = self.graph[cid]
        # A cached changeset's body compared without being kept on it: the plan holds the
        # file's, and the graph's copy of every body would double a long plan's memory.
        deferred = loaded.deferred
        body = deferred.load() if deferred is not None else (loaded.operations,
                                                             loaded.rollback)
        if (fresh.id, fresh.transactional, fresh.operations, fresh.rollback) != (
                cid, loaded.transactional, *body):
            raise UsageError(
                f"changeset {cid} ({shown}) is not what was loaded: its file changed "
                "meanwhile, or the parse cache disagrees with it",
                hint="run the command again; if it says the same, remove the cache folder "
                     "($SCHEMAFLOW_CACHE_DIR, or schemaflow in ~/.cache)")
        if keep:
            self._parsed[cid] = fresh
        return fresh

    def checksums_from_files(self, ids: list[str]) -> dict[str, str]:
        """`checksum(self.from_file(cid))` of each of `ids` (what stamp records), parsed on
        every core when there are many; a file that fails is left out, for `from_file` in
        this process to report."""
        def one(cid: str) -> str | None:
            try:
                return checksum(self.from_file(cid))
            except SchemaflowError:
                return None

        todo = [cid for cid in ids if cid not in self._parsed]
        if len(todo) >= parallel.MIN_ITEMS:
            from .validate import fast_check

            fast_check("changeset.schema.json")  # compiled once, before the workers fork
        found = dict(zip(todo, parallel.map_items(one, todo), strict=True))
        return {cid: value for cid, value in found.items() if value is not None}

    @functools.cached_property
    def memo(self) -> Memo:
        """What earlier runs found out about this folder's changesets (see `memo`)."""
        from .memo import Memo

        return Memo(self.folder)

    def replay(self, ids: Iterable[str]) -> SchemaState:
        """The schema after applying `ids` (in graph order) to an empty database (from the
        longest prefix an earlier run remembered)."""
        return self.memo.replay(self.graph, self.graph.ordered(ids)).state


def load_file(path: Path, limits: Limits | None = None
              ) -> tuple[SourceFile | None, ir.Changeset | None, list[Diagnostic]]:
    """One file through the schema check and the IR parse; every problem as a Diagnostic."""
    try:
        src = read(path, limits)
    except SourceError as exc:
        return None, None, [exc.diagnostic]
    return (src, *_parse_source(src, path))


def _parse_source(src: SourceFile, path: Path) -> tuple[ir.Changeset | None, list[Diagnostic]]:
    from .validate import check_document  # jsonschema is only imported on a cache miss

    diags = check_document(src)
    if diags:
        return None, diags
    try:
        cs = ir.parse(src.doc, path=src.path)
    except ir.IRError as exc:
        line, col = locate(src, exc.path)
        return None, [Diagnostic(code="SF004", message=exc.message, file=src.path,
                                 line=line, col=col)]
    return cs, []


class _Miss(NamedTuple):
    """A file the parse cache does not know: its bytes are read (or, `key` empty, left for
    the worker process that parses it to read), it is still to be parsed."""

    path: Path
    name: str
    stat: StatKey
    key: str
    data: bytes
    shown: str = ""


def _lookup(path: Path, shown: str, cache: ParseCache, known: StatKey | None,
            limits: Limits, defer: bool = False
            ) -> tuple[ir.Changeset | None, list[Diagnostic]] | _Miss:
    """One file from the parse cache (trusted by `known`, its stat from the folder scan, or
    a fresh one), else its bytes, to be parsed. A symbolic link out of the project and a file
    over the size limit are refused before the cache is asked. With `defer` (the cache holds
    no entry: its content key cannot find one), a file its stat does not find is left
    unread, for a worker process to read."""
    name = os.fspath(path)
    try:
        if known is None:
            check_link(path, limits, shown)
        stat = known or stat_key(os.stat(name))
        check_size(stat[0], limits, shown)
        key = cache.key_by_stat(name, stat)
        cached = cache.get(key, shown) if key else None
        if cached is None:
            if defer:
                return _Miss(path, name, stat, "", b"", shown)
            data = read_bytes(path, limits, shown)
            key = content_key(data + path.suffix.encode())
            cached = cache.get(key, shown)
    except SourceError as exc:
        return None, [exc.diagnostic]
    except OSError as exc:
        return None, [_unreadable(shown, exc)]
    if cached is not None and key is not None:
        cache.remember_stat(name, stat, key)
        return cached, []
    assert key is not None  # a miss: the key of the bytes just read
    return _Miss(path, name, stat, key, data)


def _unreadable(shown: str, exc: OSError) -> Diagnostic:
    return Diagnostic(code="SF001", file=shown, message=f"cannot read the file: {exc.strerror}")


def _parse_bytes(path: Path, data: bytes) -> tuple[ir.Changeset | None, list[Diagnostic]]:
    try:
        src = decode(path, data)
    except SourceError as exc:
        return None, [exc.diagnostic]
    return _parse_source(src, path)


def _parse_packed(limits: Limits, miss: _Miss) -> tuple[Packed | None, list[Diagnostic], bytes]:
    """A miss read (when `_lookup` left it unread) and parsed in a worker process: the
    changeset packed as the cache keeps it, plain data that crosses back to the loading
    process, and the content key of the file's bytes (as bytes: the text would come back
    as the very object the packed entry holds, and the cache file, where marshal then
    writes it once, would no longer be what a parse in one process writes)."""
    key, data = miss.key, miss.data
    if not key:  # what `_lookup` does with the file, here
        try:
            data = read_bytes(miss.path, limits, miss.shown)
        except SourceError as exc:
            return None, [exc.diagnostic], b""
        except OSError as exc:
            return None, [_unreadable(miss.shown, exc)], b""
        key = content_key(data + miss.path.suffix.encode())
    cs, diags = _parse_bytes(miss.path, data)
    return (None if cs is None else pack(cs, key)), diags, key.encode()


def _parse_miss(miss: _Miss, cache: ParseCache) -> tuple[ir.Changeset | None, list[Diagnostic]]:
    """A miss parsed in this process, and kept in the cache."""
    cs, diags = _parse_bytes(miss.path, miss.data)
    if cs is not None:
        cache.put(miss.key, cs)
        cache.remember_stat(miss.name, miss.stat, miss.key)
    return cs, diags


def _load_cached(path: Path, shown: str, cache: ParseCache, known: StatKey | None,
                 limits: Limits) -> tuple[ir.Changeset | None, list[Diagnostic]]:
    """One file from the parse cache, else read, checked and parsed (see `_lookup`)."""
    found = _lookup(path, shown, cache, known, limits)
    return _parse_miss(found, cache) if isinstance(found, _Miss) else found


def _load_all(files: list[tuple[Path, str, StatKey | None]], cache: ParseCache,
              limits: Limits) -> list[tuple[ir.Changeset | None, list[Diagnostic]]]:
    """Every file from the parse cache or parsed; many misses (a fresh clone, a new
    schemaflow) are parsed on every core (`parallel`), each worker handing back the packed
    changeset the cache stores anyway."""
    # A fresh clone (or a new schemaflow): the cache holds no entry, so every file its stat
    # does not find is parsed, and the workers read them too (~0.3 s less here on 10,000).
    defer = not cache.entries and len(files) >= parallel.MIN_ITEMS and parallel.workers() > 1
    found = [_lookup(path, shown, cache, stat, limits, defer) for path, shown, stat in files]
    misses = [f for f in found if isinstance(f, _Miss)]

    def here(f: _Miss) -> tuple[ir.Changeset | None, list[Diagnostic]]:
        if f.key:
            return _parse_miss(f, cache)
        return _load_cached(f.path, f.shown, cache, f.stat, limits)  # read here after all

    if len(misses) < parallel.MIN_ITEMS or parallel.workers() < 2:
        return [here(f) if isinstance(f, _Miss) else f for f in found]
    from .validate import fast_check

    fast_check("changeset.schema.json")  # compiled once, before the workers fork
    parsed = parallel.iter_items(functools.partial(_parse_packed, limits), misses)
    out: list[tuple[ir.Changeset | None, list[Diagnostic]]] = []
    for f in found:
        if not isinstance(f, _Miss):
            out.append(f)
            continue
        packed, diags, sent = next(parsed)
        key = sent.decode()
        cs = None if packed is None else cache.put_packed(key, packed)
        if packed is not None and cs is None:  # not expected: parsed here, as without workers
            out.append(here(f))
            continue
        if cs is not None:
            cache.remember_stat(f.name, f.stat, key)
        out.append((cs, diags))
    return out


def load(folder: Path, paths: Iterable[Path] | None = None, *,
         limits: Limits | None = None, background: bool = False) -> History:
    """Load every changeset (or just `paths`) and build the graph; ValidationFailed on problems.
    `limits`: the size a file may have and where its symbolic links may point (by default,
    10 MB and the changesets folder).

    The whole folder is served from its FolderIndex while no file in it changed; otherwise
    each file comes from the parse cache or is parsed, and the index is written again. With
    `background`, a long history's cache files are written by a forked process while the
    caller goes on (the history check of `validate`); `History.cache_written` waits for it."""
    shown_folder = display_path(folder)
    limits = limits or Limits()
    index = None
    if paths is None:
        listing = scan(folder, limits)
        index = FolderIndex(folder, shown_folder, listing)
        indexed = index.load()
        if indexed is not None:
            graph, files_of = indexed
            return History(graph, files_of, folder, limits)
        files = [(folder / name, stat) for name, stat in listing]
    else:
        files = [(p, None) for p in paths]
    if not files and not folder.is_dir():
        raise ValidationFailed([Diagnostic(
            code="SF005", file=display_path(folder),
            message="the changesets folder does not exist",
            hint="run schemaflow init, or set `changesets` in schemaflow.toml")])
    cache = ParseCache(folder)
    diags: list[Diagnostic] = []
    where: dict[str, str] = {}
    changesets: list[ir.Changeset] = []
    # A listed file is in the folder (no `path.parent == folder` asked 10,000 times: ~20 ms
    # before the first worker starts).
    named = [(path, os.path.join(shown_folder, path.name) if paths is None
              or path.parent == folder else display_path(path), stat) for path, stat in files]
    for (path, _, _), (cs, problems) in zip(named, _load_all(named, cache, limits),
                                            strict=True):
        if cs is not None:
            changesets.append(cs)
            where.setdefault(cs.id, os.fspath(path))
        diags += problems
    if diags:
        cache.save()
        raise ValidationFailed(diags)
    try:
        graph = Graph(changesets)
    except ValidationFailed:
        cache.save()
        raise

    def write() -> bool:
        cache.save()
        if index is not None:
            index.save(graph, where, cache.sources)
        return True

    writing: list[tuple[parallel.Forked, Callable[[], object]]] = []
    if background and len(changesets) >= parallel.MIN_ITEMS and parallel.workers() > 1 and (
            cache.path is not None and (cache.dirty or index is not None)):
        from .memo import changeset_keys

        changeset_keys(graph)  # the index stores them, and the check looks its memo up by them
        writer = parallel.fork_call(write)
        if writer is not None:
            writing.append((writer, write))
    if not writing:
        write()
    return History(graph, where, folder, limits, _parsed=cache.parsed, sources=cache.sources,
                   _writing=writing)


def position(history: History, cid: str, path: tuple[Any, ...]) -> tuple[str | None, int | None,
                                                                         int | None]:
    """(file, line, col) of a document path inside changeset `cid`."""
    src = history.source(cid)
    if src is None:
        return None, None, None
    line, col = locate(src, path)
    return src.path, line, col


def load_intact(folder: Path, limits: Limits | None = None) -> History | None:
    """When some files of `folder` fail to load: the changesets whose own file and whose
    ancestors' files all loaded, for the linter to check beside the broken files (one schema
    error must not hide every other finding). None when every file loaded (the problem is the
    graph's own) or when what is left does not form a valid graph."""
    from collections import deque

    limits = limits or Limits()
    shown_folder = display_path(folder)
    cache = ParseCache(folder)
    loaded: dict[str, ir.Changeset] = {}
    where: dict[str, str] = {}
    broken = False
    for name, stat in scan(folder, limits):
        path = folder / name
        cs, _problems = _load_cached(path, os.path.join(shown_folder, name), cache, stat,
                                     limits)
        if cs is None:
            broken = True
        elif cs.id not in loaded:
            loaded[cs.id] = cs
            where[cs.id] = os.fspath(path)
    if not broken:
        return None
    present = set(loaded) | {old for cs in loaded.values() for old in cs.replaces}
    children: dict[str, list[str]] = {}
    queue: deque[str] = deque()
    for cs in loaded.values():
        edges = (*cs.parents, *cs.depends_on)
        for p in edges:
            children.setdefault(p, []).append(cs.id)
        if any(p not in present for p in edges):
            queue.append(cs.id)
    cut: set[str] = set()
    while queue:
        cid = queue.popleft()
        if cid not in cut:
            cut.add(cid)
            queue.extend(children.get(cid, ()))
    kept = [cs for cid, cs in loaded.items() if cid not in cut]
    try:
        graph = Graph(kept)
    except ValidationFailed:
        return None
    return History(graph, {cid: where[cid] for cid in graph.by_id}, folder, limits)

"""Loading the changesets folder into a validated Graph (files → schema check → IR → graph):
from the folder index while no file changed, else file by file (`fileload`)."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ir, parallel
from .cache import ParseCache, checksum, file_key, source_key
from .errors import Diagnostic, SchemaflowError, UsageError, ValidationFailed
from .fileload import load_cached, load_file, load_files, locate
from .folderindex import FolderIndex
from .graph import Graph
from .source import (
    Limits,
    SourceError,
    SourceFile,
    decode,
    display_path,
    format_of,
    read_bytes,
    scan,
)

if TYPE_CHECKING:
    from .memo import Memo
    from .state import SchemaState

__all__ = ["History", "checksum", "load", "load_file", "position"]


def same_as_loaded(fresh: ir.Changeset, cid: str, transactional: bool | None,
                   body: Any) -> bool:
    """Whether `fresh`, parsed from `cid`'s file, does what the history loaded says `cid`
    does (`History.loaded_body`): the same operations, rollback and transaction mode."""
    # A cached changeset's body compared without being kept on it: the plan holds the
    # file's, and the graph's copy of every body would double a long plan's memory.
    if isinstance(body, ir.Deferred):
        body = body.load()
    mine = (fresh.id, fresh.transactional, fresh.operations, fresh.rollback)
    theirs = (cid, transactional, *body)
    return mine == theirs or _alike(mine, theirs)


def _alike(a: Any, b: Any) -> bool:
    """`a == b`, but a NaN (an `insert_rows` value) equal to a NaN: two parses of one
    file make two NaN objects, which `==` holds unequal."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (a != a and b != b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(map(_alike, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_alike(v, b[k]) for k, v in a.items())
    if dataclasses.is_dataclass(a):
        return all(_alike(getattr(a, f.name), getattr(b, f.name))
                   for f in dataclasses.fields(a))
    return bool(a == b)


def parse_file(path: Path, limits: Limits) -> tuple[ir.Changeset, str]:
    """The changeset a file holds, parsed now, and the content key of the bytes it was
    parsed from (ValidationFailed: it cannot be read, or is not a changeset)."""
    shown = display_path(path)
    try:
        data = read_bytes(path, limits, shown)
        src = decode(path, data)
        return ir.parse(src.doc, path=src.path), file_key(path, data)
    except OSError as exc:
        raise ValidationFailed([Diagnostic(code="SF001", file=shown, message=(
            f"cannot read the file: {exc.strerror}"))]) from None
    except SourceError as exc:
        raise ValidationFailed([exc.diagnostic]) from None
    except ir.IRError as exc:
        line, col = locate(src, exc.path)
        raise ValidationFailed([Diagnostic(code="SF004", message=exc.message, file=shown,
                                           line=line, col=col)]) from None


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
    # id → the content key of the bytes `from_file` parsed it from (`read_key`).
    _read: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
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
        needs it; the document itself is not parsed again). Marked as known to load
        (`source.locate`) when its bytes are those the changeset was loaded from."""
        if cid not in self._texts:
            path = self.path(cid)
            self._texts[cid] = None
            if path is not None:
                shown = display_path(path)
                try:
                    data = read_bytes(path, self.limits, shown)
                    src = SourceFile(shown, data.decode("utf-8"), format_of(path) or "yaml",
                                     None)
                except (SourceError, UnicodeDecodeError):
                    pass
                else:
                    loaded = self.content_key(cid)
                    if loaded is not None and loaded == file_key(path, data):
                        src.memo["loads"] = True
                    self._texts[cid] = src
        return self._texts[cid]

    def loaded_body(self, cid: str) -> tuple[bool | None, Any]:
        """What `cid` was loaded as, to compare a parse of its file with (`same_as_loaded`),
        here or in another process: its transaction mode, and its body, or the cache's
        encoded body (a `Deferred`, loaded where it is compared; its bytes fetched now)."""
        loaded = self.graph[cid]
        deferred = loaded.deferred
        if deferred is None:
            return loaded.transactional, (loaded.operations, loaded.rollback)
        getattr(deferred, "data", None)  # (an index's body, fetched from its file now)
        return loaded.transactional, deferred

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
        fresh, key = parse_file(path, self.limits)
        if not same_as_loaded(fresh, cid, *self.loaded_body(cid)):
            raise UsageError(
                f"changeset {cid} ({shown}) is not what was loaded: its file changed "
                "meanwhile, or the parse cache disagrees with it",
                hint="run the command again; if it says the same, remove the cache folder "
                     "($SCHEMAFLOW_CACHE_DIR, or schemaflow in ~/.cache)")
        if keep:
            self._parsed[cid] = fresh
        self._read[cid] = key
        return fresh

    def read_key(self, cid: str) -> str | None:
        """The content key of the bytes changeset `cid` was last parsed from in this process
        (by `from_file`, or by the load that parsed its file); None: it was not."""
        if cid in self._read:
            return self._read[cid]
        return self.sources.get(cid) if cid in self._parsed else None

    def holds(self, cid: str, key: str) -> bool:
        """Whether changeset `cid`'s file holds, read now, the bytes of content key `key`."""
        path = self.path(cid)
        if path is None:
            return False
        try:
            data = read_bytes(path, self.limits, display_path(path))
        except (OSError, SourceError):
            return False
        return file_key(path, data) == key

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
        index = FolderIndex(folder, shown_folder, listing, limits)
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
    for (path, _, _), (cs, problems) in zip(named, load_files(named, cache, limits),
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
            index.save(graph, where, cache.sources, cache.used)
        return True

    writing: list[tuple[parallel.Forked, Callable[[], object]]] = []
    if background and len(changesets) >= parallel.MIN_ITEMS and parallel.workers() > 1 and (
            cache.path is not None and (cache.dirty or index is not None)):
        from .memo import changeset_keys

        changeset_keys(graph)  # the check looks its memo up by them: chained once, here
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


def load_indexed(folder: Path, limits: Limits | None = None) -> History | None:
    """The history as its folder index holds it, where the index is up to date with every
    file (what `load` returns then, without parsing anything); else None."""
    limits = limits or Limits()
    listing = scan(folder, limits)
    indexed = FolderIndex(folder, display_path(folder), listing, limits).load()
    return None if indexed is None else History(indexed[0], indexed[1], folder, limits)


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
        cs, _problems = load_cached(path, os.path.join(shown_folder, name), cache, stat,
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

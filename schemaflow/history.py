"""Loading the changesets folder into a validated Graph (files → schema check → IR → graph)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ir
from .cache import FolderIndex, ParseCache, content_key
from .errors import Diagnostic, ValidationFailed
from .graph import Graph
from .ir import checksum
from .source import (
    SourceError,
    SourceFile,
    StatKey,
    decode,
    display_path,
    format_of,
    locate,
    read,
    scan,
    stat_key,
)

if TYPE_CHECKING:
    from .memo import Memo
    from .state import SchemaState

__all__ = ["History", "checksum", "load", "load_file", "position"]

_FILE_NAME = re.compile(r"^([A-Za-z0-9_]+?)_")


@dataclass(frozen=True)
class History:
    """The loaded changesets: their graph and the file of each."""

    graph: Graph
    files: Mapping[str, str]  # id → the file it came from
    folder: Path
    _texts: dict[str, SourceFile | None] = field(default_factory=dict, compare=False,
                                                  repr=False)

    def path(self, cid: str) -> Path | None:
        """The file changeset `cid` came from."""
        name = self.files.get(cid)
        return None if name is None else Path(name)

    def source(self, cid: str) -> SourceFile | None:
        """A changeset's file as text, for positions (read once, and only when a diagnostic
        needs it; the document itself is not parsed again)."""
        if cid not in self._texts:
            path = self.path(cid)
            self._texts[cid] = None
            if path is not None:
                try:
                    text = _read_bytes(path).decode("utf-8")
                    self._texts[cid] = SourceFile(display_path(path), text,
                                                  format_of(path) or "yaml", None)
                except (OSError, UnicodeDecodeError):
                    pass
        return self._texts[cid]

    @functools.cached_property
    def memo(self) -> Memo:
        """What earlier runs found out about this folder's changesets (see `memo`)."""
        from .memo import Memo

        return Memo(self.folder)

    def replay(self, ids: Iterable[str]) -> SchemaState:
        """The schema after applying `ids` (in graph order) to an empty database (from the
        longest prefix an earlier run remembered)."""
        return self.memo.replay(self.graph, self.graph.ordered(ids)).state


def load_file(path: Path) -> tuple[SourceFile | None, ir.Changeset | None, list[Diagnostic]]:
    """One file through the schema check and the IR parse; every problem as a Diagnostic."""
    try:
        src = read(path)
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


def _read_bytes(path: Path) -> bytes:
    # Plain os.read: Path.read_bytes builds a buffered file object, which shows at 10,000 files.
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _load_cached(path: Path, shown: str, cache: ParseCache,
                 known: StatKey | None) -> tuple[ir.Changeset | None, list[Diagnostic]]:
    """One file from the parse cache (trusted by `known`, its stat from the folder scan, or
    a fresh one), else read, checked and parsed."""
    name = os.fspath(path)
    try:
        stat = known or stat_key(os.stat(name))
        key = cache.key_by_stat(name, stat)
        cached = cache.get(key, shown) if key else None
        if cached is None:
            data = _read_bytes(path)
            key = content_key(data + path.suffix.encode())
            cached = cache.get(key, shown)
    except OSError as exc:
        return None, [Diagnostic(code="SF001", file=shown,
                                 message=f"cannot read the file: {exc.strerror}")]
    if cached is not None and key is not None:
        cache.remember_stat(name, stat, key)
        return cached, []
    try:
        src = decode(path, data)
    except SourceError as exc:
        return None, [exc.diagnostic]
    cs, diags = _parse_source(src, path)
    if cs is not None and key is not None:
        cache.put(key, cs)
        cache.remember_stat(name, stat, key)
    return cs, diags


def load(folder: Path, paths: Iterable[Path] | None = None) -> History:
    """Load every changeset (or just `paths`) and build the graph; ValidationFailed on problems.

    The whole folder is served from its FolderIndex while no file in it changed; otherwise
    each file comes from the parse cache or is parsed, and the index is written again."""
    shown_folder = display_path(folder)
    index = None
    if paths is None:
        listing = scan(folder)
        index = FolderIndex(folder, shown_folder, listing)
        indexed = index.load()
        if indexed is not None:
            graph, files_of = indexed
            return History(graph, files_of, folder)
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
    for path, stat in files:
        shown = (os.path.join(shown_folder, path.name) if path.parent == folder
                 else display_path(path))
        cs, problems = _load_cached(path, shown, cache, stat)
        if cs is not None:
            changesets.append(cs)
            where.setdefault(cs.id, os.fspath(path))
        diags += problems
    cache.save()
    if diags:
        raise ValidationFailed(diags)
    graph = Graph(changesets)
    if index is not None:
        index.save(graph, where)
    return History(graph, where, folder)


def position(history: History, cid: str, path: tuple[Any, ...]) -> tuple[str | None, int | None,
                                                                         int | None]:
    """(file, line, col) of a document path inside changeset `cid`."""
    src = history.source(cid)
    if src is None:
        return None, None, None
    line, col = locate(src, path)
    return src.path, line, col

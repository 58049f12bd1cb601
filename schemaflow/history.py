"""Loading the changesets folder into a validated Graph (files → schema check → IR → graph)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import ir
from .errors import Diagnostic, ValidationFailed
from .graph import Graph
from .source import SourceError, SourceFile, display_path, list_files, locate, read
from .state import SchemaState, apply
from .validate import check_document

CHECKSUM_VERSION = "v1"
_FILE_NAME = re.compile(r"^([A-Za-z0-9_]+?)_")


@dataclass(frozen=True, slots=True)
class History:
    """The loaded changesets: their graph and the source file of each."""

    graph: Graph
    sources: Mapping[str, SourceFile]
    folder: Path

    def replay(self, ids: Iterable[str]) -> SchemaState:
        """The schema after applying `ids` (in graph order) to an empty database."""
        state = SchemaState()
        for cid in self.graph.ordered(ids):
            for op in self.graph[cid].operations:
                state = apply(state, op)
        return state


def checksum(cs: ir.Changeset) -> str:
    """Versioned hash of what a changeset does; formatting, comments and message don't count."""
    doc = ir.dump(cs)
    for key in ("message", "author", "tag", "branch_labels", "lint"):
        doc.pop(key, None)
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{CHECKSUM_VERSION}:{hashlib.sha256(canonical.encode()).hexdigest()}"


def load_file(path: Path) -> tuple[SourceFile | None, ir.Changeset | None, list[Diagnostic]]:
    """One file through the schema check and the IR parse; every problem as a Diagnostic."""
    try:
        src = read(path)
    except SourceError as exc:
        return None, None, [exc.diagnostic]
    diags = check_document(src)
    if diags:
        return src, None, diags
    try:
        cs = ir.parse(src.doc, path=src.path)
    except ir.IRError as exc:
        line, col = locate(src, exc.path)
        return src, None, [Diagnostic(code="SF004", message=exc.message, file=src.path,
                                      line=line, col=col)]
    return src, cs, _file_name_check(src, cs, path)


def _file_name_check(src: SourceFile, cs: ir.Changeset, path: Path) -> list[Diagnostic]:
    stem = path.stem
    if stem == cs.id or stem.startswith(cs.id + "_"):
        return []
    line, col = locate(src, ("id",))
    return [Diagnostic(code="SF006", file=src.path, line=line, col=col, changeset=cs.id,
                       message=f"the file name does not start with the id '{cs.id}'",
                       hint=f"rename the file to {cs.id}_{_slug_of(stem)}{path.suffix}")]


def _slug_of(stem: str) -> str:
    m = _FILE_NAME.match(stem)
    return stem[m.end():] if m else stem


def load(folder: Path, paths: Iterable[Path] | None = None) -> History:
    """Load every changeset (or just `paths`) and build the graph; ValidationFailed on problems."""
    files = list(paths) if paths is not None else list_files(folder)
    diags: list[Diagnostic] = []
    sources: dict[str, SourceFile] = {}
    changesets: list[ir.Changeset] = []
    for path in files:
        src, cs, problems = load_file(path)
        diags += problems
        if cs is not None and src is not None:
            changesets.append(cs)
            sources.setdefault(cs.id, src)
    if diags:
        raise ValidationFailed(diags)
    if not files and not folder.is_dir():
        raise ValidationFailed([Diagnostic(
            code="SF005", file=display_path(folder),
            message="the changesets folder does not exist",
            hint="run schemaflow init, or set `changesets` in schemaflow.toml")])
    return History(Graph(changesets), sources, folder)


def position(history: History, cid: str, path: tuple[Any, ...]) -> tuple[str | None, int | None,
                                                                         int | None]:
    """(file, line, col) of a document path inside changeset `cid`."""
    src = history.sources.get(cid)
    if src is None:
        return None, None, None
    line, col = locate(src, path)
    return src.path, line, col

"""Writing changesets: a new one after the head, a merge of heads, a squash of a range."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from . import ir
from .config import Settings
from .errors import UsageError
from .graph import straight_span
from .history import History
from .source import dumps, list_files, loads, write

Notify = Callable[[str], None]


def new_id(existing: set[str]) -> str:
    """A fresh random id that YAML reads as text and that no changeset has."""
    while True:
        cid = secrets.token_hex(6)
        if cid not in existing and isinstance(loads(cid, "yaml", "<id>"), str):
            return cid


def _schema_ref(settings: Settings) -> str | None:
    """The JSON Schema a new file points its editor at, relative to the folder."""
    root = settings.root
    for candidate in (root / "schemas" / "changeset.schema.json",
                      root / ".schemaflow" / "changeset.schema.json"):
        if candidate.is_file():
            return os.path.relpath(candidate, settings.changesets)
    return None


def write_changeset(settings: Settings, cs: ir.Changeset, fmt: str | None,
                    notify: Notify, comment: str = "") -> Path:
    """Write a changeset file into the folder, run the post-write hooks; returns its path.
    `comment` (lines starting with `#`) goes at the top, after the editor's schema line."""
    fmt = fmt or settings.format
    if fmt not in ("yaml", "toml"):
        raise UsageError(f"unknown format '{fmt}'", hint="yaml or toml")
    slug = re.sub(r"[^a-z0-9]+", "_", cs.message.lower()).strip("_")[:40] or "changeset"
    path = settings.changesets / f"{cs.id}_{slug}.{fmt}"
    ref = _schema_ref(settings)
    text = dumps(ir.dump(cs), "toml" if fmt == "toml" else "yaml", ref)
    if comment:
        first, rest = text.split("\n", 1) if ref else ("", text)
        text = (first + "\n" if ref else "") + comment + rest
    write(path, text)
    if settings.post_write_hooks and not settings.run_hooks:
        where = settings.config_file.name if settings.config_file else "the configuration"
        notify(f"the post_write_hooks of {where} were not run: they are commands from the "
               "project; pass --run-hooks or set SCHEMAFLOW_RUN_HOOKS=1 to run them")
        return path
    for hook in settings.post_write_hooks:
        cmd = hook.replace("{file}", shlex.quote(str(path)))
        done = subprocess.run(cmd, shell=True, cwd=settings.root, check=False)
        if done.returncode != 0:
            notify(f"post-write hook failed ({done.returncode}): {hook}")
    return path


def new_changeset(settings: Settings, history: Callable[[], History], message: str, *,
                  parents: Sequence[str] = (), branch_labels: Sequence[str] = (),
                  depends_on: Sequence[str] = (),
                  operations: Sequence[ir.Operation] = ()) -> ir.Changeset:
    """A changeset after the single head (or the given parents); `history` is called only
    when the folder has changesets."""
    existing: set[str] = set()
    if list_files(settings.changesets):
        g = history().graph
        existing = set(g.by_id)
        parent_ids = [g.resolve_id(p) for p in parents] if parents else (
            [g.single_head()] if g.heads else [])
        deps = [g.resolve_id(d) for d in depends_on]
    else:
        if parents or depends_on:
            raise UsageError("there are no changesets yet to be parents or dependencies")
        parent_ids, deps = [], []
    return ir.Changeset(id=new_id(existing), parents=tuple(parent_ids), message=message,
                        operations=tuple(operations), depends_on=tuple(deps),
                        branch_labels=tuple(branch_labels))


def merge_changeset(history: History, message: str, targets: Sequence[str] = ()) -> ir.Changeset:
    """A changeset whose parents are the given (default: all) heads."""
    g = history.graph
    ids = [g.resolve_id(t) for t in targets] if targets else list(g.heads)
    if len(ids) < 2:
        raise UsageError("nothing to merge: there is only one head" if not targets else
                         "a merge needs at least two changesets")
    return ir.Changeset(id=new_id(set(g.by_id)), parents=tuple(ids), message=message,
                        operations=())


def squash_changeset(history: History, start: str, end: str, message: str, *,
                     concat: bool = False) -> tuple[ir.Changeset, list[str]]:
    """One changeset equivalent to the straight range START..END, and the range's ids.

    The new changeset lists the old ids in `replaces`: databases that applied the whole
    range count it as applied, and changesets after the range keep their parents.
    """
    from .diff import diff

    g = history.graph
    span = straight_span(g, start, end)
    first, last = span[0], span[-1]
    ops_in_range = [op for cid in span for op in g[cid].operations]
    opaque = [op.kind for op in ops_in_range
              if isinstance(op, (ir.Sql, ir.InsertRows, ir.DeleteRows))]
    if concat:
        operations = tuple(ops_in_range)
    elif opaque:
        raise UsageError(
            f"the range holds {', '.join(sorted(set(opaque)))} operations, which the schema "
            "alone cannot carry", hint="use --concat to keep every operation, in order")
    else:
        before = history.replay(g.ancestors(g[first].all_parents))
        after = history.replay(g.ancestors([last]))
        try:
            operations = tuple(diff(before, after).operations)
        except UsageError as exc:  # a change between the two schemas no operation writes
            raise UsageError(f"the range cannot be squashed to the difference of the schemas "
                             f"before and after it: {exc.message}",
                             hint="use --concat to keep every operation, in order") from None
    cs = ir.Changeset(
        id=new_id(set(g.by_id)), parents=g[first].parents, message=message,
        operations=operations, depends_on=g[first].depends_on,
        branch_labels=tuple(dict.fromkeys(b for c in span for b in g[c].branch_labels)),
        tag=g[last].tag, replaces=tuple(span))
    return cs, span

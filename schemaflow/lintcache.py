"""What the history check found in each changeset, remembered by content, so that a second
`validate` (or the check before `apply`) on a long, unchanged history replays nothing and
parses no file again.

An entry is found by a key that hashes, for one changeset:

- its key in the graph (`memo.changeset_keys`): its header, its body's checksum, its
  parents' keys and, for a merge, the order the merged branches are replayed in; so the
  schema it meets, rebuilt from everything it builds on, is part of the key, and an edit,
  addition or removal anywhere upstream changes the key of every changeset below it;
- the content key of its file (the hash of its bytes the parse cache found it by): a
  finding's line and column come from the bytes, not only from the parsed changeset.

The entries live in one file per check configuration (`config_key`): whether the safety
rules run, the project's select and ignore lists, the target database and its version, and a
hash of schemaflow's own source, so that another linter never reads them. What depends on
the file's name (SF006), on a merge's ancestry (SF402) or on the whole graph (SF401) is
never remembered: `lint.check` finds it every time. A finding's file is the changeset's
file as shown now (a renamed file keeps its entries, reported under its new name).

Each entry holds the findings themselves, warnings included, so they are reported on every
run exactly as the first run reported them. A changeset checked in this run is remembered
afterwards; with `derive`, a run of the full linter with no select or ignore lists also
remembers what the check before `apply` (no safety rules) would have found: the same
findings without those only the rules, the defaults check (SF120) and the target database
(SF332) add.

Plain JSON in the memo's folder, checked when read: an entry of another shape is a miss.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import cachefile
from .errors import CODES, Diagnostic
from .source import display_path

if TYPE_CHECKING:
    from .history import History
    from .rules import LintContext

_KEEP_FILES = 8

# (code, severity, message, hint, line, col, whether it names the changeset's file)
Record = tuple[str, str, str, str | None, int | None, int | None, bool]


def config_key(*, rules: bool, select: tuple[str, ...] = (), ignore: tuple[str, ...] = (),
               ctx: LintContext | None = None) -> str | None:
    """The key of a check configuration, or None when its findings are not remembered (a
    check against the models: they are the project's code, and may change at any time)."""
    if ctx is not None and ctx.models is not None:
        return None
    source = cachefile.whole_build()
    if source is None:
        return None
    support = None if ctx is None or ctx.support is None else (
        ctx.support.name, ctx.support.server_version)
    return hashlib.blake2b(repr((source, rules, select, ignore, support if rules else None)
                                ).encode(), digest_size=16).hexdigest()


def remembered(history: History, ctx: LintContext, select: tuple[str, ...],
               ignore: tuple[str, ...]) -> Remembered | None:
    """What the full linter remembers for `history` with this configuration (and, with no
    select or ignore lists, what the check before apply remembers too); None when nothing
    is remembered (no cache, or a check against the models)."""
    if history.memo.dir is None:
        return None
    config = config_key(rules=True, select=select, ignore=ignore, ctx=ctx)
    if config is None:
        return None
    derive = config_key(rules=False) if not select and not ignore else None
    return Remembered(history, config, derive)


class Remembered:
    """The remembered findings of one check configuration on one history."""

    def __init__(self, history: History, config: str, derive: str | None = None,
                 graph_keys: dict[str, bytes] | None = None) -> None:
        from .memo import changeset_keys

        self.history = history
        self.memo = history.memo
        self.config = config
        self.derive = derive
        self.graph_keys = changeset_keys(history.graph) if graph_keys is None else graph_keys
        # Each changeset's key, worked out when first asked: the check before apply asks for
        # the few it checks (each needs its file's content key: on a cached graph, its entry
        # unmarshalled), not for the 10,000 it knows clean.
        self._keys: dict[str, str | None] = {}
        self.entries = _entries(self.memo._read(f"findings-{config}.json"))
        self.folders: dict[str, str] = {}
        self.new: dict[str, list[Any]] = {}
        self.derived: dict[str, list[Any]] = {}

    def key(self, cid: str) -> str | None:
        """The key changeset `cid`'s findings are remembered under (None: its file's content
        is not known, nothing is remembered for it)."""
        if cid not in self._keys:
            source = self.history.content_key(cid)
            self._keys[cid] = None if not source else hashlib.blake2b(
                self.graph_keys[cid] + source.encode(), digest_size=16).hexdigest()
        return self._keys[cid]

    def known(self) -> bool:
        """Whether anything is remembered for a changeset of this history."""
        entries = self.entries
        return any(self.key(cid) in entries for cid in self.graph_keys)

    def get(self, cid: str) -> list[Diagnostic] | None:
        """What the check found in changeset `cid` (placement aside), or None if unknown."""
        key = self.key(cid)
        records = None if key is None else _records(self.entries.get(key))
        if records is None:
            return None
        try:
            return [self._diagnostic(cid, r) for r in records]
        except (ValueError, TypeError):  # an unknown code: check it again
            return None

    def _diagnostic(self, cid: str, r: Record) -> Diagnostic:
        code, severity, message, hint, line, col, has_file = r
        if code not in CODES:
            raise ValueError("an unknown code")
        name = self.history.files.get(cid) if has_file else None
        return Diagnostic(code=code, severity=severity,  # type: ignore[arg-type]
                          message=message, hint=hint,
                          file=None if name is None else self._shown(name),
                          line=line, col=col, changeset=cid)

    def _shown(self, name: str) -> str:
        """`display_path` of a changeset's file (as `lint` reports it), its folder's part
        worked out once: thousands of findings are in the same folder."""
        folder, base = os.path.split(name)
        shown = self.folders.get(folder)
        if shown is None:
            shown = self.folders[folder] = display_path(Path(folder or "."))
        return base if shown == "." else os.path.join(shown, base)

    def put(self, cid: str, found: list[Diagnostic], rules_only: Collection[int]) -> None:
        """Remember what the check found in `cid`; `rules_only`: the ids of those findings
        that only the safety rules or the target database add."""
        key = self.key(cid)
        if key is None:
            return
        records = [_record(d) for d in found]
        self.new[key] = records
        if self.derive is not None:
            self.derived[key] = [r for r, d in zip(records, found, strict=True)
                                 if id(d) not in rules_only]

    def save(self) -> None:
        """Write what this run checked (with what is still remembered for this history)."""
        if not self.new or self.memo.dir is None:
            return
        for config, new in ((self.config, self.new), (self.derive, self.derived)):
            if config is None:
                continue
            old = self.entries if config == self.config else _entries(
                self.memo._read(f"findings-{config}.json"))
            # The newest entries, at most two for each changeset of this history: its own
            # and as many of other versions of it (a branch switched away from and back).
            # Entries are kept in the order they were written: an older one let go of is
            # only checked again when next needed.
            kept = {k: v for k, v in old.items() if k not in new}
            kept.update(new)
            limit = 2 * len(self.graph_keys)
            if len(kept) > limit:
                kept = dict(list(kept.items())[-limit:])
            self.memo._write(f"findings-{config}.json", {"entries": kept})
        self._prune()

    def _prune(self) -> None:
        assert self.memo.dir is not None
        try:
            files = sorted(self.memo.dir.glob("findings-*.json"),
                           key=lambda p: p.stat().st_mtime)
            for old in files[:-_KEEP_FILES]:
                old.unlink()
        except OSError:
            pass


def _record(d: Diagnostic) -> Record:
    return (d.code, d.severity, d.message, d.hint, d.line, d.col, d.file is not None)


_OPT_STR = (str, type(None))
_OPT_INT = (int, type(None))


def _entries(data: Any) -> dict[str, Any]:
    """The entries of a findings file, key → records as read (each checked when used)."""
    entries = data.get("entries") if isinstance(data, dict) else None
    return entries if isinstance(entries, dict) else {}


def _records(records: Any) -> list[Record] | None:
    """An entry's records, checked (None when one is of another shape: a miss)."""
    if not isinstance(records, list):
        return None
    checked: list[Record] = []
    for r in records:
        if not (isinstance(r, list) and len(r) == 7 and type(r[0]) is str
                and r[1] in ("error", "warning", "info") and type(r[2]) is str
                and isinstance(r[3], _OPT_STR) and type(r[4]) in _OPT_INT
                and type(r[5]) in _OPT_INT and type(r[6]) is bool):
            return None
        checked.append((r[0], r[1], r[2], r[3], r[4], r[5], r[6]))
    return checked

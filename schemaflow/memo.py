"""What the history check found and what replays built, remembered by content, so that apply
and rollback on a long history redo only the part that changed.

Two things are kept, in the user's cache folder next to the parse cache (never in the
project), as plain JSON checked when read (never pickle):

- `clean`: keys of changesets that passed the history check together with everything they
  build on. A changeset's key hashes all of it that the check reads (its header and its
  body's checksum) and its parents' keys, so an edited, added or removed changeset anywhere
  upstream changes the key of every changeset below it, and nothing stale is served. The
  file's name is not part of the key: no error depends on it (SF006 is a warning), and a
  diagnostic's file and line are found afresh from the files when it is reported.
- schemas after a sequence of changesets, keyed by the ids and checksums of that sequence in
  order: the state an apply plans on, or a rollback reverses from. The newest few are kept.
- keys of plan items known to render on one database (`planstream`: a run whose every item
  rendered before is rendered while it runs); and, as cache files of their own, whole plans
  rendered before with the content keys of the files they were rendered from
  (`plancache`).

`SCHEMAFLOW_NO_CACHE=1` turns both off, as it does the parse cache.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import cachefile
from .cache import checksums, own_keys
from .statefile import FORMAT, Encoded, file_text, state_data, stored_state

if TYPE_CHECKING:
    from .errors import Diagnostic
    from .graph import Graph
    from .history import History
    from .state import SchemaState

_KEEP_STATES = 4
_KEEP_CLEAN = 64
_KEEP_RENDERED = 20_000  # plan items, over the newest `_KEEP_RENDER_FILES` databases
_KEEP_RENDER_FILES = 4
# Seconds after which a temporary file in the memo's folder is one whose write never ended
# (a run stopped while it wrote a schema): a write takes well under a second.
_STALE = 3600
START = ""  # the key of the empty sequence (an empty database)
_HEX = "0123456789abcdef"


def changeset_keys(g: Graph) -> dict[str, bytes]:
    """Each changeset's key: its own (`cache.own_key`: its header but its path, its body's
    checksum), then, for a merge, the order the merged branches are replayed in (the check
    replays them), and its parents' keys."""
    if g.memo_keys is not None:
        return g.memo_keys
    keys: dict[str, bytes] = {}
    all_parents = g.all_parents
    own = own_keys(g.by_id)  # kept by the caches: 10,000 headers are not hashed again
    blake2b = hashlib.blake2b
    for cid in g.order:
        parents = all_parents[cid]
        seed = own[cid]
        if len(parents) > 1:
            seed += repr(g.ordered(g.ancestors(parents[1:]) - g.ancestors(parents[:1]))).encode()
        keys[cid] = blake2b(seed + b"".join([keys[p] for p in parents]),
                            digest_size=16).digest()
    g.memo_keys = keys
    return keys


class Keys:
    """The keys of the schemas after each prefix of a sequence (`keys`, computed when first
    asked: an apply on a long history looks up the whole sequence's alone, `last`), and the
    hash to go on from (`running`)."""

    def __init__(self, g: Graph, ids: Sequence[str], start: Any = None) -> None:
        self._rows = [f"{cid}\x1f{known}\x1e" for cid, known in zip(
            ids, map(checksums(g.by_id).__getitem__, ids), strict=True)]
        self._start = (start or hashlib.blake2b(digest_size=16)).copy()
        # The hash of the rows together is the hash of the rows one after another.
        self.running = self._start.copy()
        self.running.update("".join(self._rows).encode())
        self.last = self.running.hexdigest() if ids else None

    @functools.cached_property
    def keys(self) -> list[str]:
        running, out = self._start.copy(), []
        for row in self._rows:
            running.update(row.encode())
            out.append(running.copy().hexdigest())
        return out

    def then(self, g: Graph, ids: Sequence[str]) -> Keys:
        """The keys of the prefixes of this sequence followed by `ids`."""
        return Keys(g, ids, self.running)


def sequence_keys(g: Graph, ids: Sequence[str]) -> Keys:
    """The key of the schema after each prefix of `ids` (in the order given; a cached graph's
    checksums from its column, no entry unmarshalled)."""
    return Keys(g, ids)


def check_order(g: Graph, cid: str) -> list[str]:
    """The changesets whose operations the history check has applied once it is past `cid`:
    its first parent's, then what the other parents of a merge bring, then its own."""
    chain = [cid]
    while g.all_parents[chain[-1]]:
        chain.append(g.all_parents[chain[-1]][0])
    out: list[str] = []
    for c in reversed(chain):
        parents = g.all_parents[c]
        if len(parents) > 1:
            out += g.ordered(g.ancestors(parents[1:]) - g.ancestors(parents[:1]))
        out.append(c)
    return out


class Replayed(NamedTuple):
    """A replay's end state, the states before the changesets asked for, and its keys."""

    state: SchemaState
    before: dict[str, SchemaState]
    keys: Keys


def _checker() -> str:
    """The build of the history check: every module of this schemaflow."""
    whole = cachefile.whole_build()
    return whole.hex() if whole is not None else ""


class Memo:
    """The remembered results for one changesets folder (a no-op without a cache folder)."""

    def __init__(self, folder: Path) -> None:
        # The cache folder only where it is safe to use, and per build: schemas remembered
        # by another version of the IR are never read.
        base, build = cachefile.folder(), cachefile.build()
        name = hashlib.sha1(os.path.abspath(folder).encode() + (build or b"")).hexdigest()[:16]
        self.dir = None if base is None else base / f"memo-{name}"
        self._clean: list[str] | None = None
        self._states: dict[str, SchemaState] = {}
        self._encoded: Encoded = {}

    # --- the history check -------------------------------------------------------------

    def clean(self) -> set[str]:
        """Keys of changesets known to pass the history check with all they build on, by
        this very schemaflow (its whole source: the memo's folder is per build of what it
        stores, and a check added without a new version must not pass what it refuses)."""
        if self._clean is None:
            data = self._read("clean.json")
            keys = data.get("keys") if isinstance(data, dict) else None
            ok = isinstance(keys, list) and all(
                isinstance(k, str) and len(k) == 32 and not k.strip(_HEX) for k in keys) and (
                isinstance(data, dict) and data.get("build") == _checker())
            self._clean = list(keys) if ok and isinstance(keys, list) else []
        return set(self._clean)

    def mark_clean(self, keys: Iterable[str]) -> None:
        """Remember these keys as clean (the newest are kept)."""
        new = list(dict.fromkeys(keys))
        known = [k for k in self._clean or [] if k not in set(new)]
        self._clean = (known + new)[-_KEEP_CLEAN:]
        self._write("clean.json", {"keys": self._clean, "build": _checker()})

    # --- plans known to render ----------------------------------------------------------

    def rendered(self, context: str) -> list[str]:
        """Keys of plan items that rendered on the database `context` names (see
        `planstream`), oldest first."""
        data = self._read(f"rendered-{context}.json")
        keys = data.get("keys") if isinstance(data, dict) else None
        if isinstance(keys, list) and all(isinstance(k, str) and len(k) == 32 for k in keys):
            return keys
        return []

    def mark_rendered(self, context: str, keys: Sequence[str]) -> None:
        """Remember that these plan items rendered on `context` (the newest are kept)."""
        if self.dir is None:
            return
        known = self.rendered(context)
        seen = set(known)
        new = [k for k in dict.fromkeys(keys) if k not in seen]
        if not new:
            return
        self._write(f"rendered-{context}.json", {"keys": (known + new)[-_KEEP_RENDERED:]})
        self.prune("rendered-*.json", _KEEP_RENDER_FILES)

    # --- schemas -----------------------------------------------------------------------

    def state(self, key: str) -> SchemaState | None:
        """The schema remembered under `key`, or None."""
        from .state import SchemaState

        if key == START:
            return SchemaState()
        if key in self._states:
            return self._states[key]
        name = f"state-{key}.json"
        data = self._read(name)
        try:
            state = stored_state(data, key, self.dir / name if self.dir else Path(name))
        except (ValueError, TypeError):
            self._forget(name)
            return None
        self.touch(name)
        self._states[key] = state
        return state

    def holds_state(self, key: str) -> bool:
        """Whether the schema under `key` is remembered in the memo's folder (or is the
        empty one), for another process to read (`renderchild`)."""
        return key == START or (self.dir is not None and (
            self.dir / f"state-{key}.json").exists())

    def put_state(self, key: str, state: SchemaState) -> None:
        """Remember a schema (the newest few are kept)."""
        if key == START or key in self._states:
            self._states.setdefault(key, state)
            return
        self._states[key] = state
        name = f"state-{key}.json"
        if self.dir is None or self.touch(name):
            return
        self._write(name, state_data(key, state, self._encoded))
        self.prune("state-*.json", _KEEP_STATES)

    def put_state_file(self, key: str, text: str) -> None:
        """Remember a schema given as the text of its file (`state_file`, built elsewhere:
        in the process that replayed it)."""
        name = f"state-{key}.json"
        if self.dir is None or key == START or self.touch(name):
            return
        self._write_text(name, text)
        self.prune("state-*.json", _KEEP_STATES)

    def prune(self, pattern: str, keep: int) -> None:
        """Delete all but the `keep` newest files matching `pattern`, and what a process
        stopped while it wrote one left behind (a temporary file older than `_STALE`)."""
        assert self.dir is not None
        try:
            files = sorted(self.dir.glob(pattern), key=lambda p: p.stat().st_mtime)
            for old in files[:-keep]:
                old.unlink()
        except OSError:
            pass
        stale = time.time() - _STALE
        for left in self.dir.glob(".tmp-*"):
            with contextlib.suppress(OSError):  # (another run's, gone meanwhile)
                if left.stat().st_mtime < stale:
                    left.unlink()

    def _forget(self, name: str) -> None:
        if self.dir is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.dir / name)

    def touch(self, name: str) -> bool:
        """Mark a remembered file as just used (it is kept longer); whether it exists."""
        if self.dir is None:
            return False
        try:
            os.utime(self.dir / name)
        except OSError:
            return False
        return True

    def replay(self, g: Graph, order: Sequence[str], keep: Iterable[str] = (), *,
               remember: bool = True, stored: bool = True) -> Replayed:
        """The schema after applying `order` (in that order) to an empty database, and the
        schema just before each changeset in `keep`: from the longest remembered prefix on
        (not `stored`: from the empty schema, through every changeset as the graph holds
        it; no remembered schema used). The end state, and the one before the first of
        `keep`, are remembered (unless not `remember`: a schema no later run starts from)."""
        from .state import apply

        known = sequence_keys(g, order)
        wanted = set(keep)
        first = next((i for i, c in enumerate(order) if c in wanted), len(order))
        start, state = 0, self.state(START)
        # The whole sequence's schema first (what an apply plans on is mostly remembered):
        # then no prefix's key is computed.
        found = self.state(known.last) if stored and known.last and first == len(
            order) else None
        if found is not None:
            start, state = first, found
        elif stored:
            for i in range(first, 0, -1):
                found = self.state(known.keys[i - 1])
                if found is not None:
                    start, state = i, found
                    break
        assert state is not None
        before: dict[str, SchemaState] = {}
        for i in range(start, len(order)):
            cid = order[i]
            if cid in wanted:
                before[cid] = state
                if i == first and i > 0 and remember:
                    self.put_state(known.keys[i - 1], state)
            for op in g[cid].operations:
                state = apply(state, op)
        if known.last and remember:
            self.put_state(known.last, state)
        return Replayed(state, before, known)

    # --- files -------------------------------------------------------------------------

    def _read(self, name: str) -> Any:
        if self.dir is None:
            return None
        try:
            with open(self.dir / name, "rb") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        return data

    def _write(self, name: str, data: dict[str, Any]) -> None:
        """Write a file whole or not at all (errors are ignored: it is only a cache)."""
        try:
            text = file_text(data)
        except (ValueError, TypeError):
            return
        self._write_text(name, text)

    def _write_text(self, name: str, text: str) -> None:
        if self.dir is None:
            return
        try:
            self.dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.dir.mkdir(mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.replace(tmp, self.dir / name)
            except BaseException:
                os.unlink(tmp)
                raise
        except (OSError, ValueError, TypeError):
            pass


def history_errors(history: History) -> list[Diagnostic]:
    """The errors of the history check (`lint.check` without the safety rules), checking
    only the changesets not remembered clean, on the schemas remembered or replayed before
    them; when there are none, the keys of the heads are remembered."""
    g, memo = history.graph, history.memo
    keys = changeset_keys(g)
    clean = {bytes.fromhex(k) for k in memo.clean()}
    # Every changeset is an ancestor of a head: with every head clean, so is the history
    # (what an apply of a remembered history finds; no ancestry walked, no linter imported).
    if all(keys[h] in clean for h in g.heads):
        return []
    known = g.ancestors([c for c in g.order if keys[c] in clean])
    if len(known) == len(g):
        return []
    from .lint import check
    from .lintcache import Remembered, config_key


    def after(cid: str) -> SchemaState:
        return memo.replay(g, check_order(g, cid)).state

    config = config_key(rules=False) if memo.dir is not None else None
    errors = [d for d in check(history, rules=False, skip=known, after=after,
                               remembered=None if config is None else Remembered(
                                   history, config, graph_keys=keys))
              if d.severity == "error"]
    if not errors:
        mark_checked(history)
    return errors


def mark_checked(history: History) -> None:
    """Remember the whole of `history` as passing the history check: the keys of its heads,
    and of their parents (every changeset is an ancestor of a head), so that a head edited
    again (written, applied, rolled back, changed) has the rest of the history known clean."""
    g = history.graph
    keys = changeset_keys(g)
    history.memo.mark_clean([keys[p].hex() for h in g.heads for p in g.all_parents[h]]
                            + [keys[h].hex() for h in g.heads])

"""A cache of parsed, validated changesets, keyed by each file's content hash.

Loading 10,000 changesets means 10,000 YAML parses and schema checks; with the cache it is
10,000 stats (or reads and hashes). An entry is found by the hash of the file's bytes; a
file is trusted unread only when its size, mtime, ctime and inode match what was hashed, and
it was not changed within two seconds of the cache being written (git's "racy clean" rule: a
change within one timestamp tick could otherwise hide). So an edit is never served stale.

The cache lives in the user's cache folder, never in the project: a linter must be safe to
run on an untrusted pull request, and a cache file shipped inside a repository must not be
able to inject anything. `SCHEMAFLOW_CACHE_DIR` moves it; `SCHEMAFLOW_NO_CACHE=1` turns it
off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from . import __version__
from .graph import Graph
from .ir import Changeset, checksum
from .source import StatKey

_FORMAT = 7
_LAZY = ("operations", "rollback")
_RACY_NS = 2_000_000_000



def _cache_dir() -> Path | None:
    if os.environ.get("SCHEMAFLOW_NO_CACHE"):
        return None
    explicit = os.environ.get("SCHEMAFLOW_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "schemaflow"


class _LazyChangeset(Changeset):
    """A cached Changeset whose operations are unpickled on first use: listing commands on
    long histories never need them."""

    def __getattr__(self, name: str) -> object:
        if name in _LAZY and "_blob" in self.__dict__:
            operations, rollback = pickle.loads(self.__dict__.pop("_blob"))
            self.__dict__["operations"] = operations
            self.__dict__["rollback"] = rollback
            return self.__dict__[name]
        raise AttributeError(name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_revive, (_pack(self),))

    def __eq__(self, other: object) -> bool:
        # The dataclass __eq__ wants the very same class; a cached changeset equals the
        # parsed one field for field.
        if not isinstance(other, Changeset):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name)
                   for f in dataclasses.fields(Changeset) if f.compare)

    __hash__ = Changeset.__hash__


# The header: every field but the lazy ones, then the operation kinds and the checksum.
_HEADER = (*(f.name for f in dataclasses.fields(Changeset) if f.name not in _LAZY), "_kinds",
           "_checksum")

Packed = tuple[tuple[object, ...], bytes]


def _pack(cs: Changeset) -> Packed:
    """(header values, pickled operations) of a changeset: plain tuples load fastest."""
    fields = cs.__dict__
    header = (*(fields[k] for k in _HEADER[:-2]), cs.operation_kinds, checksum(cs))
    blob = fields.get("_blob")
    if not isinstance(blob, bytes):
        blob = pickle.dumps((cs.operations, cs.rollback), protocol=pickle.HIGHEST_PROTOCOL)
    return header, blob


def _revive(packed: Packed) -> Changeset:
    header, blob = packed
    cs = object.__new__(_LazyChangeset)
    fields = cs.__dict__
    fields.update(zip(_HEADER, header, strict=True))
    fields["_blob"] = blob
    return cs


class _LazyMap(Mapping[str, Changeset]):
    """id → Changeset, each revived from its packed form on first use: `heads` on a long
    history revives a handful, not all of them."""

    def __init__(self, packed: dict[str, Packed]) -> None:
        self._packed = packed
        self._revived: dict[str, Changeset] = {}

    def __getitem__(self, cid: str) -> Changeset:
        cs = self._revived.get(cid)
        if cs is None:
            cs = self._revived[cid] = _revive(self._packed[cid])
        return cs

    def __contains__(self, cid: object) -> bool:
        return cid in self._packed

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)


def content_key(data: bytes) -> str:
    """The cache key of a file's bytes."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def _cache_file(kind: str, folder: Path) -> Path | None:
    directory = _cache_dir()
    if directory is None:
        return None
    name = hashlib.sha1(os.path.abspath(folder).encode()).hexdigest()[:16]
    return directory / f"{kind}-{name}.pickle"


def _write_atomically(path: Path, dump: Callable[[BinaryIO], None]) -> None:
    """Write a cache file whole or not at all (errors are ignored: it is only a cache)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                dump(fh)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, pickle.PicklingError):
        pass


class FolderIndex:
    """The loaded graph of a whole folder, served without opening a single file while the
    folder's listing is unchanged: the same names, and for each the same size, mtime, ctime
    and inode, none of them within two seconds of the index being written (the racy rule
    above). Listing commands on a long history then cost one directory scan and one read."""

    def __init__(self, folder: Path, shown: str,
                 listing: Sequence[tuple[str, StatKey | None]]) -> None:
        complete = all(st is not None for _, st in listing)
        self.path = _cache_file("index", folder) if complete and listing else None
        self.key = (_FORMAT, __version__, shown, tuple(listing))
        self.newest = max((max(st[1], st[2]) for _, st in listing if st), default=0)

    def load(self) -> tuple[Graph, dict[str, str]] | None:
        """The graph and the files `save` stored for this very listing, or None."""
        if self.path is None:
            return None
        try:
            with open(self.path, "rb") as fh:
                # Our own file, in the user's cache folder (see the module docstring).
                saved_ns, key = pickle.load(fh)
                if key != self.key or self.newest >= saved_ns - _RACY_NS:
                    return None
                state, files = pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError,
                AttributeError, ImportError):
            return None
        graph = object.__new__(Graph)
        graph.__dict__.update(state)
        return graph, files

    def save(self, graph: Graph, files: dict[str, str]) -> None:
        """Record a graph (its changesets packed, to be revived one by one) and the file of
        each changeset for this listing."""
        if self.path is None:
            return
        state = dict(graph.__dict__)
        state["by_id"] = _LazyMap({cid: _pack(cs) for cid, cs in graph.by_id.items()})

        def dump(fh: BinaryIO) -> None:
            pickle.dump((time.time_ns(), self.key), fh, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump((state, files), fh, protocol=pickle.HIGHEST_PROTOCOL)

        _write_atomically(self.path, dump)


class ParseCache:
    """Content hash → parsed Changeset for one changesets folder, plus each file's stat."""

    def __init__(self, folder: Path) -> None:
        self.path = _cache_file("changesets", folder)
        self.saved_ns = 0
        self.stats: dict[str, tuple[StatKey, str]] = {}
        self.entries: dict[str, Changeset] = self._read()
        self.used: dict[str, Changeset] = {}
        self.used_stats: dict[str, tuple[StatKey, str]] = {}
        self.dirty = False

    def _read(self) -> dict[str, Changeset]:
        if self.path is None:
            return {}
        try:
            with open(self.path, "rb") as fh:
                # Our own file, in the user's cache folder (see the module docstring).
                header, saved_ns, stats, packed = pickle.load(fh)
            entries = {k: _revive(v) for k, v in packed.items()}
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError,
                AttributeError, ImportError):
            return {}
        if header != (_FORMAT, __version__):
            return {}
        self.saved_ns, self.stats = saved_ns, stats
        return entries

    def key_by_stat(self, name: str, stat: StatKey) -> str | None:
        """The content key of an unchanged file, from its stat alone (None: read it)."""
        known = self.stats.get(name)
        if known is None or known[0] != stat or self._racy(stat):
            return None
        return known[1]

    def _racy(self, stat: StatKey) -> bool:
        return max(stat[1], stat[2]) >= self.saved_ns - _RACY_NS

    def get(self, key: str) -> Changeset | None:
        """The cached changeset for these file contents."""
        cs = self.entries.get(key)
        if cs is not None:
            self.used[key] = cs
        return cs

    def put(self, key: str, cs: Changeset) -> None:
        """Remember a changeset that loaded cleanly (or that moved to another path)."""
        self.used[key] = cs
        self.dirty = True

    def remember_stat(self, name: str, stat: StatKey, key: str) -> None:
        """Record a file's stat and content key for the next run."""
        entry = (stat, key)
        self.used_stats[name] = entry
        if self.stats.get(name) != entry or self._racy(stat):
            self.dirty = True

    def save(self) -> None:
        """Write back the entries used in this run (atomically; errors are ignored)."""
        if self.path is None or not (self.dirty or len(self.used) != len(self.entries)):
            return

        def dump(fh: BinaryIO) -> None:
            packed = {k: _pack(cs) for k, cs in self.used.items()}
            pickle.dump(((_FORMAT, __version__), time.time_ns(), self.used_stats, packed),
                        fh, protocol=pickle.HIGHEST_PROTOCOL)

        _write_atomically(self.path, dump)

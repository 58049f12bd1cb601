"""A cache of parsed, validated changesets, keyed by each file's content hash.

Loading 10,000 changesets means 10,000 YAML parses and schema checks; with the cache it is
10,000 stats (or reads and hashes). An entry is found by the hash of the file's bytes; a
file is trusted unread only when its size, mtime, ctime and inode match what was hashed, and
it was not changed within two seconds of the cache being written (git's "racy clean" rule: a
change within one timestamp tick could otherwise hide). So an edit is never served stale.

The cache lives in the user's cache folder, never in the project: a linter must be safe to
run on an untrusted pull request, and a cache file shipped inside a repository must not be
able to inject anything. `SCHEMAFLOW_CACHE_DIR` moves it; `SCHEMAFLOW_NO_CACHE=1` turns it
off. A folder or file there that another user owns or can write is not used (`cachefile`).

Nothing read from the cache can run code, and a damaged cache costs time, never a traceback
or different SQL: see `cacheentry`, the changesets as the caches store them. The folder
index's changesets (`_LazyMap`) are revived one by one from their entries; the functions
below read what a listing, the drift check and the memo's keys need of a graph without
reviving a cached graph's changesets.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import time
from collections.abc import Callable, Iterator, KeysView, Mapping
from pathlib import Path

from . import cachefile
from .cacheentry import (
    Encoded,
    Header,
    Packed,
    checked,
    checksum,
    header_of,
    own_key,
    pack,
    reparse,
    revive,
)
from .ir.changeset import Changeset
from .source import StatKey

__all__ = ["Header", "Packed", "ParseCache", "cache_file", "checksum", "checksums",
           "content_key", "listed", "own_keys", "pack", "source_key", "summary"]

_RACY_NS = 2_000_000_000


def own_keys(by_id: Mapping[str, Changeset]) -> Mapping[str, bytes]:
    """id → `own_key` of every changeset: a cached graph's column, a cached changeset's own,
    computed for a changeset parsed in this run."""
    if isinstance(by_id, _LazyMap):
        return by_id.own_keys()
    out = {}
    for cid, cs in by_id.items():
        deferred = cs.deferred
        if isinstance(deferred, Encoded) and deferred.own:
            out[cid] = deferred.own
        else:
            out[cid] = own_key(header_of(cs), checksum(cs))
    return out


def summary(by_id: Mapping[str, Changeset], cid: str) -> tuple[Header, str]:
    """A changeset's header (every field but its body) and checksum, without reviving it
    when `by_id` is a cached graph's."""
    if isinstance(by_id, _LazyMap):
        return by_id.peek(cid)
    cs = by_id[cid]
    return header_of(cs), checksum(cs)


def listed(by_id: Mapping[str, Changeset], cid: str) -> tuple[Header, tuple[str, ...]]:
    """A changeset's header and operation kinds, what a listing shows of it, without
    reviving it when `by_id` is a cached graph's (`history` lists every changeset)."""
    if isinstance(by_id, _LazyMap):
        return by_id.listed(cid)
    cs = by_id[cid]
    return header_of(cs), cs.operation_kinds


def lister(by_id: Mapping[str, Changeset]) -> Callable[[str], tuple[Header, tuple[str, ...]]]:
    """`listed` for the changesets of `by_id`, looked up once for many."""
    if isinstance(by_id, _LazyMap):
        return by_id.listed
    return lambda cid: listed(by_id, cid)


def source_key(by_id: Mapping[str, Changeset], cid: str) -> str | None:
    """The content key of the file a cached graph's changeset `cid` was parsed from (None
    when `by_id` is not a cached graph's, or its entry says none)."""
    if isinstance(by_id, _LazyMap):
        try:
            key = by_id.packed(cid)[3]
        except Exception:  # an entry of another shape: not known
            return None
        return key if type(key) is str and key else None
    return None


class _LazyMap(Mapping[str, Changeset]):
    """id → Changeset of a folder index, each revived on first use from its entry (the
    marshal bytes of its packed form, read from the sealed index): `heads` on a long history
    unmarshals and revives a handful, not all of them. An entry that cannot be revived is
    parsed from its file (`files`, id → path) again."""

    def __init__(self, slots: dict[str, int], entries: list[bytes], checksums: str,
                 owns: str, files: Mapping[str, str],
                 bodies: Callable[[], list[bytes] | None]) -> None:
        self._slots = slots  # id → its entry, in the order of the graph's by_id
        self._entries = entries  # without their bodies: those are read by `bodies`
        # Each entry's checksum and own key (hex), joined by newlines: what the entries hold.
        self._checksums: str | dict[str, str] = checksums
        self._owns = owns
        self._files = files
        self._read_bodies = bodies
        self._bodies: list[bytes] | None = None
        self._packed: dict[str, Packed] = {}
        self._revived: dict[str, Changeset] = {}

    def _body(self, cid: str) -> bytes:
        """The encoded body of `cid` (b"" when the bodies cannot be read)."""
        if self._bodies is None:
            self._bodies = self._read_bodies() or []
        slot = self._slots[cid]
        return self._bodies[slot] if slot < len(self._bodies) else b""

    def packed(self, cid: str) -> Packed:
        """The packed entry of `cid`, unmarshalled (KeyError: not in the index; anything
        else: an entry that cannot be read)."""
        packed = self._packed.get(cid)
        if packed is None:
            # Bytes of the sealed index, written by `FolderIndex.save`: only plain data.
            slot = self._slots[cid]
            packed = self._packed[cid] = marshal.loads(self._entries[slot])
            # Unmarshalled once: its bytes are let go of (a long plan revives every entry,
            # and would hold each changeset's twice, ~0.4 MB on 1,000).
            self._entries[slot] = b""
        return packed

    def __getitem__(self, cid: str) -> Changeset:
        cs = self._revived.get(cid)
        if cs is None:
            if cid not in self._slots:
                raise KeyError(cid)
            try:
                cs = revive(self.packed(cid), fetch=lambda: self._body(cid))
                if cs.id != cid:
                    raise ValueError("the entry of another changeset")
            except Exception:  # an entry of another shape: parse its file
                cs = reparse(self._files.get(cid), cid)
            self._revived[cid] = cs
        return cs

    def __contains__(self, cid: object) -> bool:
        return cid in self._slots

    def keys(self) -> KeysView[str]:
        # The dict's own view: `x in by_id.keys()` costs no Python call, for loops over every
        # version row of a long history.
        return self._slots.keys()

    def peek(self, cid: str) -> tuple[Header, str]:
        """A changeset's header and checksum without reviving it (the header from its entry,
        the checksum from the column, as for `checksums`)."""
        if cid not in self._revived:
            # Not every field's type (`_checked`): the header only goes into keys, so a value
            # of another type can only miss. Reviving the changeset checks everything.
            try:
                header = self.packed(cid)[0]
                if type(header) is tuple and header[0] == cid:
                    return header, self.checksums()[cid]
            except Exception:  # an entry of another shape: what its file says
                pass
        cs = self[cid]
        return header_of(cs), checksum(cs)

    def listed(self, cid: str) -> tuple[Header, tuple[str, ...]]:
        """A changeset's header and operation kinds, every field checked as reviving checks
        it, without building the changeset."""
        if cid not in self._revived:
            try:
                header, kinds = checked(self.packed(cid))[:2]
                if header[0] == cid:
                    return header, kinds
            except Exception:  # an entry of another shape: what its file says
                pass
        cs = self[cid]
        return header_of(cs), cs.operation_kinds

    def checksums(self) -> dict[str, str]:
        """id → checksum of every changeset, from the index's column of them (the one source
        of a cached changeset's checksum unrevived): no entry is unmarshalled."""
        sums = self._checksums
        if isinstance(sums, str):
            sums = self._checksums = dict(zip(self._slots, sums.split("\n"), strict=True))
        return sums

    def own_keys(self) -> dict[str, bytes]:
        """id → `own_key` of every changeset, from the index's column of them (computed from
        the entries when the column cannot be read)."""
        try:
            owns = dict(zip(self._slots, map(bytes.fromhex, self._owns.split("\n")),
                            strict=True))
            if all(len(k) == 16 for k in owns.values()):
                return owns
        except ValueError:  # a column of another shape
            pass
        return {cid: own_key(*self.peek(cid)) for cid in self._slots}

    def __iter__(self) -> Iterator[str]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)


class _Checksums(Mapping[str, str]):
    """id → checksum of a graph's changesets, each asked for when first wanted."""

    def __init__(self, by_id: Mapping[str, Changeset]) -> None:
        self._by_id = by_id

    def __getitem__(self, cid: str) -> str:
        return checksum(self._by_id[cid])

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)


def checksums(by_id: Mapping[str, Changeset]) -> Mapping[str, str]:
    """id → checksum of a graph's changesets: a cached graph's column of them (no entry
    revived or unmarshalled), else each changeset's own (`checksum`)."""
    return by_id.checksums() if isinstance(by_id, _LazyMap) else _Checksums(by_id)


def content_key(data: bytes) -> str:
    """The cache key of a file's bytes."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def file_key(path: Path, data: bytes) -> str:
    """The cache key of changeset file `path` holding `data` (its format is part of it)."""
    return content_key(data + path.suffix.encode())


def cache_file(kind: str, folder: Path) -> Path | None:
    directory = cachefile.folder()
    if directory is None:
        return None
    name = hashlib.sha1(os.path.abspath(folder).encode()).hexdigest()[:16]
    return directory / f"{kind}-{name}.cache"


def _racy_now(stat: StatKey) -> bool:
    """Whether a cache written now would still not trust this stat (`ParseCache._racy`)."""
    return max(stat[1], stat[2]) >= time.time_ns() - _RACY_NS


class ParseCache:
    """Content hash → parsed Changeset for one changesets folder (kept packed, revived by
    `get`), plus each file's stat."""

    def __init__(self, folder: Path) -> None:
        self.path = cache_file("changesets", folder)
        self.key = cachefile.key("changesets", os.path.abspath(folder))
        self.saved_ns = 0
        self.stats: dict[str, tuple[StatKey, str]] = {}
        self.entries: dict[str, Packed] = self._read()
        self.used: dict[str, Packed] = {}
        self.used_stats: dict[str, tuple[StatKey, str]] = {}
        self.sources: dict[str, str] = {}  # changeset id → its file's content key
        self.parsed: dict[str, Changeset] = {}  # what was parsed from its file in this run
        self.dirty = False

    def _read(self) -> dict[str, Packed]:
        if self.path is None:
            return {}
        got = cachefile.read(self.path, self.key)
        if got is None:
            return {}
        try:
            stats, entries = got[1]
        except (TypeError, ValueError):
            return {}
        if type(stats) is not dict or type(entries) is not dict:
            return {}
        self.saved_ns, self.stats = got[0], stats
        return entries

    def key_by_stat(self, name: str, stat: StatKey) -> str | None:
        """The content key of an unchanged file, from its stat alone (None: read it)."""
        known = self.stats.get(name)
        try:
            if known is None or known[0] != stat or self._racy(stat):
                return None
            key = known[1]
        except (TypeError, IndexError, KeyError):  # a record of another shape: read the file
            return None
        return key if type(key) is str else None

    def _racy(self, stat: StatKey) -> bool:
        return max(stat[1], stat[2]) >= self.saved_ns - _RACY_NS

    def get(self, key: str, path: str) -> Changeset | None:
        """The cached changeset for these file contents, as read from `path`."""
        packed = self.entries.get(key)
        if packed is None:
            return None
        try:
            if packed[3] != key:  # not the entry of these contents
                return None
            cs = revive(packed, path)
        except Exception:  # an entry of another shape: only a cache, parse
            return None
        self.used[key] = packed
        self.sources[cs.id] = key
        return cs

    def put(self, key: str, cs: Changeset) -> None:
        """Remember a changeset that was parsed and loaded cleanly."""
        self.parsed[cs.id] = cs
        self.sources[cs.id] = key
        if self.path is not None:
            self.used[key] = pack(cs, key)
            self.dirty = True

    def put_packed(self, key: str, packed: Packed) -> Changeset | None:
        """Remember a changeset parsed in a worker process (`parallel`), packed there; the
        changeset revived from it, or None when it does not revive (then it is not kept)."""
        try:
            cs = revive(packed)
        except Exception:  # not expected from our own worker: the file is reported unread
            return None
        self.sources[cs.id] = key
        if self.path is not None:
            self.used[key] = packed
            self.dirty = True
        return cs

    def remember_stat(self, name: str, stat: StatKey, key: str) -> None:
        """Record a file's stat and content key for the next run."""
        entry = (stat, key)
        self.used_stats[name] = entry
        # Worth writing only when a file written now would trust this stat: one changed
        # within the racy window of now stays untrusted (read again) whatever is written.
        if (self.stats.get(name) != entry or self._racy(stat)) and not _racy_now(stat):
            self.dirty = True

    def save(self) -> None:
        """Write back the entries used in this run (atomically; errors are ignored)."""
        if self.path is None or not (self.dirty or len(self.used) != len(self.entries)):
            return
        cachefile.write(self.path, self.key, (self.used_stats, self.used))

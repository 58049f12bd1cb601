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

Nothing read from the cache can run code: the files hold plain data, checked against their
digest before it is unmarshalled (`cachefile`), and a body is rebuilt from plain tuples by
the IR's own constructors (`ir.plain`). Each entry carries the content key of the file it
was parsed from, checked against the key it is found by, and a digest of its body, kinds
and checksum, checked before the body is decoded. An entry that fails any check, or cannot
be decoded, is parsed from its file again: a damaged cache costs time, never a traceback or
different SQL. And what is run and recorded in the version table never comes from here:
`History.from_file` parses the changesets being applied, rolled back or stamped again.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import time
from collections.abc import Callable, Iterator, KeysView, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from . import cachefile
from .ir.changeset import Changeset, Deferred

if TYPE_CHECKING:
    from .ir import Body
from .source import StatKey

_RACY_NS = 2_000_000_000

# (header, operation kinds, checksum, content key of its file, digest, encoded body, own
# key), the header being every field of the changeset but its body, the own key what the
# memo's key of the changeset hashes of it (`own_key`). Plain tuples load fastest.
Header = tuple[str, tuple[str, ...], str, str | None, tuple[str, ...], tuple[str, ...],
               str | None, bool | None, tuple[str, ...], tuple[str, ...], str | None]
Packed = tuple[Header, tuple[str, ...], str, str, bytes, bytes, bytes]


def checksum(cs: Changeset) -> str:
    """`ir.checksum`: a changeset revived from the cache knows its own, and a listing then
    imports no codec (nor the operations' classes)."""
    deferred = cs.deferred
    if deferred is not None:
        return deferred.checksum
    from .ir.checksums import checksum as computed

    return computed(cs)


def own_key(header: Header, known: str) -> bytes:
    """What a changeset's memo key (`memo.changeset_keys`) hashes of the changeset itself: its
    header but its file's path, and its checksum. A function of its file's content, so the
    parse cache keeps it with the changeset and the folder index as a column: apply and
    validate on a long history chain 10,000 of these, not hash 10,000 headers."""
    return hashlib.blake2b(repr((header[:-1], known)).encode(), digest_size=16).digest()


def own_keys(by_id: Mapping[str, Changeset]) -> Mapping[str, bytes]:
    """id → `own_key` of every changeset: a cached graph's column, a cached changeset's own,
    computed for a changeset parsed in this run."""
    if isinstance(by_id, _LazyMap):
        return by_id.own_keys()
    out = {}
    for cid, cs in by_id.items():
        deferred = cs.deferred
        if isinstance(deferred, _Encoded) and deferred.own:
            out[cid] = deferred.own
        else:
            out[cid] = own_key(_header(cs), checksum(cs))
    return out


def summary(by_id: Mapping[str, Changeset], cid: str) -> tuple[Header, str]:
    """A changeset's header (every field but its body) and checksum, without reviving it
    when `by_id` is a cached graph's."""
    if isinstance(by_id, _LazyMap):
        return by_id.peek(cid)
    cs = by_id[cid]
    return _header(cs), checksum(cs)


def listed(by_id: Mapping[str, Changeset], cid: str) -> tuple[Header, tuple[str, ...]]:
    """A changeset's header and operation kinds, what a listing shows of it, without
    reviving it when `by_id` is a cached graph's (`history` lists every changeset)."""
    if isinstance(by_id, _LazyMap):
        return by_id.listed(cid)
    cs = by_id[cid]
    return _header(cs), cs.operation_kinds


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


def _header(cs: Changeset) -> Header:
    return (cs.id, cs.parents, cs.message, cs.author, cs.depends_on, cs.branch_labels, cs.tag,
            cs.transactional, cs.lint_ignore, cs.replaces, cs.path)


def _digest(source: str, kinds: tuple[str, ...], known: str, data: bytes) -> bytes:
    digest = hashlib.blake2b(data, digest_size=16)
    digest.update("\0".join((source, known, *kinds)).encode())
    return digest.digest()


def _reparse(path: str | None, cid: str) -> Changeset:
    """Changeset `cid` parsed from its file again: its cache entry could not be used."""
    from .errors import UsageError, ValidationFailed
    from .history import load_file

    if path is not None:
        _, cs, diags = load_file(Path(path))
        if diags:
            raise ValidationFailed(diags)
        if cs is not None and cs.id == cid:
            return cs
    raise UsageError(f"changeset {cid}: its cache entry could not be read, and its file "
                     f"{path} no longer holds it (changed meanwhile)",
                     hint="run the command again")


class _Encoded(Deferred):
    """A cached body: checked and decoded when loaded, kept as it is to be saved again."""

    __slots__ = ("_data", "cid", "digest", "own", "path", "source")

    def __init__(self, cid: str, kinds: tuple[str, ...], checksum: str, source: str,
                 digest: bytes, data: bytes | Callable[[], bytes], path: str | None,
                 own: bytes) -> None:
        # Deferred's two fields set here, not through super(): one per changeset revived.
        self.kinds = kinds
        self.checksum = checksum
        self.cid, self.source, self.digest, self._data, self.path, self.own = (
            cid, source, digest, data, path, own)

    @property
    def data(self) -> bytes:
        """The encoded body; a folder index's is fetched from its bodies file when first
        wanted (b"" when it cannot be: that fails the digest, and the file is parsed again)."""
        data = self._data
        if not isinstance(data, bytes):
            data = self._data = data()
        return data

    def load(self) -> Body:
        """The operations and rollback: decoded, or parsed from the file again when the entry
        fails its digest or cannot be decoded."""
        try:
            from .ir.plain import decode_body

            if _digest(self.source, self.kinds, self.checksum, self.data) == self.digest:
                return decode_body(marshal.loads(self.data))
        except Exception:  # an entry that cannot be decoded is parsed again, whatever failed
            pass
        cs = _reparse(self.path, self.cid)
        if checksum(cs) != self.checksum:
            from .errors import UsageError

            raise UsageError(f"changeset {self.cid}: its cache entry could not be read, and "
                             f"its file {self.path} changed meanwhile",
                             hint="run the command again")
        return cs.operations, cs.rollback


def pack(cs: Changeset, source: str) -> Packed:
    """A changeset as the cache stores it, `source` being its file's content key; a body
    still deferred is kept as it was read."""
    deferred = cs.deferred
    header = _header(cs)
    if isinstance(deferred, _Encoded):
        return (header, deferred.kinds, deferred.checksum, deferred.source, deferred.digest,
                deferred.data, deferred.own or own_key(header, deferred.checksum))
    from .ir.plain import encode_body

    kinds, known = cs.operation_kinds, checksum(cs)
    data = marshal.dumps(encode_body((cs.operations, cs.rollback)))
    return (header, kinds, known, source, _digest(source, kinds, known, data), data,
            own_key(header, known))


_OPTIONAL_STR = {str, type(None)}
_OPTIONAL_BOOL = {bool, type(None)}
_STR = {str}


def _revive(packed: Packed, shown: str | None = None,
            fetch: Callable[[], bytes] | None = None) -> Changeset:
    """The changeset of a packed entry, its body deferred until first use; `shown` is the
    path of its file now, when it may have moved; `fetch` gives its encoded body when the
    entry does not hold it. ValueError (or TypeError) for an entry of another shape, or
    whose fields are not of their types."""
    header, kinds, known, source, digest, data, own = _checked(packed)
    (cid, parents, message, author, depends_on, branch_labels, tag, transactional,
     lint_ignore, replaces, path) = header
    path = path if shown is None else shown
    body = _Encoded(cid, kinds, known, source, digest, data if fetch is None else fetch, path,
                    own)
    return Changeset(id=cid, parents=parents, message=message, operations=body, author=author,
                     depends_on=depends_on, branch_labels=branch_labels, tag=tag,
                     transactional=transactional, rollback=body, lint_ignore=lint_ignore,
                     replaces=replaces, path=path)


def _checked(packed: Packed) -> Packed:
    """`packed`, when every field is of its type (ValueError or TypeError otherwise)."""
    header, kinds, known, source, digest, data, own = packed
    (cid, parents, message, author, depends_on, branch_labels, tag, transactional,
     lint_ignore, replaces, path) = header
    # One expression, sets of types: 10,000 headers are checked in about 6 ms.
    if not (type(cid) is str and type(message) is str and type(known) is str
            and type(source) is str and type(digest) is bytes and type(data) is bytes
            and type(own) is bytes and len(own) in (0, 16)
            and type(author) in _OPTIONAL_STR and type(tag) in _OPTIONAL_STR
            and type(path) in _OPTIONAL_STR and type(transactional) in _OPTIONAL_BOOL
            and set(map(type, parents + depends_on + branch_labels + lint_ignore + replaces
                        + kinds)) <= _STR
            and type(parents) is type(depends_on) is type(branch_labels) is type(lint_ignore)
            is type(replaces) is type(kinds) is tuple):
        raise ValueError("a cache entry of another shape")
    return packed


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
            packed = self._packed[cid] = marshal.loads(self._entries[self._slots[cid]])
        return packed

    def __getitem__(self, cid: str) -> Changeset:
        cs = self._revived.get(cid)
        if cs is None:
            if cid not in self._slots:
                raise KeyError(cid)
            try:
                cs = _revive(self.packed(cid), fetch=lambda: self._body(cid))
                if cs.id != cid:
                    raise ValueError("the entry of another changeset")
            except Exception:  # an entry of another shape: parse its file
                cs = _reparse(self._files.get(cid), cid)
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
        return _header(cs), checksum(cs)

    def listed(self, cid: str) -> tuple[Header, tuple[str, ...]]:
        """A changeset's header and operation kinds, every field checked as reviving checks
        it, without building the changeset."""
        if cid not in self._revived:
            try:
                header, kinds = _checked(self.packed(cid))[:2]
                if header[0] == cid:
                    return header, kinds
            except Exception:  # an entry of another shape: what its file says
                pass
        cs = self[cid]
        return _header(cs), cs.operation_kinds

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
            cs = _revive(packed, path)
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
            cs = _revive(packed)
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

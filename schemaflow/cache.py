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
import io
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from . import __version__
from .graph import Graph, GraphParts
from .ir import Body, Changeset, Deferred, checksum
from .source import StatKey

_FORMAT = 9  # 9: the IR classes moved into the ir package (pickled by module path)
_RACY_NS = 2_000_000_000


def _cache_dir() -> Path | None:
    if os.environ.get("SCHEMAFLOW_NO_CACHE"):
        return None
    explicit = os.environ.get("SCHEMAFLOW_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "schemaflow"


# (header, operation kinds, checksum, encoded body), the header being every field of the
# changeset but its body. Plain tuples load fastest.
Header = tuple[str, tuple[str, ...], str, str | None, tuple[str, ...], tuple[str, ...],
               str | None, bool | None, tuple[str, ...], tuple[str, ...], str | None]
Packed = tuple[Header, tuple[str, ...], str, bytes]


def summary(by_id: Mapping[str, Changeset], cid: str) -> tuple[Header, str]:
    """A changeset's header (every field but its body) and checksum, without reviving it
    when `by_id` is a cached graph's."""
    if isinstance(by_id, _LazyMap):
        return by_id.peek(cid)
    cs = by_id[cid]
    return _header(cs), checksum(cs)


def _header(cs: Changeset) -> Header:
    return (cs.id, cs.parents, cs.message, cs.author, cs.depends_on, cs.branch_labels, cs.tag,
            cs.transactional, cs.lint_ignore, cs.replaces, cs.path)


class _Encoded(Deferred):
    """A cached body: decoded when loaded, and kept as it is to be saved again."""

    __slots__ = ("data",)

    def __init__(self, kinds: tuple[str, ...], checksum: str, data: bytes) -> None:
        # Deferred's two fields set here, not through super(): one per changeset revived.
        self.kinds = kinds
        self.checksum = checksum
        self.data = data

    def load(self) -> Body:
        """The operations and rollback, decoded."""
        body: Body = pickle.loads(self.data)  # our own file (see the module docstring)
        return body


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


_FIELDS: dict[type, tuple[str, ...]] = {}


def _frozen(cls: type, values: tuple[Any, ...]) -> object:
    # What dataclasses' own __setstate__ does for a frozen slotted class, with the field names
    # looked up once per class rather than per object: that lookup doubled the load time.
    obj: object = object.__new__(cls)
    for name, value in zip(_field_names(cls), values, strict=True):
        object.__setattr__(obj, name, value)
    return obj


class _BodyPickler(pickle.Pickler):
    """Pickles a body's dataclasses as (class, field values), revived by `_frozen`."""

    def reducer_override(self, obj: object) -> Any:
        cls = type(obj)
        if not dataclasses.is_dataclass(cls):
            return NotImplemented
        return _frozen, (cls, tuple(getattr(obj, name) for name in _field_names(cls)))


def _encode(body: Body) -> bytes:
    out = io.BytesIO()
    _BodyPickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(body)
    return out.getvalue()


def _pack(cs: Changeset) -> Packed:
    """A changeset as the cache stores it; a body still deferred is kept as it was read."""
    deferred = cs.deferred
    if isinstance(deferred, _Encoded):
        return _header(cs), deferred.kinds, deferred.checksum, deferred.data
    return (_header(cs), cs.operation_kinds, checksum(cs),
            _encode((cs.operations, cs.rollback)))


def _revive(packed: Packed, shown: str | None = None) -> Changeset:
    """The changeset of a packed entry, its body deferred until first use; `shown` is the
    path of its file now, when it may have moved."""
    header, kinds, known, data = packed
    (cid, parents, message, author, depends_on, branch_labels, tag, transactional,
     lint_ignore, replaces, path) = header
    body = _Encoded(kinds, known, data)
    return Changeset(id=cid, parents=parents, message=message, operations=body, author=author,
                     depends_on=depends_on, branch_labels=branch_labels, tag=tag,
                     transactional=transactional, rollback=body, lint_ignore=lint_ignore,
                     replaces=replaces, path=path if shown is None else shown)


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

    def peek(self, cid: str) -> tuple[Header, str]:
        """A changeset's header and checksum without reviving it (drift and the memo's keys
        read these of every changeset of a long history)."""
        packed = self._packed[cid]
        return packed[0], packed[2]

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
        # A digest of the listing, not the listing: 10,000 names and stats load and compare
        # slower than they hash.
        digest = hashlib.blake2b(pickle.dumps(listing, protocol=pickle.HIGHEST_PROTOCOL),
                                 digest_size=20).digest()
        self.key = (_FORMAT, __version__, shown, digest)
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
                rest, packed, files = pickle.load(fh)
            graph = Graph.from_parts(GraphParts(_LazyMap(packed), *rest))
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError,
                AttributeError, ImportError):
            return None
        return graph, files

    def save(self, graph: Graph, files: dict[str, str]) -> None:
        """Record a graph (its changesets packed, to be revived one by one) and the file of
        each changeset for this listing."""
        if self.path is None:
            return
        by_id, *rest = graph.parts()
        packed = {cid: _pack(cs) for cid, cs in by_id.items()}

        def dump(fh: BinaryIO) -> None:
            pickle.dump((time.time_ns(), self.key), fh, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump((rest, packed, files), fh, protocol=pickle.HIGHEST_PROTOCOL)

        _write_atomically(self.path, dump)


class ParseCache:
    """Content hash → parsed Changeset for one changesets folder (kept packed, revived by
    `get`), plus each file's stat."""

    def __init__(self, folder: Path) -> None:
        self.path = _cache_file("changesets", folder)
        self.saved_ns = 0
        self.stats: dict[str, tuple[StatKey, str]] = {}
        self.entries: dict[str, Packed] = self._read()
        self.used: dict[str, Packed] = {}
        self.used_stats: dict[str, tuple[StatKey, str]] = {}
        self.dirty = False

    def _read(self) -> dict[str, Packed]:
        if self.path is None:
            return {}
        try:
            with open(self.path, "rb") as fh:
                # Our own file, in the user's cache folder (see the module docstring).
                header, saved_ns, stats, entries = pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError,
                AttributeError, ImportError):
            return {}
        if header != (_FORMAT, __version__):
            return {}
        self.saved_ns, self.stats = saved_ns, stats
        packed: dict[str, Packed] = entries
        return packed

    def key_by_stat(self, name: str, stat: StatKey) -> str | None:
        """The content key of an unchanged file, from its stat alone (None: read it)."""
        known = self.stats.get(name)
        if known is None or known[0] != stat or self._racy(stat):
            return None
        return known[1]

    def _racy(self, stat: StatKey) -> bool:
        return max(stat[1], stat[2]) >= self.saved_ns - _RACY_NS

    def get(self, key: str, path: str) -> Changeset | None:
        """The cached changeset for these file contents, as read from `path`."""
        packed = self.entries.get(key)
        if packed is None:
            return None
        try:
            cs = _revive(packed, path)
        except (ValueError, TypeError):  # an entry of another layout: only a cache, parse
            return None
        self.used[key] = packed
        return cs

    def put(self, key: str, cs: Changeset) -> None:
        """Remember a changeset that loaded cleanly."""
        if self.path is not None:
            self.used[key] = _pack(cs)
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
            pickle.dump(((_FORMAT, __version__), time.time_ns(), self.used_stats, self.used),
                        fh, protocol=pickle.HIGHEST_PROTOCOL)

        _write_atomically(self.path, dump)

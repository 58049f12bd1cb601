"""A changeset as the caches store it: its header, kinds, checksum and own memo key as plain
data, its body encoded and decoded only when first used.

Nothing read from a cache can run code: the files hold plain data, checked against their
digest before it is unmarshalled (`cachefile`), and a body is rebuilt from plain tuples by
the IR's own constructors (`ir.plain`). Each entry carries the content key of the file it
was parsed from, checked against the key it is found by, and a digest of its body, kinds
and checksum, checked before the body is decoded. An entry that fails any check, or cannot
be decoded, is parsed from its file again: a damaged cache costs time, never a traceback or
different SQL. And what is run and recorded in the version table never comes from here:
`History.from_file` parses the changesets being applied, rolled back or stamped again.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .ir.changeset import Changeset, Deferred

if TYPE_CHECKING:
    from .ir import Body

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
    return _codec().checksum(cs)


class _Codec(NamedTuple):
    checksum: Callable[[Changeset], str]
    encode_body: Callable[[Body], Any]
    decode_body: Callable[[Any], Body]


@functools.cache
def _codec() -> _Codec:
    """A body to plain data and back, and its checksum (`ir.plain`, `ir.checksums`: they
    import the codec and the operations' classes): imported when first wanted, so not by a
    listing, and not again for each changeset (an import per call is ~10k instructions)."""
    from .ir.checksums import checksum as computed
    from .ir.plain import decode_body, encode_body

    return _Codec(computed, encode_body, decode_body)


def own_key(header: Header, known: str) -> bytes:
    """What a changeset's memo key (`memo.changeset_keys`) hashes of the changeset itself: its
    header but its file's path, and its checksum. A function of its file's content, so the
    parse cache keeps it with the changeset and the folder index as a column: apply and
    validate on a long history chain 10,000 of these, not hash 10,000 headers."""
    return hashlib.blake2b(repr((header[:-1], known)).encode(), digest_size=16).digest()


def header_of(cs: Changeset) -> Header:
    """Every field of a changeset but its body."""
    return (cs.id, cs.parents, cs.message, cs.author, cs.depends_on, cs.branch_labels, cs.tag,
            cs.transactional, cs.lint_ignore, cs.replaces, cs.path)


def entry_digest(source: str, kinds: tuple[str, ...], known: str, data: bytes) -> bytes:
    """The digest an entry carries of its body, kinds and checksum (checked before the body
    is decoded)."""
    digest = hashlib.blake2b(data, digest_size=16)
    digest.update("\0".join((source, known, *kinds)).encode())
    return digest.digest()


def reparse(path: str | None, cid: str) -> Changeset:
    """Changeset `cid` parsed from its file again: its cache entry could not be used."""
    from .errors import UsageError, ValidationFailed
    from .fileload import load_file

    if path is not None:
        _, cs, diags = load_file(Path(path))
        if diags:
            raise ValidationFailed(diags)
        if cs is not None and cs.id == cid:
            return cs
    raise UsageError(f"changeset {cid}: its cache entry could not be read, and its file "
                     f"{path} no longer holds it (changed meanwhile)",
                     hint="run the command again")


class Encoded(Deferred):
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
            if entry_digest(self.source, self.kinds, self.checksum, self.data) == self.digest:
                return _codec().decode_body(marshal.loads(self.data))
        except Exception:  # an entry that cannot be decoded is parsed again, whatever failed
            pass
        cs = reparse(self.path, self.cid)
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
    header = header_of(cs)
    if isinstance(deferred, Encoded):
        return (header, deferred.kinds, deferred.checksum, deferred.source, deferred.digest,
                deferred.data, deferred.own or own_key(header, deferred.checksum))
    kinds, known = cs.operation_kinds, checksum(cs)
    data = marshal.dumps(_codec().encode_body((cs.operations, cs.rollback)))
    return (header, kinds, known, source, entry_digest(source, kinds, known, data), data,
            own_key(header, known))


_OPTIONAL_STR = {str, type(None)}
_OPTIONAL_BOOL = {bool, type(None)}
_STR = {str}


def revive(packed: Packed, shown: str | None = None,
            fetch: Callable[[], bytes] | None = None) -> Changeset:
    """The changeset of a packed entry, its body deferred until first use; `shown` is the
    path of its file now, when it may have moved; `fetch` gives its encoded body when the
    entry does not hold it. ValueError (or TypeError) for an entry of another shape, or
    whose fields are not of their types."""
    header, kinds, known, source, digest, data, own = checked(packed)
    (cid, parents, message, author, depends_on, branch_labels, tag, transactional,
     lint_ignore, replaces, path) = header
    path = path if shown is None else shown
    body = Encoded(cid, kinds, known, source, digest, data if fetch is None else fetch, path,
                    own)
    return Changeset(id=cid, parents=parents, message=message, operations=body, author=author,
                     depends_on=depends_on, branch_labels=branch_labels, tag=tag,
                     transactional=transactional, rollback=body, lint_ignore=lint_ignore,
                     replaces=replaces, path=path)


def checked(packed: Packed) -> Packed:
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

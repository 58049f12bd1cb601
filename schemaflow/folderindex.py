"""The folder index: a whole changesets folder's loaded graph, kept for as long as the
folder's listing is unchanged (see `FolderIndex`), in columns.

A listing of a long history reads the index and little else, so the index is laid out for
what a listing reads first: a handful of big strings (ids, parents, the order, checksums,
paths, each a column joined by newlines) split when first needed, and one marshal entry per
changeset, unmarshalled only for the changesets a listing shows. Reading 10,000 packed
changesets as tuples of tuples was most of `heads` and `current`: a quarter of a million
objects built to show one line.

A value holding the separator (a newline in a path, a space or a newline in an id) would
make a column ambiguous: such a folder gets no index, and is loaded through the parse cache.
"""

from __future__ import annotations

import array
import hashlib
import itertools
import marshal
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from . import cache, cachefile
from .cacheentry import header_of
from .graph import Edges, Graph
from .ir.changeset import Changeset
from .source import Limits, StatKey


def _unzip(listing: Sequence[tuple[str, StatKey | None]]
           ) -> tuple[tuple[str, ...], tuple[StatKey | None, ...]]:
    if not listing:
        return (), ()
    names, stats = zip(*listing, strict=True)
    return names, stats


def _column(values: Sequence[str], forbidden: str = "") -> str | None:
    """`values` joined by newlines, or None when one holds a newline or a `forbidden`
    character (the column could not be split back)."""
    joined = "\n".join(values)
    if joined.count("\n") != len(values) - 1 or any(c in joined for c in forbidden):
        return None
    return joined


def _rows(column: str, n: int) -> bool:
    """Whether `column` splits into `n` rows."""
    return column.count("\n") == n - 1


def _edges(ids: list[str], parents: str, extra: str) -> Callable[[], Edges]:
    """The graph's edges from its columns: each id's parents (space-separated), then what
    it depends on beyond them."""
    def edges() -> Edges:
        for cid, own, more in zip(ids, parents.split("\n"), extra.split("\n"), strict=True):
            first = tuple(own.split(" ")) if own else ()
            yield cid, first, first + tuple(more.split(" ")) if more else first

    return edges


class FolderIndex:
    """The loaded graph of a whole folder, served without opening a single file while the
    folder's listing is unchanged: the same names, and for each the same size, mtime, ctime
    and inode. A file changed within two seconds of the index being written (the racy rule
    of `cache`: a later edit may leave the same stat) is trusted by its content instead, as
    git does: the index keeps the content key of each such file, and is served only while
    the file still holds those bytes (the one file just written is read, not 10,000).
    Listing commands on a long history then cost one directory scan and one read."""

    def __init__(self, folder: Path, shown: str,
                 listing: Sequence[tuple[str, StatKey | None]],
                 limits: Limits | None = None) -> None:
        self.folder, self.limits = folder, limits
        self.listing = listing
        names, stats = _unzip(listing)
        complete = None not in stats
        self.path = cache.cache_file("index", folder) if complete and listing else None
        self.bodies = cache.cache_file("bodies", folder)
        self.key = b""
        self.newest = 0
        if self.path is None:
            return
        # A digest of the listing, not the listing: 10,000 names and stats load and compare
        # slower than they hash. The names joined by NUL (which no name holds), then every
        # stat as four 64-bit integers: equal listings give equal bytes, and the work is
        # done in C (marshal writes an integer this large digit by digit).
        flat = array.array("q")
        try:
            flat.extend(itertools.chain.from_iterable(stats))  # type: ignore[arg-type]
        except OverflowError:  # an inode number past 2**63: not indexed
            self.path = None
            return
        listed = hashlib.blake2b("\0".join(names).encode("utf-8", "surrogateescape"),
                                 digest_size=20)
        listed.update(flat.tobytes())
        self.key = cachefile.key("index", shown, listed.hexdigest())
        self.newest = max(max(flat[1::4]), max(flat[2::4]))  # the newest mtime or ctime

    def load(self) -> tuple[Graph, dict[str, str]] | None:
        """The graph and the files `save` stored for this very listing, or None."""
        if self.path is None:
            return None
        got = cachefile.read(self.path, self.key)
        if got is None:
            return None
        try:
            columns, entries, paths = got[1]
            (ids_column, parents, extra, order_column, sums, heads, tips, tags, replaced_by,
             bodies, owns, racy) = columns
            if not (type(ids_column) is type(parents) is type(extra) is type(order_column)
                    is type(sums) is type(paths) is type(bodies) is type(owns) is str
                    and type(heads) is type(tips) is type(entries) is list
                    and type(tags) is type(replaced_by) is type(racy) is dict):
                return None
            checked_ns = None
            if self.newest >= got[0] - cache._RACY_NS:
                checked_ns = time.time_ns()  # (before the bytes are read: see `_settle`)
                if not self._same_bytes(got[0], racy):
                    return None
            ids = ids_column.split("\n")
            n = len(ids)
            if not (len(entries) == n
                    and all(_rows(c, n) for c in (parents, extra, sums, paths, owns))
                    and set(map(type, entries)) <= {bytes}):
                return None
            order = order_column.split("\n")
            files = dict(zip(ids, paths.split("\n"), strict=True))
            by_id = cache._LazyMap(dict(zip(ids, range(n), strict=True)), entries, sums, owns,
                                   files, lambda: self._bodies(bodies, n))
            graph = Graph.restored(by_id, replaced_by, tags, order, heads, tips,
                                   _edges(ids, parents, extra))
        except (TypeError, ValueError):
            return None
        if checked_ns is not None:
            self._settle(checked_ns, got[1], racy)
        return graph, files

    def _settle(self, checked_ns: int, data: tuple[Sequence[object], list[bytes], str],
                racy: dict[str, str]) -> None:
        """Write the index again, trusting every file by its stat, once the files it could
        not trust so (changed within the racy window of its writing: a fresh clone indexed
        at once) were read, found to hold its bytes, and are past that window since: every
        later command would read them all again (~35 ms on 1,000 files). A change made
        after `checked_ns` (taken before they were read) gives a file a time past the
        window, so a stat no longer the listing's (the index's key); one made before it
        changed the bytes read, and the index was not loaded."""
        if not racy or self.path is None or self.newest >= checked_ns - cache._RACY_NS:
            return
        columns, entries, paths = data
        cachefile.write(self.path, self.key, ((*columns[:-1], {}), entries, paths))

    def _racy_names(self, saved_ns: int) -> list[str]:
        """The files of the listing changed within the racy window of `saved_ns`."""
        since = saved_ns - cache._RACY_NS
        return [name for name, st in self.listing
                if st is not None and max(st[1], st[2]) >= since]

    def _same_bytes(self, saved_ns: int, racy: dict[str, str]) -> bool:
        """Whether each file changed within the racy window of the index's writing still holds
        the bytes the index was written from (`racy`: name → their content key)."""
        from .source import SourceError, read_bytes

        for name in self._racy_names(saved_ns):
            known = racy.get(name)
            path = self.folder / name
            try:
                data = read_bytes(path, self.limits)
            except SourceError:
                return False
            if known is None or cache.file_key(path, data) != known:
                return False
        return True

    def _bodies(self, token: str, n: int) -> list[bytes] | None:
        """The encoded bodies the index was written with (`token` names them), or None."""
        got = None if self.bodies is None else cachefile.read(
            self.bodies, cachefile.key("bodies", token))
        if got is None or type(got[1]) is not list or len(got[1]) != n or not set(
                map(type, got[1])) <= {bytes}:
            return None
        bodies: list[bytes] = got[1]
        return bodies

    def save(self, graph: Graph, files: dict[str, str], sources: Mapping[str, str],
             packed_by_key: Mapping[str, cache.Packed] | None = None) -> None:
        """Record a graph (its changesets packed, to be revived one by one) and the file of
        each changeset for this listing; `sources` gives each changeset's content key, and
        `packed_by_key` the entries the parse cache packed already, by content key (a
        changeset parsed in this process is not packed a second time)."""
        by_id = graph.by_id
        ids = list(by_id)
        if self.path is None or not ids or list(files) != ids:
            return
        if self.bodies is None:
            return
        # The files the index cannot trust by their stat, kept with their content key (the
        # window from now: the index's own time is later, its window no wider).
        racy: dict[str, str] = {}
        now = time.time_ns()
        recent = self._racy_names(now) if self.newest >= now - cache._RACY_NS else []
        if recent:
            of_name = {os.path.basename(path): cid for cid, path in files.items()}
            for name in recent:
                key = sources.get(of_name.get(name, ""))
                if key is None:
                    return
                racy[name] = key
        known = packed_by_key or {}

        def packed_of(cs: Changeset) -> cache.Packed:
            key = sources.get(cs.id, "")
            entry = known.get(key)
            if entry is not None and entry[0] == header_of(cs):
                return entry
            return cache.pack(cs, key)

        packed = [packed_of(by_id[cid]) for cid in ids]
        every = graph.all_parents
        columns = [
            _column(ids, " "),
            _column([" ".join(by_id[cid].parents) for cid in ids]),
            _column([" ".join(every[cid][len(by_id[cid].parents):]) for cid in ids]),
            _column(graph.order),
            _column([p[2] for p in packed]),
            _column([files[cid] for cid in ids]),
            _column([p[6].hex() for p in packed]),  # what the memo's keys chain (`own_key`)
        ]
        if None in columns:
            return
        ids_column, parents, extra, order, sums, paths, owns = columns
        # The bodies in a file of their own, read only when a body is wanted (a listing
        # wants none): named by a token of this index, written first, so that an index is
        # never paired with another one's bodies (a body is also checked against its digest).
        token = os.urandom(16).hex()
        cachefile.write(self.bodies, cachefile.key("bodies", token), [p[5] for p in packed])
        entries = [marshal.dumps((*p[:5], b"", b"")) for p in packed]
        cachefile.write(self.path, self.key, (
            (ids_column, parents, extra, order, sums, list(graph.heads), list(graph.tips),
             dict(graph.tags), dict(graph.replaced_by), token, owns, racy), entries, paths))


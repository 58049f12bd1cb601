"""A small persistent mapping: an update copies one of 64 buckets, not the whole map.

Replaying 10,000 changesets over a schema of 2,000 tables made a full dict copy per operation
the hottest thing in validate; buckets make an update ~30x cheaper while keeping the state
immutable. Keys are placed by a CRC32 of their text, so iteration order is the same in every
process (Python's own string hashing is randomised per process). A stored schema keeps its
buckets (memo.py), so this file is part of the cache's build key (cachefile._DEFINITION):
changing `slot` discards old caches instead of misreading them.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, ValuesView
from typing import Any, Generic, TypeVar
from zlib import crc32

K = TypeVar("K")
V = TypeVar("V")
BUCKETS = 64


def slot(key: object) -> int:
    """The bucket of `key`: for the (schema, name) keys of a schema, a CRC32 of the name's
    UTF-8 chained from the schema's (no repr: replay computes ~30 slots per changeset);
    for any other key, of its repr."""
    if type(key) is tuple and len(key) == 2:
        schema, name = key
        if type(name) is str:
            if schema is None:
                return crc32(name.encode()) & (BUCKETS - 1)
            if type(schema) is str:
                return crc32(name.encode(), crc32(schema.encode()) ^ 1) & (BUCKETS - 1)
    return crc32(repr(key).encode()) & (BUCKETS - 1)


class PMap(Mapping[K, V], Generic[K, V]):
    """An immutable mapping with cheap `set` and `delete` returning new maps.

    A map can also be `lazy`: its buckets are built on first use by a loader (a cache that
    keeps a long history's schema decodes only the buckets an operation touches). Maps made
    from it by `set` and `delete` share the loader for the buckets they did not change."""

    __slots__ = ("_buckets", "_len", "_loader")

    def __init__(self, items: Iterable[tuple[K, V]] = ()) -> None:
        buckets: list[dict[K, V] | None] = [{} for _ in range(BUCKETS)]
        for key, value in items:
            buckets[slot(key)][key] = value  # type: ignore[index]
        self._buckets = buckets
        self._len = sum(len(b) for b in buckets if b is not None)
        self._loader: Callable[[int], dict[K, V]] | None = None

    @classmethod
    def _of(cls, buckets: list[dict[K, V] | None], length: int,
            loader: Callable[[int], dict[K, V]] | None) -> PMap[K, V]:
        new: PMap[K, V] = cls.__new__(cls)
        new._buckets = buckets
        new._len = length
        new._loader = loader
        return new

    @classmethod
    def lazy(cls, length: int, loader: Callable[[int], dict[K, V]]) -> PMap[K, V]:
        """A map of `length` items whose bucket `i` is `loader(i)`, called on first use."""
        return cls._of([None] * BUCKETS, length, loader)

    @property
    def loader(self) -> Callable[[int], dict[K, V]] | None:
        """What builds the buckets still to be loaded (None: all are built)."""
        return self._loader

    def bucket(self, i: int) -> dict[K, V]:
        """Bucket `i` (built now if it is still to be loaded); not to be changed."""
        b = self._buckets[i]
        if b is None:
            assert self._loader is not None
            b = self._buckets[i] = self._loader(i)
        return b

    def pending(self, i: int) -> bool:
        """Whether bucket `i` is still as the loader has it, not yet built."""
        return self._buckets[i] is None

    # The three lookups below inline `bucket`: replay calls them for every operation.

    def __getitem__(self, key: K) -> V:
        i = slot(key)
        b = self._buckets[i]
        return (self.bucket(i) if b is None else b)[key]

    def get(self, key: K, default: Any = None) -> Any:
        """The value, or `default`."""
        i = slot(key)
        b = self._buckets[i]
        return (self.bucket(i) if b is None else b).get(key, default)

    def __contains__(self, key: object) -> bool:
        i = slot(key)
        b = self._buckets[i]
        return key in (self.bucket(i) if b is None else b)

    def __iter__(self) -> Iterator[K]:
        for i in range(BUCKETS):
            yield from self.bucket(i)

    def __len__(self) -> int:
        return self._len

    def items(self) -> ItemsView[K, V]:
        """The items, read bucket by bucket (not a lookup of each key)."""
        return _Items(self)

    def values(self) -> ValuesView[V]:
        """The values, read bucket by bucket (not a lookup of each key)."""
        return _Values(self)

    def __repr__(self) -> str:
        return f"PMap({dict(self.items())!r})"

    def set(self, key: K, value: V) -> PMap[K, V]:
        """A new map with `key` set to `value`."""
        i = slot(key)
        bucket = dict(self.bucket(i))
        grew = key not in bucket
        bucket[key] = value
        buckets = list(self._buckets)
        buckets[i] = bucket
        return PMap._of(buckets, self._len + grew, self._loader)

    def delete(self, key: K) -> PMap[K, V]:
        """A new map without `key` (the same map when it is absent)."""
        i = slot(key)
        if key not in self.bucket(i):
            return self
        bucket = dict(self.bucket(i))
        del bucket[key]
        buckets = list(self._buckets)
        buckets[i] = bucket
        return PMap._of(buckets, self._len - 1, self._loader)


class _Items(ItemsView[K, V]):
    """A PMap's items view; its iteration reads the buckets."""

    __slots__ = ("_pmap",)

    def __init__(self, pmap: PMap[K, V]) -> None:
        super().__init__(pmap)
        self._pmap = pmap

    def __iter__(self) -> Iterator[tuple[K, V]]:
        m = self._pmap
        for i in range(BUCKETS):
            yield from m.bucket(i).items()


class _Values(ValuesView[V]):
    """A PMap's values view; its iteration reads the buckets."""

    __slots__ = ("_pmap",)

    def __init__(self, pmap: PMap[Any, V]) -> None:
        super().__init__(pmap)
        self._pmap = pmap

    def __iter__(self) -> Iterator[V]:
        m = self._pmap
        for i in range(BUCKETS):
            yield from m.bucket(i).values()

"""A schema state as the memo stores it, and back: its tables in the pmap's buckets, each
bucket JSON text (decoded and checked when first used), a digest over them, and the index
and reference maps; buckets unchanged since a schema stored earlier in the run are not
encoded again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import UsageError
from .pmap import BUCKETS, PMap, slot

if TYPE_CHECKING:
    from .state import SchemaState, Table, TableKey

FORMAT = [2, __version__]  # each memo file's "format" (the layout and the build that wrote it)


def _hash(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def file_text(data: dict[str, Any]) -> str:
    return json.dumps({"format": FORMAT, **data}, separators=(",", ":"))


def state_file(key: str, state: SchemaState, encoded: Encoded | None = None) -> str:
    """The text of the file `Memo.put_state` writes for `state` under `key`."""
    return file_text(state_data(key, state, encoded))


class _Buckets:
    """The stored buckets of a schema's tables, each decoded (and checked) on first use."""

    def __init__(self, texts: list[str], path: Path) -> None:
        self.texts = texts
        self.path = path
        self.decoded: dict[int, dict[TableKey, Table]] = {}

    def __call__(self, i: int) -> dict[TableKey, Table]:
        from .plaindata import decode
        from .state import Table

        if i not in self.decoded:
            try:
                tables = [decode(Table, t) for t in json.loads(self.texts[i] or "[]")]
                if any(slot(t.key) != i for t in tables):
                    raise ValueError("a table in the wrong bucket")
            except (ValueError, TypeError) as exc:
                raise UsageError(f"the cache file {self.path} is damaged: {exc}",
                                 hint="delete it: it is only a cache") from None
            self.decoded[i] = {t.key: t for t in tables}
        return self.decoded[i]


# id(bucket) → (the bucket, its text): buckets encoded for one stored schema, for the next
# one stored in the same run (the schemas before and after a head share all but a few).
Encoded = dict[int, tuple[object, str]]


def _texts(tables: PMap[TableKey, Table], encoded: Encoded) -> list[str]:
    """Each bucket's tables as JSON text: as stored, where the bucket is unchanged since."""
    from .plaindata import encode

    loader = tables.loader
    stored = loader if isinstance(loader, _Buckets) else None
    out = []
    for i in range(BUCKETS):
        if stored is not None and (tables.pending(i) or tables.bucket(i) is stored.decoded.get(i)):
            out.append(stored.texts[i])
            continue
        bucket = tables.bucket(i)
        known = encoded.get(id(bucket))
        if known is not None and known[0] is bucket:
            out.append(known[1])
            continue
        text = json.dumps([encode(t) for t in bucket.values()], separators=(",", ":"))
        encoded[id(bucket)] = (bucket, text)
        out.append(text)
    return out


def state_data(key: str, state: SchemaState, encoded: Encoded | None = None) -> dict[str, Any]:
    from .plaindata import encode

    texts = _texts(state.tables, {} if encoded is None else encoded)
    return {"key": key, "tables": len(state.tables), "buckets": texts,
            "digest": _hash(*texts),
            "owner": [[*k, sorted(v, key=repr)] for k, v in state.index_tables.items()],
            "referrers": [[*k, sorted(v, key=repr)] for k, v in state.referrers.items()],
            "sequences": [encode(s) for s in state.sequences.values()]}


def stored_state(data: Any, key: str, path: Path) -> SchemaState:
    """The schema of a stored file: its buckets checked whole against their digest now, each
    decoded when first used; the index and reference maps checked and built now."""
    from .state import SchemaState

    if not isinstance(data, dict) or data.get("key") != key:
        raise ValueError("not this state")
    texts, count = data.get("buckets"), data.get("tables")
    if (not isinstance(texts, list) or len(texts) != BUCKETS or type(count) is not int
            or not all(isinstance(t, str) for t in texts) or data.get("digest") != _hash(*texts)):
        raise ValueError("damaged")
    return SchemaState.assembled(PMap.lazy(count, _Buckets(texts, path)),
                                 _table_sets(data, "owner"), _table_sets(data, "referrers"),
                                 _sequences(data))


def _sequences(data: dict[str, Any]) -> PMap[TableKey, Any]:
    """A stored state's sequences, checked as they are read."""
    from . import ir
    from .plaindata import decode

    stored = data.get("sequences")
    if not isinstance(stored, list):
        raise ValueError("damaged sequences")
    found = [decode(ir.CreateSequence, s) for s in stored]
    return PMap(((s.schema, s.name), s) for s in found)


def _table_sets(data: dict[str, Any], field: str) -> PMap[Any, frozenset[TableKey]]:
    """A stored map of (schema, name) → a set of tables, checked as it is read."""
    return PMap(((_name(r[0]), _text(r[1])), frozenset((_name(s), _text(n)) for s, n in r[2]))
                for r in _rows(data, field, 3))


def _rows(data: dict[str, Any], field: str, width: int) -> list[list[Any]]:
    rows = data.get(field)
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == width
                                             for r in rows):
        raise ValueError(f"damaged {field}")
    return rows


def _name(value: Any) -> str | None:
    return None if value is None else _text(value)


def _text(value: Any) -> str:
    if type(value) is str:
        return value
    raise ValueError("damaged name")

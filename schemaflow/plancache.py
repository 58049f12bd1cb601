"""Plans kept whole once rendered: a run whose plan was rendered before, for the same
database and from the same files, sends the statements rendered then.

A database built from empty again and again (each test run's, each CI job's on a warm
cache, each new environment's) runs the same plan every time. Rendering it is CPU spent
again for the same text, and on two cores it competes with the database server for the
second one (`planstream` renders it in a forked process while the run sends).

A kept plan is found by the key of its last item (`planstream.item_keys`): that key hashes
what the plan renders for (`planstream.context`: the database's kind and server version, the
driver and its dialect's settings, SQLAlchemy's and this schemaflow's code), the direction,
the changesets applied before the run and every changeset of the plan in order, by their own
keys (header and body). So a kept plan is one rendered on the very schema each of its items
meets now. Only a plan whose every schema is built from the changesets it runs is kept
(`planstream.keepable`: a database built from empty, or rolled back to base), rendered on
schemas replayed in that run from those changesets, each compared with its file as it is
rendered (`History.from_file`), never on a schema the memo remembers (which the cache folder
holds, unsigned). Each item keeps the content key of the bytes its changeset was parsed
from, and each file is read again and compared before the plan is used: the statements sent
are those those bytes render to, whatever the cache folder says. Anything that differs (a
file, a key, a file of the wrong shape) and the plan is rendered as if none were kept.

Kept in the memo's folder as cache files (`cachefile`: sealed, marshal of plain data, only
in a folder only this user can write), the newest `KEEP`. The cache folder alone decides
nothing that runs: a cache restored from elsewhere (a CI cache step) may be stale or
forged, and then costs time, never a different schema. So a kept plan is signed (HMAC-SHA256)
with a key of this machine's that lives outside the cache folder, in the user's state folder
(`SCHEMAFLOW_STATE_DIR`, else `$XDG_STATE_HOME/schemaflow`, else
`~/.local/state/schemaflow`; created 0700, the key 0600, both checked as the cache's are, and
the key refused when others can read it, or when the folder lies in the cache folder; a key
of the wrong size, a crash's, made again), and one signed with another key, or unsigned, is
not used. A fresh machine (a CI job's) makes a new key, so a restored cache's plans are
rendered again there.

Only plans whose every statement is text, or a data statement whose values are plain
(strings, numbers, bytes, None) or dates, times, decimals and UUIDs (kept as their text,
read back as the same value of the same type); a plan with any other value is not kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import hmac
import marshal
import os
import secrets
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import cachefile

_KEY_BYTES = 32

if TYPE_CHECKING:
    from .history import History
    from .plans import Direction, PlanItem

KEEP = 8
_PLAIN = frozenset({str, int, float, bool, bytes, type(None)})
_DATES = (dt.datetime, dt.date, dt.time)
_TEXTS = frozenset({*_DATES, decimal.Decimal, uuid.UUID})
_BY_NAME = {kind.__name__: kind for kind in _TEXTS}


class _Unkept(Exception):
    """A value that is not written down (the plan is not kept)."""


def _value(v: Any) -> Any:
    """A statement's value as plain data: as it is, or (the type's name, its text) for the
    types a driver adapts (a tuple is never a value of its own here)."""
    kind = type(v)
    if kind in _PLAIN:
        return v
    zone = getattr(v, "tzinfo", None)
    if kind in _TEXTS and (zone is None or type(zone) is dt.timezone):
        return (kind.__name__, v.isoformat() if kind in _DATES else str(v))
    raise _Unkept


def _revived(v: Any) -> Any:
    if type(v) is not tuple:
        return v
    name, text = v
    kind = _BY_NAME[name]
    return kind.fromisoformat(text) if kind in _DATES else kind(text)


def _params(params: Any) -> Any:
    if type(params) is dict:
        if not all(isinstance(k, str) for k in params):
            raise _Unkept
        return {str(k): _value(v) for k, v in params.items()}  # (a name may be a subclass)
    if type(params) is tuple:
        return tuple(map(_value, params))
    raise _Unkept


def _revived_params(params: Any) -> Any:
    if type(params) is dict:
        return {k: _revived(v) for k, v in params.items()}
    return tuple(map(_revived, params))


def _encoded(item: PlanItem, source: str | None) -> tuple[Any, ...] | None:
    from .plans import Bound

    steps: list[tuple[Any, ...]] = []
    for s in item.steps:
        if type(s.sql) is str:
            steps.append((s.sql, None, None, s.transactional, s.compiled))
        elif isinstance(s.sql, Bound) and type(s.sql.sql) is str:
            try:
                params = _params(s.sql.params)
            except _Unkept:
                return None
            steps.append((s.sql.sql, params, s.sql.shown, s.transactional, s.compiled))
        else:
            return None
    if source is None:
        return None
    return (item.changeset.id, source, item.checksum, item.transactional, tuple(steps))


def _state_folder() -> Path:
    explicit = os.environ.get("SCHEMAFLOW_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return Path(base) / "schemaflow"


def _trusted(path: Path, kind: str) -> bool:
    """Whether `path` is ours alone: as the cache's files (`cachefile.unsafe`), and for the
    key, not readable by others either."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return cachefile.unsafe(st, kind) is None and not (kind == "file" and st.st_mode & 0o077)


def _inside(folder: Path, other: Path | None) -> bool:
    if other is None:
        return False
    try:
        return folder.resolve().is_relative_to(other.resolve())
    except (OSError, RuntimeError):
        return True


def _make_key(folder: Path, path: Path, *, replace: bool) -> None:
    """Write a new key whole (`replace`: over a damaged one; else only where none is yet,
    so that two runs making it at once both use the one written first)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")  # (mode 0600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(_KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())  # (a crash leaves a whole key or none)
        if replace:
            os.replace(tmp, path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def machine_key() -> bytes | None:
    """This machine's key for kept plans (made on first use), or None where the state
    folder cannot be used (or lies in the cache folder, which a cache restored from
    elsewhere would bring it with): then no plan is kept or used."""
    folder = _state_folder()
    path = folder / "plan-key"
    try:
        if _inside(folder, cachefile.folder()):
            return None
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(folder, "folder"):
            return None
        for attempt in range(2):
            if not path.exists():
                _make_key(folder, path, replace=False)
            if not _trusted(path, "file"):
                return None
            with open(path, "rb") as fh:
                key = fh.read(_KEY_BYTES + 1)
            if len(key) == _KEY_BYTES:
                return key
            if attempt == 0:  # (damaged: what it signed is of no use now either)
                _make_key(folder, path, replace=True)
    except OSError:
        return None
    return None


def _signature(secret: bytes, file_key: bytes, blob: bytes) -> bytes:
    return hmac.new(secret, file_key + blob, hashlib.sha256).digest()


def where(history: History, key: str) -> tuple[Path, bytes] | None:
    """The file a plan is kept in under `key`, and its cache file key; None without a
    cache folder."""
    folder = history.memo.dir
    return None if folder is None else (folder / f"plan-{key}", cachefile.key("plan", key))


def store(history: History, key: str, items: Sequence[PlanItem],
          sent: Mapping[str, str], secret: bytes) -> None:
    """Keep a plan rendered in this run, signed with `secret` (`machine_key`), unless it
    cannot be written as plain data. The content key of each changeset's file as it was
    parsed for rendering: `sent` by the process that rendered it, else this one's
    (`History.read_key`)."""
    place = where(history, key)
    if place is None:
        return
    data = []
    for item in items:
        cid = item.changeset.id
        encoded = _encoded(item, sent.get(cid) or history.read_key(cid))
        if encoded is None:
            return
        data.append(encoded)
    path, file_key = place
    blob = marshal.dumps(data)
    cachefile.write(path, file_key, (_signature(secret, file_key, blob), blob))
    history.memo.prune("plan-*", KEEP)


def _signed(place: tuple[Path, bytes] | None, secret: bytes) -> bytes | None:
    """What the cache file at `place` holds, when signed with `secret` (`_signature`)."""
    if place is None:
        return None
    path, file_key = place
    found = cachefile.read(path, file_key)
    if found is None or type(found[1]) is not tuple or len(found[1]) != 2:
        return None
    signature, blob = found[1]
    if type(blob) is not bytes or type(signature) is not bytes or not hmac.compare_digest(
            signature, _signature(secret, file_key, blob)):
        return None
    return blob


def kept(history: History, key: str, direction: Direction, ids: Sequence[str],
         secret: bytes) -> tuple[PlanItem, ...] | None:
    """The plan of `ids` kept under `key`, when signed with `secret` and every file still
    holds the bytes it was rendered from; else None."""
    from .plans import Bound, PlanItem, Step

    blob = _signed(where(history, key), secret)
    if blob is None:
        return None
    g = history.graph
    items = []
    try:
        data = marshal.loads(blob)  # (signed above: written by `store` on this machine)
        if type(data) is not list or len(data) != len(ids):
            return None
        for cid, (kept_id, source, checksum, transactional, steps) in zip(ids, data,
                                                                          strict=True):
            if kept_id != cid or not history.holds(cid, source):
                return None
            items.append(PlanItem(g[cid], direction, (), tuple(
                Step(sql if params is None else Bound(sql, _revived_params(params), shown), tx,
                     compiled)
                for sql, params, shown, tx, compiled in steps), transactional, checksum))
    except (TypeError, ValueError, KeyError, EOFError):  # of another shape: not used
        return None
    history.memo.touch(f"plan-{key}")
    return tuple(items)


# --- the version table's statements, for a run through the driver alone -----------------------


def _recipe_place(history: History, ctx: str, table: str,
                  schema: str | None) -> tuple[Path, bytes] | None:
    folder = history.memo.dir
    if folder is None:
        return None
    name = hashlib.blake2b(repr((ctx, table, schema)).encode(), digest_size=16).hexdigest()
    return folder / f"rows-{name}", cachefile.key("rows", name)


def store_recipe(history: History, ctx: str, recipe: dict[str, Any], secret: bytes) -> None:
    """Keep the version table's statements (`rowrecipe.make`) compiled for `ctx`, signed
    with `secret` as a plan is: what the cache folder alone holds never runs."""
    place = _recipe_place(history, ctx, recipe["table"], recipe["schema"])
    if place is None:
        return
    path, file_key = place
    blob = marshal.dumps(recipe)
    cachefile.write(path, file_key, (_signature(secret, file_key, blob), blob))
    history.memo.prune("rows-*", KEEP)


def recipe(history: History, ctx: str, table: str, schema: str | None,
           secret: bytes) -> dict[str, Any] | None:
    """The version table's statements kept for `ctx`, when signed with `secret`."""
    blob = _signed(_recipe_place(history, ctx, table, schema), secret)
    if blob is None:
        return None
    try:
        data = marshal.loads(blob)  # (signed above: written by `store_recipe` here)
    except (EOFError, ValueError, TypeError):
        return None
    if type(data) is not dict or (data.get("table"), data.get("schema")) != (table, schema):
        return None
    return data

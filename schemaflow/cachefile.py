"""The cache's files: where they live, whose they must be, and how one is written and read
back whole and unchanged, or not at all.

A cache folder or file that is not owned by the current user, or that others can write, is
not used (one warning, then the changesets are parsed as if there were no cache): whoever
can write there could otherwise decide what schemaflow runs. The folder is created 0700 and
each file 0600.

A file is a fixed header, then marshal data of plain types only (tuples, lists, dicts,
strings, bytes, numbers, None): `MAGIC`, the 32-byte key of what the file is for (which
includes `build()`, so that another build of schemaflow never reads it), the time it was
written, and a SHA-256 of all that and the data. The digest is checked before the data is
unmarshalled, so marshal only ever sees bytes this module wrote; nothing read is a class, a
function or code to call, and a file that fails any check is simply not used.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import stat
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__

MAGIC = b"SFCACHE\x01"
_HEAD = len(MAGIC) + 32 + 8 + 32
_PACKAGE = Path(__file__).resolve().parent
# What decides how a file's bytes become a cached changeset, besides the version: a changed
# IR with an unchanged version (an editable install, a commit between releases) is another
# build. The source itself is hashed: a stat would change with every checkout. The stored
# schemas (memo.py) are Tables encoded by plaindata.py in the buckets pmap.py places them in.
_DEFINITION = ("typespec.py", "graph.py", "cache.py", "cacheentry.py", "cachefile.py",
               "fileload.py", "folderindex.py", "history.py", "validate.py", "schemacheck.py",
               "source/reading.py", "pmap.py", "memo.py", "plaindata.py", "state/schema.py")


class CacheWarning(UserWarning):
    """A cache folder or file that is not used because it is not safe to trust."""


_warned: set[str] = set()


def _warn(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(CacheWarning(message), stacklevel=3)


def _hash_source(names: list[str]) -> hashlib._Hash:
    """This schemaflow's version and the named source files (OSError when one cannot be read)."""
    digest = hashlib.sha256(__version__.encode())
    for name in names:
        digest.update(name.encode() + b"\0" + (_PACKAGE / name).read_bytes())
    return digest


@functools.cache
def whole_build() -> bytes | None:
    """A hash of the version and of every module of this schemaflow (None when one cannot be
    read): for what any module may change, such as the history check's findings."""
    try:
        return _hash_source(sorted(p.relative_to(_PACKAGE).as_posix()
                                   for p in _PACKAGE.rglob("*.py"))).digest()
    except OSError:
        return None


@functools.cache
def build() -> bytes | None:
    """A hash of this schemaflow's version and of the source that defines the cached data
    (None when that source cannot be read: then nothing is cached)."""
    names = sorted(f"ir/{p.name}" for p in (_PACKAGE / "ir").glob("*.py")) + list(_DEFINITION)
    try:
        digest = _hash_source(names)
        for schema in (_PACKAGE / "schemas", _PACKAGE.parent / "schemas"):
            if (schema / "changeset.schema.json").is_file():
                digest.update((schema / "changeset.schema.json").read_bytes())
                break
    except OSError:
        return None
    return digest.digest()


def unsafe(st: os.stat_result, kind: str) -> str | None:
    """Why a folder or file with this stat must not be trusted (None: it may)."""
    if kind == "folder" and not stat.S_ISDIR(st.st_mode):
        return "is not a folder"
    if kind == "file" and not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if os.name != "posix":  # no owners and modes to check the POSIX way
        return None
    if st.st_uid != os.geteuid():
        return f"is owned by another user (uid {st.st_uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"can be written by others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _refuse(kind: str, path: Path, why: str) -> None:
    _warn(f"the cache {kind} {path} {why}: it is not used, the changesets are parsed "
          "instead; remove it, or set SCHEMAFLOW_CACHE_DIR to a folder only you can write")


def folder() -> Path | None:
    """The cache folder (it may not exist yet), or None: turned off, or not safe to use."""
    if os.environ.get("SCHEMAFLOW_NO_CACHE") or build() is None:
        return None
    explicit = os.environ.get("SCHEMAFLOW_CACHE_DIR")
    if explicit:
        path = Path(explicit)
    else:
        base = (os.environ.get("XDG_CACHE_HOME")
                or os.path.join(os.path.expanduser("~"), ".cache"))
        path = Path(base) / "schemaflow"
    try:
        why = unsafe(os.stat(path), "folder")
    except FileNotFoundError:
        return path
    except OSError as exc:
        why = f"cannot be used ({exc.strerror})"
    if why:
        _refuse("folder", path, why)
        return None
    return path


def key(*parts: str) -> bytes:
    """The key of a cache file: what it is for, in this build."""
    digest = hashlib.sha256(build() or b"")
    for part in parts:
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return digest.digest()


def _sealed(file_key: bytes, saved_ns: int, data: bytes) -> bytes:
    head = MAGIC + file_key + saved_ns.to_bytes(8, "big")
    digest = hashlib.sha256(head)
    digest.update(data)  # not `head + data`: a copy of megabytes for every listing
    return head + digest.digest()


def read(path: Path, file_key: bytes,
         usable: Callable[[int], bool] = lambda saved_ns: True) -> tuple[int, Any] | None:
    """(the time it was written, its data) of the file at `path` written for `file_key`, or
    None: missing, not safe to trust, of another key, not `usable` at its time, or damaged."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        why = unsafe(os.fstat(fd), "file")
        if why:
            _refuse("file", path, why)
            return None
        try:
            head = fh.read(_HEAD)
            if head[:len(MAGIC) + 32] != MAGIC + file_key or len(head) != _HEAD:
                return None
            saved_ns = int.from_bytes(head[len(MAGIC) + 32:-32], "big")
            if not usable(saved_ns):
                return None
            data = fh.read()
        except OSError:
            return None
    if _sealed(file_key, saved_ns, data) != head:
        return None
    try:
        return saved_ns, marshal.loads(data)  # checked above: bytes written by `write`
    except Exception:  # a file that cannot be read is not used, whatever failed
        return None


def write(path: Path, file_key: bytes, value: Any) -> None:
    """Write a cache file whole or not at all, in a folder only this user can write (errors
    are ignored: it is only a cache)."""
    import tempfile  # only when writing: listings served by the index never write

    try:
        data = marshal.dumps(value)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        why = unsafe(os.stat(path.parent), "folder")
        if why:  # created meanwhile by someone else
            _refuse("folder", path.parent, why)
            return
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_sealed(file_key, time.time_ns(), data))
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError):
        pass

"""A cache of parsed, validated changesets, keyed by each file's content hash.

Loading 10,000 changesets means 10,000 YAML parses and schema checks; with the cache it is
10,000 small reads and hashes. An entry is found by the hash of the file's bytes, so an edit
can never be served stale. The cache lives in the user's cache folder, never in the project:
a linter must be safe to run on an untrusted pull request, and a cache file shipped inside a
repository must not be able to inject anything. `SCHEMAFLOW_CACHE_DIR` moves it;
`SCHEMAFLOW_NO_CACHE=1` turns it off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path

from . import __version__
from .ir import Changeset

_FORMAT = 1


def _cache_dir() -> Path | None:
    if os.environ.get("SCHEMAFLOW_NO_CACHE"):
        return None
    explicit = os.environ.get("SCHEMAFLOW_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "schemaflow"


def content_key(data: bytes) -> str:
    """The cache key of a file's bytes."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


class ParseCache:
    """Content hash → parsed Changeset, for one changesets folder."""

    def __init__(self, folder: Path) -> None:
        directory = _cache_dir()
        name = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:16]
        self.path = directory / f"changesets-{name}.pickle" if directory else None
        self.entries: dict[str, Changeset] = self._read()
        self.used: dict[str, Changeset] = {}
        self.dirty = False

    def _read(self) -> dict[str, Changeset]:
        if self.path is None:
            return {}
        try:
            with open(self.path, "rb") as fh:
                header, entries = pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError,
                AttributeError, ImportError):
            return {}
        if header != (_FORMAT, __version__) or not isinstance(entries, dict):
            return {}
        return entries

    def get(self, key: str) -> Changeset | None:
        """The cached changeset for these file contents."""
        cs = self.entries.get(key)
        if cs is not None:
            self.used[key] = cs
        return cs

    def put(self, key: str, cs: Changeset) -> None:
        """Remember a changeset that loaded cleanly."""
        self.used[key] = cs
        self.dirty = True

    def save(self) -> None:
        """Write back the entries used in this run (atomically; errors are ignored)."""
        if self.path is None or not (self.dirty or len(self.used) != len(self.entries)):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(((_FORMAT, __version__), _strip(self.used)), fh,
                            protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
        except OSError:
            pass


def _strip(entries: Mapping[str, Changeset]) -> dict[str, Changeset]:
    return dict(entries)

"""The registry of databases: one `Dialect` per database, found by name, URL or connection.

Everything that differs by database lives in this package; code outside it asks the
registry and never compares a database's name. A new database is one module here that
calls `register`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .base import Capabilities, Dialect, Version

if TYPE_CHECKING:
    from .render import Renderer

__all__ = ["Capabilities", "Dialect", "by_name", "capabilities", "database_missing",
           "for_connection", "for_url", "names", "register", "renderer_for", "unregister"]

# Registered by the modules below; a plain dict read-only after import (tests may register
# a toy database for their own duration).
_REGISTRY: dict[str, type[Dialect]] = {}


def register(cls: type[Dialect]) -> type[Dialect]:
    """Make a database known (a class decorator); a name registered twice is an error."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"the dialect '{cls.name}' is registered already")
    _REGISTRY[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Forget a database (for tests that registered one)."""
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """The registered databases' names."""
    return tuple(_REGISTRY)


def by_name(name: str, server_version: Version | None = None) -> Dialect:
    """The database `name` at `server_version` (None: the newest); UsageError if unknown."""
    cls = _REGISTRY.get(name) or _by_scheme(name)
    if cls is None:
        raise UsageError(f"the dialect '{name}' is not supported yet",
                         hint=f"supported: {', '.join(names())}")
    return cls(server_version)


def capabilities(name: str, server_version: Version | None = None) -> Capabilities:
    """What database `name` can do at `server_version`."""
    return by_name(name, server_version).caps


def renderer_for(name: str, server_version: Version | None = None) -> Renderer:
    """The renderer of database `name` at `server_version`."""
    return by_name(name, server_version).renderer()


def _by_scheme(scheme: str) -> type[Dialect] | None:
    return next((c for c in _REGISTRY.values() if scheme in c.schemes), None)


def for_url(url: str) -> Dialect | None:
    """The database a URL names, told from its scheme without connecting (None: unknown)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    cls = _by_scheme(scheme) if "://" in url else None
    return cls() if cls else None


def database_missing(url: str) -> bool:
    """Whether the database a URL names does not exist yet (a SQLite file not yet created):
    connecting would create it, which a dry run or a listing must not do."""
    known = for_url(url)
    return known is not None and known.database_missing(url)


def for_connection(conn: Any) -> Dialect:
    """The database behind a SQLAlchemy connection, at its server's version."""
    version = tuple(v for v in conn.dialect.server_version_info or () if isinstance(v, int))
    # A variant (MariaDB) is tried before what it varies (MySQL).
    for cls in sorted(_REGISTRY.values(), key=lambda c: -len(c.__mro__)):
        if cls.matches(conn.dialect):
            return cls(version or None)
    raise UsageError(f"the database '{conn.dialect.name}' is not supported yet",
                     hint=f"supported: {', '.join(names())}")


# The databases schemaflow supports (each registers itself).
from . import mysql, postgresql, sqlite  # noqa: E402,F401

"""Testing support behind the pytest plugin: throw-away databases (`scratch_database`), the
`Runner` of a project's changesets on one of them, and the built-in checks (`checks`).
Importing this package costs nothing; its modules load SQLAlchemy when used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .databases import ScratchDatabase, scratch_database
    from .runner import Runner

__all__ = ["Runner", "ScratchDatabase", "scratch_database"]


def __getattr__(name: str) -> Any:
    if name == "Runner":
        from .runner import Runner

        return Runner
    if name in ("ScratchDatabase", "scratch_database"):
        from . import databases

        return getattr(databases, name)
    raise AttributeError(f"module 'schemaflow.testing' has no attribute {name!r}")

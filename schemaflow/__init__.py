"""schemaflow: declarative schema migrations for SQL databases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Project", "__version__"]

if TYPE_CHECKING:
    from .api import Project


def __getattr__(name: str) -> Any:
    # The API pulls in SQLAlchemy lazily; `import schemaflow` itself stays cheap.
    if name == "Project":
        from .api import Project

        return Project
    raise AttributeError(f"module 'schemaflow' has no attribute {name!r}")

"""Loading the project's SQLAlchemy models (`package.module:attribute`) for autogenerate."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from .errors import ConfigError


def load_metadata(spec: str, root: Path) -> Any:
    """The MetaData named by `spec` (a MetaData, or anything with a `.metadata`)."""
    import sqlalchemy as sa

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"models = '{spec}' must look like package.module:attribute")
    # The project folder goes first on sys.path, as for `python -m` run from it.
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(f"cannot import the models module '{module_name}': "
                          f"{type(exc).__name__}: {exc}",
                          hint=f"it is imported with {root} on sys.path") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"the models module '{module_name}' has no attribute '{attr}'")
        obj = getattr(obj, part)
    if isinstance(obj, sa.MetaData):
        return obj
    metadata = getattr(obj, "metadata", None)
    if isinstance(metadata, sa.MetaData):
        return metadata
    raise ConfigError(f"models = '{spec}' is a {type(obj).__name__}, not a SQLAlchemy "
                      "MetaData or declarative base")

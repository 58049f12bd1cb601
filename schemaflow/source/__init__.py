"""Changeset files: the only code that reads and writes them, and maps a document path back to
file:line:col."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .reading import (
    DEFAULT_MAX_BYTES,
    EXTENSIONS,
    DocPath,
    Format,
    Limits,
    SourceError,
    SourceFile,
    StatKey,
    check_link,
    check_size,
    decode,
    display_path,
    format_of,
    list_files,
    loads,
    read,
    read_bytes,
    scan,
    stat_key,
)

if TYPE_CHECKING:
    from .positions import locate
    from .writing import dumps, write
    from .yamlload import excerpt

# Imported on first use: they need yaml, which a listing served from the cache never does.
_LAZY = {"locate": "positions", "dumps": "writing", "write": "writing", "excerpt": "yamlload"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["DEFAULT_MAX_BYTES", "EXTENSIONS", "DocPath", "Format", "Limits", "SourceError",
           "SourceFile", "StatKey", "check_link", "check_size", "decode", "display_path",
           "dumps", "excerpt", "format_of", "list_files", "loads", "locate", "read",
           "read_bytes", "scan", "stat_key", "write"]

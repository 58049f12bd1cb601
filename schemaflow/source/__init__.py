"""Changeset files: the only code that reads and writes them, and maps a document path back to
file:line:col."""

from __future__ import annotations

from .positions import locate
from .reading import (
    EXTENSIONS,
    DocPath,
    Format,
    SourceError,
    SourceFile,
    StatKey,
    decode,
    display_path,
    format_of,
    list_files,
    loads,
    read,
    scan,
    stat_key,
)
from .writing import dumps, write

__all__ = ["EXTENSIONS", "DocPath", "Format", "SourceError", "SourceFile", "StatKey", "decode",
           "display_path", "dumps", "format_of", "list_files", "loads", "locate", "read", "scan",
           "stat_key", "write"]

"""Changeset files: the only code that reads and writes them, and maps a document path back to
file:line:col."""

from __future__ import annotations

from .positions import locate
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
from .writing import dumps, write
from .yamlload import excerpt

__all__ = ["DEFAULT_MAX_BYTES", "EXTENSIONS", "DocPath", "Format", "Limits", "SourceError",
           "SourceFile", "StatKey", "check_link", "check_size", "decode", "display_path",
           "dumps", "excerpt", "format_of", "list_files", "loads", "locate", "read",
           "read_bytes", "scan", "stat_key", "write"]

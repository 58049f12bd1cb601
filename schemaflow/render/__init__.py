"""Rendering operations to dialect-specific statements, and compiling them to SQL text."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import UsageError
from ..support import SUPPORTED
from .base import Renderer, Step, Steps

__all__ = ["Renderer", "Step", "Steps", "compile_step", "literal_dialect", "renderer_for",
           "sa_dialect"]


def renderer_for(dialect: str, server_version: tuple[int, ...] | None = None) -> Renderer:
    """The renderer of a dialect (by SQLAlchemy dialect name)."""
    if dialect == "sqlite":
        from .sqlite import SQLiteRenderer

        return SQLiteRenderer(server_version)
    if dialect == "postgresql":
        from .postgresql import PostgreSQLRenderer

        return PostgreSQLRenderer(server_version)
    if dialect == "mysql":
        from .mysql import MySQLRenderer

        return MySQLRenderer(server_version)
    if dialect == "mariadb":
        from .mysql import MariaDBRenderer

        return MariaDBRenderer(server_version)
    raise UsageError(f"the dialect '{dialect}' is not supported yet",
                     hint=f"supported: {', '.join(SUPPORTED)}")


def sa_dialect(name: str) -> Any:
    """A SQLAlchemy dialect instance for offline compilation (no driver needed)."""
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite.base import SQLiteDialect

        return SQLiteDialect()
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql.base import PGDialect

        return PGDialect()  # type: ignore[no-untyped-call]
    if name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql.base import MySQLDialect

        dialect = MySQLDialect()
        # Compiling for MariaDB (DROP CONSTRAINT for checks, ...) needs the flag set.
        dialect.is_mariadb = name == "mariadb"
        return dialect
    raise UsageError(f"unknown dialect '{name}'", hint=f"supported: {', '.join(SUPPORTED)}")


def literal_dialect(dialect: Any) -> Any:
    """`dialect`, writing SQL that runs as it stands, without parameters: a percent sign
    stays single. (Drivers with %s placeholders need it doubled only when parameters are
    passed, and schemaflow runs its statements, like the offline script, without any.)"""
    if not dialect.identifier_preparer._double_percents:
        return dialect
    literal = copy.copy(dialect)
    preparer = copy.copy(dialect.identifier_preparer)
    preparer.dialect = literal
    preparer._strings = {}  # quoted names memoised with doubled percents
    preparer._double_percents = False
    literal.identifier_preparer = preparer
    return literal


def compile_step(step: Step, dialect: Any) -> str:
    """The SQL text of a step for `dialect`, with values inlined."""
    if isinstance(step.sql, str):
        return step.sql.strip()
    return str(step.sql.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).strip()

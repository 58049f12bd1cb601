"""PostgreSQL: the generic ALTER forms are PostgreSQL's own; transactional DDL."""

from __future__ import annotations

from typing import ClassVar

from .base import Renderer


class PostgreSQLRenderer(Renderer):
    """PostgreSQL renders every operation with the generic statements."""

    name: ClassVar[str] = "postgresql"
    sql_dialects: ClassVar[tuple[str, ...]] = ("postgresql",)
    transactional_ddl: ClassVar[bool] = True

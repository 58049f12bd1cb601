"""Every name schemaflow gives a constraint or index: deterministic, so that any of them can
be dropped later and rolled back on every database."""

from __future__ import annotations

import hashlib

from .. import ir


def short_hash(*parts: str) -> str:
    """Eight hex digits that stand for `parts`."""
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:8]


def pk_name(table: str) -> str:
    """A primary key's default name."""
    return f"pk_{table}"


def fk_name(table: str, fk: ir.ForeignKeyDef) -> str:
    """A foreign key's default name."""
    return f"fk_{table}_{'_'.join(fk.columns)}_{fk.references.table}"


def uq_name(table: str, columns: tuple[str, ...]) -> str:
    """A unique constraint's default name."""
    return f"uq_{table}_{'_'.join(columns)}"


def ck_name(table: str, expression: str) -> str:
    """A check constraint's default name."""
    return f"ck_{table}_{short_hash(expression)}"


def ix_name(table: str, columns: tuple[str, ...]) -> str:
    """An index's default name (a column's `index: true`, or an unnamed index)."""
    return f"ix_{table}_{'_'.join(columns)}"

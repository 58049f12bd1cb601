"""Every name schemaflow gives a constraint or index: deterministic, so that any of them can
be dropped later and rolled back on every database, and short enough for every database, so
that one changeset gives the same names everywhere."""

from __future__ import annotations

import hashlib

from .. import ir

# The smallest identifier limit among the supported databases: PostgreSQL's 63 bytes (MySQL
# and MariaDB allow 64 characters, SQLite has no limit). tests/test_names.py holds it to the
# registered databases' limits.
MAX_NAME_BYTES = 63


def short_hash(*parts: str) -> str:
    """Eight hex digits that stand for `parts`."""
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:8]


def fit(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """`name` if its UTF-8 form fits in `limit` bytes, else its first `limit - 8` bytes (whole
    characters) and `_` and four hex digits of its MD5: SQLAlchemy's truncation of a naming
    convention's name, so that on PostgreSQL `create_all()` gives the same name."""
    data = name.encode()
    if len(data) <= limit:
        return name
    head = data[: limit - 8].decode(errors="ignore")  # a cut character is left out whole
    return f"{head}_{hashlib.md5(data, usedforsecurity=False).hexdigest()[-4:]}"


def pk_name(table: str) -> str:
    """A primary key's default name."""
    return fit(f"pk_{table}")


def fk_name(table: str, fk: ir.ForeignKeyDef) -> str:
    """A foreign key's default name."""
    return fit(f"fk_{table}_{'_'.join(fk.columns)}_{fk.references.table}")


def uq_name(table: str, columns: tuple[str, ...]) -> str:
    """A unique constraint's default name."""
    return fit(f"uq_{table}_{'_'.join(columns)}")


def ck_name(table: str, expression: str) -> str:
    """A check constraint's default name."""
    return fit(f"ck_{table}_{short_hash(expression)}")


def ix_name(table: str, columns: tuple[str, ...]) -> str:
    """An index's default name (a column's `index: true`, or an unnamed index)."""
    return fit(f"ix_{table}_{'_'.join(columns)}")

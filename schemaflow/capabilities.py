"""What each dialect (and server version) can do in place: data, read by rendering and linting."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

Version = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Abilities of one dialect at one server version."""

    dialect: str
    transactional_ddl: bool = True
    drop_column: bool = True
    rename_column: bool = True
    alter_column: bool = True
    alter_constraints: bool = True
    partial_index: bool = False
    check_constraints: bool = True
    comments: bool = False
    native_enum: bool = False
    concurrent_index: bool = False
    enum_add_value_in_transaction: bool = False
    max_identifier_length: int = 63


# (dialect, minimum server version, changes). Later rows override earlier ones once the
# server version reaches their minimum. A missing version (offline) means "the newest".
_TABLE: tuple[tuple[str, Version, dict[str, Any]], ...] = (
    ("sqlite", (0,), {"drop_column": False, "rename_column": False, "alter_column": False,
                      "alter_constraints": False, "partial_index": True,
                      "max_identifier_length": 1000}),
    ("sqlite", (3, 25), {"rename_column": True}),
    ("sqlite", (3, 35), {"drop_column": True}),
    ("postgresql", (0,), {"partial_index": True, "comments": True, "native_enum": True,
                          "concurrent_index": True}),
    ("postgresql", (12,), {"enum_add_value_in_transaction": True}),
    ("mysql", (0,), {"transactional_ddl": False, "comments": True, "rename_column": False,
                     "check_constraints": False, "max_identifier_length": 64}),
    ("mysql", (8, 0, 16), {"check_constraints": True}),
    ("mysql", (8,), {"rename_column": True}),
    ("mariadb", (0,), {"transactional_ddl": False, "comments": True, "rename_column": False,
                       "check_constraints": False, "max_identifier_length": 64}),
    ("mariadb", (10, 2, 1), {"check_constraints": True}),
    ("mariadb", (10, 5, 2), {"rename_column": True}),
)


def capabilities(dialect: str, version: Version | None = None) -> Capabilities:
    """The capabilities of `dialect` at server `version` (None: the newest)."""
    caps = Capabilities(dialect)
    for _name, minimum, changes in sorted((r for r in _TABLE if r[0] == dialect),
                                         key=lambda r: r[1]):
        if version is None or version >= minimum:
            caps = replace(caps, **changes)
    return caps

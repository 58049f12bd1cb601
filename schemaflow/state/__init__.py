"""The schema as plain data, replayed operation by operation: `SchemaState`, `apply(state,
op)`, and the names schemaflow gives constraints (in `naming`, the one place)."""

from __future__ import annotations

from .expressions import expression_key, expression_tokens, mentions, rename_in
from .naming import MAX_NAME_BYTES, ck_name, fit, fk_name, ix_name, pk_name, uq_name
from .schema import SchemaState, Table, TableKey
from .tables import (
    create_check_op,
    create_fk_op,
    create_table_op,
    index_clashes,
    readable_column,
    readable_create,
    rename_columns,
    table_from_create,
)
from .transitions import _APPLY, apply, apply_all, dependents, find_constraint

__all__ = ["MAX_NAME_BYTES", "_APPLY", "SchemaState", "Table", "TableKey", "apply",
           "apply_all", "ck_name", "create_check_op", "create_fk_op", "create_table_op",
           "dependents", "expression_key", "expression_tokens", "find_constraint", "fit",
           "fk_name", "index_clashes", "ix_name", "mentions", "pk_name", "readable_column",
           "readable_create", "rename_columns", "rename_in", "table_from_create", "uq_name"]

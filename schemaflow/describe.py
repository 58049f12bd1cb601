"""One line of plain text for an IR operation, for messages of the linter, the CLI and checks."""

from __future__ import annotations

from typing import Any

_SIGN = {"create": "+", "add": "+", "insert": "+", "drop": "-", "delete": "-"}


def describe(op: Any) -> str:
    """One line for an operation: `+ add_column users.bio (text)`."""
    kind = op.kind
    sign = _SIGN.get(kind.split("_", 1)[0], "~")
    table = getattr(op, "table", None)
    name = getattr(op, "name", None)
    if kind == "create_table":
        target = f"{op.name} ({', '.join(c.name for c in op.columns)})"
    elif kind == "add_column":
        target = f"{op.table}.{op.column.name} ({op.column.type})"
    elif kind in ("drop_column", "alter_column"):
        changes = ""
        if kind == "alter_column":
            parts = [f"{k}={getattr(op, k)}" for k in ("type", "nullable", "default",
                                                       "default_sql", "comment")
                     if getattr(op, k) is not None]
            parts += ["drop_default"] if op.drop_default else []
            if op.type is not None:  # (with a type: its variants and collation from now on)
                parts += [f"variants={{{', '.join(f'{v.dialect}: {v.type}' for v in op.variants)}}}"
                          ] if op.variants else []
                parts += [f"collation={op.collation}"] if op.collation is not None else []
            changes = f" ({', '.join(parts)})"
        target = f"{op.table}.{op.name}{changes}"
    elif kind in ("rename_table", "rename_column"):
        target = (f"{op.name} -> {op.new_name}" if kind == "rename_table"
                  else f"{op.table}.{op.name} -> {op.new_name}")
    elif kind == "create_index":
        target = f"{name} on {table} {_index(op.definition)}"
    elif table and name:
        target = f"{name} on {table}"
    else:
        target = str(table or name or "")
    return f"{sign} {kind} {target}"


def _index(i: Any) -> str:
    """An index's key parts and what else it is: `(a(64), b DESC) unique, where x > 0 on
    postgresql, using gin, include (c), only on mysql`."""
    from .ir import key_text

    parts = ["unique"] if i.unique else []
    if i.where:
        scope = f" on {', '.join(i.where_dialects)}" if i.where_dialects else ""
        parts.append(f"where {i.where}{scope}")
    parts += [f"using {i.using}"] if i.using else []
    parts += [f"include ({', '.join(i.include)})"] if i.include else []
    parts += [f"only on {', '.join(i.dialects)}"] if i.dialects else []
    keys = f"({', '.join(key_text(k) for k in i.columns)})"
    return " ".join([keys, ", ".join(parts)]) if parts else keys

"""Liquibase's column definitions (types, defaults, inline constraints) as schemaflow's
columns, and the small readers the change translations share."""

from __future__ import annotations

import re
from typing import Any

from .. import ir
from ..typespec import TypeSpec, TypeSyntaxError, parse_type


class Opaque(Exception):
    """A change schemaflow's operations cannot express."""


Change = dict[str, Any]

# Liquibase's type names (lower case, without arguments) → schemaflow's generic types.
_TYPES = {
    "int": "integer", "integer": "integer", "int4": "integer", "mediumint": "integer",
    "bigint": "bigint", "int8": "bigint", "long": "bigint",
    "smallint": "smallint", "int2": "smallint", "tinyint": "smallint",
    "varchar": "string", "nvarchar": "string", "varchar2": "string",
    "character varying": "string", "char": "char", "nchar": "char", "character": "char",
    "text": "text", "clob": "text", "nclob": "text", "longtext": "text", "mediumtext": "text",
    "boolean": "boolean", "bool": "boolean", "bit": "boolean",
    "date": "date", "datetime": "datetime", "timestamp": "datetime", "time": "time",
    "decimal": "numeric", "numeric": "numeric", "number": "numeric", "currency": "numeric",
    "float": "float", "double": "float", "real": "float", "double precision": "float",
    "blob": "binary", "bytea": "binary", "binary": "binary", "varbinary": "binary",
    "longblob": "binary", "uuid": "uuid", "json": "json", "jsonb": "postgresql.jsonb",
}
DEFAULTS = {"defaultValue", "defaultValueNumeric", "defaultValueBoolean", "defaultValueDate",
             "defaultValueComputed", "defaultValueSequenceNext"}
def flag(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def names(value: Any) -> tuple[str, ...]:
    return tuple(n.strip() for n in str(value or "").split(",") if n.strip())


def type_of(text: str) -> TypeSpec:
    """A Liquibase column type (`VARCHAR(100)`, `DECIMAL(10, 2)`, `java.sql.Types.INTEGER`)
    as a schemaflow type."""
    zone = re.search(r"\s+with(out)?\s+time\s+zone\s*$", text, re.I)
    bare = text[:zone.start()] if zone else text
    m = re.fullmatch(r"\s*(?:java\.sql\.Types\.)?([A-Za-z][A-Za-z0-9_ ]*?)\s*(\(.*\))?\s*",
                     bare)
    key = " ".join(m[1].lower().split()) if m else ""
    tz = bool(zone and not zone.group(1)) or key in ("timestamptz", "timetz")
    name = _TYPES.get(key.removesuffix("tz") if key in ("timestamptz", "timetz") else key)
    if m is None or name is None:
        raise Opaque(f"type {text!r} is not one schemaflow knows")
    args = m[2] or ""
    if name in ("datetime", "time") and tz:
        args = "(timezone=true)"
    if name in ("integer", "bigint", "smallint", "boolean", "text", "date", "uuid", "json",
                "postgresql.jsonb", "float", "binary"):
        args = ""  # display widths (INT(11)), BIT(1), float precision: not kept
    try:
        return parse_type(name + args)
    except TypeSyntaxError as exc:
        raise Opaque(f"type {text!r}: {exc}") from None


def default_of(c: Change, where: str) -> dict[str, Any]:
    """The default a column's `defaultValue*` attribute gives (column keyword arguments)."""
    if c.get("defaultValue") is not None:
        return {"default": str(c["defaultValue"])}
    if c.get("defaultValueNumeric") is not None:
        text = str(c["defaultValueNumeric"])
        return {"default": float(text) if "." in text else int(text)}
    if c.get("defaultValueBoolean") is not None:
        return {"default": flag(c["defaultValueBoolean"])}
    if c.get("defaultValueDate") is not None:
        return {"default": str(c["defaultValueDate"])}
    if c.get("defaultValueComputed") is not None:
        return {"default_sql": str(c["defaultValueComputed"])}
    if c.get("defaultValueSequenceNext") is not None:
        raise Opaque(f"{where}: a default from a sequence")
    return {}


def _reference(cons: Change, where: str) -> ir.Reference | None:
    if cons.get("references"):
        m = re.fullmatch(r"\s*([\w.]+)\s*\(\s*([\w\s,]+)\)\s*", str(cons["references"]))
        if m is None:
            raise Opaque(f"{where}: references {cons['references']!r} is not table(column)")
        schema, _, table = m[1].rpartition(".")
        return ir.Reference(table=table, columns=names(m[2]), schema=schema or None)
    if cons.get("referencedTableName"):
        return ir.Reference(table=str(cons["referencedTableName"]),
                            columns=names(cons.get("referencedColumnNames")),
                            schema=cons.get("referencedTableSchemaName"))
    return None


def column_entry(raw: Any, where: str) -> Change:
    """One entry of a change's `columns` (`{"column": {...}}` or the mapping itself)."""
    c = raw.get("column") if isinstance(raw, dict) and "column" in raw else raw
    if not isinstance(c, dict) or not c.get("name"):
        raise Opaque(f"a column of {where} has no name")
    return c


class LiquibaseColumn:
    """A `column` of createTable or addColumn, with what its constraints add to the table."""

    def __init__(self, raw: Any, table: str) -> None:
        c = column_entry(raw, table)
        if not c.get("type"):
            raise Opaque(f"column {table}.{c['name']} has no type")
        self.name = str(c["name"])
        where = f"column {table}.{self.name}"
        extra = sorted(set(c) - DEFAULTS - {"name", "type", "autoIncrement", "remarks",
                                             "constraints"})
        if extra:
            raise Opaque(f"{where} has attributes schemaflow cannot express: "
                         f"{', '.join(extra)}")
        cons = c.get("constraints") or {}
        unknown = set(cons) - {"nullable", "primaryKey", "primaryKeyName", "unique",
                               "uniqueConstraintName", "foreignKeyName", "references",
                               "referencedTableName", "referencedColumnNames",
                               "referencedTableSchemaName", "deleteCascade",
                               "notNullConstraintName", "validateNullable",
                               "validateForeignKey", "validateUnique", "validatePrimaryKey"}
        if unknown or cons.get("checkConstraint"):
            raise Opaque(f"{where} has constraints schemaflow cannot express: "
                         f"{sorted(unknown) or 'checkConstraint'}")
        self.pk = flag(cons.get("primaryKey"))
        self.pk_name = cons.get("primaryKeyName")
        self.unique_name = cons.get("uniqueConstraintName")
        nullable = cons.get("nullable")
        ref = _reference(cons, where)
        self.fk = None if ref is None else ir.ForeignKeyDef(
            columns=(self.name,), references=ref, name=cons.get("foreignKeyName"),
            ondelete="CASCADE" if flag(cons.get("deleteCascade")) else None)
        auto = flag(c.get("autoIncrement"))
        self.column = ir.Column(
            name=self.name, type=type_of(str(c["type"])),
            nullable=None if nullable is None else flag(nullable),
            unique=flag(cons.get("unique")) and not self.unique_name,
            # Liquibase numbers a column only when asked (schemaflow numbers a lone integer
            # primary key unless told not to).
            autoincrement=True if auto else (False if self.pk else None),
            comment=c.get("remarks"),
            **default_of(c, where))

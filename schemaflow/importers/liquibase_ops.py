"""Liquibase's change types (as data, in its YAML shape) translated into schemaflow's
operations. What the operations cannot carry raises `Opaque`: the importer then writes a
marked TODO note naming the changeSet."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from .. import ir
from ..ir.parts import FKAction
from ..state.naming import pk_name, uq_name
from ..typespec import TypeSpec, TypeSyntaxError, parse_type
from .liquibase_read import statements


class Opaque(Exception):
    """A change schemaflow's operations cannot express."""


Ops = list[ir.Operation]
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
_ACTIONS = {"cascade": "CASCADE", "set null": "SET NULL", "setnull": "SET NULL",
            "set default": "SET DEFAULT", "setdefault": "SET DEFAULT",
            "restrict": "RESTRICT", "no action": "NO ACTION", "noaction": "NO ACTION"}


_WHERE = {"tableName", "schemaName", "catalogName"}
_DEFAULTS = {"defaultValue", "defaultValueNumeric", "defaultValueBoolean", "defaultValueDate",
             "defaultValueComputed", "defaultValueSequenceNext"}
_COLUMN = {"tableName", "columnName", "columnDataType", "schemaName", "catalogName"}
_FK_BASE = {"baseTableName", "baseTableSchemaName", "baseTableCatalogName", "constraintName"}

def _flag(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def _names(value: Any) -> tuple[str, ...]:
    return tuple(n.strip() for n in str(value or "").split(",") if n.strip())


def _need(c: Change, key: str, kind: str) -> str:
    value = c.get(key)
    if value in (None, ""):
        raise Opaque(f"{kind} has no {key}")
    return str(value)


def type_of(text: str) -> TypeSpec:
    """A Liquibase column type (`VARCHAR(100)`, `DECIMAL(10, 2)`, `java.sql.Types.INTEGER`)
    as a schemaflow type."""
    m = re.fullmatch(r"\s*(?:java\.sql\.Types\.)?([A-Za-z][A-Za-z0-9_ ]*?)\s*(\(.*\))?\s*",
                     text)
    if m is None:
        raise Opaque(f"type {text!r} is not one schemaflow knows")
    name = _TYPES.get(" ".join(m[1].lower().split()))
    if name is None:
        raise Opaque(f"type {text!r} is not one schemaflow knows")
    args = m[2] or ""
    if name in ("datetime", "time") and "with time zone" in text.lower():
        args, name = "(timezone=true)", name
    if name in ("integer", "bigint", "smallint", "boolean", "text", "date", "uuid", "json",
                "postgresql.jsonb", "float", "binary"):
        args = ""  # display widths (INT(11)), BIT(1), float precision: not kept
    try:
        return parse_type(name + args)
    except TypeSyntaxError as exc:
        raise Opaque(f"type {text!r}: {exc}") from None


def _default(c: Change, where: str) -> dict[str, Any]:
    """The default a column's `defaultValue*` attribute gives (column keyword arguments)."""
    if c.get("defaultValue") is not None:
        return {"default": str(c["defaultValue"])}
    if c.get("defaultValueNumeric") is not None:
        text = str(c["defaultValueNumeric"])
        return {"default": float(text) if "." in text else int(text)}
    if c.get("defaultValueBoolean") is not None:
        return {"default": _flag(c["defaultValueBoolean"])}
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
        return ir.Reference(table=table, columns=_names(m[2]), schema=schema or None)
    if cons.get("referencedTableName"):
        return ir.Reference(table=str(cons["referencedTableName"]),
                            columns=_names(cons.get("referencedColumnNames")),
                            schema=cons.get("referencedTableSchemaName"))
    return None


def _col(raw: Any, where: str) -> Change:
    """One entry of a change's `columns` (`{"column": {...}}` or the mapping itself)."""
    c = raw.get("column") if isinstance(raw, dict) and "column" in raw else raw
    if not isinstance(c, dict) or not c.get("name"):
        raise Opaque(f"a column of {where} has no name")
    return c


class _Column:
    """A `column` of createTable or addColumn, with what its constraints add to the table."""

    def __init__(self, raw: Any, table: str) -> None:
        c = _col(raw, table)
        if not c.get("type"):
            raise Opaque(f"column {table}.{c['name']} has no type")
        self.name = str(c["name"])
        where = f"column {table}.{self.name}"
        extra = sorted(set(c) - _DEFAULTS - {"name", "type", "autoIncrement", "remarks",
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
        self.pk = _flag(cons.get("primaryKey"))
        self.pk_name = cons.get("primaryKeyName")
        self.unique_name = cons.get("uniqueConstraintName")
        nullable = cons.get("nullable")
        ref = _reference(cons, where)
        self.fk = None if ref is None else ir.ForeignKeyDef(
            columns=(self.name,), references=ref, name=cons.get("foreignKeyName"),
            ondelete="CASCADE" if _flag(cons.get("deleteCascade")) else None)
        auto = _flag(c.get("autoIncrement"))
        self.column = ir.Column(
            name=self.name, type=type_of(str(c["type"])),
            nullable=None if nullable is None else _flag(nullable),
            unique=_flag(cons.get("unique")) and not self.unique_name,
            # Liquibase numbers a column only when asked (schemaflow numbers a lone integer
            # primary key unless told not to).
            autoincrement=True if auto else (False if self.pk else None),
            comment=c.get("remarks"),
            **_default(c, where))


def _create_table(c: Change) -> Ops:
    table = _need(c, "tableName", "createTable")
    columns = [_Column(raw, table) for raw in c.get("columns") or []]
    if not columns:
        raise Opaque(f"createTable {table} has no columns")
    pk = tuple(col.name for col in columns if col.pk)
    pk_names = {col.pk_name for col in columns if col.pk and col.pk_name}
    primary = ir.PrimaryKeyDef(columns=pk, name=pk_names.pop() if pk_names else None)
    cols = tuple(col.column for col in columns)
    return [ir.CreateTable(
        name=table, schema=c.get("schemaName"), comment=c.get("remarks"), columns=cols,
        primary_key=primary if pk else None,
        unique=tuple(ir.UniqueDef(columns=(col.name,), name=col.unique_name)
                     for col in columns if col.unique_name),
        foreign_keys=tuple(col.fk for col in columns if col.fk))]


def _add_column(c: Change) -> Ops:
    table = _need(c, "tableName", "addColumn")
    schema = c.get("schemaName")
    out: Ops = []
    for raw in c.get("columns") or []:
        col = _Column(raw, table)
        if col.pk:
            raise Opaque(f"addColumn {table}.{col.name} adds a primary key column")
        out.append(ir.AddColumn(table=table, schema=schema, column=col.column))
        if col.unique_name:
            out.append(ir.CreateUniqueConstraint(name=str(col.unique_name), table=table,
                                                 schema=schema, columns=(col.name,)))
        if col.fk:
            out.append(ir.CreateForeignKey(
                name=col.fk.name or f"fk_{table}_{col.name}", table=table, schema=schema,
                columns=col.fk.columns, references=col.fk.references,
                ondelete=col.fk.ondelete))
    if not out:
        raise Opaque(f"addColumn {table} has no columns")
    return out


def _drop_column(c: Change) -> Ops:
    table = _need(c, "tableName", "dropColumn")
    names = [str(c["columnName"])] if c.get("columnName") else [
        str(_col(raw, table)["name"]) for raw in c.get("columns") or []]
    if not names:
        raise Opaque(f"dropColumn {table} names no column")
    return [ir.DropColumn(table=table, name=n, schema=c.get("schemaName")) for n in names]


def _alter(c: Change, kind: str, **change: Any) -> Ops:
    return [ir.AlterColumn(table=_need(c, "tableName", kind),
                           name=_need(c, "columnName", kind),
                           schema=c.get("schemaName"), **change)]


def _add_not_null(c: Change) -> Ops:
    out: Ops = []
    if c.get("defaultNullValue") is not None:
        table, column = _need(c, "tableName", "x"), _need(c, "columnName", "x")
        value = str(c["defaultNullValue"]).replace("'", "''")
        out.append(ir.Sql(up=(f"UPDATE {table} SET {column} = '{value}' WHERE {column} IS "
                              "NULL",), down=("-- nothing to undo: NULLs were filled in",)))
    return out + _alter(c, "addNotNullConstraint", nullable=False)


def _add_default(c: Change) -> Ops:
    change = _default(c, "addDefaultValue")
    if not change:
        raise Opaque("addDefaultValue gives no defaultValue")
    return _alter(c, "addDefaultValue", **change)


def _create_index(c: Change) -> Ops:
    table = _need(c, "tableName", "createIndex")
    keys: list[ir.IndexKey] = []
    for raw in c.get("columns") or []:
        col = _col(raw, table)
        if _flag(col.get("computed")):
            keys.append(ir.IndexColumn(expression=str(col["name"])))
        elif _flag(col.get("descending")):
            keys.append(ir.IndexColumn(name=str(col["name"]), order="desc"))
        else:
            keys.append(str(col["name"]))
    if not keys:
        raise Opaque(f"createIndex on {table} has no columns")
    return [ir.CreateIndex(name=_need(c, "indexName", "createIndex"), table=table,
                           schema=c.get("schemaName"), columns=tuple(keys),
                           unique=_flag(c.get("unique")))]


def _action(value: Any) -> FKAction | None:
    if value in (None, ""):
        return None
    action = _ACTIONS.get(str(value).strip().lower())
    if action is None:
        raise Opaque(f"foreign key action {value!r}")
    return cast(FKAction, action)


def _add_fk(c: Change) -> Ops:
    kind = "addForeignKeyConstraint"
    return [ir.CreateForeignKey(
        name=_need(c, "constraintName", kind), table=_need(c, "baseTableName", kind),
        schema=c.get("baseTableSchemaName"), columns=_names(_need(c, "baseColumnNames", kind)),
        references=ir.Reference(table=_need(c, "referencedTableName", kind),
                                columns=_names(_need(c, "referencedColumnNames", kind)),
                                schema=c.get("referencedTableSchemaName")),
        ondelete=_action(c.get("onDelete")) or ("CASCADE" if _flag(c.get("deleteCascade"))
                                                else None),
        onupdate=_action(c.get("onUpdate")))]


def _drop_constraint(table_key: str, schema_key: str, kind: str,
                     type_: Any) -> Callable[[Change], Ops]:
    def drop(c: Change) -> Ops:
        return [ir.DropConstraint(name=_need(c, "constraintName", kind),
                                  table=_need(c, table_key, kind), schema=c.get(schema_key),
                                  type=type_)]
    return drop


def _add_unique(c: Change) -> Ops:
    table = _need(c, "tableName", "addUniqueConstraint")
    columns = _names(_need(c, "columnNames", "addUniqueConstraint"))
    return [ir.CreateUniqueConstraint(name=str(c.get("constraintName") or
                                               uq_name(table, columns)),
                                      table=table, schema=c.get("schemaName"), columns=columns)]


def _add_pk(c: Change) -> Ops:
    table = _need(c, "tableName", "addPrimaryKey")
    return [ir.CreatePrimaryKey(name=str(c.get("constraintName") or pk_name(table)),
                                table=table, schema=c.get("schemaName"),
                                columns=_names(_need(c, "columnNames", "addPrimaryKey")))]


def _insert(c: Change) -> Ops:
    table = _need(c, "tableName", "insert")
    row: ir.Row = {}
    for raw in c.get("columns") or []:
        col = _col(raw, table)
        name = str(col.get("name"))
        if col.get("valueNumeric") is not None:
            text = str(col["valueNumeric"])
            row[name] = float(text) if "." in text else int(text)
        elif col.get("valueBoolean") is not None:
            row[name] = _flag(col["valueBoolean"])
        elif col.get("value") is not None or col.get("valueDate") is not None:
            row[name] = str(col.get("value", col.get("valueDate")))
        elif any(k.startswith("value") for k in col):
            raise Opaque(f"insert into {table}: column {name} has a computed value")
        else:
            row[name] = None
    return [ir.InsertRows(table=table, schema=c.get("schemaName"), rows=(row,))]


def _sql(c: Change, folder: Path) -> Ops:
    up = statements(str(c.get("sql") or c.get("text") or ""), c)
    return [ir.Sql(up=up)] if up else []


def _sql_file(c: Change, folder: Path) -> Ops:
    name = _need(c, "path", "sqlFile")
    path = folder / name if _flag(c.get("relativeToChangelogFile")) else Path(name)
    if not path.is_absolute() and not path.is_file():
        path = folder / name
    try:
        text = path.read_text(encoding=str(c.get("encoding") or "utf-8"))
    except (OSError, UnicodeDecodeError, LookupError) as exc:
        raise Opaque(f"sqlFile {name} cannot be read: {exc}") from None
    return _sql({**c, "sql": text}, folder)


SIMPLE: dict[str, Callable[[Change], Ops]] = {
    "createTable": _create_table,
    "dropTable": lambda c: [ir.DropTable(name=_need(c, "tableName", "dropTable"),
                                         schema=c.get("schemaName"))],
    "renameTable": lambda c: [ir.RenameTable(
        name=_need(c, "oldTableName", "renameTable"),
        new_name=_need(c, "newTableName", "renameTable"), schema=c.get("schemaName"))],
    "addColumn": _add_column,
    "dropColumn": _drop_column,
    "renameColumn": lambda c: [ir.RenameColumn(
        table=_need(c, "tableName", "renameColumn"),
        name=_need(c, "oldColumnName", "renameColumn"),
        new_name=_need(c, "newColumnName", "renameColumn"), schema=c.get("schemaName"))],
    "modifyDataType": lambda c: _alter(c, "modifyDataType", type=type_of(
        _need(c, "newDataType", "modifyDataType"))),
    "addNotNullConstraint": _add_not_null,
    "dropNotNullConstraint": lambda c: _alter(c, "dropNotNullConstraint", nullable=True),
    "addDefaultValue": _add_default,
    "dropDefaultValue": lambda c: _alter(c, "dropDefaultValue", drop_default=True),
    "createIndex": _create_index,
    "dropIndex": lambda c: [ir.DropIndex(name=_need(c, "indexName", "dropIndex"),
                                         table=_need(c, "tableName", "dropIndex"),
                                         schema=c.get("schemaName"))],
    "addForeignKeyConstraint": _add_fk,
    "dropForeignKeyConstraint": _drop_constraint("baseTableName", "baseTableSchemaName",
                                                 "dropForeignKeyConstraint", "foreign_key"),
    "addUniqueConstraint": _add_unique,
    "dropUniqueConstraint": _drop_constraint("tableName", "schemaName",
                                             "dropUniqueConstraint", "unique"),
    "addPrimaryKey": _add_pk,
    "insert": _insert,
}
# The attributes each change type may have; anything else is not silently dropped.
KEYS: dict[str, set[str]] = {
    "createTable": _WHERE | {"columns", "remarks", "tablespace"},
    "dropTable": _WHERE | {"cascadeConstraints"},
    "renameTable": _WHERE - {"tableName"} | {"oldTableName", "newTableName"},
    "addColumn": _WHERE | {"columns"},
    "dropColumn": _WHERE | {"columnName", "columns"},
    "renameColumn": _COLUMN - {"columnName"} | {"oldColumnName", "newColumnName"},
    "modifyDataType": _COLUMN | {"newDataType"},
    "addNotNullConstraint": _COLUMN | {"defaultNullValue", "constraintName"},
    "dropNotNullConstraint": _COLUMN | {"constraintName"},
    "addDefaultValue": _COLUMN | _DEFAULTS,
    "dropDefaultValue": _COLUMN,
    "createIndex": _WHERE | {"indexName", "columns", "unique", "tablespace", "clustered"},
    "dropIndex": _WHERE | {"indexName"},
    "addForeignKeyConstraint": _FK_BASE | {
        "baseColumnNames", "referencedTableName", "referencedColumnNames",
        "referencedTableSchemaName", "referencedTableCatalogName", "onDelete", "onUpdate",
        "deleteCascade", "deferrable", "initiallyDeferred", "referencesUniqueColumn"},
    "dropForeignKeyConstraint": _FK_BASE,
    "addUniqueConstraint": _WHERE | {"columnNames", "constraintName", "tablespace",
                                     "deferrable", "initiallyDeferred", "clustered"},
    "dropUniqueConstraint": _WHERE | {"constraintName", "uniqueColumns"},
    "addPrimaryKey": _WHERE | {"columnNames", "constraintName", "tablespace", "clustered"},
    "insert": _WHERE | {"columns"},
}
_TRUE_ONLY = ("deferrable", "initiallyDeferred", "cascadeConstraints")


def translate(kind: str, change: Change, folder: Path) -> Ops:
    """The operations of one Liquibase change (Opaque when there is no translation)."""
    if kind == "sql":
        return _sql(change, folder)
    if kind == "sqlFile":
        return _sql_file(change, folder)
    if kind not in SIMPLE:
        raise Opaque(f"change type {kind} has no schemaflow translation")
    extra = sorted(set(change) - KEYS[kind] - {"dbms"})
    if extra:
        raise Opaque(f"{kind} has attributes or elements schemaflow cannot express: "
                     f"{', '.join(extra)}")
    for key in _TRUE_ONLY:
        if _flag(change.get(key)):
            raise Opaque(f"{kind} with {key}")
    return SIMPLE[kind](change)

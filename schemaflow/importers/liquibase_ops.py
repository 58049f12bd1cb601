"""Liquibase's change types (as data, in its YAML shape) translated into schemaflow's
operations. What the operations cannot carry raises `Opaque`: the importer then writes a
marked TODO note naming the changeSet."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from .. import ir
from ..ir.parts import FKAction
from ..state.naming import pk_name, uq_name
from .liquibase_columns import (
    DEFAULTS,
    Change,
    LiquibaseColumn,
    Opaque,
    column_entry,
    default_of,
    flag,
    names,
    type_of,
)
from .liquibase_read import statements

Ops = list[ir.Operation]

_ACTIONS = {"cascade": "CASCADE", "set null": "SET NULL", "setnull": "SET NULL",
            "set default": "SET DEFAULT", "setdefault": "SET DEFAULT",
            "restrict": "RESTRICT", "no action": "NO ACTION", "noaction": "NO ACTION"}
_WHERE = {"tableName", "schemaName", "catalogName"}
_COLUMN = {"tableName", "columnName", "columnDataType", "schemaName", "catalogName"}
_FK_BASE = {"baseTableName", "baseTableSchemaName", "baseTableCatalogName", "constraintName"}


def _need(c: Change, key: str, kind: str) -> str:
    value = c.get(key)
    if value in (None, ""):
        raise Opaque(f"{kind} has no {key}")
    return str(value)


def _create_table(c: Change) -> Ops:
    table = _need(c, "tableName", "createTable")
    columns = [LiquibaseColumn(raw, table) for raw in c.get("columns") or []]
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
        col = LiquibaseColumn(raw, table)
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
        str(column_entry(raw, table)["name"]) for raw in c.get("columns") or []]
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
    change = default_of(c, "addDefaultValue")
    if not change:
        raise Opaque("addDefaultValue gives no defaultValue")
    return _alter(c, "addDefaultValue", **change)


def _create_index(c: Change) -> Ops:
    table = _need(c, "tableName", "createIndex")
    keys: list[ir.IndexKey] = []
    for raw in c.get("columns") or []:
        col = column_entry(raw, table)
        if flag(col.get("computed")):
            keys.append(ir.IndexColumn(expression=str(col["name"])))
        elif flag(col.get("descending")):
            keys.append(ir.IndexColumn(name=str(col["name"]), order="desc"))
        else:
            keys.append(str(col["name"]))
    if not keys:
        raise Opaque(f"createIndex on {table} has no columns")
    return [ir.CreateIndex(name=_need(c, "indexName", "createIndex"), table=table,
                           schema=c.get("schemaName"), columns=tuple(keys),
                           unique=flag(c.get("unique")))]


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
        schema=c.get("baseTableSchemaName"), columns=names(_need(c, "baseColumnNames", kind)),
        references=ir.Reference(table=_need(c, "referencedTableName", kind),
                                columns=names(_need(c, "referencedColumnNames", kind)),
                                schema=c.get("referencedTableSchemaName")),
        ondelete=_action(c.get("onDelete")) or ("CASCADE" if flag(c.get("deleteCascade"))
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
    columns = names(_need(c, "columnNames", "addUniqueConstraint"))
    return [ir.CreateUniqueConstraint(name=str(c.get("constraintName") or
                                               uq_name(table, columns)),
                                      table=table, schema=c.get("schemaName"), columns=columns)]


def _add_pk(c: Change) -> Ops:
    table = _need(c, "tableName", "addPrimaryKey")
    return [ir.CreatePrimaryKey(name=str(c.get("constraintName") or pk_name(table)),
                                table=table, schema=c.get("schemaName"),
                                columns=names(_need(c, "columnNames", "addPrimaryKey")))]


def _insert(c: Change) -> Ops:
    table = _need(c, "tableName", "insert")
    row: ir.Row = {}
    for raw in c.get("columns") or []:
        col = column_entry(raw, table)
        name = str(col.get("name"))
        if col.get("valueNumeric") is not None:
            text = str(col["valueNumeric"])
            row[name] = float(text) if "." in text else int(text)
        elif col.get("valueBoolean") is not None:
            row[name] = flag(col["valueBoolean"])
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
    name = _need(c, "path", "sqlFile")  # resolved when read (see liquibase_read)
    try:
        text = Path(name).read_text(encoding=str(c.get("encoding") or "utf-8"))
    except (OSError, UnicodeDecodeError, LookupError) as exc:
        raise Opaque(f"sqlFile {name} cannot be read: {exc}") from None
    return _sql({**c, "sql": text}, folder)


def _load_data(c: Change) -> Ops:
    """loadData's CSV file as insert_rows (resolved when read, as sqlFile's path is)."""
    table, name = _need(c, "tableName", "loadData"), _need(c, "file", "loadData")
    try:
        text = Path(name).read_text(encoding=str(c.get("encoding") or "utf-8"))
        records = list(csv.reader(io.StringIO(text), delimiter=str(c.get("separator") or ","),
                                  quotechar=str(c.get("quotchar") or '"')))
    except (OSError, UnicodeDecodeError, LookupError, csv.Error, TypeError) as exc:
        raise Opaque(f"loadData {name} cannot be read: {exc}") from None
    comment = str(c.get("commentLineStartsWith") or "#")
    records = [r for r in records if r and not r[0].startswith(comment)]
    if not records:
        raise Opaque(f"loadData {name} has no header line")
    config: dict[str, tuple[str, str]] = {}  # CSV header or index → (column, type)
    for raw in c.get("columns") or []:
        col = raw.get("column", raw) if isinstance(raw, dict) else {}
        key = str(col.get("header") or col.get("name") or col.get("index") or "")
        config[key] = (str(col.get("name") or col.get("header") or key),
                       str(col.get("type") or "STRING").upper())
    rows = []
    for record in records[1:]:
        row: ir.Row = {}
        for i, header in enumerate(records[0]):
            column, kind = config.get(header, config.get(str(i), (header, "STRING")))
            value = record[i] if i < len(record) else ""
            if kind == "SKIP":
                continue
            if kind not in ("STRING", "NUMERIC", "BOOLEAN", "DATE", "DATETIME", "UUID"):
                raise Opaque(f"loadData {name}: column {column} has type {kind}")
            row[column] = _value(value, kind, name)
        rows.append(row)
    if not rows:
        raise Opaque(f"loadData {name} has no rows")
    return [ir.InsertRows(table=table, schema=c.get("schemaName"), rows=tuple(rows))]


def _value(text: str, kind: str, name: str) -> ir.Value:
    if text == "" or text.upper() == "NULL":
        return None
    if kind == "BOOLEAN":
        return text.strip().lower() in ("true", "t", "1", "y", "yes")
    if kind == "NUMERIC":
        try:
            return float(text) if any(ch in text for ch in ".eE") else int(text)
        except ValueError:
            raise Opaque(f"loadData {name}: {text!r} is not a number") from None
    return text


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
    "loadData": _load_data,
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
    "addDefaultValue": _COLUMN | DEFAULTS,
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
    "loadData": _WHERE | {"file", "separator", "quotchar", "encoding", "columns",
                          "relativeToChangelogFile", "usePreparedStatements",
                          "commentLineStartsWith"},
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
        if flag(change.get(key)):
            raise Opaque(f"{kind} with {key}")
    return SIMPLE[kind](change)

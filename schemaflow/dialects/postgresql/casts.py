"""Which column type changes PostgreSQL makes by itself and which need `USING col::type`.

`ALTER COLUMN c TYPE t` converts the values (and the column's default) with an assignment
cast; where PostgreSQL has only an explicit one (text → json, text → integer, integer →
boolean, ...) it refuses the statement, even on an empty table, unless a USING expression
casts the column. Adding USING everywhere is not harmless: an explicit cast to a shorter
VARCHAR, CHAR or BIT truncates the values where the assignment cast refuses them. So the
renderer adds it only where no assignment cast exists, decided as PostgreSQL's
`find_coercion_pathway` decides it: a row of pg_cast between the two types, else element by
element between two arrays, else the conversion through text that any type has to a string
type (in assignment) and that a string type has to any type (explicit only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

# pg_cast's rows between the built-in types below (PostgreSQL 15; castcontext: i implicit, a
# assignment, e explicit). tests/test_pg_casts.py holds them to the server's catalog.
_ROWS = """
bit: int4 e, int8 e, varbit i
bool: bpchar a, int4 e, text a, varchar a
bpchar: name i, text i, varchar i, xml e
cidr: bpchar a, inet i, text a, varchar a
date: timestamp i, timestamptz i
float4: float8 i, int2 a, int4 a, int8 a, numeric a
float8: float4 a, int2 a, int4 a, int8 a, numeric a
inet: bpchar a, cidr a, text a, varchar a
int2: float4 i, float8 i, int4 i, int8 i, numeric i, oid i, regclass i
int4: bit e, bool e, float4 i, float8 i, int2 a, int8 i, money a, numeric i, oid i, regclass i
int8: bit e, float4 i, float8 i, int2 a, int4 a, money a, numeric i, oid i, regclass i
interval: time a
json: jsonb a
jsonb: bool e, float4 e, float8 e, int2 e, int4 e, int8 e, json a, numeric e
macaddr8: macaddr i
macaddr: macaddr8 i
money: numeric a
name: bpchar a, text i, varchar a
numeric: float4 i, float8 i, int2 a, int4 a, int8 a, money a
oid: int4 a, int8 a, regclass i
regclass: int4 a, int8 a, oid i
text: bpchar i, name i, regclass i, varchar i, xml e
time: interval i, timetz i
timestamp: date a, time a, timestamptz i
timestamptz: date a, time a, timestamp a, timetz a
timetz: time a
varbit: bit i
varchar: bpchar i, name i, regclass i, text i, xml e
xml: bpchar a, text a, varchar a
"""


def _parse(rows: str) -> dict[tuple[str, str], str]:
    casts: dict[tuple[str, str], str] = {}
    for line in rows.strip().splitlines():
        source, targets = line.split(": ")
        for entry in targets.split(", "):
            target, context = entry.split()
            casts[source, target] = context
    return casts


CASTS: Mapping[tuple[str, str], str] = MappingProxyType(_parse(_ROWS))
# The types the rows are complete for (no row between two of them: no cast but through text).
KNOWN = frozenset({
    "int2", "int4", "int8", "float4", "float8", "numeric", "money", "bool", "text", "varchar",
    "bpchar", "name", "date", "time", "timetz", "timestamp", "timestamptz", "interval", "json",
    "jsonb", "uuid", "bytea", "inet", "cidr", "macaddr", "macaddr8", "bit", "varbit", "xml",
    "tsvector", "tsquery", "oid", "regclass"})
# PostgreSQL's string category (typcategory 'S'): any type converts to these by itself.
STRINGS = frozenset({"text", "varchar", "bpchar", "name"})
# The SQL spellings SQLAlchemy compiles, as the catalog names the type.
_SPELLED = MappingProxyType({
    "smallint": "int2", "integer": "int4", "int": "int4", "bigint": "int8",
    "real": "float4", "double precision": "float8", "float": "float8", "decimal": "numeric",
    "boolean": "bool", "character varying": "varchar", "character": "bpchar", "char": "bpchar",
    "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamptz",
    "time without time zone": "time", "time with time zone": "timetz", "bit varying": "varbit",
})

IMPLICIT, ASSIGNMENT, EXPLICIT, NONE = "i", "a", "e", ""


def catalog_type(sql: str) -> tuple[str, bool] | None:
    """A column type's SQL text (`VARCHAR(20)[]`, `TIMESTAMP(3) WITH TIME ZONE`) as the
    catalog names its type, and whether it is an array; None for a type not in KNOWN."""
    text = re.sub(r"\s+collate\s.*$", "", sql.strip().lower())
    array = text.endswith("]")
    text = re.sub(r"\s*\[\d*\]", "", text)
    precision = re.search(r"\(\s*(\d+)", text)
    words = " ".join(re.sub(r"\([^)]*\)", " ", text).split())
    if words == "float" and precision is not None and int(precision.group(1)) <= 24:
        words = "float4"
    name = _SPELLED.get(words, words)
    return (name, array) if name in KNOWN else None


def context(old: str, new: str) -> str | None:
    """How a column of SQL type `old` becomes `new`: IMPLICIT or ASSIGNMENT by itself,
    EXPLICIT only with `USING col::new`, NONE not even so; None when a type is not known."""
    source, target = catalog_type(old), catalog_type(new)
    if source is None or target is None:
        return None
    return _pathway(source, target)


def _pathway(source: tuple[str, bool], target: tuple[str, bool]) -> str:
    if source == target:
        return IMPLICIT  # at most the length or precision changes: an assignment
    (s, s_array), (t, t_array) = source, target
    if not s_array and not t_array and (s, t) in CASTS:
        return CASTS[s, t]
    if s_array and t_array:
        return _pathway((s, False), (t, False))
    if t in STRINGS and not t_array:
        return ASSIGNMENT
    if s in STRINGS and not s_array:
        return EXPLICIT
    return NONE

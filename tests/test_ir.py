"""The operation IR: parse and dump of every kind, exact inverses, and errors with paths."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import pytest
from conftest import DEMO, Project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemaflow import history, ir, source
from schemaflow.typespec import TypeSpec, parse_type

# One canonical document per kind, exercising every optional key; the dump must reproduce it.
EXAMPLES: dict[str, dict[str, Any]] = {
    "create_table": {
        "name": "post",
        "schema": "blog",
        "comment": "blog posts",
        "columns": [
            {"name": "id", "type": "integer", "primary_key": True, "autoincrement": True},
            {"name": "title", "type": "string(200)", "nullable": False, "unique": True,
             "index": True, "default": "untitled", "comment": "the title"},
            {"name": "created", "type": "datetime(timezone=true)",
             "default_sql": "CURRENT_TIMESTAMP"},
            {"name": "status", "type": "enum(draft,published,name=post_status)",
             "default": "draft"},
            {"name": "score", "type": "numeric(5,2)", "default": 1.5},
            {"name": "views", "type": "bigint", "default": 0},
            {"name": "flag", "type": "boolean", "default": False},
            {"name": "doc", "type": "postgresql.jsonb"},
        ],
        "primary_key": {"columns": ["id"], "name": "pk_post"},
        "unique": [{"columns": ["title", "created"], "name": "uq_post"}, {"columns": ["doc"]}],
        "foreign_keys": [
            {"columns": ["author_id"], "references": {"table": "user", "columns": ["id"],
                                                      "schema": "auth"},
             "name": "fk_post_author", "ondelete": "CASCADE", "onupdate": "SET NULL"},
        ],
        "checks": [{"expression": "score >= 0", "name": "ck_score"}, {"expression": "views >= 0"}],
        "indexes": [{"name": "ix_post_title", "columns": ["title"], "unique": True,
                     "where": "views > 0"}],
    },
    "drop_table": {"name": "post", "schema": "blog"},
    "rename_table": {"name": "post", "new_name": "article", "schema": "blog"},
    "add_column": {"table": "post", "column": {"name": "slug", "type": "string(80)",
                                               "nullable": False, "default": ""},
                   "schema": "blog"},
    "drop_column": {"table": "post", "name": "slug", "schema": "blog"},
    "rename_column": {"table": "post", "name": "body", "new_name": "content", "schema": "blog"},
    "alter_column": {"table": "post", "name": "title", "schema": "blog", "type": "text",
                     "nullable": True, "default": "x", "default_sql": "now()",
                     "drop_default": True, "comment": "", "using": "title::text"},
    "create_index": {"name": "ix_post_slug", "table": "post", "columns": ["slug", "id"],
                     "schema": "blog", "unique": True, "where": "slug IS NOT NULL",
                     "concurrently": True},
    "drop_index": {"name": "ix_post_slug", "table": "post", "schema": "blog"},
    "create_unique_constraint": {"name": "uq_slug", "table": "post", "columns": ["slug"],
                                 "schema": "blog"},
    "create_foreign_key": {"name": "fk_x", "table": "post", "columns": ["author_id"],
                           "references": {"table": "user", "columns": ["id"]},
                           "schema": "blog", "ondelete": "SET DEFAULT",
                           "onupdate": "RESTRICT"},
    "create_check_constraint": {"name": "ck_x", "table": "post", "expression": "id > 0",
                                "schema": "blog"},
    "create_primary_key": {"name": "pk_x", "table": "post", "columns": ["a", "b"],
                           "schema": "blog"},
    "drop_constraint": {"name": "fk_x", "table": "post", "type": "foreign_key",
                        "schema": "blog"},
    "validate_constraint": {"name": "ck_x", "table": "post", "schema": "blog"},
    "alter_table": {"name": "post", "comment": "posts of the blog", "schema": "blog"},
    "sql": {"up": ["UPDATE post SET x = 1", "UPDATE post SET y = 2"],
            "down": "UPDATE post SET x = 0", "dialects": ["postgresql", "mariadb"]},
    "insert_rows": {"table": "tag", "rows": [{"id": 1, "label": "a", "weight": 0.5,
                                              "active": True, "note": None}],
                    "schema": "blog"},
    "delete_rows": {"table": "tag", "rows": [{"id": 1}, {"label": "b"}], "schema": "blog"},
    "create_sequence": {"name": "ticket_numbers", "schema": "blog", "start": 100,
                        "increment": -5, "minvalue": -1000, "maxvalue": 100, "cycle": True,
                        "cache": 20},
    "drop_sequence": {"name": "ticket_numbers", "schema": "blog"},
}


def test_examples_cover_every_operation_kind() -> None:
    assert set(EXAMPLES) == set(ir.OPERATIONS)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_every_kind_parses_and_dumps_back(kind: str) -> None:
    doc = {kind: EXAMPLES[kind]}
    op = ir.parse_operation(doc)
    assert type(op) is ir.OPERATIONS[kind]
    assert op.kind == kind
    assert ir.dump_operation(op) == doc
    assert ir.parse_operation(ir.dump_operation(op)) == op


def test_parsed_values_are_typed() -> None:
    op = ir.parse_operation({"create_table": EXAMPLES["create_table"]})
    assert isinstance(op, ir.CreateTable)
    assert op.columns[0] == ir.Column(name="id", type=TypeSpec("integer"), primary_key=True,
                                      autoincrement=True)
    assert op.columns[1].type == TypeSpec("string", (200,))
    assert op.columns[3].type.kwarg("name") == "post_status"
    assert op.primary_key == ir.PrimaryKeyDef(columns=("id",), name="pk_post")
    assert op.foreign_keys[0].references == ir.Reference(table="user", columns=("id",),
                                                         schema="auth")
    assert op.foreign_keys[0].ondelete == "CASCADE"
    assert op.unique[1] == ir.UniqueDef(columns=("doc",))
    assert op.checks[1] == ir.CheckDef(expression="views >= 0")


def test_column_nullability_default() -> None:
    col = ir.parse_operation({"add_column": {"table": "t", "column": {"name": "a",
                                                                      "type": "text"}}})
    assert isinstance(col, ir.AddColumn)
    assert col.column.nullable is None
    assert col.column.is_nullable
    pk = ir.Column(name="id", type=TypeSpec("integer"), primary_key=True)
    assert not pk.is_nullable
    assert ir.Column(name="id", type=TypeSpec("integer"), primary_key=True,
                     nullable=True).is_nullable


def test_minimal_operations_dump_without_defaults() -> None:
    assert ir.dump_operation(ir.DropTable(name="t")) == {"drop_table": {"name": "t"}}
    op = ir.CreateTable(name="t", columns=(ir.Column(name="id", type=parse_type("varchar(9)")),))
    assert ir.dump_operation(op) == {
        "create_table": {"name": "t", "columns": [{"name": "id", "type": "string(9)"}]}}
    # A falsy value that differs from the default is kept.
    col = ir.Column(name="f", type=TypeSpec("boolean"), default=False, nullable=False)
    assert ir.dump_operation(ir.AddColumn(table="t", column=col)) == {
        "add_column": {"table": "t", "column": {"name": "f", "type": "boolean",
                                                "nullable": False, "default": False}}}


def test_operation_body_may_be_empty_only_when_nothing_is_required() -> None:
    with pytest.raises(ir.IRError) as info:
        ir.parse_operation({"drop_table": None})
    assert info.value.message == "missing required key 'name'"


# --- sql.up as a string or a list -------------------------------------------------------------


def test_sql_up_as_a_string() -> None:
    op = ir.parse_operation({"sql": {"up": "UPDATE t SET a = 1"}})
    assert op == ir.Sql(up=("UPDATE t SET a = 1",))
    assert ir.dump_operation(op) == {"sql": {"up": "UPDATE t SET a = 1"}}


def test_sql_up_as_a_list() -> None:
    op = ir.parse_operation({"sql": {"up": ["A", "B"], "down": ["C"]}})
    assert op == ir.Sql(up=("A", "B"), down=("C",))
    assert ir.dump_operation(op) == {"sql": {"up": ["A", "B"], "down": "C"}}


def test_sql_string_and_one_item_list_are_the_same_operation() -> None:
    assert ir.parse_operation({"sql": {"up": "X", "down": "Y"}}) == ir.parse_operation(
        {"sql": {"up": ["X"], "down": ["Y"]}})


def test_sql_dialects() -> None:
    op = ir.parse_operation({"sql": {"up": "X", "dialects": ["sqlite"]}})
    assert isinstance(op, ir.Sql)
    assert op.dialects == ("sqlite",)
    with pytest.raises(ir.IRError) as info:
        ir.parse_operation({"sql": {"up": "X", "dialects": ["oracle"]}})
    assert "must be one of sqlite, postgresql, mysql, mariadb, not 'oracle'" in info.value.message
    assert info.value.path == ("sql", "dialects", 0)


# --- errors ------------------------------------------------------------------------------------


def _op_error(doc: Any) -> ir.IRError:
    with pytest.raises(ir.IRError) as info:
        ir.parse_operation(doc)
    return info.value


@pytest.mark.parametrize(("doc", "message", "path"), [
    ({"drop_table": {"name": "t", "nme": "x"}}, "unknown key 'nme'", ("drop_table", "nme")),
    ({"create_tabel": {"name": "t"}}, "unknown operation 'create_tabel'", ("create_tabel",)),
    ({"drop_table": {}}, "missing required key 'name'", ("drop_table",)),
    ({"rename_column": {"table": "t", "name": "a"}}, "missing required key 'new_name'",
     ("rename_column",)),
    ({"drop_table": {"name": 5}}, "must be a string, not 5", ("drop_table", "name")),
    ({"drop_table": {"name": None}}, "must not be null", ("drop_table", "name")),
    ({"create_index": {"name": "i", "table": "t", "columns": ["a"], "unique": "yes"}},
     "must be true or false, not 'yes'", ("create_index", "unique")),
    ({"create_index": {"name": "i", "table": "t", "columns": "a"}},
     "must be a list, not 'a'", ("create_index", "columns")),
    ({"create_index": {"name": "i", "table": "t", "columns": ["a", 3]}},
     "must be a name or a mapping, not 3", ("create_index", "columns", 1)),
    ({"create_index": {"name": "i", "table": "t", "columns": [{"name": "a", "length": 0}]}},
     "`length` is a positive prefix length of a column", ("create_index", "columns", 0)),
    ({"create_index": {"name": "i", "table": "t", "columns": [{"order": "desc"}]}},
     "an index key part names either a column (`name`) or an `expression`, not both",
     ("create_index", "columns", 0)),
    ({"create_index": {"name": "i", "table": "t", "columns": [
        "a", {"expression": "version_major DESC"}]}},  # rendered `(version_major DESC)`
     "an index `expression` holds no ordering: write `order: desc` (and `nulls: first|last`) "
     "beside it, or `name:` for a plain column", ("create_index", "columns", 1)),
    ({"create_index": {"name": "i", "table": "t", "columns": [
        {"expression": "lower(email) nulls  last"}]}},
     "an index `expression` holds no ordering: write `order: desc` (and `nulls: first|last`) "
     "beside it, or `name:` for a plain column", ("create_index", "columns", 0)),
    ({"drop_constraint": {"name": "c", "table": "t", "type": "fk"}},
     "must be one of unique, foreign_key, check, primary_key, not 'fk'",
     ("drop_constraint", "type")),
    ({"create_foreign_key": {"name": "f", "table": "t", "columns": ["a"],
                             "references": {"table": "u", "columns": ["id"]},
                             "ondelete": "DELETE"}},
     "must be one of CASCADE, SET NULL, SET DEFAULT, RESTRICT, NO ACTION, not 'DELETE'",
     ("create_foreign_key", "ondelete")),
    ({"create_foreign_key": {"name": "f", "table": "t", "columns": ["a"],
                             "references": {"table": "u", "cols": ["id"]}}},
     "unknown key 'cols'", ("create_foreign_key", "references", "cols")),
    ({"create_foreign_key": {"name": "f", "table": "t", "columns": ["a"],
                             "references": "u.id"}},
     "must be a mapping, not 'u.id'", ("create_foreign_key", "references")),
    ({"create_table": {"name": "t", "columns": [{"name": "a", "type": "text"}, {"name": "b"}]}},
     "missing required key 'type'", ("create_table", "columns", 1)),
    ({"create_table": {"name": "t", "columns": [{"name": "a", "type": "text",
                                                 "nulable": False}]}},
     "unknown key 'nulable'", ("create_table", "columns", 0, "nulable")),
    ({"add_column": {"table": "t", "column": {"name": "a", "type": 5}}},
     "a type must be a string such as integer or string(50)", ("add_column", "column", "type")),
    ({"add_column": {"table": "t", "column": {"name": "a", "type": "text",
                                              "default": [1]}}},
     "must be a string, number or boolean, not [1]", ("add_column", "column", "default")),
    ({"insert_rows": {"table": "t", "rows": [{"a": 1}, {"a": [1, {2: 3}]}]}},
     "'a': a row value must be a string, number, boolean or null, or (for a json column) a "
     "mapping or list of them", ("insert_rows", "rows", 1)),
    ({"insert_rows": {"table": "t", "rows": [["a", 1]]}},
     "must be a mapping of column to value", ("insert_rows", "rows", 0)),
    ({"drop_table": {"name": "a"}, "drop_index": {"name": "b", "table": "t"}},
     "an operation is a mapping with exactly one key, its name", ()),
    ({}, "an operation is a mapping with exactly one key, its name", ()),
    ("drop_table", "an operation is a mapping with exactly one key, its name", ()),
    ({"drop_table": ["t"]}, "must be a mapping, not ['t']", ("drop_table",)),
])
def test_operation_errors(doc: Any, message: str, path: tuple[Any, ...]) -> None:
    err = _op_error(doc)
    assert err.message == message
    assert str(err) == message
    assert err.path == path


def test_bad_type_string_is_an_ir_error_with_the_suggestion() -> None:
    err = _op_error({"create_table": {"name": "t", "columns": [{"name": "a", "type": "strng"}]}})
    assert err.message == "unknown type 'strng' — did you mean 'string'?"
    assert err.path == ("create_table", "columns", 0, "type")


def test_operation_path_prefix_is_kept() -> None:
    err = _op_error_at({"drop_table": {"name": 1}}, ("rollback", 2))
    assert err.path == ("rollback", 2, "drop_table", "name")


def _op_error_at(doc: Any, path: tuple[Any, ...]) -> ir.IRError:
    with pytest.raises(ir.IRError) as info:
        ir.parse_operation(doc, path)
    return info.value


def _doc(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"schemaflow": 1, "id": "c001", "parents": [], "message": "m",
                           "operations": [{"drop_table": {"name": "t"}}]}
    doc.update(extra)
    return doc


def _cs_error(doc: Any) -> ir.IRError:
    with pytest.raises(ir.IRError) as info:
        ir.parse(doc)
    return info.value


def test_changeset_unknown_key() -> None:
    err = _cs_error(_doc(oprations=[]))
    assert err.message == "unknown key 'oprations'"
    assert err.path == ("oprations",)


@pytest.mark.parametrize("key", ["schemaflow", "id", "parents", "message", "operations"])
def test_changeset_missing_key(key: str) -> None:
    doc = _doc()
    del doc[key]
    assert _cs_error(doc).message == f"missing required key '{key}'"


@pytest.mark.parametrize("version", [2, 0, True, "1"])
def test_changeset_format_version(version: Any) -> None:
    err = _cs_error(_doc(schemaflow=version))
    assert "unsupported format version" in err.message
    assert err.path == ("schemaflow",)


@pytest.mark.parametrize(("extra", "message", "path"), [
    ({"id": 12}, "must be a string, not 12", ("id",)),
    ({"parents": "c000"}, "must be a list, not 'c000'", ("parents",)),
    ({"parents": ["c000", 7]}, "must be a string, not 7", ("parents", 1)),
    ({"transactional": "no"}, "must be true or false, not 'no'", ("transactional",)),
    ({"operations": {"drop_table": {"name": "t"}}}, "must be a list of operations",
     ("operations",)),
    ({"operations": [{"drop_table": {"name": "t"}}, {"drop_table": {"name": 3}}]},
     "must be a string, not 3", ("operations", 1, "drop_table", "name")),
    ({"rollback": [{"create_tabel": {}}]}, "unknown operation 'create_tabel'",
     ("rollback", 0, "create_tabel")),
    ({"lint": {"ignore": ["SF101"], "other": 1}}, "lint takes only 'ignore: [codes]'",
     ("lint",)),
    ({"lint": {"ignore": [1]}}, "must be a string, not 1", ("lint", "ignore", 0)),
])
def test_changeset_errors(extra: dict[str, Any], message: str, path: tuple[Any, ...]) -> None:
    err = _cs_error(_doc(**extra))
    assert err.message == message
    assert err.path == path


def test_changeset_that_is_not_a_mapping() -> None:
    assert "mapping" in _cs_error(["schemaflow", 1]).message
    assert "mapping" in _cs_error(None).message


def test_changeset_parse_and_dump() -> None:
    doc = {
        "schemaflow": 1, "id": "c002", "parents": ["c001"], "message": "second",
        "author": "alice", "depends_on": ["x001"], "branch_labels": ["feature"],
        "tag": "release-1.0", "transactional": False, "lint": {"ignore": ["SF101"]},
        "operations": [{"drop_table": {"name": "t"}}],
        "rollback": [{"sql": {"up": "CREATE TABLE t (id int)"}}],
    }
    cs = ir.parse(doc, path="somewhere/c002_second.yaml")
    assert cs.id == "c002"
    assert cs.parents == ("c001",)
    assert cs.all_parents == ("c001", "x001")
    assert cs.lint_ignore == ("SF101",)
    assert cs.rollback == (ir.Sql(up=("CREATE TABLE t (id int)",)),)
    assert cs.path == "somewhere/c002_second.yaml"
    assert ir.dump(cs) == doc
    assert list(ir.dump(cs)) == list(doc)
    assert ir.parse(ir.dump(cs)) == cs


def test_minimal_changeset_dump() -> None:
    cs = ir.parse(_doc())
    assert cs.rollback is None
    assert cs.transactional is None
    assert ir.dump(cs) == _doc()


class _Body(ir.Deferred):
    """A deferred body that counts its loads."""

    __slots__ = ("body", "loads")

    def __init__(self, cs: ir.Changeset) -> None:
        super().__init__(cs.operation_kinds, ir.checksum(cs))
        self.body: ir.Body = (cs.operations, cs.rollback)
        self.loads = 0

    def load(self) -> ir.Body:
        self.loads += 1
        return self.body


def test_a_deferred_body_is_loaded_once_on_first_use_and_compares_as_given() -> None:
    given = ir.parse(_doc(rollback=[{"drop_table": {"name": "t"}}]))
    body = _Body(given)
    cs = ir.Changeset(id=given.id, parents=given.parents, message=given.message,
                      operations=body, rollback=body)
    assert cs.operation_kinds == given.operation_kinds
    assert ir.checksum(cs) == ir.checksum(given)
    assert cs.deferred is body and body.loads == 0
    assert cs.rollback == given.rollback and cs.operations == given.operations
    assert cs == given and hash(cs) == hash(given) and repr(cs) == repr(given)
    assert body.loads == 1 and cs.deferred is None
    assert ir.checksum(dataclasses.replace(cs, message="other")) == ir.checksum(given)


def test_operations_are_slotted() -> None:
    for cls in (*ir.OPERATIONS.values(), ir.Column, ir.Reference, ir.ForeignKeyDef):
        # (made without __init__: some classes refuse all fields None in __post_init__)
        assert not hasattr(object.__new__(cls), "__dict__")


def test_empty_rollback_is_kept_apart_from_no_rollback() -> None:
    cs = ir.parse(_doc(rollback=[]))
    assert cs.rollback == ()
    assert ir.parse(ir.dump(cs)) == cs


# --- hypothesis: parse(dump(x)) == x ------------------------------------------------------------

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
TYPES = st.sampled_from([
    "integer", "bigint", "smallint", "string(50)", "varchar(12)", "text", "boolean", "date",
    "datetime", "datetime(timezone=true)", "time", "float", "numeric(10,2)", "json", "uuid",
    "binary", "enum(a,b,c)", "enum(a,b,name=x)", "postgresql.jsonb", "mysql.mediumtext",
    "sql(VECTOR(3))", "sql('a, b')", "binary(16,fixed=true)", "varbinary(8)",
]).map(parse_type)
INTS = st.integers(min_value=-(2**53), max_value=2**53)
FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)
SCALARS = st.one_of(NAMES, INTS, FLOATS, st.booleans())


def _strategy(tp: Any, scalar: st.SearchStrategy[Any], with_null: bool) -> Any:
    """A strategy for a value of the IR field type `tp`, derived from the annotations."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        non_null = [a for a in args if a is not type(None)]
        if any(dataclasses.is_dataclass(a) for a in non_null):  # a name or a mapping
            base = st.one_of(*(_strategy(a, scalar, with_null) for a in non_null))
        elif len(non_null) > 1:  # a literal value: str | int | float | bool
            base = scalar
        else:
            (inner,) = non_null
            base = _strategy(inner, scalar, with_null)
        return st.one_of(st.none(), base) if type(None) in args else base
    if tp is str:
        return NAMES
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(min_value=1, max_value=10**6)
    if tp is TypeSpec:
        return TYPES
    if origin is Literal:
        return st.sampled_from(typing.get_args(tp))
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if item is ir.Variant:  # a mapping: each database once, in name order
            return st.dictionaries(st.sampled_from(typing.get_args(ir.Dialect)), TYPES,
                                   max_size=3).map(lambda d: tuple(
                ir.Variant(dialect=k, type=v) for k, v in sorted(d.items())))
        return st.lists(_strategy(item, scalar, with_null), max_size=3).map(tuple)
    if origin is dict:
        values = st.one_of(st.none(), scalar) if with_null else scalar
        return st.dictionaries(NAMES, values, min_size=1, max_size=3)
    if dataclasses.is_dataclass(tp):
        return _builds(tp, scalar, with_null)
    raise AssertionError(f"no strategy for {tp!r}")


def _builds(cls: Any, scalar: st.SearchStrategy[Any], with_null: bool) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: _strategy(hints[f.name], scalar, with_null)
              for f in dataclasses.fields(cls) if f.init and f.compare}
    # Sql.up must hold at least one statement to be meaningful.
    if cls is ir.Sql:
        fields["up"] = st.lists(NAMES, min_size=1, max_size=3).map(tuple)
    # A key part is a column or an expression (only a column has a prefix length).
    if cls is ir.IndexColumn:
        return st.one_of(
            st.builds(cls, **{**fields, "name": NAMES, "expression": st.none()}),
            st.builds(cls, **{**fields, "name": st.none(), "expression": NAMES,
                              "length": st.none()}))
    # alter_table changes its comment or its sqlite_autoincrement, at least one.
    if cls is ir.AlterTable:
        return st.one_of(st.builds(cls, **{**fields, "comment": NAMES}),
                         st.builds(cls, **{**fields, "sqlite_autoincrement": st.booleans()}))
    # A collation or a default per database names at least one database.
    if cls in (ir.Collations, ir.SqlDefaults):
        return st.dictionaries(st.sampled_from(typing.get_args(ir.Dialect)), NAMES,
                               min_size=1).map(lambda d: cls(**d))
    # A type's variants and collation go with the type.
    if cls is ir.AlterColumn:
        return st.one_of(st.builds(cls, **{**fields, "type": TYPES}), st.builds(
            cls, **{**fields, "type": st.none(), "variants": st.just(()),
                    "collation": st.none()}))
    # An index condition's databases go with the condition, and name at least one; so do
    # the databases an index exists on.
    if cls in (ir.IndexDef, ir.CreateIndex):
        scope = st.one_of(st.none(), st.lists(st.sampled_from(typing.get_args(ir.Dialect)),
                                               min_size=1, max_size=4, unique=True).map(tuple))
        fields["dialects"] = scope
        return st.one_of(
            st.builds(cls, **{**fields, "where_dialects": st.none()}),
            st.builds(cls, **{**fields, "where": NAMES, "where_dialects": st.lists(
                st.sampled_from(typing.get_args(ir.Dialect)), min_size=1, max_size=4,
                unique=True).map(tuple)}))
    # A table's character set and collation are MySQL's, the collation of that set.
    if cls is ir.CreateTable:
        pairs = [(c, k) for c in (None, "utf8", "utf8mb4", "latin1")
                 for k in (None, "utf8mb4_bin", "uca1400_ai_ci")
                 if c in (None, "utf8mb4") or k != "utf8mb4_bin"]
        return st.sampled_from(pairs).flatmap(lambda pair: st.builds(cls, **{
            **fields, "mysql_charset": st.just(pair[0]), "mysql_collate": st.just(pair[1])}))
    # A column's values come from at most one of these.
    if cls is ir.Column:
        sources = ("default", "default_sql", "computed", "identity", "sequence")
        return st.sampled_from((None, *sources)).flatmap(lambda keep: st.builds(
            cls, **{k: (v if k not in sources or k == keep else st.none())
                    for k, v in fields.items()}))
    return st.builds(cls, **fields)


def operations(scalar: st.SearchStrategy[Any] = SCALARS, with_null: bool = True) -> Any:
    """Any operation of any kind."""
    return st.one_of(*(_builds(cls, scalar, with_null) for cls in ir.OPERATIONS.values()))


def changesets(scalar: st.SearchStrategy[Any] = SCALARS, with_null: bool = True) -> Any:
    ops = st.lists(operations(scalar, with_null), max_size=3).map(tuple)
    return st.builds(
        ir.Changeset, id=NAMES, parents=st.lists(NAMES, max_size=2).map(tuple),
        message=NAMES, operations=ops, author=st.none() | NAMES,
        depends_on=st.lists(NAMES, max_size=2).map(tuple),
        branch_labels=st.lists(NAMES, max_size=2).map(tuple), tag=st.none() | NAMES,
        transactional=st.none() | st.booleans(), rollback=st.none() | ops,
        lint_ignore=st.lists(st.from_regex(r"SF[0-9]{3}", fullmatch=True),
                             max_size=2).map(tuple),
    )


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(operations())
def test_parse_operation_of_dump_is_identity(op: ir.Operation) -> None:
    doc = ir.dump_operation(op)
    assert list(doc) == [op.kind]
    again = ir.parse_operation(doc)
    assert again == op
    assert type(again) is type(op)
    assert ir.dump_operation(again) == doc


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(changesets())
def test_parse_of_dump_is_identity(cs: ir.Changeset) -> None:
    assert ir.parse(ir.dump(cs)) == cs


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(changesets(with_null=False))
def test_yaml_and_toml_text_give_one_ir(cs: ir.Changeset) -> None:
    doc = ir.dump(cs)
    from_yaml = ir.parse(source.loads(source.dumps(doc, "yaml"), "yaml", "x.yaml"))
    from_toml = ir.parse(source.loads(source.dumps(doc, "toml"), "toml", "x.toml"))
    assert from_yaml == cs
    assert from_toml == cs


# --- the same changeset as YAML and as TOML files -----------------------------------------------

RICH_OPS: list[Any] = [
    {"create_table": {
        "name": "user",
        "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "name", "type": "string(50)", "nullable": False},
            {"name": "active", "type": "boolean", "nullable": False, "default": True},
            {"name": "on", "type": "text", "comment": "a YAML 1.1 boolean word"},
            {"name": "score", "type": "numeric(5,2)", "default": 2.5},
            {"name": "created_at", "type": "datetime", "default_sql": "CURRENT_TIMESTAMP"},
        ],
        "unique": [{"columns": ["name"], "name": "uq_user_name"}],
        "checks": [{"expression": "score >= 0"}],
        "indexes": [{"name": "ix_user_active", "columns": ["active"]}],
    }},
    {"create_index": {"name": "ix_user_name", "table": "user", "columns": ["name"],
                      "where": "active"}},
    {"sql": {"up": ["UPDATE user SET active = 1", "SELECT 1"], "down": "SELECT 2",
             "dialects": ["sqlite"]}},
    {"insert_rows": {"table": "user", "rows": [{"id": 1, "name": "yes", "active": False,
                                                "score": 0.25}]}},
]


def test_same_changeset_as_yaml_and_toml_files_gives_one_ir(project: Project) -> None:
    extra: dict[str, Any] = {"author": "alice", "tag": "v1", "branch_labels": ["main"],
                             "depends_on": ["c000"], "transactional": True,
                             "lint": {"ignore": ["SF101"]},
                             "rollback": [{"drop_table": {"name": "user"}}]}
    y = project.write("c001", RICH_OPS, fmt="yaml", slug="same", **extra)
    t = project.write("c001", RICH_OPS, fmt="toml", slug="same", **extra)
    _, from_yaml, ydiags = history.load_file(y)
    _, from_toml, tdiags = history.load_file(t)
    assert ydiags == []
    assert tdiags == []
    assert from_yaml is not None
    assert from_yaml == from_toml
    create = from_yaml.operations[0]
    assert isinstance(create, ir.CreateTable)
    assert create.columns[3].name == "on"
    assert from_toml is not None
    assert history.checksum(from_yaml) == history.checksum(from_toml)


def test_demo_toml_changeset_rewritten_as_yaml_gives_one_ir(tmp_path: Path) -> None:
    toml_file = DEMO / "71c8d2e9b5a4_create_tags.toml"
    _, from_toml, diags = history.load_file(toml_file)
    assert diags == []
    assert from_toml is not None
    yaml_file = tmp_path / "71c8d2e9b5a4_create_tags.yaml"
    yaml_file.write_text(source.dumps(ir.dump(from_toml), "yaml"), encoding="utf-8")
    _, from_yaml, diags = history.load_file(yaml_file)
    assert diags == []
    assert from_yaml == from_toml


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations(), max_size=3).map(tuple))
def test_the_cache_s_plain_data_round_trips_every_operation(ops: tuple[ir.Operation, ...]) -> None:
    """What the parse cache stores (marshal of plain data) decodes to the same operations:
    every class and field of the IR, index key parts and generated columns included."""
    import marshal

    from schemaflow.ir.plain import decode_body, encode_body

    data = marshal.loads(marshal.dumps(encode_body((ops, ops))))
    assert decode_body(data) == (ops, ops)

"""Unit tests of `schemaflow.diff`: two schema states in, the operations between them out.

States are built the way the history builds them, by `schemaflow.state.apply` of operations.
Most tests also check the one property every diff must have: its operations, applied to the
old state, give the new one (`transforms`).
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from schemaflow import ir
from schemaflow.dialects import by_name
from schemaflow.dialects.metadata import from_metadata
from schemaflow.dialects.read import default_from_sa
from schemaflow.diff import DiffResult, diff
from schemaflow.diffkeys import default_key, type_key
from schemaflow.errors import SchemaflowError
from schemaflow.state import (
    SchemaState,
    Table,
    apply,
    apply_all,
    ck_name,
    readable_create,
    table_from_create,
)
from schemaflow.typespec import parse_type

MODELS = Path(__file__).resolve().parent / "models"


# --- building states ----------------------------------------------------------------------------


def col(name: str, type_: str = "integer", **kw: Any) -> ir.Column:
    return ir.Column(name=name, type=parse_type(type_), **kw)


def pk(name: str = "id", type_: str = "integer") -> ir.Column:
    return col(name, type_, primary_key=True)


def ref(table: str, *columns: str, name: str | None = None, ondelete: Any = None,
        cols: tuple[str, ...] | None = None) -> ir.ForeignKeyDef:
    return ir.ForeignKeyDef(columns=cols or (f"{table}_id",),
                            references=ir.Reference(table=table, columns=columns or ("id",)),
                            name=name, ondelete=ondelete)


def create(name: str, *columns: ir.Column, **kw: Any) -> ir.CreateTable:
    return ir.CreateTable(name=name, columns=columns, **kw)


def build(*ops: ir.Operation) -> SchemaState:
    state = SchemaState()
    for op in ops:
        state = apply(state, op)
    return state


OpT = TypeVar("OpT", bound=ir.Operation)


def op_at(result: DiffResult, index: int, cls: type[OpT]) -> OpT:
    """The operation at `index` of the diff, which the test knows to be a `cls`."""
    op = result.operations[index]
    assert isinstance(op, cls), op
    return op


def kinds(result: DiffResult) -> list[str]:
    return [op.kind for op in result.operations]


def brief(result: DiffResult) -> list[tuple[str, ...]]:
    out = []
    for op in result.operations:
        table = getattr(op, "table", None)
        name = getattr(op, "name", None)
        if isinstance(op, ir.AddColumn):
            name = op.column.name
        out.append(tuple(x for x in (op.kind, table, name) if x is not None))
    return out


def _norm_table(t: Table) -> Any:
    return (
        t.comment,
        t.primary_key.columns if t.primary_key else None,
        sorted((c.name, str(c.type), c.is_nullable, default_key(c), c.comment)
               for c in t.columns),
        sorted(u.columns for u in t.uniques),
        sorted(((f.columns, f.references.table, f.references.columns, f.ondelete or "",
                 f.onupdate or "") for f in t.foreign_keys), key=str),
        sorted((c.name or "", c.expression) for c in t.checks),
        sorted((i.name, i.columns, i.unique, i.where or "") for i in t.indexes),
    )


def normalised(state: SchemaState) -> dict[Any, Any]:
    """A state with order and default names taken out (what a database would show)."""
    return {key: _norm_table(t) for key, t in state.tables.items()}


def transforms(old: SchemaState, new: SchemaState, **kw: Any) -> DiffResult:
    """The diff, after checking that its operations, replayed on `old`, give `new`."""
    result = diff(old, new, **kw)
    after = apply_all(old, result.operations)
    assert normalised(after) == normalised(new)
    assert diff(after, new).operations == []
    return result


BASE = (
    create("author", pk(), col("name", "string(50)", nullable=False),
           col("email", "string(100)", unique=True), col("bio", "text"),
           col("score", "integer", nullable=False, default=0)),
    create("post", pk(), col("author_id", nullable=False), col("title", "string(80)"),
           col("body", "text"), foreign_keys=(ref("author", cols=("author_id",)),),
           indexes=(ir.IndexDef(name="ix_post_title", columns=("title",)),)),
)


# --- no difference ------------------------------------------------------------------------------


def test_identical_states_diff_to_nothing() -> None:
    state = build(*BASE)
    assert diff(state, state) == DiffResult()
    assert diff(SchemaState(), SchemaState()) == DiffResult()


def test_the_same_schema_written_differently_is_no_change() -> None:
    inline = build(create("t", pk(), col("a", "varchar(20)", unique=True, index=True),
                          col("b", "int", default="0"), col("c", "timestamp")))
    spelled_out = build(create(
        "t", col("id", "integer", nullable=False), col("a", "string(20)"),
        col("b", "integer", default=0), col("c", "datetime"),
        primary_key=ir.PrimaryKeyDef(columns=("id",), name="pk_t"),
        unique=(ir.UniqueDef(columns=("a",), name="uq_t_a"),),
        indexes=(ir.IndexDef(name="ix_t_a", columns=("a",)),)))
    assert diff(inline, spelled_out).operations == []
    assert diff(spelled_out, inline).operations == []


# --- readable_create ------------------------------------------------------------------------------


def _sorted(t: Table) -> Table:
    return replace(t, uniques=tuple(sorted(t.uniques, key=str)),
                   foreign_keys=tuple(sorted(t.foreign_keys, key=str)),
                   checks=tuple(sorted(t.checks, key=str)),
                   indexes=tuple(sorted(t.indexes, key=str)))


ROUND_TRIP_TABLES = {
    "plain": create("plain", pk(), col("name", "string(20)")),
    "inline everything": create(
        "t", pk(), col("a", "string(20)", unique=True, index=True),
        col("b", "integer", nullable=False, default=1, comment="bee"),
        col("c", "datetime", default_sql="CURRENT_TIMESTAMP"), comment="a table"),
    "composite primary key": create(
        "link", col("a", nullable=False), col("b", nullable=False),
        primary_key=ir.PrimaryKeyDef(columns=("a", "b"))),
    "primary key with its own name": create(
        "own", col("id"), primary_key=ir.PrimaryKeyDef(columns=("id",), name="own_pkey")),
    "unique with its own name": create(
        "u", pk(), col("a"), unique=(ir.UniqueDef(columns=("a",), name="u_a_key"),)),
    "composite unique": create(
        "cu", pk(), col("a"), col("b"), unique=(ir.UniqueDef(columns=("a", "b")),)),
    "unique single-column index": create(
        "ui", pk(), col("a"), indexes=(ir.IndexDef(name="ix_ui_a", columns=("a",),
                                                  unique=True),)),
    "partial single-column index": create(
        "pi", pk(), col("a"), indexes=(ir.IndexDef(name="ix_pi_a", columns=("a",),
                                                  where="a > 0"),)),
    "index with its own name": create(
        "oi", pk(), col("a"), indexes=(ir.IndexDef(name="oi_by_a", columns=("a",)),)),
    "same column unique and indexed twice": create(
        "dup", pk(), col("a"), unique=(ir.UniqueDef(columns=("a",)),
                                      ir.UniqueDef(columns=("a",), name="other_uq")),
        indexes=(ir.IndexDef(name="ix_dup_a", columns=("a",)),
                 ir.IndexDef(name="dup_a2", columns=("a",)))),
    "checks and self reference": create(
        "node", pk(), col("parent_id"), col("weight", "float"),
        foreign_keys=(ref("node", cols=("parent_id",), ondelete="CASCADE"),),
        checks=(ir.CheckDef(expression="weight >= 0"),
                ir.CheckDef(expression="parent_id <> id", name="not_own_parent"))),
    "enum and dialect types": create(
        "e", pk(), col("state", "enum(on,off,name=e_state)"), col("doc", "postgresql.jsonb"),
        col("when", "datetime(timezone=true)")),
}


@pytest.mark.parametrize("name", list(ROUND_TRIP_TABLES))
def test_readable_create_round_trip(name: str) -> None:
    op = ROUND_TRIP_TABLES[name]
    state = build(op)
    t = state.table(op.name)
    readable = readable_create(t)
    assert isinstance(readable, ir.CreateTable)
    assert _sorted(table_from_create(readable)) == _sorted(t)
    # The readable form is a valid changeset operation in its own right.
    assert ir.parse_operation(ir.dump_operation(readable)) == readable


def test_readable_create_folds_default_names_onto_columns() -> None:
    t = build(ROUND_TRIP_TABLES["inline everything"]).table("t")
    readable = readable_create(t)
    assert readable.primary_key is None and readable.unique == () and readable.indexes == ()
    by_name = {c.name: c for c in readable.columns}
    assert by_name["id"].primary_key and by_name["id"].nullable is None
    assert by_name["a"].unique and by_name["a"].index
    assert by_name["a"].nullable is None  # true is the contract's default: left out


def test_readable_create_keeps_names_that_are_not_the_default() -> None:
    t = build(ROUND_TRIP_TABLES["primary key with its own name"]).table("own")
    assert readable_create(t).primary_key == ir.PrimaryKeyDef(columns=("id",), name="own_pkey")
    t = build(ROUND_TRIP_TABLES["unique with its own name"]).table("u")
    assert readable_create(t).unique == (ir.UniqueDef(columns=("a",), name="u_a_key"),)


def _load_models(module: str) -> Any:
    text = (MODELS / f"{module}.py").read_text(encoding="utf-8")
    name = f"_sf_diff_models_{module}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    exec(compile(text, str(MODELS / f"{module}.py"), "exec"), mod.__dict__)
    return mod.Base.metadata


@pytest.mark.parametrize("module", ["blog", "shop", "large"])
def test_readable_create_round_trip_of_every_model_table(module: str) -> None:
    state = from_metadata(_load_models(module))
    assert state.tables
    for t in state.tables.values():
        assert _sorted(table_from_create(readable_create(t))) == _sorted(t), t.name


# --- tables -------------------------------------------------------------------------------------


def test_new_table_referencing_an_existing_one_keeps_its_foreign_key_inline() -> None:
    old = build(*BASE)
    new = build(*BASE, create("comment", pk(), col("post_id"),
                              foreign_keys=(ref("post", cols=("post_id",)),)))
    result = transforms(old, new)
    assert kinds(result) == ["create_table"]
    (op,) = result.operations
    assert isinstance(op, ir.CreateTable)
    assert [f.references.table for f in op.foreign_keys] == ["post"]
    assert op.foreign_keys[0].name == "fk_comment_post_id_post"


def test_new_tables_come_after_the_tables_they_reference() -> None:
    # Names chosen so that name order would be wrong: a_child needs m_middle needs z_root.
    new = build(create("z_root", pk()),
                create("m_middle", pk(), col("z_root_id"), foreign_keys=(ref("z_root"),)),
                create("a_child", pk(), col("m_middle_id"), foreign_keys=(ref("m_middle"),)))
    result = transforms(SchemaState(), new)
    assert brief(result) == [("create_table", "z_root"), ("create_table", "m_middle"),
                             ("create_table", "a_child")]


def test_self_reference_stays_inline() -> None:
    new = build(create("node", pk(), col("node_id"), foreign_keys=(ref("node"),)))
    result = transforms(SchemaState(), new)
    assert kinds(result) == ["create_table"]
    assert len(op_at(result, 0, ir.CreateTable).foreign_keys) == 1


def test_cycle_between_new_tables_adds_one_foreign_key_afterwards() -> None:
    a = create("a", pk(), col("b_id"))
    b = create("b", pk(), col("a_id"), foreign_keys=(ref("a"),))
    new = apply(build(a, b), ir.CreateForeignKey(
        name="fk_a_b_id_b", table="a", columns=("b_id",),
        references=ir.Reference(table="b", columns=("id",))))
    result = transforms(SchemaState(), new)
    assert kinds(result) == ["create_table", "create_table", "create_foreign_key"]
    first, second, late = result.operations
    assert isinstance(first, ir.CreateTable) and isinstance(second, ir.CreateTable)
    assert isinstance(late, ir.CreateForeignKey)
    # The first table goes without its key; the second references the first inline.
    assert first.foreign_keys == ()
    assert [f.references.table for f in second.foreign_keys] == [first.name]
    assert (late.table, late.references.table) == (first.name, second.name)


def test_only_the_cycle_waits_for_its_foreign_keys() -> None:
    # p <-> q is a cycle; b references p, a references b. Only one key of the cycle must be
    # added after the tables; a and b come after what they reference, with inline keys
    # (name order, a b p q, would be wrong for both).
    p = create("p", pk(), col("q_id"))
    q = create("q", pk(), col("p_id"), foreign_keys=(ref("p"),))
    b = create("b", pk(), col("p_id"), foreign_keys=(ref("p"),))
    a = create("a", pk(), col("b_id"), foreign_keys=(ref("b"),))
    new = apply(build(p, q, b, a), ir.CreateForeignKey(
        name="fk_p_q_id_q", table="p", columns=("q_id",),
        references=ir.Reference(table="q", columns=("id",))))
    result = transforms(SchemaState(), new)
    late = [(op.table, op.references.table) for op in result.operations
            if isinstance(op, ir.CreateForeignKey)]
    assert late in ([("p", "q")], [("q", "p")])
    created: list[str] = []
    for op in result.operations:
        if isinstance(op, ir.CreateTable):
            assert all(f.references.table in (*created, op.name) for f in op.foreign_keys), (
                f"{op.name} is created before a table it references")
            created.append(op.name)
    assert created.index("p") < created.index("b") < created.index("a")


def test_drop_table_warns_about_the_data() -> None:
    result = transforms(build(*BASE, create("old_stuff", pk())), build(*BASE))
    assert brief(result) == [("drop_table", "old_stuff")]
    assert any("old_stuff" in w and "data" in w for w in result.warnings)


def test_foreign_key_into_a_dropped_table_is_dropped_first_and_once() -> None:
    old = build(*BASE)
    new = build(create("post", pk(), col("author_id", nullable=False),
                       col("title", "string(80)"), col("body", "text"),
                       indexes=(ir.IndexDef(name="ix_post_title", columns=("title",)),)))
    result = transforms(old, new)
    assert brief(result) == [("drop_constraint", "post", "fk_post_author_id_author"),
                             ("drop_table", "author")]


def test_tables_dropped_together_go_referencing_first() -> None:
    # Name order would drop `author` (referenced) before `post` (referencing it).
    result = transforms(build(*BASE, create("keep", pk())), build(create("keep", pk())))
    assert brief(result) == [("drop_table", "post"), ("drop_table", "author")]


def test_a_column_hint_does_not_keep_a_dropped_table() -> None:
    old = build(*BASE, create("note", pk(), col("body", "text")))
    try:
        result = diff(old, build(*BASE), hints={"note.body": "content"})
    except SchemaflowError:
        return  # refusing a hint about a table that goes away is fine too
    assert normalised(apply_all(old, result.operations)) == normalised(build(*BASE))


def test_table_comment_change_is_a_difference() -> None:
    old = build(create("t", pk()))
    new = build(create("t", pk(), comment="what t is for"))
    result = diff(old, new)
    assert result.operations, "a changed table comment gives no operation"
    assert apply_all(old, result.operations).table("t").comment == "what t is for"
    assert apply_all(new, diff(new, old).operations).table("t").comment is None


# --- renames ------------------------------------------------------------------------------------


def _with_body_renamed(new_name: str = "content") -> SchemaState:
    return build(BASE[0], replace(BASE[1], columns=tuple(
        replace(c, name=new_name) if c.name == "body" else c for c in BASE[1].columns)))


def test_rename_column_when_ask_says_yes() -> None:
    asked: list[tuple[str, str, str, str]] = []

    def ask(kind: str, table: str, old: str, new: str) -> bool:
        asked.append((kind, table, old, new))
        return True

    result = transforms(build(*BASE), _with_body_renamed(), ask=ask)
    assert asked == [("column", "post", "body", "content")]
    assert result.operations == [ir.RenameColumn(table="post", name="body",
                                                 new_name="content")]
    assert result.warnings == []


def test_rename_column_refused_is_drop_and_add_with_a_hint() -> None:
    result = transforms(build(*BASE), _with_body_renamed(), ask=lambda *a: False)
    assert brief(result) == [("add_column", "post", "content"),
                             ("drop_column", "post", "body")]
    assert any("--rename post.body=content" in w for w in result.warnings)
    assert any("post.body" in w and "data" in w for w in result.warnings)


def test_no_ask_and_no_hint_never_assumes_a_rename() -> None:
    result = transforms(build(*BASE), _with_body_renamed())
    assert kinds(result) == ["add_column", "drop_column"]


def test_rename_column_by_hint_needs_no_question() -> None:
    def ask(*args: str) -> bool:
        raise AssertionError(f"asked {args}")

    result = transforms(build(*BASE), _with_body_renamed(), ask=ask,
                        hints={"post.body": "content"})
    assert kinds(result) == ["rename_column"]


def test_hint_for_another_column_is_not_a_rename() -> None:
    result = transforms(build(*BASE), _with_body_renamed(), hints={"post.body": "other"})
    assert kinds(result) == ["add_column", "drop_column"]


def test_rename_column_of_another_type_by_hint() -> None:
    old = build(*BASE)
    new = build(BASE[0], replace(BASE[1], columns=tuple(
        replace(c, name="content", type=parse_type("string(500)")) if c.name == "body" else c
        for c in BASE[1].columns)))
    result = transforms(old, new, hints={"post.body": "content"})
    assert brief(result) == [("rename_column", "post", "body"),
                             ("alter_column", "post", "content")]


def test_renamed_column_keeps_its_keys_and_indexes() -> None:
    old = build(*BASE)
    new = build(BASE[0], replace(BASE[1], columns=tuple(
        replace(c, name="headline") if c.name == "title" else c for c in BASE[1].columns),
        indexes=(ir.IndexDef(name="ix_post_title", columns=("headline",)),)))
    result = transforms(old, new, hints={"post.title": "headline"})
    assert kinds(result) == ["rename_column"]


def _memo_state() -> SchemaState:
    return build(*BASE, create("memo", pk(), col("text", "string(200)")))


def test_rename_table_when_ask_says_yes() -> None:
    asked: list[tuple[str, ...]] = []

    def ask(*args: str) -> bool:
        asked.append(args)
        return True

    old = build(*BASE, create("note", pk(), col("text", "string(200)")))
    result = transforms(old, _memo_state(), ask=ask)
    assert asked == [("table", "note", "note", "memo")]
    assert result.operations == [ir.RenameTable(name="note", new_name="memo")]


def test_rename_table_refused_is_drop_and_create() -> None:
    old = build(*BASE, create("note", pk(), col("text", "string(200)")))
    result = transforms(old, _memo_state(), ask=lambda *a: False)
    assert brief(result) == [("drop_table", "note"), ("create_table", "memo")]
    assert result.warnings


def test_rename_table_by_hint_with_changed_columns() -> None:
    old = build(*BASE, create("note", pk(), col("text", "string(200)")))
    new = build(*BASE, create("memo", pk(), col("text", "string(200)"), col("extra")))
    result = transforms(old, new, hints={"note": "memo"})
    assert brief(result) == [("rename_table", "note"), ("add_column", "memo", "extra")]


def test_rename_referenced_table_keeps_the_foreign_keys() -> None:
    old = build(*BASE)
    writer = replace(BASE[0], name="writer")
    post = replace(BASE[1], foreign_keys=(ref("writer", cols=("author_id",),
                                              name="fk_post_author_id_author"),))
    result = transforms(old, build(writer, post), hints={"author": "writer"})
    assert kinds(result) == ["rename_table"]


# --- columns ------------------------------------------------------------------------------------


def _author(**changes: Any) -> SchemaState:
    """BASE with author's columns changed: name -> replace(column, **attrs) or None."""
    cols = []
    for c in BASE[0].columns:
        if c.name in changes:
            if changes[c.name] is None:
                continue
            c = replace(c, **changes[c.name])
        cols.append(c)
    return build(replace(BASE[0], columns=tuple(cols)), BASE[1])


@pytest.mark.parametrize(("change", "expected"), [
    ({"name": {"type": parse_type("string(100)")}}, {"type": parse_type("string(100)")}),
    ({"score": {"type": parse_type("bigint")}}, {"type": parse_type("bigint")}),
    ({"bio": {"nullable": False}}, {"nullable": False}),
    ({"name": {"nullable": True}}, {"nullable": True}),
    ({"bio": {"default": "none"}}, {"default": "none"}),
    ({"score": {"default": 5}}, {"default": 5}),
    ({"score": {"default": None}}, {"drop_default": True}),
    ({"score": {"default": None, "default_sql": "1 + 1"}}, {"default_sql": "1 + 1"}),
    ({"bio": {"comment": "about"}}, {"comment": "about"}),
])
def test_column_change_is_one_alter_column(change: dict[str, Any],
                                           expected: dict[str, Any]) -> None:
    result = transforms(build(*BASE), _author(**change))
    (name,) = change
    assert result.operations == [ir.AlterColumn(table="author", name=name, **expected)]


def test_removed_column_comment() -> None:
    old = _author(bio={"comment": "about"})
    result = transforms(old, build(*BASE))
    assert result.operations == [ir.AlterColumn(table="author", name="bio", comment="")]


def test_add_and_drop_column() -> None:
    new = build(replace(BASE[0], columns=(*BASE[0].columns, col("age", "smallint"))), BASE[1])
    result = transforms(build(*BASE), new)
    assert result.operations == [ir.AddColumn(table="author", column=col("age", "smallint"))]
    result = transforms(new, build(*BASE))
    assert result.operations == [ir.DropColumn(table="author", name="age")]
    assert any("author.age" in w for w in result.warnings)


def test_dropped_column_takes_its_index_and_unique_along() -> None:
    result = transforms(build(*BASE), _author(email=None))
    assert brief(result) == [("drop_column", "author", "email")]


# --- constraints and indexes --------------------------------------------------------------------


def _post(**kw: Any) -> SchemaState:
    return build(BASE[0], replace(BASE[1], **kw))


def test_primary_key_change() -> None:
    old = build(create("pair", col("a", nullable=False), col("b", nullable=False),
                       primary_key=ir.PrimaryKeyDef(columns=("a",))))
    new = build(create("pair", col("a", nullable=False), col("b", nullable=False),
                       primary_key=ir.PrimaryKeyDef(columns=("a", "b"))))
    result = transforms(old, new)
    assert result.operations == [
        ir.DropConstraint(name="pk_pair", table="pair", type="primary_key"),
        ir.CreatePrimaryKey(name="pk_pair", table="pair", columns=("a", "b"))]


def test_unique_added_and_dropped() -> None:
    new = _post(unique=(ir.UniqueDef(columns=("author_id", "title")),))
    result = transforms(build(*BASE), new)
    assert result.operations == [ir.CreateUniqueConstraint(
        name="uq_post_author_id_title", table="post", columns=("author_id", "title"))]
    result = transforms(new, build(*BASE))
    assert result.operations == [ir.DropConstraint(name="uq_post_author_id_title",
                                                   table="post", type="unique")]


def test_unique_index_and_unique_constraint_of_one_name_are_the_same() -> None:
    # Some databases (MySQL) reflect a unique constraint as a unique index of its name.
    as_constraint = _post(unique=(ir.UniqueDef(columns=("title",), name="uq_post_title"),))
    as_index = _post(indexes=(BASE[1].indexes[0], ir.IndexDef(
        name="uq_post_title", columns=("title",), unique=True)))
    assert diff(as_index, as_constraint).operations == []
    assert diff(as_constraint, as_index).operations == []


def test_foreign_key_added_dropped_and_its_ondelete_changed() -> None:
    no_fk = _post(foreign_keys=())
    result = transforms(build(*BASE), no_fk)
    assert result.operations == [ir.DropConstraint(name="fk_post_author_id_author",
                                                   table="post", type="foreign_key")]
    result = transforms(no_fk, build(*BASE))
    assert brief(result) == [("create_foreign_key", "post", "fk_post_author_id_author")]
    cascade = _post(foreign_keys=(ref("author", cols=("author_id",), ondelete="CASCADE"),))
    result = transforms(build(*BASE), cascade)
    assert brief(result) == [("drop_constraint", "post", "fk_post_author_id_author"),
                             ("create_foreign_key", "post", "fk_post_author_id_author")]
    assert op_at(result, 1, ir.CreateForeignKey).ondelete == "CASCADE"


@pytest.mark.parametrize("same", ["RESTRICT", "NO ACTION"])
def test_restrict_and_no_action_are_the_default_action(same: str) -> None:
    explicit = _post(foreign_keys=(ref("author", cols=("author_id",), ondelete=same),))
    assert diff(build(*BASE), explicit).operations == []


def test_foreign_key_name_alone_is_no_change() -> None:
    renamed = _post(foreign_keys=(ref("author", cols=("author_id",), name="post_author_fkey"),))
    assert diff(build(*BASE), renamed).operations == []


def test_index_added_dropped_made_unique_and_partial() -> None:
    no_index = _post(indexes=())
    assert brief(transforms(build(*BASE), no_index)) == [("drop_index", "post",
                                                           "ix_post_title")]
    assert brief(transforms(no_index, build(*BASE))) == [("create_index", "post",
                                                           "ix_post_title")]
    unique = _post(indexes=(ir.IndexDef(name="ix_post_title", columns=("title",),
                                        unique=True),))
    result = transforms(build(*BASE), unique)
    assert brief(result) == [("drop_index", "post", "ix_post_title"),
                             ("create_index", "post", "ix_post_title")]
    assert op_at(result, 1, ir.CreateIndex).unique
    partial = _post(indexes=(ir.IndexDef(name="ix_post_title", columns=("title",),
                                         where="title IS NOT NULL"),))
    result = transforms(build(*BASE), partial)
    assert result.operations[1] == ir.CreateIndex(
        name="ix_post_title", table="post", columns=("title",), where="title IS NOT NULL")


def test_partial_index_predicate_compared_by_meaning() -> None:
    def with_where(where: str) -> SchemaState:
        return _post(indexes=(ir.IndexDef(name="ix_post_title", columns=("title",),
                                          where=where),))

    # How PostgreSQL gives a predicate back, against how the models wrote it.
    assert diff(with_where("(title IS NOT NULL)"),
                with_where("title is not null")).operations == []
    assert diff(with_where('("title" <> \'\'::text)'),
                with_where("title <> ''")).operations == []
    assert diff(with_where("title <> 'x'"), with_where("title <> 'y'")).operations != []


def test_check_constraint_added_and_dropped() -> None:
    checked = _post(checks=(ir.CheckDef(expression="length(title) > 0",
                                        name="ck_post_title"),))
    result = transforms(build(*BASE), checked)
    assert result.operations == [ir.CreateCheckConstraint(
        name="ck_post_title", table="post", expression="length(title) > 0")]
    result = transforms(checked, build(*BASE))
    assert result.operations == [ir.DropConstraint(name="ck_post_title", table="post",
                                                   type="check")]


# --- order of a mixed diff ----------------------------------------------------------------------


def test_mixed_changes_run_in_an_order_that_works() -> None:
    old = build(*BASE, create("tag", pk(), col("label", "string(20)")),
                create("post_tag", col("post_id", nullable=False),
                       col("tag_id", nullable=False),
                       primary_key=ir.PrimaryKeyDef(columns=("post_id", "tag_id")),
                       foreign_keys=(ref("post", cols=("post_id",)),
                                     ref("tag", cols=("tag_id",)))))
    new = build(
        replace(BASE[0], columns=(*BASE[0].columns[:2], col("email", "string(200)"),
                                  *BASE[0].columns[3:]),
                unique=(ir.UniqueDef(columns=("name",)),)),
        create("category", pk(), col("title", "string(50)", nullable=False)),
        replace(BASE[1], columns=(*BASE[1].columns, col("category_id")),
                foreign_keys=(*BASE[1].foreign_keys,
                              ref("category", cols=("category_id",))),
                indexes=(ir.IndexDef(name="ix_post_title", columns=("title",), unique=True),)),
    )
    result = transforms(old, new)
    order = kinds(result)
    # Drops of what depends on a thing come before the thing; creations after what they need.
    assert order.index("drop_index") < order.index("create_index")
    assert order.index("create_table") < order.index("create_foreign_key")
    assert order.index("add_column") < order.index("create_foreign_key")
    drops = [op.name for op in result.operations if isinstance(op, ir.DropTable)]
    assert drops == ["post_tag", "tag"]
    assert sorted(set(order)) == sorted({
        "drop_table", "drop_index", "drop_constraint", "create_table", "add_column",
        "alter_column", "create_unique_constraint", "create_index", "create_foreign_key"})


# --- normalised comparisons ---------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [
    ("varchar(50)", "string(50)"),
    ("VARCHAR(50)", "string(50)"),
    ("int", "integer"),
    ("bool", "boolean"),
    ("timestamp", "datetime"),
    ("float(53)", "float"),
    ("text(65535)", "text"),
    ("datetime(timezone=false)", "datetime"),
    ("enum(a,b,name=x)", "enum(a,b)"),
    ("enum(a,b,name=x)", "enum(a,b,name=y)"),
    ("numeric(10,2)", "numeric(10, 2)"),
])
def test_type_key_same_meaning(a: str, b: str) -> None:
    assert type_key(parse_type(a)) == type_key(parse_type(b))


@pytest.mark.parametrize(("a", "b"), [
    ("string(50)", "string(100)"),
    ("integer", "bigint"),
    ("integer", "smallint"),
    ("string(50)", "text"),
    ("datetime", "datetime(timezone=true)"),
    ("enum(a,b)", "enum(a,b,c)"),
    ("enum(a,b)", "enum(b,a)"),
    ("numeric(10,2)", "numeric(12,2)"),
    ("postgresql.jsonb", "json"),
])
def test_type_key_different_meaning(a: str, b: str) -> None:
    assert type_key(parse_type(a)) != type_key(parse_type(b))


def _default_col(**kw: Any) -> ir.Column:
    return col("c", **kw)


@pytest.mark.parametrize(("a", "b"), [
    ({"default": 0}, {"default": "0"}),
    ({"default": True}, {"default": 1}),
    ({"default": False}, {"default": 0}),
    ({"default": 1.0}, {"default": 1}),
    ({"default_sql": "now()"}, {"default_sql": "CURRENT_TIMESTAMP"}),
    ({"default_sql": "CURRENT_TIMESTAMP()"}, {"default_sql": "current_timestamp"}),
    ({"default_sql": "(1 + 1)"}, {"default_sql": "1+1"}),
    ({"default_sql": "'x'::character varying"}, {"default_sql": "'x'"}),
    ({}, {}),
])
def test_default_key_same_meaning(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert default_key(_default_col(**a)) == default_key(_default_col(**b))


@pytest.mark.parametrize(("a", "b"), [
    ({"default": 0}, {"default": 1}),
    ({"default": 0}, {}),
    ({"default": "a"}, {"default": "b"}),
    ({"default_sql": "CURRENT_TIMESTAMP"}, {}),
    ({"default_sql": "1 + 1"}, {"default_sql": "1 + 2"}),
])
def test_default_key_different_meaning(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert default_key(_default_col(**a)) != default_key(_default_col(**b))


@pytest.mark.parametrize(("reflected", "model"), [
    # What a database gives back for a server default, against what a model said.
    ("'0'::integer", {"default": 0}),
    ("'0'", {"default": 0}),
    ("0", {"default": 0}),
    ("((0))", {"default": 0}),
    ("'draft'::character varying", {"default": "draft"}),
    ("'it''s'", {"default": "it's"}),
    ("true", {"default": True}),
    ("false", {"default": False}),
    ("now()", {"default_sql": "CURRENT_TIMESTAMP"}),
    ("CURRENT_TIMESTAMP", {"default_sql": "CURRENT_TIMESTAMP"}),
    ("current_timestamp()", {"default_sql": "CURRENT_TIMESTAMP"}),
    ("2.50", {"default": 2.5}),
    # PostgreSQL and MariaDB give a numeric column's server_default="0.00" back unquoted.
    ("0.00", {"default": "0.00"}),
])
def test_reflected_defaults_mean_the_model_defaults(reflected: str,
                                                    model: dict[str, Any]) -> None:
    value, sql = default_from_sa(reflected)
    assert default_key(_default_col(default=value, default_sql=sql)) == default_key(
        _default_col(**model))


def test_defaults_compared_by_meaning_give_no_operation() -> None:
    old = _author(score={"default": "0"}, bio={"default_sql": "now()"})
    new = _author(score={"default": 0}, bio={"default_sql": "CURRENT_TIMESTAMP"})
    assert diff(old, new).operations == []


def test_a_changed_check_expression_is_found_when_both_sides_are_written_alike() -> None:
    old = build(create("t", pk(), col("n", "integer"),
                       checks=(ir.CheckDef(expression="n > 0", name="ck_t_n"),)))
    new = build(create("t", pk(), col("n", "integer"),
                       checks=(ir.CheckDef(expression="n > 1", name="ck_t_n"),)))
    ops = transforms(old, new, exact_checks=True).operations
    assert [op.kind for op in ops] == ["drop_constraint", "create_check_constraint"]
    # A database's own spelling of the same CHECK is not a change by itself.
    assert diff(old, new).operations == []
    respelled = build(create("t", pk(), col("n", "integer"),
                             checks=(ir.CheckDef(expression="(N > 0)", name="ck_t_n"),)))
    assert diff(old, respelled, exact_checks=True).operations == []


def _checked(*checks: ir.CheckDef, n_type: str = "integer") -> SchemaState:
    return build(create("jobs", pk(), col("n", n_type), col("state", "string(4)"),
                        checks=checks))


def test_an_unnamed_check_is_matched_by_meaning_to_the_name_a_server_gave_it() -> None:
    models = _checked(ir.CheckDef(expression="state IN ('new', 'done')"),
                      ir.CheckDef(expression="n=1"))
    pg = by_name("postgresql")
    server = _checked(
        ir.CheckDef(name="jobs_state_check", expression="state::text = ANY (ARRAY['new'::"
                    "character varying, 'done'::character varying]::text[])"),
        ir.CheckDef(name="jobs_n_check", expression="n = 1"))
    assert diff(server, models, check_key=pg.check_key).operations == []
    mariadb = _checked(ir.CheckDef(name="CONSTRAINT_1", expression="`state` in ('new','done')"),
                       ir.CheckDef(name="CONSTRAINT_2", expression="`n` = 1"))
    assert diff(mariadb, models, check_key=by_name("mariadb").check_key).operations == []
    # A different condition is a difference, and so is a named check under another name.
    changed = _checked(ir.CheckDef(expression="state IN ('new', 'gone')"),
                       ir.CheckDef(expression="n=1"))
    ops = diff(server, changed, check_key=pg.check_key).operations
    assert [(op.kind, getattr(op, "name", None)) for op in ops] == [
        ("drop_constraint", "jobs_state_check"),
        ("create_check_constraint", ck_name("jobs", "state IN ('new', 'gone')"))]
    named = _checked(ir.CheckDef(name="ck_mine", expression="n = 1"))
    other = _checked(ir.CheckDef(name="ck_yours", expression="n = 1"))
    assert len(diff(named, other).operations) == 2


def test_a_check_for_some_databases_only_differs_from_one_for_all() -> None:
    bool_check = ir.CheckDef(name="ck_jobs_n", expression="n IN (0, 1)")
    everywhere = _checked(bool_check, n_type="boolean")
    scoped = _checked(replace(bool_check, dialects=("mysql", "sqlite")), n_type="boolean")
    ops = transforms(everywhere, scoped, exact_checks=True).operations
    assert [op.kind for op in ops] == ["drop_constraint", "create_check_constraint"]
    assert ops[1] == ir.CreateCheckConstraint(name="ck_jobs_n", table="jobs",
                                              expression="n IN (0, 1)",
                                              dialects=("mysql", "sqlite"))
    reordered = _checked(replace(bool_check, dialects=("sqlite", "mysql")), n_type="boolean")
    assert diff(scoped, reordered, exact_checks=True).operations == []
    # As each database holds it: there on MariaDB, absent on PostgreSQL.
    mariadb, pg = by_name("mariadb"), by_name("postgresql")
    assert diff(mariadb.comparable(everywhere), mariadb.comparable(scoped)).operations == []
    assert pg.comparable(scoped).tables[(None, "jobs")].checks == ()


def test_index_key_parts_and_options_are_compared() -> None:
    def with_index(*keys: ir.IndexKey, **kw: Any) -> SchemaState:
        return build(create("t", pk(), col("a", "string(50)"), col("b", "integer"),
                            indexes=(ir.IndexDef(name="ix_t", columns=keys, **kw),)))

    plain = with_index("a", "b")
    same = [with_index(ir.IndexColumn(name="a"), ir.IndexColumn(name="b", order="asc")),
            with_index("a", ir.IndexColumn(name="b", order="asc", nulls="last"))]
    for state in same:
        assert diff(plain, state).operations == []
    changed = [with_index(ir.IndexColumn(name="a", order="desc"), "b"),
               with_index(ir.IndexColumn(expression="lower(a)"), "b"),
               with_index("a", "b", using="hash"), with_index("a", "b", include=("id",)),
               with_index(ir.IndexColumn(name="a", length=10), "b"),
               with_index(ir.IndexColumn(name="a", opclass="text_pattern_ops"), "b")]
    for state in changed:
        ops = transforms(plain, state).operations
        assert [op.kind for op in ops] == ["drop_index", "create_index"], state
    assert diff(with_index(ir.IndexColumn(expression="lower(a)")),
                with_index(ir.IndexColumn(expression="lower((a)::text)"))).operations == []


def test_a_renamed_table_is_renamed_before_its_indexes_change() -> None:
    old = build(create("post", pk(), col("title", "string(80)"),
                       indexes=(ir.IndexDef(name="ix_post_title", columns=("title",)),)))
    new = build(create("article", pk(), col("title", "string(80)"),
                       indexes=(ir.IndexDef(name="ix_article_title", columns=("title",)),)))
    ops = transforms(old, new, hints={"post": "article"}).operations
    assert [op.kind for op in ops] == ["rename_table", "drop_index", "create_index"]
    assert ops[1] == ir.DropIndex(name="ix_post_title", table="article")


@pytest.mark.parametrize(("was", "now", "same"), [
    ("0", "00:00:00", True), ("1 hour", "01:00:00", True),
    ("1 day 2 hours", "1 day 02:00:00", True), ("1 year 2 months", "1 year 2 mons", True),
    ("500 milliseconds", "00:00:00.5", True),
    ("1 day", "24:00:00", False), ("1 mon", "30 days", False), ("1 hour", "2 hours", False)])
def test_an_interval_default_is_compared_as_postgresql_keeps_it(was: str, now: str,
                                                                 same: bool) -> None:
    """Months, days and seconds apart, as PostgreSQL keeps and gives them back: a day is no 24
    hours across a change of daylight saving time."""
    def table(default: str) -> SchemaState:
        return build(ir.parse_operation({"create_table": {"name": "job", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "every", "type": "postgresql.interval", "default": default}]}}))

    assert (diff(table(was), table(now)).operations == []) == same

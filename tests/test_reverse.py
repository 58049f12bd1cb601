"""`reverse`: applying an operation and then its inverse gives back the schema it started from."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from schemaflow import ir
from schemaflow.errors import StateError
from schemaflow.reverse import Irreversible, reverse, reverse_changeset
from schemaflow.state import SchemaState, Table, apply, apply_all
from schemaflow.typespec import parse_type


def op(doc: dict[str, Any]) -> ir.Operation:
    """An operation from its changeset document."""
    return ir.parse_operation(doc)


def build(*docs: dict[str, Any]) -> SchemaState:
    return apply_all(SchemaState(), [op(d) for d in docs])


def norm_table(t: Table) -> tuple[Any, ...]:
    """A table, with the order of columns, constraints and indexes ignored."""
    return (t.name, t.schema, frozenset(t.columns), t.primary_key, frozenset(t.uniques),
            frozenset(t.foreign_keys), frozenset(t.checks), frozenset(t.indexes), t.comment)


def norm(state: SchemaState) -> dict[Any, tuple[Any, ...]]:
    return {k: norm_table(t) for k, t in state.tables.items()}


def roundtrip(before: SchemaState, operation: ir.Operation) -> SchemaState:
    """apply(apply(before, op), *reverse(op, before)); the inverse must exist."""
    after = apply(before, operation)
    inverse = reverse(operation, before)
    assert inverse is not None, f"{operation.kind} should be reversible"
    return apply_all(after, inverse)


def assert_restores(before: SchemaState, operation: ir.Operation) -> None:
    assert norm(roundtrip(before, operation)) == norm(before)


USER = {"create_table": {"name": "user", "comment": "people", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "name", "type": "string(50)", "nullable": False, "default": "anon",
     "comment": "full name"},
    {"name": "email", "type": "string(120)", "unique": True, "index": True},
    {"name": "active", "type": "boolean", "nullable": False, "default": True},
    {"name": "created", "type": "datetime", "default_sql": "CURRENT_TIMESTAMP"},
    {"name": "manager_id", "type": "integer"},
], "foreign_keys": [{"columns": ["manager_id"], "references": {"table": "user",
                                                               "columns": ["id"]}}],
    "checks": [{"expression": "length(name) > 0"},
               {"expression": "email <> name", "name": "ck_email_name"}],
    "indexes": [{"name": "ix_user_name_active", "columns": ["name", "active"],
                 "unique": True, "where": "active"}]}}
POST = {"create_table": {"name": "post", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "user_id", "type": "integer", "nullable": False, "index": True},
    {"name": "body", "type": "text"},
    {"name": "slug", "type": "string(40)"},
], "unique": [{"columns": ["user_id", "slug"]}],
    "foreign_keys": [{"columns": ["user_id"], "references": {"table": "user", "columns": ["id"]},
                      "ondelete": "CASCADE", "onupdate": "RESTRICT"}],
    "checks": [{"expression": "slug <> ''"}]}}
LOG = {"create_table": {"name": "log", "columns": [
    {"name": "at", "type": "datetime"}, {"name": "line", "type": "text"}]}}


@pytest.fixture
def base() -> SchemaState:
    return build(USER, POST, LOG)


EXAMPLES = [
    {"create_table": {"name": "tag", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "post_id", "type": "integer", "index": True}],
        "foreign_keys": [{"columns": ["post_id"], "references": {"table": "post",
                                                                 "columns": ["id"]}}]}},
    {"drop_table": {"name": "post"}},
    {"drop_table": {"name": "log"}},
    {"rename_table": {"name": "user", "new_name": "account"}},
    {"rename_table": {"name": "post", "new_name": "article"}},
    {"add_column": {"table": "post", "column": {"name": "views", "type": "bigint",
                                                "nullable": False, "default": 0,
                                                "unique": True, "index": True,
                                                "comment": "count"}}},
    {"drop_column": {"table": "user", "name": "email"}},
    {"drop_column": {"table": "user", "name": "name"}},
    {"drop_column": {"table": "user", "name": "active"}},
    {"drop_column": {"table": "user", "name": "created"}},
    {"drop_column": {"table": "user", "name": "manager_id"}},
    {"drop_column": {"table": "post", "name": "user_id"}},
    {"drop_column": {"table": "post", "name": "slug"}},
    {"drop_column": {"table": "post", "name": "id"}},
    {"drop_column": {"table": "log", "name": "at"}},
    {"rename_column": {"table": "user", "name": "id", "new_name": "uid"}},
    {"rename_column": {"table": "post", "name": "user_id", "new_name": "author_id"}},
    {"alter_column": {"table": "user", "name": "name", "type": "text"}},
    {"alter_column": {"table": "user", "name": "name", "nullable": True}},
    {"alter_column": {"table": "user", "name": "email", "nullable": False}},
    {"alter_column": {"table": "user", "name": "name", "default": "x"}},
    {"alter_column": {"table": "user", "name": "name", "default_sql": "'y'"}},
    {"alter_column": {"table": "user", "name": "name", "drop_default": True}},
    {"alter_column": {"table": "user", "name": "created", "default": "2020-01-01"}},
    {"alter_column": {"table": "user", "name": "created", "drop_default": True}},
    {"alter_column": {"table": "user", "name": "email", "default": "a@b"}},
    {"alter_column": {"table": "user", "name": "active", "default": False}},
    {"alter_column": {"table": "user", "name": "name", "comment": "renamed"}},
    {"alter_column": {"table": "user", "name": "name", "comment": ""}},
    {"alter_column": {"table": "user", "name": "email", "comment": "new"}},
    {"alter_column": {"table": "user", "name": "email", "type": "text", "nullable": False,
                      "default": "none", "comment": "all at once"}},
    {"create_index": {"name": "ix_new", "table": "post", "columns": ["body", "slug"],
                      "unique": True, "where": "body IS NOT NULL"}},
    {"drop_index": {"name": "ix_user_email", "table": "user"}},
    {"drop_index": {"name": "ix_user_name_active", "table": "user"}},
    {"drop_index": {"name": "ix_post_user_id", "table": "post"}},
    {"create_unique_constraint": {"name": "uq_new", "table": "post", "columns": ["body"]}},
    {"create_foreign_key": {"name": "fk_new", "table": "post", "columns": ["slug"],
                            "references": {"table": "user", "columns": ["email"]},
                            "ondelete": "SET NULL"}},
    {"create_check_constraint": {"name": "ck_new", "table": "post",
                                 "expression": "length(body) < 100"}},
    {"create_primary_key": {"name": "pk_log", "table": "log", "columns": ["at"]}},
    {"drop_constraint": {"name": "pk_user", "table": "user", "type": "primary_key"}},
    {"drop_constraint": {"name": "uq_user_email", "table": "user", "type": "unique"}},
    {"drop_constraint": {"name": "uq_post_user_id_slug", "table": "post", "type": "unique"}},
    {"drop_constraint": {"name": "fk_post_user_id_user", "table": "post",
                         "type": "foreign_key"}},
    {"drop_constraint": {"name": "fk_user_manager_id_user", "table": "user",
                         "type": "foreign_key"}},
    {"drop_constraint": {"name": "ck_email_name", "table": "user", "type": "check"}},
    {"sql": {"up": "UPDATE post SET body = ''", "down": "UPDATE post SET body = NULL"}},
    {"insert_rows": {"table": "user", "rows": [{"id": 1, "name": "a"}]}},
]


@pytest.mark.parametrize("doc", EXAMPLES, ids=lambda d: next(iter(d)))
def test_apply_then_reverse_restores_the_state(base: SchemaState, doc: dict[str, Any]) -> None:
    assert_restores(base, op(doc))


def test_drop_check_constraint_restores(base: SchemaState) -> None:
    (check,) = base.table("post").checks
    assert check.name is not None
    assert_restores(base, op({"drop_constraint": {"name": check.name, "table": "post",
                                                  "type": "check"}}))


def test_dropped_column_comes_back_with_its_full_definition(base: SchemaState) -> None:
    drop = op({"drop_column": {"table": "user", "name": "email"}})
    inverse = reverse(drop, base)
    assert inverse is not None
    add = inverse[0]
    assert isinstance(add, ir.AddColumn)
    assert add.table == "user"
    restored = apply_all(apply(base, drop), inverse)
    email = restored.table("user").column("email")
    assert email == base.table("user").column("email")
    assert email is not None and email.type == parse_type("string(120)")
    user = restored.table("user")
    assert ir.UniqueDef(columns=("email",), name="uq_user_email") in user.uniques
    assert ir.IndexDef(name="ix_user_email", columns=("email",)) in user.indexes
    assert ir.CheckDef(expression="email <> name", name="ck_email_name") in user.checks


def test_dropped_column_keeps_type_nullability_default_and_comment(base: SchemaState) -> None:
    for name in ("name", "active", "created"):
        drop = op({"drop_column": {"table": "user", "name": name}})
        restored = apply_all(apply(base, drop), reverse(drop, base) or ())
        assert restored.table("user").column(name) == base.table("user").column(name)
    name_col = base.table("user").column("name")
    assert name_col is not None
    assert (name_col.nullable, name_col.default, name_col.comment) == (False, "anon",
                                                                       "full name")


def test_dropped_column_with_foreign_key_comes_back_with_it(base: SchemaState) -> None:
    drop = op({"drop_column": {"table": "post", "name": "user_id"}})
    restored = apply_all(apply(base, drop), reverse(drop, base) or ())
    post = restored.table("post")
    assert set(post.foreign_keys) == set(base.table("post").foreign_keys)
    (fk,) = post.foreign_keys
    assert (fk.ondelete, fk.onupdate) == ("CASCADE", "RESTRICT")
    assert set(post.uniques) == set(base.table("post").uniques)


@pytest.mark.parametrize("docs", [(USER,), (USER, POST, LOG)], ids=["alone", "with-others"])
def test_dropped_table_is_recreated_exactly(docs: tuple[dict[str, Any], ...]) -> None:
    # `user` has every part: key, unique, self-reference, checks, indexes, comments.
    before = build(*docs)
    name = "user" if len(docs) == 1 else "post"
    drop = op({"drop_table": {"name": name}})
    inverse = reverse(drop, before)
    assert inverse is not None and len(inverse) == 1
    assert isinstance(inverse[0], ir.CreateTable)
    restored = apply_all(apply(before, drop), inverse)
    assert restored.table(name) == before.table(name)
    assert restored == before


def test_create_primary_key_on_nullable_column_reverses_nullability() -> None:
    # Adding a primary key makes its columns NOT NULL; undoing it must give them back.
    before = build({"create_table": {"name": "t", "columns": [
        {"name": "a", "type": "integer"}, {"name": "b", "type": "text"}]}})
    assert_restores(before, op({"create_primary_key": {"name": "pk_t", "table": "t",
                                                       "columns": ["a"]}}))


def test_rollback_of_dropping_a_self_referenced_key_then_the_table() -> None:
    # The table's own foreign key points at `id`. Either dropping `id` is refused (as it is
    # when another table points at it), or the rollback must rebuild the table as it was.
    before = build({"create_table": {"name": "node", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "parent_id", "type": "integer"}],
        "foreign_keys": [{"columns": ["parent_id"],
                          "references": {"table": "node", "columns": ["id"]}}]}})
    ops = [op({"drop_column": {"table": "node", "name": "id"}}),
           op({"drop_table": {"name": "node"}})]
    try:
        after = apply_all(before, ops)
    except StateError as exc:
        assert exc.code == "SF111"
        return
    assert norm(apply_all(after, reverse_changeset(ops, before))) == norm(before)


def test_rollback_of_dropping_a_referenced_table_then_the_reference(base: SchemaState) -> None:
    # Either dropping `user` while `post` points at it is refused, or the automatic rollback
    # (recreate the key, then the table) must be applicable and restore the schema.
    ops = [op({"drop_table": {"name": "user"}}),
           op({"drop_constraint": {"name": "fk_post_user_id_user", "table": "post",
                                   "type": "foreign_key"}})]
    try:
        after = apply_all(base, ops)
    except StateError as exc:
        assert exc.code == "SF110"
        return
    assert norm(apply_all(after, reverse_changeset(ops, base))) == norm(base)


# --- irreversible operations --------------------------------------------------------------------


def test_sql_without_down_is_irreversible(base: SchemaState) -> None:
    assert reverse(op({"sql": {"up": "DELETE FROM post"}}), base) is None


def test_sql_with_down_swaps_up_and_down(base: SchemaState) -> None:
    inverse = reverse(op({"sql": {"up": ["A", "B"], "down": "C", "dialects": ["sqlite"]}}),
                      base)
    assert inverse == (ir.Sql(up=("C",), down=("A", "B"), dialects=("sqlite",)),)


def test_insert_rows_without_primary_key_is_irreversible(base: SchemaState) -> None:
    assert reverse(op({"insert_rows": {"table": "log", "rows": [{"line": "x"}]}}), base) is None


def test_insert_rows_with_primary_key_deletes_those_keys(base: SchemaState) -> None:
    inverse = reverse(op({"insert_rows": {"table": "user", "rows": [
        {"id": 1, "name": "a", "email": "a@x"}, {"id": 2, "name": "b"}]}}), base)
    assert inverse is not None
    (delete,) = inverse
    assert isinstance(delete, ir.DeleteRows)
    assert delete.table == "user"
    assert sorted(r["id"] for r in delete.rows) == [1, 2]  # type: ignore[type-var]
    assert all(set(r) == {"id"} for r in delete.rows)


def test_insert_rows_with_composite_key_deletes_by_the_whole_key() -> None:
    s = build({"create_table": {"name": "pair", "columns": [
        {"name": "a", "type": "integer"}, {"name": "b", "type": "integer"},
        {"name": "v", "type": "text"}], "primary_key": {"columns": ["a", "b"]}}})
    inverse = reverse(op({"insert_rows": {"table": "pair", "rows": [
        {"a": 1, "b": 2, "v": "x"}]}}), s)
    assert inverse == (ir.DeleteRows(table="pair", rows=({"a": 1, "b": 2},)),)


@pytest.mark.parametrize(("ops", "index", "word"), [
    ([{"add_column": {"table": "log", "column": {"name": "n", "type": "integer"}}},
      {"sql": {"up": "UPDATE log SET n = 1"}}], 1, "sql"),
    ([{"insert_rows": {"table": "log", "rows": [{"line": "hello"}]}},
      {"drop_table": {"name": "log"}}], 0, "insert_rows"),
    ([{"create_index": {"name": "ix_log_at", "table": "log", "columns": ["at"]}},
      {"drop_index": {"name": "ix_log_at", "table": "log"}},
      {"sql": {"up": ["A", "B"]}}], 2, "sql"),
])
def test_reverse_changeset_names_the_irreversible_operation(
        base: SchemaState, ops: list[dict[str, Any]], index: int, word: str) -> None:
    with pytest.raises(Irreversible) as info:
        reverse_changeset([op(d) for d in ops], base)
    assert info.value.index == index
    assert word in info.value.message


def test_reverse_changeset_undoes_operations_in_reverse_order(base: SchemaState) -> None:
    ops = [op(d) for d in (
        {"create_table": {"name": "tag", "columns": [
            {"name": "id", "type": "integer", "primary_key": True},
            {"name": "name", "type": "text"}]}},
        {"add_column": {"table": "post", "column": {"name": "tag_id", "type": "integer"}}},
        {"create_foreign_key": {"name": "fk_post_tag", "table": "post", "columns": ["tag_id"],
                                "references": {"table": "tag", "columns": ["id"]}}},
        {"drop_column": {"table": "user", "name": "email"}},
        {"rename_column": {"table": "tag", "name": "name", "new_name": "label"}},
        {"rename_table": {"name": "tag", "new_name": "label"}},
        {"drop_table": {"name": "log"}},
        {"alter_column": {"table": "post", "name": "body", "nullable": False}},
        {"sql": {"up": "SELECT 1", "down": "SELECT 2"}},
        {"insert_rows": {"table": "label", "rows": [{"id": 1, "label": "x"}]}},
    )]
    after = apply_all(base, ops)
    rollback = reverse_changeset(ops, base)
    assert isinstance(rollback[0], ir.DeleteRows)
    assert norm(apply_all(after, rollback)) == norm(base)


def test_reverse_changeset_of_nothing_is_nothing(base: SchemaState) -> None:
    assert reverse_changeset([], base) == ()


# --- the property: random valid schema, random valid operation, apply then reverse --------------

TYPES = ["integer", "bigint", "text", "string(30)", "boolean", "numeric(10,2)", "date",
         "datetime(timezone=true)", "uuid", "enum(a,b)"]
COMMENTS = [None, "note", "another"]
DEFAULTS = [None, 0, 7, "x", True, False, 1.5]


@st.composite
def columns(draw: st.DrawFn, name: str, *, flags: bool = True) -> dict[str, Any]:
    col: dict[str, Any] = {"name": name, "type": draw(st.sampled_from(TYPES))}
    nullable = draw(st.sampled_from([None, True, False]))
    if nullable is not None:
        col["nullable"] = nullable
    which = draw(st.sampled_from(["none", "default", "default_sql"]))
    if which == "default":
        col["default"] = draw(st.sampled_from([d for d in DEFAULTS if d is not None]))
    elif which == "default_sql":
        col["default_sql"] = draw(st.sampled_from(["CURRENT_TIMESTAMP", "1 + 1"]))
    comment = draw(st.sampled_from(COMMENTS))
    if comment is not None:
        col["comment"] = comment
    if flags:
        if draw(st.booleans()):
            col["unique"] = True
        if draw(st.booleans()):
            col["index"] = True
    return col


def pk_tables(state: SchemaState) -> list[Table]:
    return [t for t in state.tables.values() if t.primary_key is not None]


@st.composite
def create_table_doc(draw: st.DrawFn, state: SchemaState, name: str) -> dict[str, Any]:
    """A create_table that fits `state`: columns with every option, FKs to existing keys."""
    n = draw(st.integers(1, 4))
    cols = [draw(columns(f"c{i}")) for i in range(n)]
    doc: dict[str, Any] = {"name": name, "columns": cols}
    pk = draw(st.sampled_from(["none", "column", "table", "composite"]))
    if pk == "column":
        cols.insert(0, {"name": "id", "type": "integer", "primary_key": True})
    elif pk == "table":
        cols.insert(0, {"name": "id", "type": "bigint", "nullable": False})
        doc["primary_key"] = {"columns": ["id"],
                              **({"name": f"{name}_pkey"} if draw(st.booleans()) else {})}
    elif pk == "composite" and n >= 2:
        for c in cols[:2]:
            c["nullable"] = False
        doc["primary_key"] = {"columns": ["c0", "c1"]}
    names = [c["name"] for c in cols]
    fks: list[dict[str, Any]] = []
    for target in pk_tables(state):
        if draw(st.booleans()):
            assert target.primary_key is not None
            ref_cols = list(target.primary_key.columns)
            local = [f"{target.name}_{c}" for c in ref_cols]
            cols += [{"name": c, "type": "integer"} for c in local]
            fk: dict[str, Any] = {"columns": local,
                                  "references": {"table": target.name, "columns": ref_cols}}
            action = draw(st.sampled_from([None, "CASCADE", "SET NULL"]))
            if action:
                fk["ondelete"] = action
            fks.append(fk)
    if "id" in names and draw(st.booleans()):
        cols.append({"name": "parent_id", "type": "integer"})
        fks.append({"columns": ["parent_id"], "references": {"table": name, "columns": ["id"]},
                    "name": f"{name}_parent_fk"})
    if fks:
        doc["foreign_keys"] = fks
    if draw(st.booleans()):
        col = draw(st.sampled_from(names))
        doc["checks"] = [{"expression": f"{col} IS NOT NULL"}]
        if draw(st.booleans()):
            doc["checks"].append({"expression": f"{col} <> 0", "name": f"{name}_ck"})
    if len(names) >= 2 and draw(st.booleans()):
        doc["unique"] = [{"columns": names[-2:]}]
    if draw(st.booleans()):
        idx: dict[str, Any] = {"name": f"{name}_multi_idx",
                               "columns": draw(st.lists(st.sampled_from(names), min_size=1,
                                                        max_size=2, unique=True))}
        if draw(st.booleans()):
            idx["unique"] = True
        if draw(st.booleans()):
            idx["where"] = f"{draw(st.sampled_from(names))} IS NOT NULL"
        doc["indexes"] = [idx]
    if draw(st.booleans()):
        doc["comment"] = "a table"
    return {"create_table": doc}


@st.composite
def schemas(draw: st.DrawFn) -> SchemaState:
    state = SchemaState()
    for i in range(draw(st.integers(1, 3))):
        state = apply(state, op(draw(create_table_doc(state, f"t{i}"))))
    return state


def referenced_columns(state: SchemaState, t: Table) -> set[str]:
    """Columns of `t` that a foreign key of another table points at."""
    out: set[str] = set()
    for other in state.tables.values():
        if other.key == t.key:
            continue
        for f in other.foreign_keys:
            if (f.references.schema, f.references.table) == t.key:
                out |= set(f.references.columns)
    return out


def pick_table(draw: st.DrawFn, state: SchemaState) -> Table:
    return draw(st.sampled_from(sorted(state.tables.values(), key=lambda t: t.name)))


def column_ops(draw: st.DrawFn, state: SchemaState) -> dict[str, Any]:
    t = pick_table(draw, state)
    kind = draw(st.sampled_from(["drop_column", "alter_column", "rename_column", "add_column"]))
    col = draw(st.sampled_from([c.name for c in t.columns]))
    if kind == "drop_column":
        droppable = [c.name for c in t.columns if c.name not in referenced_columns(state, t)]
        assume(len(t.columns) > 1 and droppable)
        return {"drop_column": {"table": t.name, "name": draw(st.sampled_from(droppable))}}
    if kind == "rename_column":
        return {"rename_column": {"table": t.name, "name": col, "new_name": "renamed_col"}}
    if kind == "add_column":
        return {"add_column": {"table": t.name, "column": draw(columns("added"))}}
    body: dict[str, Any] = {"table": t.name, "name": col}
    in_pk = t.primary_key is not None and col in t.primary_key.columns
    attrs = draw(st.lists(st.sampled_from(["type", "nullable", "default", "comment"]),
                          min_size=1, max_size=4, unique=True))
    if "type" in attrs:
        body["type"] = draw(st.sampled_from(TYPES))
    if "nullable" in attrs:
        body["nullable"] = False if in_pk else draw(st.booleans())
    if "default" in attrs:
        which = draw(st.sampled_from(["default", "default_sql", "drop_default"]))
        if which == "default":
            body["default"] = draw(st.sampled_from([d for d in DEFAULTS if d is not None]))
        elif which == "default_sql":
            body["default_sql"] = "CURRENT_DATE"
        else:
            body["drop_default"] = True
    if "comment" in attrs:
        body["comment"] = draw(st.sampled_from(["", "changed", "note"]))
    return {"alter_column": body}


def table_ops(draw: st.DrawFn, state: SchemaState) -> dict[str, Any]:
    kind = draw(st.sampled_from(["drop_table", "rename_table", "create_table"]))
    if kind == "create_table":
        return draw(create_table_doc(state, "fresh"))
    t = pick_table(draw, state)
    if kind == "drop_table":
        return {"drop_table": {"name": t.name}}
    return {"rename_table": {"name": t.name, "new_name": "renamed"}}


def drop_part_ops(draw: st.DrawFn, state: SchemaState) -> dict[str, Any]:
    choices: list[dict[str, Any]] = []
    for t in state.tables.values():
        if t.primary_key is not None:
            choices.append({"drop_constraint": {"name": t.primary_key.name, "table": t.name,
                                                "type": "primary_key"}})
        for kind, parts in (("unique", t.uniques), ("foreign_key", t.foreign_keys),
                            ("check", t.checks)):
            choices += [{"drop_constraint": {"name": p.name, "table": t.name, "type": kind}}
                        for p in parts]
        choices += [{"drop_index": {"name": i.name, "table": t.name}} for i in t.indexes]
    assume(choices)
    return draw(st.sampled_from(sorted(choices, key=repr)))


def create_part_ops(draw: st.DrawFn, state: SchemaState) -> dict[str, Any]:
    t = pick_table(draw, state)
    names = [c.name for c in t.columns]
    cols = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    kind = draw(st.sampled_from(["create_index", "create_unique_constraint",
                                 "create_check_constraint", "create_foreign_key",
                                 "create_primary_key"]))
    if kind == "create_index":
        body: dict[str, Any] = {"name": "new_idx", "table": t.name, "columns": cols}
        if draw(st.booleans()):
            body["unique"] = True
        if draw(st.booleans()):
            body["where"] = f"{draw(st.sampled_from(names))} > 0"
        return {kind: body}
    if kind == "create_unique_constraint":
        return {kind: {"name": "new_uq", "table": t.name, "columns": cols}}
    if kind == "create_check_constraint":
        return {kind: {"name": "new_ck", "table": t.name,
                       "expression": " AND ".join(f"{c} > 0" for c in cols)}}
    if kind == "create_foreign_key":
        targets = pk_tables(state)
        assume(targets)
        target = draw(st.sampled_from(sorted(targets, key=lambda x: x.name)))
        assert target.primary_key is not None
        ref = list(target.primary_key.columns)
        assume(len(names) >= len(ref))
        local = draw(st.lists(st.sampled_from(names), min_size=len(ref), max_size=len(ref),
                              unique=True))
        return {kind: {"name": "new_fk", "table": t.name, "columns": local,
                       "references": {"table": target.name, "columns": ref},
                       "ondelete": draw(st.sampled_from(["CASCADE", "RESTRICT"]))}}
    assume(t.primary_key is None)
    return {kind: {"name": "new_pk", "table": t.name, "columns": cols}}


def data_ops(draw: st.DrawFn, state: SchemaState) -> dict[str, Any]:
    t = pick_table(draw, state)
    if draw(st.booleans()):
        return {"sql": {"up": "UPDATE x SET y = 1", "down": "UPDATE x SET y = 0"}}
    assume(t.primary_key is not None)
    assert t.primary_key is not None
    return {"insert_rows": {"table": t.name, "rows": [
        {c: i for c in t.primary_key.columns} for i in range(draw(st.integers(1, 3)))]}}


PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


def check_roundtrip(data: st.DataObject, make: Any) -> None:
    before = data.draw(schemas(), label="before")
    doc = make(data.draw, before)
    data.draw(st.just(doc), label="operation")
    operation = op(doc)
    try:
        apply(before, operation)
    except StateError as exc:  # a generated operation that does not fit: not a case
        assume(False)
        raise AssertionError("unreachable") from exc
    assert norm(roundtrip(before, operation)) == norm(before)


@PROPERTY
@given(st.data())
def test_property_column_operations_reverse(data: st.DataObject) -> None:
    check_roundtrip(data, column_ops)


@PROPERTY
@given(st.data())
def test_property_table_operations_reverse(data: st.DataObject) -> None:
    check_roundtrip(data, table_ops)


@PROPERTY
@given(st.data())
def test_property_dropping_constraints_and_indexes_reverses(data: st.DataObject) -> None:
    check_roundtrip(data, drop_part_ops)


@PROPERTY
@given(st.data())
def test_property_creating_constraints_and_indexes_reverses(data: st.DataObject) -> None:
    check_roundtrip(data, create_part_ops)


@settings(PROPERTY, max_examples=50)
@given(st.data())
def test_property_data_operations_reverse(data: st.DataObject) -> None:
    check_roundtrip(data, data_ops)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(st.data())
def test_property_changeset_rollback_restores(data: st.DataObject) -> None:
    """Several operations in a row, rolled back by reverse_changeset."""
    before = data.draw(schemas(), label="before")
    state = before
    ops: list[ir.Operation] = []
    makers = [column_ops, table_ops, drop_part_ops, create_part_ops]
    for _ in range(data.draw(st.integers(1, 4), label="length")):
        if not state.tables:
            break
        make = data.draw(st.sampled_from(makers))
        try:
            doc = make(data.draw, state)
            nxt = apply(state, op(doc))
        except StateError:
            continue
        ops.append(op(doc))
        state = nxt
    assume(ops)
    rollback = reverse_changeset(ops, before)
    assert norm(apply_all(state, rollback)) == norm(before)

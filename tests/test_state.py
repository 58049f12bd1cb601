"""`state.apply`: the replayed schema after each kind of operation, and every reference error."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from schemaflow import ir
from schemaflow.errors import StateError
from schemaflow.state import SchemaState, Table, apply, apply_all
from schemaflow.typespec import parse_type


def op(doc: dict[str, Any]) -> ir.Operation:
    """An operation from its changeset document, as a user writes it."""
    return ir.parse_operation(doc)


def build(*docs: dict[str, Any]) -> SchemaState:
    """The state after the operations given as documents."""
    return apply_all(SchemaState(), [op(d) for d in docs])


def fail(state: SchemaState, doc: dict[str, Any], code: str) -> StateError:
    """Applying `doc` must raise a StateError with `code`; returns it."""
    with pytest.raises(StateError) as info:
        apply(state, op(doc))
    assert info.value.code == code, info.value.message
    return info.value


def ck(table: str, expression: str) -> str:
    """The documented default name of a check constraint."""
    return f"ck_{table}_{hashlib.sha1(expression.encode()).hexdigest()[:8]}"


USER = {"create_table": {"name": "user", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "name", "type": "string(50)", "nullable": False},
    {"name": "email", "type": "string(120)", "unique": True},
    {"name": "active", "type": "boolean", "nullable": False, "default": True},
    {"name": "nick", "type": "text", "index": True, "comment": "shown name"},
]}}
POST = {"create_table": {"name": "post", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "user_id", "type": "integer", "nullable": False},
    {"name": "title", "type": "string(200)"},
    {"name": "score", "type": "integer", "default": 0},
], "foreign_keys": [{"columns": ["user_id"], "references": {"table": "user", "columns": ["id"]},
                     "ondelete": "CASCADE"}],
    "checks": [{"expression": "score >= 0"}],
    "indexes": [{"name": "ix_post_title", "columns": ["title"]}]}}


@pytest.fixture
def base() -> SchemaState:
    return build(USER, POST)


def names(t: Table) -> set[str]:
    return t.constraint_names()


# --- create_table -----------------------------------------------------------------------------


def test_create_table_normalises_columns_and_names_every_constraint(base: SchemaState) -> None:
    user = base.table("user")
    assert user.key == (None, "user")
    assert [c.name for c in user.columns] == ["id", "name", "email", "active", "nick"]
    by = {c.name: c for c in user.columns}
    assert by["id"].type == parse_type("integer")
    assert by["name"].type == parse_type("string(50)")
    # Primary-key columns are NOT NULL; other columns default to nullable.
    assert by["id"].nullable is False
    assert by["name"].nullable is False
    assert by["email"].nullable is True
    assert by["active"].default is True
    assert by["nick"].comment == "shown name"
    # Flags move into named constraints: columns carry none of them.
    assert not any(c.primary_key or c.unique or c.index for c in user.columns)
    assert user.primary_key == ir.PrimaryKeyDef(columns=("id",), name="pk_user")
    assert user.uniques == (ir.UniqueDef(columns=("email",), name="uq_user_email"),)
    assert user.indexes == (ir.IndexDef(name="ix_user_nick", columns=("nick",)),)
    assert names(user) == {"pk_user", "uq_user_email", "ix_user_nick"}


def test_create_table_names_foreign_keys_and_checks(base: SchemaState) -> None:
    post = base.table("post")
    (fk,) = post.foreign_keys
    assert fk.name == "fk_post_user_id_user"
    assert fk.columns == ("user_id",)
    assert fk.references == ir.Reference(table="user", columns=("id",))
    assert fk.ondelete == "CASCADE"
    (check,) = post.checks
    assert check.expression == "score >= 0"
    assert check.name == ck("post", "score >= 0")
    assert check.name.startswith("ck_post_") and len(check.name) == len("ck_post_") + 8
    assert post.indexes == (ir.IndexDef(name="ix_post_title", columns=("title",)),)


def test_check_names_are_deterministic_and_depend_on_the_expression() -> None:
    a = build({"create_table": {"name": "t", "columns": [{"name": "x", "type": "integer"}],
                                "checks": [{"expression": "x > 0"}, {"expression": "x < 9"}]}})
    b = build({"create_table": {"name": "t", "columns": [{"name": "x", "type": "integer"}],
                                "checks": [{"expression": "x > 0"}, {"expression": "x < 9"}]}})
    assert a == b
    first, second = a.table("t").checks
    assert first.name != second.name
    assert {first.name, second.name} == {ck("t", "x > 0"), ck("t", "x < 9")}


def test_create_table_keeps_explicit_names_and_table_level_keys() -> None:
    s = build({"create_table": {
        "name": "pair", "comment": "pairs",
        "columns": [{"name": "a", "type": "integer"}, {"name": "b", "type": "integer"},
                    {"name": "c", "type": "integer"}],
        "primary_key": {"columns": ["a", "b"], "name": "pair_pkey"},
        "unique": [{"columns": ["b", "c"]}, {"columns": ["c"], "name": "one_c"}],
        "foreign_keys": [{"columns": ["c"], "references": {"table": "pair", "columns": ["a"]},
                          "name": "self_ref"}],
        "checks": [{"expression": "a <> b", "name": "a_not_b"}],
        "indexes": [{"name": "pair_c_idx", "columns": ["c"], "unique": True,
                     "where": "c IS NOT NULL"}],
    }})
    t = s.table("pair")
    assert t.comment == "pairs"
    assert t.primary_key == ir.PrimaryKeyDef(columns=("a", "b"), name="pair_pkey")
    # A table-level primary key also makes its columns NOT NULL.
    assert [c.nullable for c in t.columns] == [False, False, True]
    assert set(t.uniques) == {ir.UniqueDef(columns=("b", "c"), name="uq_pair_b_c"),
                              ir.UniqueDef(columns=("c",), name="one_c")}
    assert t.foreign_keys[0].name == "self_ref"
    assert t.checks == (ir.CheckDef(expression="a <> b", name="a_not_b"),)
    assert t.indexes == (ir.IndexDef(name="pair_c_idx", columns=("c",), unique=True,
                                     where="c IS NOT NULL"),)


def test_create_table_with_composite_foreign_key_name() -> None:
    s = build(
        {"create_table": {"name": "a", "columns": [{"name": "x", "type": "integer"},
                                                   {"name": "y", "type": "integer"}],
                          "primary_key": {"columns": ["x", "y"]}}},
        {"create_table": {"name": "b", "columns": [{"name": "ax", "type": "integer"},
                                                   {"name": "ay", "type": "integer"}],
                          "foreign_keys": [{"columns": ["ax", "ay"],
                                            "references": {"table": "a",
                                                           "columns": ["x", "y"]}}]}},
    )
    assert s.table("a").primary_key == ir.PrimaryKeyDef(columns=("x", "y"), name="pk_a")
    assert s.table("b").foreign_keys[0].name == "fk_b_ax_ay_a"


def test_create_table_in_a_schema_is_keyed_by_schema() -> None:
    s = build({"create_table": {"name": "t", "schema": "app",
                                "columns": [{"name": "x", "type": "integer"}]}})
    assert s.get("t") is None
    assert s.get("t", "app") is not None
    assert set(s.tables) == {("app", "t")}


# --- drop / rename table ------------------------------------------------------------------------


def test_drop_table(base: SchemaState) -> None:
    after = apply(base, op({"drop_table": {"name": "post"}}))
    assert set(after.tables) == {(None, "user")}
    assert after.table("user") == base.table("user")


def test_drop_table_referenced_by_another_table_leaves_no_dangling_reference(
        base: SchemaState) -> None:
    # `post` has a foreign key to `user`. Databases refuse to drop `user` first (as the state
    # refuses to drop a referenced column); the state must not keep a key to a missing table.
    try:
        after = apply(base, op({"drop_table": {"name": "user"}}))
    except StateError as exc:
        assert exc.code == "SF110"
        assert "fk_post_user_id_user" in exc.message
        return
    for t in after.tables.values():
        for fk in t.foreign_keys:
            assert after.get(fk.references.table, fk.references.schema) is not None, (
                f"{t.name}.{fk.name} references a dropped table")


def test_rename_table_keeps_definition_and_repoints_foreign_keys(base: SchemaState) -> None:
    after = apply(base, op({"rename_table": {"name": "user", "new_name": "account"}}))
    assert after.get("user") is None
    account = after.table("account")
    old = base.table("user")
    assert account.columns == old.columns
    assert account.primary_key == old.primary_key
    assert account.uniques == old.uniques and account.indexes == old.indexes
    (fk,) = after.table("post").foreign_keys
    assert fk.references == ir.Reference(table="account", columns=("id",))
    assert fk.columns == ("user_id",) and fk.ondelete == "CASCADE"


def test_rename_table_repoints_its_own_self_reference() -> None:
    s = build({"create_table": {"name": "node", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "parent_id", "type": "integer"}],
        "foreign_keys": [{"columns": ["parent_id"],
                          "references": {"table": "node", "columns": ["id"]}}]}})
    after = apply(s, op({"rename_table": {"name": "node", "new_name": "tree"}}))
    assert after.table("tree").foreign_keys[0].references.table == "tree"


def test_rename_table_leaves_unrelated_foreign_keys(base: SchemaState) -> None:
    s = apply(base, op({"create_table": {"name": "tag", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}))
    after = apply(s, op({"rename_table": {"name": "tag", "new_name": "label"}}))
    assert after.table("post").foreign_keys == base.table("post").foreign_keys


# --- columns ------------------------------------------------------------------------------------


def test_add_column_with_unique_and_index(base: SchemaState) -> None:
    after = apply(base, op({"add_column": {"table": "user", "column": {
        "name": "phone", "type": "string(20)", "nullable": False, "default": "",
        "unique": True, "index": True, "comment": "cell"}}}))
    user = after.table("user")
    assert [c.name for c in user.columns][-1] == "phone"
    phone = user.column("phone")
    assert phone is not None
    assert (phone.type, phone.nullable, phone.default, phone.comment) == (
        parse_type("string(20)"), False, "", "cell")
    assert not (phone.unique or phone.index or phone.primary_key)
    assert ir.UniqueDef(columns=("phone",), name="uq_user_phone") in user.uniques
    assert ir.IndexDef(name="ix_user_phone", columns=("phone",)) in user.indexes


def test_add_column_nullable_by_default(base: SchemaState) -> None:
    after = apply(base, op({"add_column": {"table": "user",
                                           "column": {"name": "bio", "type": "text"}}}))
    bio = after.table("user").column("bio")
    assert bio is not None and bio.nullable is True


def test_drop_column_removes_its_indexes_and_constraints(base: SchemaState) -> None:
    s = apply(base, op({"create_index": {"name": "ix_user_name_email", "table": "user",
                                         "columns": ["name", "email"]}}))
    s = apply(s, op({"create_check_constraint": {"name": "ck_email", "table": "user",
                                                 "expression": "email LIKE '%@%'"}}))
    s = apply(s, op({"create_check_constraint": {"name": "ck_name", "table": "user",
                                                 "expression": "length(name) > 0"}}))
    after = apply(s, op({"drop_column": {"table": "user", "name": "email"}}))
    user = after.table("user")
    assert user.column("email") is None
    assert user.uniques == ()
    assert [i.name for i in user.indexes] == ["ix_user_nick"]
    assert [c.name for c in user.checks] == ["ck_name"]
    assert user.primary_key == base.table("user").primary_key


def test_drop_column_removes_its_foreign_key_and_index(base: SchemaState) -> None:
    s = apply(base, op({"create_index": {"name": "ix_post_user", "table": "post",
                                         "columns": ["user_id"]}}))
    after = apply(s, op({"drop_column": {"table": "post", "name": "user_id"}}))
    post = after.table("post")
    assert post.foreign_keys == ()
    assert [i.name for i in post.indexes] == ["ix_post_title"]


def test_drop_primary_key_column_removes_the_primary_key() -> None:
    s = build({"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "x", "type": "integer"}]}})
    after = apply(s, op({"drop_column": {"table": "t", "name": "id"}}))
    assert after.table("t").primary_key is None


def test_drop_column_check_matching_is_by_whole_word() -> None:
    s = build({"create_table": {"name": "t", "columns": [
        {"name": "a", "type": "integer"}, {"name": "ab", "type": "integer"}],
        "checks": [{"expression": "ab > 0", "name": "ab_pos"}]}})
    after = apply(s, op({"drop_column": {"table": "t", "name": "a"}}))
    assert [c.name for c in after.table("t").checks] == ["ab_pos"]


def test_drop_column_referenced_by_another_table_is_refused(base: SchemaState) -> None:
    err = fail(base, {"drop_column": {"table": "user", "name": "id"}}, "SF111")
    assert "fk_post_user_id_user" in err.message


def test_drop_only_column_is_refused() -> None:
    s = build({"create_table": {"name": "t", "columns": [{"name": "x", "type": "integer"}]}})
    fail(s, {"drop_column": {"table": "t", "name": "x"}}, "SF112")


def test_drop_column_referenced_by_own_foreign_key_leaves_no_dangling_reference() -> None:
    s = build({"create_table": {"name": "node", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "parent_id", "type": "integer"},
        {"name": "label", "type": "text"}],
        "foreign_keys": [{"columns": ["parent_id"],
                          "references": {"table": "node", "columns": ["id"]}}]}})
    try:
        after = apply(s, op({"drop_column": {"table": "node", "name": "id"}}))
    except StateError as exc:
        assert exc.code == "SF111"
        return
    node = after.table("node")
    cols = {c.name for c in node.columns}
    for fk in node.foreign_keys:
        assert set(fk.references.columns) <= cols, f"{fk.name} references a dropped column"


def test_rename_column_updates_constraints_indexes_and_references(base: SchemaState) -> None:
    s = apply(base, op({"create_index": {"name": "ix_user_id_name", "table": "user",
                                         "columns": ["id", "name"]}}))
    after = apply(s, op({"rename_column": {"table": "user", "name": "id", "new_name": "uid"}}))
    user = after.table("user")
    assert [c.name for c in user.columns] == ["uid", "name", "email", "active", "nick"]
    assert user.column("uid") == ir.Column(name="uid", type=parse_type("integer"),
                                           nullable=False)
    assert user.primary_key == ir.PrimaryKeyDef(columns=("uid",), name="pk_user")
    assert ir.IndexDef(name="ix_user_id_name", columns=("uid", "name")) in user.indexes
    (fk,) = after.table("post").foreign_keys
    assert fk.references == ir.Reference(table="user", columns=("uid",))


def test_rename_column_updates_own_unique_index_and_fk(base: SchemaState) -> None:
    a = apply(base, op({"rename_column": {"table": "user", "name": "email",
                                          "new_name": "mail"}}))
    assert a.table("user").uniques == (ir.UniqueDef(columns=("mail",), name="uq_user_email"),)
    b = apply(base, op({"rename_column": {"table": "post", "name": "user_id",
                                          "new_name": "author_id"}}))
    assert b.table("post").foreign_keys[0].columns == ("author_id",)
    c = apply(base, op({"rename_column": {"table": "post", "name": "title",
                                          "new_name": "headline"}}))
    assert c.table("post").indexes[0].columns == ("headline",)


def test_check_follows_a_renamed_column_when_it_is_dropped(base: SchemaState) -> None:
    # PostgreSQL (and SQLite) rewrite a check on a renamed column; dropping the column
    # afterwards drops the check. The replayed state must not keep a check on a ghost column.
    s = apply(base, op({"rename_column": {"table": "post", "name": "score",
                                          "new_name": "points"}}))
    after = apply(s, op({"drop_column": {"table": "post", "name": "points"}}))
    assert after.table("post").checks == ()


PRICE = {"create_table": {"name": "price", "columns": [
    {"name": "kind", "type": "string(3)"}, {"name": "usd", "type": "numeric(10,2)"},
    {"name": "eur", "type": "numeric(10,2)"}],
    "checks": [{"expression": "kind IN ('usd', 'eur')", "name": "ck_kind"},
               {"expression": "usd >= 0", "name": "ck_usd"}]}}


def test_string_literal_is_not_a_column_reference_when_dropping() -> None:
    # 'usd' in the first check is a value, not the column: only ck_usd goes with the column.
    after = apply(build(PRICE), op({"drop_column": {"table": "price", "name": "usd"}}))
    assert [c.name for c in after.table("price").checks] == ["ck_kind"]


def test_string_literal_is_not_a_column_reference_when_renaming() -> None:
    after = apply(build(PRICE), op({"rename_column": {"table": "price", "name": "usd",
                                                      "new_name": "usd_amount"}}))
    checks = {c.name: c.expression for c in after.table("price").checks}
    assert checks["ck_kind"] == "kind IN ('usd', 'eur')"
    # Whatever the spelling of the renamed check, dropping the column now takes it along.
    dropped = apply(after, op({"drop_column": {"table": "price", "name": "usd_amount"}}))
    assert [c.name for c in dropped.table("price").checks] == ["ck_kind"]


def test_alter_column_each_attribute(base: SchemaState) -> None:
    def altered(**kw: Any) -> ir.Column:
        s = apply(base, op({"alter_column": {"table": "user", "name": "active", **kw}}))
        c = s.table("user").column("active")
        assert c is not None
        return c

    assert altered(type="integer").type == parse_type("integer")
    assert altered(nullable=True).nullable is True
    assert altered(default=False).default is False
    c = altered(default_sql="1")
    assert (c.default, c.default_sql) == (None, "1")
    c = altered(drop_default=True)
    assert (c.default, c.default_sql) == (None, None)
    assert altered(comment="is active").comment == "is active"
    s = apply(base, op({"alter_column": {"table": "user", "name": "nick", "comment": ""}}))
    nick = s.table("user").column("nick")
    assert nick is not None and nick.comment is None
    # Only the named column changes.
    assert s.table("user").column("name") == base.table("user").column("name")


def test_alter_column_errors(base: SchemaState) -> None:
    fail(base, {"alter_column": {"table": "user", "name": "active"}}, "SF113")
    fail(base, {"alter_column": {"table": "user", "name": "active", "default": 1,
                                 "drop_default": True}}, "SF114")
    fail(base, {"alter_column": {"table": "user", "name": "active", "default": 1,
                                 "default_sql": "1"}}, "SF115")
    fail(base, {"alter_column": {"table": "user", "name": "id", "nullable": True}}, "SF109")


# --- indexes and constraints --------------------------------------------------------------------


def test_create_and_drop_index(base: SchemaState) -> None:
    s = apply(base, op({"create_index": {"name": "ix_active", "table": "user",
                                         "columns": ["active", "name"], "unique": True,
                                         "where": "active"}}))
    assert s.table("user").indexes[-1] == ir.IndexDef(
        name="ix_active", columns=("active", "name"), unique=True, where="active")
    after = apply(s, op({"drop_index": {"name": "ix_active", "table": "user"}}))
    assert after == base


def test_create_constraints(base: SchemaState) -> None:
    s = apply(base, op({"create_unique_constraint": {"name": "uq_nick", "table": "user",
                                                     "columns": ["nick", "name"]}}))
    assert ir.UniqueDef(columns=("nick", "name"), name="uq_nick") in s.table("user").uniques
    s = apply(s, op({"create_check_constraint": {"name": "ck_n", "table": "user",
                                                 "expression": "name <> ''"}}))
    assert ir.CheckDef(expression="name <> ''", name="ck_n") in s.table("user").checks
    s = apply(s, op({"create_foreign_key": {"name": "fk_u_p", "table": "user",
                                            "columns": ["nick"],
                                            "references": {"table": "post",
                                                           "columns": ["title"]},
                                            "onupdate": "CASCADE"}}))
    assert ir.ForeignKeyDef(columns=("nick",), name="fk_u_p", onupdate="CASCADE",
                            references=ir.Reference(table="post", columns=("title",))
                            ) in s.table("user").foreign_keys


def test_create_primary_key_makes_columns_not_null() -> None:
    s = build({"create_table": {"name": "t", "columns": [
        {"name": "a", "type": "integer"}, {"name": "b", "type": "integer"}]}})
    after = apply(s, op({"create_primary_key": {"name": "t_pk", "table": "t",
                                                "columns": ["a"]}}))
    t = after.table("t")
    assert t.primary_key == ir.PrimaryKeyDef(columns=("a",), name="t_pk")
    assert [c.nullable for c in t.columns] == [False, True]


@pytest.mark.parametrize(("kind", "name"), [
    ("unique", "uq_user_email"), ("primary_key", "pk_user"),
])
def test_drop_constraint_user(base: SchemaState, kind: str, name: str) -> None:
    after = apply(base, op({"drop_constraint": {"name": name, "table": "user", "type": kind}}))
    assert name not in after.table("user").constraint_names()
    assert after.table("user").columns == base.table("user").columns


@pytest.mark.parametrize(("kind", "name"), [
    ("foreign_key", "fk_post_user_id_user"), ("check", None),
])
def test_drop_constraint_post(base: SchemaState, kind: str, name: str | None) -> None:
    name = name or ck("post", "score >= 0")
    after = apply(base, op({"drop_constraint": {"name": name, "table": "post", "type": kind}}))
    post = after.table("post")
    assert name not in post.constraint_names()
    assert post.indexes == base.table("post").indexes


def test_sql_and_rows_do_not_change_the_state(base: SchemaState) -> None:
    assert apply(base, op({"sql": {"up": "UPDATE post SET score = 1"}})) == base
    assert apply(base, op({"insert_rows": {"table": "user",
                                           "rows": [{"id": 1, "name": "a"}]}})) == base
    assert apply(base, op({"delete_rows": {"table": "user", "rows": [{"id": 1}]}})) == base


# --- immutability -------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", [
    {"drop_table": {"name": "post"}},
    {"rename_table": {"name": "user", "new_name": "account"}},
    {"add_column": {"table": "user", "column": {"name": "z", "type": "text", "index": True}}},
    {"drop_column": {"table": "post", "name": "user_id"}},
    {"rename_column": {"table": "user", "name": "id", "new_name": "uid"}},
    {"alter_column": {"table": "user", "name": "name", "nullable": True}},
    {"create_index": {"name": "ix_z", "table": "user", "columns": ["name"]}},
    {"drop_index": {"name": "ix_post_title", "table": "post"}},
    {"drop_constraint": {"name": "pk_user", "table": "user", "type": "primary_key"}},
    {"create_table": {"name": "z", "columns": [{"name": "a", "type": "integer"}]}},
])
def test_apply_does_not_change_the_old_state(base: SchemaState, doc: dict[str, Any]) -> None:
    snapshot = {k: (t, t.columns, t.indexes, t.foreign_keys) for k, t in base.tables.items()}
    again = build(USER, POST)
    after = apply(base, op(doc))
    assert after != base
    assert base == again
    assert {k: (t, t.columns, t.indexes, t.foreign_keys) for k, t in base.tables.items()} == (
        snapshot)
    with pytest.raises(TypeError):
        base.tables[(None, "x")] = base.table("user")  # type: ignore[index]


# --- reference errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("doc", [
    {"drop_table": {"name": "usr"}},
    {"rename_table": {"name": "usr", "new_name": "x"}},
    {"add_column": {"table": "usr", "column": {"name": "x", "type": "text"}}},
    {"drop_column": {"table": "usr", "name": "name"}},
    {"rename_column": {"table": "usr", "name": "name", "new_name": "x"}},
    {"alter_column": {"table": "usr", "name": "name", "nullable": True}},
    {"create_index": {"name": "ix_x", "table": "usr", "columns": ["name"]}},
    {"drop_index": {"name": "ix_user_nick", "table": "usr"}},
    {"create_unique_constraint": {"name": "u", "table": "usr", "columns": ["name"]}},
    {"create_check_constraint": {"name": "c", "table": "usr", "expression": "1 = 1"}},
    {"create_primary_key": {"name": "p", "table": "usr", "columns": ["name"]}},
    {"drop_constraint": {"name": "pk_user", "table": "usr", "type": "primary_key"}},
    {"insert_rows": {"table": "usr", "rows": [{"id": 1}]}},
    {"create_foreign_key": {"name": "f", "table": "usr", "columns": ["name"],
                            "references": {"table": "user", "columns": ["id"]}}},
    {"create_foreign_key": {"name": "f", "table": "post", "columns": ["user_id"],
                            "references": {"table": "usr", "columns": ["id"]}}},
    {"create_table": {"name": "x", "columns": [{"name": "u", "type": "integer"}],
                      "foreign_keys": [{"columns": ["u"],
                                        "references": {"table": "usr", "columns": ["id"]}}]}},
])
def test_unknown_table_sf101_with_hint(base: SchemaState, doc: dict[str, Any]) -> None:
    err = fail(base, doc, "SF101")
    assert "usr" in err.message
    assert err.hint == "did you mean 'user'?"


def test_unknown_table_without_near_name_has_no_did_you_mean(base: SchemaState) -> None:
    err = fail(base, {"drop_table": {"name": "zzzzzz"}}, "SF101")
    assert not err.hint or "did you mean" not in err.hint


@pytest.mark.parametrize("doc", [
    {"drop_column": {"table": "user", "name": "emial"}},
    {"rename_column": {"table": "user", "name": "emial", "new_name": "x"}},
    {"alter_column": {"table": "user", "name": "emial", "nullable": False}},
    {"create_index": {"name": "ix_x", "table": "user", "columns": ["emial"]}},
    {"create_unique_constraint": {"name": "u", "table": "user", "columns": ["emial"]}},
    {"insert_rows": {"table": "user", "rows": [{"id": 1, "emial": "a@b"}]}},
    {"delete_rows": {"table": "user", "rows": [{"emial": "a@b"}]}},
    {"create_foreign_key": {"name": "f", "table": "user", "columns": ["emial"],
                            "references": {"table": "post", "columns": ["id"]}}},
    {"create_table": {"name": "x", "columns": [{"name": "a", "type": "integer"}],
                      "indexes": [{"name": "ix_x_a", "columns": ["emial"]}]}},
])
def test_unknown_column_sf102_with_hint(base: SchemaState, doc: dict[str, Any]) -> None:
    err = fail(base, doc, "SF102")
    assert "emial" in err.message
    if doc.get("create_table") is None:
        assert err.hint == "did you mean 'email'?"


def test_primary_key_on_unknown_column_sf102() -> None:
    s = build({"create_table": {"name": "t", "columns": [{"name": "email", "type": "text"}]}})
    err = fail(s, {"create_primary_key": {"name": "p", "table": "t", "columns": ["emial"]}},
               "SF102")
    assert err.hint == "did you mean 'email'?"


def test_unknown_referenced_column_sf102(base: SchemaState) -> None:
    err = fail(base, {"create_foreign_key": {
        "name": "f", "table": "post", "columns": ["user_id"],
        "references": {"table": "user", "columns": ["idd"]}}}, "SF102")
    assert "idd" in err.message
    assert err.hint == "did you mean 'id'?"


def test_unknown_index_sf103_with_hint(base: SchemaState) -> None:
    err = fail(base, {"drop_index": {"name": "ix_user_nik", "table": "user"}}, "SF103")
    assert "ix_user_nik" in err.message
    assert err.hint == "did you mean 'ix_user_nick'?"


@pytest.mark.parametrize(("name", "kind", "near"), [
    ("uq_user_emial", "unique", "uq_user_email"),
    ("pk_usr", "primary_key", "pk_user"),
])
def test_unknown_constraint_sf104_with_hint(base: SchemaState, name: str, kind: str,
                                            near: str) -> None:
    err = fail(base, {"drop_constraint": {"name": name, "table": "user", "type": kind}}, "SF104")
    assert name in err.message
    assert err.hint == f"did you mean '{near}'?"


def test_unknown_fk_constraint_sf104(base: SchemaState) -> None:
    err = fail(base, {"drop_constraint": {"name": "fk_post_userid_user", "table": "post",
                                          "type": "foreign_key"}}, "SF104")
    assert err.hint == "did you mean 'fk_post_user_id_user'?"


def test_constraint_of_another_type_is_unknown(base: SchemaState) -> None:
    fail(base, {"drop_constraint": {"name": "uq_user_email", "table": "user",
                                    "type": "check"}}, "SF104")
    fail(base, {"drop_constraint": {"name": "ix_user_nick", "table": "user",
                                    "type": "unique"}}, "SF104")


def test_table_exists_sf105(base: SchemaState) -> None:
    fail(base, USER, "SF105")
    fail(base, {"rename_table": {"name": "post", "new_name": "user"}}, "SF105")


def test_column_exists_sf106(base: SchemaState) -> None:
    fail(base, {"add_column": {"table": "user", "column": {"name": "email", "type": "text"}}},
         "SF106")
    fail(base, {"rename_column": {"table": "user", "name": "name", "new_name": "email"}},
         "SF106")
    fail(SchemaState(), {"create_table": {"name": "t", "columns": [
        {"name": "a", "type": "integer"}, {"name": "a", "type": "text"}]}}, "SF106")


def test_duplicate_names_sf107(base: SchemaState) -> None:
    fail(base, {"create_index": {"name": "ix_user_nick", "table": "user",
                                 "columns": ["name"]}}, "SF107")
    fail(base, {"create_unique_constraint": {"name": "uq_user_email", "table": "user",
                                             "columns": ["name"]}}, "SF107")
    fail(base, {"create_check_constraint": {"name": "uq_user_email", "table": "user",
                                            "expression": "1 = 1"}}, "SF107")
    s = apply(base, op({"create_index": {"name": "ix_post_x", "table": "post",
                                         "columns": ["title"]}}))
    fail(s, {"add_column": {"table": "post", "column": {"name": "x", "type": "text",
                                                         "index": True}}}, "SF107")
    fail(SchemaState(), {"create_table": {"name": "t", "columns": [
        {"name": "a", "type": "integer", "index": True}],
        "indexes": [{"name": "ix_t_a", "columns": ["a"]}]}}, "SF107")


def test_index_names_belong_to_their_table(base: SchemaState) -> None:
    """The state keeps index names per table: two tables may each have an index `parent_id`
    (MySQL, MariaDB); whether a database allows that is its Dialect's rule, not the state's."""
    s = apply_all(base, [op({"create_index": {"name": "ix_post_title", "table": "user",
                                               "columns": ["name"]}}),
                         op({"create_table": {"name": "other", "columns": [
                             {"name": "a", "type": "text"}],
                             "indexes": [{"name": "ix_post_title", "columns": ["a"]}]}})])
    assert s.tables_with_index("ix_post_title") == [(None, "other"), (None, "post"),
                                                    (None, "user")]
    assert s.index_elsewhere("ix_post_title", (None, "user")) == [(None, "other"),
                                                                  (None, "post")]
    # Each drop finds the index of its own table, and leaves the others.
    s = apply(s, op({"drop_index": {"name": "ix_post_title", "table": "user"}}))
    assert [i.name for i in s.table("user").indexes] == ["ix_user_nick"]
    assert [i.name for i in s.table("post").indexes] == ["ix_post_title"]
    assert s.tables_with_index("ix_post_title") == [(None, "other"), (None, "post")]
    s = apply(s, op({"rename_table": {"name": "other", "new_name": "renamed"}}))
    assert s.tables_with_index("ix_post_title") == [(None, "post"), (None, "renamed")]
    s = apply(s, op({"drop_table": {"name": "renamed"}}))
    assert s.tables_with_index("ix_post_title") == [(None, "post")]
    # The derived map is the one a state built from its tables has.
    assert dict(s.index_tables.items()) == dict(SchemaState(s.tables).index_tables.items())


def test_primary_key_name_clashing_with_another_constraint_sf107() -> None:
    fail(SchemaState(), {"create_table": {
        "name": "t", "columns": [{"name": "a", "type": "integer"}, {"name": "b", "type": "text"}],
        "primary_key": {"columns": ["a"], "name": "dup"},
        "unique": [{"columns": ["b"], "name": "dup"}]}}, "SF107")


def test_invalid_definitions_sf108_sf109(base: SchemaState) -> None:
    fail(base, {"create_foreign_key": {"name": "f", "table": "post", "columns": ["user_id"],
                                       "references": {"table": "user",
                                                      "columns": ["id", "name"]}}}, "SF108")
    fail(base, {"add_column": {"table": "user", "column": {"name": "k", "type": "integer",
                                                            "primary_key": True}}}, "SF109")
    fail(base, {"create_primary_key": {"name": "p2", "table": "user", "columns": ["name"]}},
         "SF109")
    fail(SchemaState(), {"create_table": {"name": "t", "columns": [
        {"name": "a", "type": "integer", "primary_key": True}, {"name": "b", "type": "integer"}],
        "primary_key": {"columns": ["b"]}}}, "SF109")
    fail(SchemaState(), {"create_table": {"name": "t", "columns": [
        {"name": "a", "type": "integer", "primary_key": True, "nullable": True}]}}, "SF109")


def test_failed_apply_leaves_state_usable(base: SchemaState) -> None:
    fail(base, {"drop_column": {"table": "user", "name": "nope"}}, "SF102")
    assert base == build(USER, POST)


@pytest.mark.parametrize(("expression", "renames", "renamed"), [
    ("price * QTY", {"qty": "quantity"}, "price * quantity"),     # in any case
    ("qty > 0", {"qty": "order"}, '"order" > 0'),                  # a keyword: quoted
    ("qty > 0", {"qty": "orderQty"}, "orderQty > 0"),              # mixed case: as written
    ("qty > 0", {"qty": "my qty"}, '"my qty" > 0'),                # not a plain word: quoted
    ("`qty` + qty", {"qty": "order"}, "`order` + `order`"),       # MySQL's quotes kept
    ('"qty" + 1', {"qty": "my qty"}, '"my qty" + 1'),
    ("a - b", {"a": "b", "b": "a"}, "b - a"),                      # a swap is a swap
    ("count(qty) + qty::text", {"count": "n", "text": "t", "qty": "q"},
     "count(q) + q::text"),                                         # functions, types stay
    ("qty <> 'qty' AND 1e5 > e5", {"qty": "q", "e5": "x"}, "q <> 'qty' AND 1e5 > x"),
])
def test_rename_in_renames_names_as_the_databases_do(expression: str, renames: dict[str, str],
                                                      renamed: str) -> None:
    from schemaflow.state import rename_in

    assert rename_in(expression, renames) == renamed


def test_mentions_finds_a_column_in_any_case_but_not_a_function_or_a_type() -> None:
    from schemaflow.state import mentions

    assert mentions("lower(Email) <> ''", "email") and mentions('"Qty" > 0', "qty")
    assert not mentions("count(*) > 1", "count") and not mentions("x::text", "text")
    assert not mentions("kind <> 'qty'", "qty")
    # (From a review.) Where the table has both "Qty" and qty, each name is its own column.
    assert not mentions('"Qty" > 0', "qty", ["id", "Qty", "qty"])
    assert mentions('"Qty" > 0', "Qty", ["id", "Qty", "qty"])


def test_a_column_dropped_beside_one_of_another_case_keeps_the_others_check() -> None:
    """(From a review.) PostgreSQL keeps CHECK ("Qty" > 0) when qty is dropped; the
    replayed schema dropped it too, once names were compared in any case."""
    t = apply(SchemaState(), ir.CreateTable(name="t", columns=(
        ir.Column(name="id", type=parse_type("integer"), primary_key=True),
        ir.Column(name="Qty", type=parse_type("integer")),
        ir.Column(name="qty", type=parse_type("integer"))),
        checks=(ir.CheckDef(name="ck_big", expression='"Qty" > 0'),)))
    after = apply(t, ir.DropColumn(table="t", name="qty"))
    assert [c.name for c in after.table("t", None).checks] == ["ck_big"]

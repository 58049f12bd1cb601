"""The shortcuts of the replayed state: the derived maps (who has each index name, who
references whom) stay those of a state built from its tables, and a map's buckets are the
same in every process."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from schemaflow import ir
from schemaflow.pmap import BUCKETS, PMap, slot
from schemaflow.state import SchemaState, apply


def op(doc: dict[str, Any]) -> ir.Operation:
    return ir.parse_operation(doc)


STEPS: list[dict[str, Any]] = [
    {"create_table": {"name": "a", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "x", "type": "text", "index": True}]}},
    {"create_table": {"name": "b", "schema": "s", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "a_id", "type": "integer"}],
        "foreign_keys": [{"columns": ["a_id"], "references": {"table": "a", "columns": ["id"]}}],
        "indexes": [{"name": "ix_x", "columns": ["a_id"]}]}},
    {"add_column": {"table": "a", "column": {"name": "y", "type": "text"}}},
    {"add_column": {"table": "a", "column": {"name": "z", "type": "text", "index": True}}},
    {"alter_column": {"table": "a", "name": "y", "nullable": False, "comment": "c"}},
    {"create_index": {"name": "ix_x", "table": "a", "columns": ["y"]}},
    {"rename_column": {"table": "a", "name": "y", "new_name": "w"}},
    {"drop_index": {"name": "ix_x", "table": "a"}},
    {"create_foreign_key": {"name": "fk_self", "table": "a", "columns": ["id"],
                            "references": {"table": "a", "columns": ["id"]}}},
    {"drop_constraint": {"name": "fk_self", "table": "a", "type": "foreign_key"}},
    {"drop_column": {"table": "a", "name": "z"}},
    {"alter_table": {"name": "a", "comment": "the a table"}},
    {"rename_table": {"name": "a", "new_name": "a2"}},
    {"drop_constraint": {"name": "fk_b_a_id_a", "table": "b", "schema": "s",
                         "type": "foreign_key"}},
    {"drop_table": {"name": "a2"}},
]


def test_derived_maps_match_a_rebuilt_state_after_every_step() -> None:
    state = SchemaState()
    for doc in STEPS:
        state = apply(state, op(doc))
        rebuilt = SchemaState(dict(state.tables.items()))
        assert dict(state.index_tables.items()) == dict(rebuilt.index_tables.items()), doc
        assert dict(state.referrers.items()) == dict(rebuilt.referrers.items()), doc
    assert sorted(state.tables) == [("s", "b")]


def test_slot_is_the_same_in_every_process() -> None:
    keys: list[object] = [(None, "users"), ("s", "users"), ("s", ""), (None, "ñame"),
                          ("a", 1), 7, "text", (None, "t", "x")]
    here = [slot(k) for k in keys]
    assert all(0 <= s < BUCKETS for s in here)
    code = ("from schemaflow.pmap import slot; "
            f"print([slot(k) for k in {keys!r}])")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}, check=True)
        assert out.stdout.strip() == repr(here)


def test_a_map_finds_every_key_it_was_given() -> None:
    items = [((None if i % 3 else f"s{i}", f"t{i}"), i) for i in range(300)]
    m: PMap[tuple[str | None, str], int] = PMap(items)
    assert all(m[k] == v for k, v in items)
    m = m.set((None, "new"), -1).delete(items[0][0])
    assert m[(None, "new")] == -1 and items[0][0] not in m and len(m) == 300


def test_table_with_and_column_with_are_replace() -> None:
    """The fast copies keep every field (a field added later must be added to them too)."""
    from dataclasses import fields, replace

    from schemaflow.state import Table
    from schemaflow.state.schema import column_with, table_with
    from schemaflow.typespec import parse_type

    c = ir.Column(name="c", type=parse_type("text"), nullable=False, primary_key=True,
                  unique=True, index=True, autoincrement=True, default_sql="'x'", comment="k",
                  variants=(ir.Variant(dialect="mysql", type=parse_type("integer")),),
                  collation="C")
    for f in fields(c):
        assert getattr(column_with(c), f.name) == getattr(c, f.name)
    assert column_with(c) == c and column_with(c, name="d") == replace(c, name="d")
    t = Table(name="t", schema="s", columns=(c,), primary_key=ir.PrimaryKeyDef(columns=("c",),
              name="pk"), uniques=(ir.UniqueDef(columns=("c",), name="u"),),
              checks=(ir.CheckDef(expression="c > 0", name="k"),),
              indexes=(ir.IndexDef(name="i", columns=("c",)),), comment="t")
    assert all(getattr(table_with(t), f.name) == getattr(t, f.name) for f in fields(t))
    assert table_with(t, comment=None) == replace(t, comment=None)
    with pytest.raises(TypeError, match="nope"):
        table_with(t, nope=1)
    with pytest.raises(TypeError, match="nope"):
        column_with(c, nope=1)
    # Column.__post_init__ runs: default and default_sql are refused, as replace refuses them.
    with pytest.raises(ir.IRError, match="default and default_sql"):
        column_with(c, default=1)


def test_apply_gives_the_remembered_state_only_for_the_same_operation() -> None:
    import gc

    base = apply(SchemaState(), op(STEPS[0]))
    add = op(STEPS[2])
    first = apply(base, add)
    assert apply(base, add) is first  # the history check applies it again: not rebuilt
    twin = op(STEPS[2])  # an equal operation, another object: applied anew, same result
    again = apply(base, twin)
    assert again is not first and again == first
    other = apply(base, op({"add_column": {"table": "a", "column": {"name": "q",
                                                                     "type": "text"}}}))
    assert other.table("a").column("q") is not None and base.table("a").column("q") is None
    del first, again, other
    gc.collect()
    rebuilt = apply(base, add)  # the remembered state is gone: built again, the same
    assert rebuilt.table("a").column("y") is not None and base.table("a").column("y") is None
    assert rebuilt == SchemaState(dict(rebuilt.tables.items()))

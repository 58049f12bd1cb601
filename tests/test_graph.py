"""The changeset graph: validation, heads, ordering, the target grammar and plans."""

from __future__ import annotations

import pytest

from schemaflow.errors import Diagnostic, UsageError, ValidationFailed
from schemaflow.graph import Graph, GraphParts, Relative
from schemaflow.ir import Changeset


def cs(cid: str, *parents: str, depends_on: tuple[str, ...] = (), labels: tuple[str, ...] = (),
       tag: str | None = None, message: str | None = None) -> Changeset:
    return Changeset(id=cid, parents=parents, message=message or f"change {cid}",
                     operations=(), depends_on=depends_on, branch_labels=labels, tag=tag,
                     path=f"changesets/{cid}_change.yaml")


def linear() -> Graph:
    return Graph([cs("a1"), cs("b2", "a1"), cs("c3", "b2"), cs("d4", "c3")])


def branched() -> Graph:
    """root ── bp ─┬─ x1 ── x2      (x1 is labelled 'feature', x2 tagged 'v2')
                   └─ y1              (y1 labelled 'other')
    """
    return Graph([
        cs("root", tag="v1"),
        cs("bp", "root"),
        cs("x1", "bp", labels=("feature",)),
        cs("x2", "x1", tag="v2"),
        cs("y1", "bp", labels=("other",)),
    ])


def assert_topological(g: Graph, order: list[str]) -> None:
    pos = {cid: i for i, cid in enumerate(order)}
    for cid in order:
        for p in g[cid].all_parents:
            if p in pos:
                assert pos[p] < pos[cid], f"{p} must come before {cid}"


def usage_error(g: Graph, target: str) -> UsageError:
    with pytest.raises(UsageError) as info:
        g.resolve(target)
    return info.value


# --- structure ----------------------------------------------------------------------------------


def test_linear_history() -> None:
    g = linear()
    assert g.order == ["a1", "b2", "c3", "d4"]
    assert g.heads == ["d4"]
    assert g.branch_points() == []
    assert len(g) == 4
    assert g["c3"].parents == ("b2",)
    assert g.ancestors(["c3"]) == {"a1", "b2", "c3"}
    assert g.ancestors(["c3"], inclusive=False) == {"a1", "b2"}
    assert g.descendants("b2") == {"c3", "d4"}


def test_branched_history() -> None:
    g = branched()
    assert set(g.heads) == {"x2", "y1"}
    assert g.branch_points() == ["bp"]
    assert sorted(g.children["bp"]) == ["x1", "y1"]
    assert_topological(g, g.order)
    assert g.order[:2] == ["root", "bp"]
    assert g.descendants("x1") == {"x2"}
    assert g.heads_of({"root", "bp", "x1", "y1"}) == sorted(
        ["x1", "y1"], key=g.order.index)


def test_order_respects_parents_not_ids() -> None:
    # Ids sort the opposite way from the history.
    g = Graph([cs("zz"), cs("mm", "zz"), cs("aa", "mm")])
    assert g.order == ["zz", "mm", "aa"]
    assert g.heads == ["aa"]


def test_order_is_independent_of_input_order() -> None:
    items = [cs("root"), cs("bp", "root"), cs("x1", "bp"), cs("y1", "bp"),
             cs("m", "x1", "y1")]
    assert Graph(items).order == Graph(list(reversed(items))).order


def test_merge_joins_heads() -> None:
    g = Graph([cs("root"), cs("x1", "root"), cs("y1", "root"), cs("m", "x1", "y1")])
    assert g.heads == ["m"]
    assert g.branch_points() == ["root"]
    assert g.order[0] == "root" and g.order[-1] == "m"
    assert g.ancestors(["m"]) == {"root", "x1", "y1", "m"}


def test_depends_on_orders_across_branches() -> None:
    # b_feature depends on a_other, which sorts later by id and sits on another branch.
    g = Graph([cs("root"), cs("b_feature", "root", depends_on=("z_other",)),
               cs("z_other", "root")])
    assert_topological(g, g.order)
    assert g.order.index("z_other") < g.order.index("b_feature")
    # A dependency is not a parent: both are still heads.
    assert set(g.heads) == {"b_feature", "z_other"}
    assert g.ancestors(["b_feature"]) == {"root", "z_other", "b_feature"}


def test_multiple_roots() -> None:
    g = Graph([cs("r1"), cs("r2"), cs("c", "r1", "r2")])
    assert g.heads == ["c"]
    assert set(g.order[:2]) == {"r1", "r2"}


def test_empty_graph() -> None:
    g = Graph([])
    assert g.heads == [] and g.order == []
    assert g.resolve("base") == []
    assert g.resolve("heads") == []
    with pytest.raises(UsageError):
        g.resolve("head")


def test_a_graph_restored_from_its_parts_is_the_same_graph() -> None:
    g = branched()
    parts = g.parts()
    assert isinstance(parts, GraphParts) and parts.order == g.order
    again = Graph.from_parts(parts)
    assert again.parts() == parts
    assert again.resolve("feature@head") == g.resolve("feature@head") == ["x2"]
    assert again.upgrade_plan(["y1"], {"root"}) == ["bp", "y1"]
    assert again.branch_points() == ["bp"] and again["x2"] is g["x2"]


def depended() -> Graph:
    """root ─┬─ a ── m (merges a and b)     c depends on a: a has a dependent, not a child
              ├─ b ──┘
              └─ c (depends_on a)
    """
    return Graph([cs("root"), cs("a", "root"), cs("b", "root"), cs("m", "a", "b"),
                  cs("c", "root", depends_on=("a",))])


def test_a_graph_restored_from_its_edges_derives_the_same_links() -> None:
    g = depended()
    calls: list[int] = []

    def edges() -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        calls.append(1)
        return [(i, g[i].parents, g[i].all_parents) for i in g.by_id]

    again = Graph.restored(g.by_id, dict(g.replaced_by), dict(g.tags), list(g.order),
                           list(g.heads), list(g.tips), edges)
    assert again.heads == g.heads and again.order == g.order and not calls  # nothing derived
    for attr in ("all_parents", "children", "dependents", "position", "tips"):
        assert getattr(again, attr) == getattr(g, attr), attr
    assert again.heads_of({"root", "a"}) == g.heads_of({"root", "a"}) == ["a"]


def test_the_heads_of_a_whole_applied_history_are_its_tips() -> None:
    g = depended()
    assert g.heads == ["c", "m"] and g.tips == ["c", "m"]
    dep = Graph([cs("root"), cs("a", "root"), cs("c", "root", depends_on=("a",))])
    assert dep.heads == ["a", "c"] and dep.tips == ["c"]  # a: no child, but c builds on it
    for graph in (g, dep, branched()):
        every = set(graph.order)
        walked = graph.ordered(i for i in every
                               if not any(i in graph.all_parents[j] for j in every))
        assert graph.heads_of(every) == walked == graph.tips
        assert graph.heads_of(every | {"not_in_the_history"}) == walked
        assert graph.heads_of(list(every)) == walked  # not a set: the walk


# --- invalid histories --------------------------------------------------------------------------


def diagnostics(changesets: list[Changeset]) -> list[Diagnostic]:
    with pytest.raises(ValidationFailed) as info:
        Graph(changesets)
    assert info.value.exit_code == 1
    return info.value.diagnostics


def test_duplicate_id_sf010() -> None:
    a = cs("a1")
    dup = Changeset(id="a1", parents=(), message="again", operations=(),
                    path="changesets/a1_other.yaml")
    (d,) = diagnostics([a, dup])
    assert d.code == "SF010"
    assert d.severity == "error"
    assert d.changeset == "a1"
    assert d.file == "changesets/a1_other.yaml"
    assert "a1" in d.message and "changesets/a1_change.yaml" in d.message


def test_unknown_parent_sf011_with_did_you_mean() -> None:
    (d,) = diagnostics([cs("abc123"), cs("def456", "abc124")])
    assert d.code == "SF011"
    assert d.changeset == "def456"
    assert d.file == "changesets/def456_change.yaml"
    assert "abc124" in d.message
    assert d.hint is not None and "did you mean 'abc123'?" in d.hint


def test_unknown_parent_without_near_id() -> None:
    (d,) = diagnostics([cs("abc123"), cs("def456", "zzzzzzzzzz")])
    assert d.code == "SF011"
    assert d.hint is not None and "did you mean" not in d.hint


def test_unknown_depends_on_sf011() -> None:
    (d,) = diagnostics([cs("abc123"), cs("def456", "abc123", depends_on=("nope",))])
    assert d.code == "SF011"
    assert "depends_on" in d.message and "nope" in d.message
    assert d.file == "changesets/def456_change.yaml"


def test_every_problem_is_reported_at_once() -> None:
    ds = diagnostics([cs("a1"), cs("a1"), cs("b2", "x"), cs("c3", "y")])
    assert sorted(d.code for d in ds) == ["SF010", "SF011", "SF011"]
    assert {d.changeset for d in ds if d.code == "SF011"} == {"b2", "c3"}


@pytest.mark.parametrize("changesets", [
    [cs("r"), cs("a", "r", "b"), cs("b", "a")],
    [cs("a", "b"), cs("b", "a")],
    [cs("r"), cs("a", "a")],
    [cs("r"), cs("a", "r", depends_on=("c",)), cs("b", "a"), cs("c", "b")],
], ids=["via-merge", "no-root", "self", "via-depends-on"])
def test_cycle_sf012(changesets: list[Changeset]) -> None:
    (d,) = diagnostics(changesets)
    assert d.code == "SF012"
    assert d.changeset in {c.id for c in changesets if c.id != "r"}
    assert d.file == f"changesets/{d.changeset}_change.yaml"
    assert "cycle" in d.message
    assert d.changeset in d.message


# --- targets ------------------------------------------------------------------------------------


def test_head_single() -> None:
    assert linear().resolve("head") == ["d4"]
    assert linear().single_head() == "d4"


def test_head_with_several_heads_names_them() -> None:
    err = usage_error(branched(), "head")
    assert err.exit_code == 2
    assert "x2" in err.message and "y1" in err.message
    assert err.hint is not None and "heads" in err.hint


def test_heads_and_base() -> None:
    g = branched()
    heads = g.resolve("heads")
    assert isinstance(heads, list)
    assert sorted(heads) == ["x2", "y1"]
    assert g.resolve("base") == []


def test_full_id_and_prefix() -> None:
    g = Graph([cs("3f9a1c2b7d4e"), cs("3f9b00000000", "3f9a1c2b7d4e"),
               cs("a000", "3f9b00000000")])
    assert g.resolve("3f9a1c2b7d4e") == ["3f9a1c2b7d4e"]
    assert g.resolve("3f9a") == ["3f9a1c2b7d4e"]
    assert g.resolve("3f9b") == ["3f9b00000000"]
    assert g.resolve("a") == ["a000"]


def test_full_id_wins_over_longer_ids_it_prefixes() -> None:
    g = Graph([cs("abc"), cs("abcd", "abc")])
    assert g.resolve("abc") == ["abc"]
    assert g.resolve("abcd") == ["abcd"]


def test_ambiguous_prefix_lists_the_candidates() -> None:
    g = Graph([cs("3f9a1c2b7d4e", message="create user"),
               cs("3f9b00000000", "3f9a1c2b7d4e", message="add email"),
               cs("a000", "3f9b00000000")])
    err = usage_error(g, "3f9")
    assert err.exit_code == 2
    assert "ambiguous" in err.message
    assert "3f9a1c2b7d4e" in err.message and "3f9b00000000" in err.message
    assert "a000" not in err.message


def test_unknown_target_suggests_a_near_id() -> None:
    err = usage_error(linear(), "d44")
    assert err.message == "unknown target 'd44'"
    assert err.hint is not None and "did you mean 'd4'?" in err.hint


def test_unknown_target_suggests_a_near_tag() -> None:
    err = usage_error(branched(), "v22")
    assert err.hint is not None and "did you mean 'v2'?" in err.hint


def test_tags() -> None:
    g = branched()
    assert g.resolve("v1") == ["root"]
    assert g.resolve("v2") == ["x2"]


def test_label_at_head() -> None:
    g = branched()
    assert g.resolve("feature@head") == ["x2"]
    assert g.resolve("other@head") == ["y1"]


def test_label_on_branch_point_reaching_two_heads_is_ambiguous() -> None:
    g = Graph([cs("root", labels=("main",)), cs("x1", "root"), cs("y1", "root")])
    err = usage_error(g, "main@head")
    assert "x1" in err.message and "y1" in err.message


def test_unknown_label_suggests() -> None:
    err = usage_error(branched(), "featur@head")
    assert "featur" in err.message
    assert err.hint is not None and "feature@head" in err.hint


def test_label_reaches_head_through_a_merge() -> None:
    g = Graph([cs("root"), cs("x1", "root", labels=("feat",)), cs("y1", "root"),
               cs("m", "x1", "y1")])
    assert g.resolve("feat@head") == ["m"]


@pytest.mark.parametrize(("text", "steps"), [("+1", 1), ("+2", 2), ("-1", -1), ("-3", -3),
                                              ("+10", 10)])
def test_relative_targets(text: str, steps: int) -> None:
    assert linear().resolve(text) == Relative(steps)


def test_resolve_ignores_surrounding_space() -> None:
    assert linear().resolve(" head ") == ["d4"]


# --- plans --------------------------------------------------------------------------------------


def test_upgrade_plan_linear() -> None:
    g = linear()
    assert g.upgrade_plan(["d4"], set()) == ["a1", "b2", "c3", "d4"]
    assert g.upgrade_plan(["d4"], {"a1", "b2"}) == ["c3", "d4"]
    assert g.upgrade_plan(["b2"], set()) == ["a1", "b2"]
    assert g.upgrade_plan(["d4"], {"a1", "b2", "c3", "d4"}) == []
    assert g.upgrade_plan(["b2"], {"a1", "b2", "c3"}) == []


def test_upgrade_plan_one_branch_only() -> None:
    g = branched()
    assert g.upgrade_plan(["y1"], set()) == ["root", "bp", "y1"]
    assert g.upgrade_plan(["x2"], {"root", "bp", "y1"}) == ["x1", "x2"]
    plan = g.upgrade_plan(["x2", "y1"], set())
    assert sorted(plan) == ["bp", "root", "x1", "x2", "y1"]
    assert_topological(g, plan)


def test_upgrade_plan_includes_cross_branch_dependencies() -> None:
    g = Graph([cs("root"), cs("a1", "root"), cs("a2", "a1"),
               cs("b1", "root", depends_on=("a2",))])
    plan = g.upgrade_plan(["b1"], set())
    assert set(plan) == {"root", "a1", "a2", "b1"}
    assert plan.index("a2") < plan.index("b1")


def test_downgrade_plan_linear() -> None:
    g = linear()
    everything = {"a1", "b2", "c3", "d4"}
    assert g.downgrade_plan(["b2"], everything) == ["d4", "c3"]
    assert g.downgrade_plan(["d4"], everything) == []
    assert g.downgrade_plan([], everything) == ["d4", "c3", "b2", "a1"]
    assert g.downgrade_plan(["a1"], {"a1", "b2"}) == ["b2"]


def test_downgrade_to_branch_point_removes_only_its_descendants() -> None:
    g = branched()
    everything = {"root", "bp", "x1", "x2", "y1"}
    plan = g.downgrade_plan(["bp"], everything)
    assert set(plan) == {"x1", "x2", "y1"}
    assert plan.index("x2") < plan.index("x1")
    assert g.downgrade_plan(["x1"], everything) == ["x2"]
    assert set(g.downgrade_plan(["root"], everything)) == {"bp", "x1", "x2", "y1"}


def test_downgrade_one_branch_keeps_the_other() -> None:
    g = branched()
    everything = {"root", "bp", "x1", "x2", "y1"}
    # Rolling one branch back leaves the other branch (and the shared trunk) applied.
    assert g.downgrade_plan(["x1"], everything) == ["x2"]
    assert g.downgrade_plan(["y1"], everything) == []
    assert g.downgrade_plan(["bp"], {"root", "bp", "y1"}) == ["y1"]


def test_downgrade_to_base_removes_everything_newest_first() -> None:
    g = branched()
    everything = {"root", "bp", "x1", "x2", "y1"}
    plan = g.downgrade_plan([], everything)
    assert set(plan) == everything
    assert plan[-1] == "root"
    assert_topological(g, list(reversed(plan)))


def test_downgrade_to_one_parent_of_a_merge_keeps_the_other_branch() -> None:
    g = Graph([cs("root"), cs("a1", "root"), cs("b1", "root"), cs("m", "a1", "b1"),
               cs("after", "m")])
    everything = {"root", "a1", "b1", "m", "after"}
    assert g.downgrade_plan(["a1"], everything) == ["after", "m"]
    assert g.heads_of(everything - {"after", "m"}) == g.ordered(["a1", "b1"])


def test_downgrade_plan_ignores_unknown_applied_ids() -> None:
    g = linear()
    assert g.downgrade_plan([], {"a1", "ghost"}) == ["a1"]


def test_downgrade_removes_cross_branch_dependents_first() -> None:
    g = Graph([cs("root"), cs("a1", "root"), cs("a2", "a1"),
               cs("b1", "root", depends_on=("a2",))])
    plan = g.downgrade_plan(["a1"], {"root", "a1", "a2", "b1"})
    assert plan == ["b1", "a2"]

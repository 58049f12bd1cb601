"""The DAG of changesets: heads, ancestry, the target grammar, and ordered plans."""

from __future__ import annotations

import difflib
import heapq
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import cached_property
from typing import NamedTuple

from .errors import Diagnostic, UsageError, ValidationFailed
from .ir import Changeset

# What targets resolve to and the plans built on them live in `targets`; they are named here
# too, where the code that uses them finds them with the graph.
from .targets import (
    Relative,
    apply_ids,
    replay,
    rollback_ids,
    straight_span,
    target_ids,
    within,
)

__all__ = ["Edges", "Graph", "GraphParts", "Relative", "apply_ids", "replay", "rollback_ids",
           "straight_span", "target_ids", "within"]


_RELATIVE_TO = re.compile(r"(.+?)([+-]\d+)")  # ID+N, ID-N, head-1


class GraphParts(NamedTuple):
    """What a Graph holds, all computed: enough to restore one without checking and sorting
    the history again."""

    by_id: Mapping[str, Changeset]
    replaced_by: dict[str, str]
    all_parents: dict[str, tuple[str, ...]]
    tags: dict[str, str]
    children: dict[str, list[str]]
    dependents: dict[str, list[str]]
    order: list[str]
    position: dict[str, int]
    heads: list[str]


# Each changeset's id, parents, and everything it builds on (parents, then depends_on beyond
# them), in the order of `by_id`: what a graph's links are derived from.
Edges = Iterable[tuple[str, tuple[str, ...], tuple[str, ...]]]


def _links(edges: Edges) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(children, dependents) of every changeset."""
    seen = list(edges)
    children: dict[str, list[str]] = {cid: [] for cid, _, _ in seen}
    dependents: dict[str, list[str]] = {cid: [] for cid, _, _ in seen}
    for cid, parents, every in seen:
        for p in parents:
            children[p].append(cid)
        for p in every:
            dependents[p].append(cid)
    return children, dependents


class Graph:
    """The history of changesets as a DAG, checked when built from changesets (unique ids,
    known parents, no cycle, no squashed file left) and with its walks precomputed: the
    topological order, children, dependents and heads. Nothing changes it afterwards; its maps
    are plain dicts and lists, handed out without copies."""

    def __init__(self, changesets: Sequence[Changeset]) -> None:
        by_id: dict[str, Changeset] = {}
        diags: list[Diagnostic] = []
        present = {cs.id for cs in changesets}
        self.replaced_by: dict[str, str] = {}
        for cs in changesets:
            for old in cs.replaces:
                if old in present:
                    diags.append(Diagnostic(
                        code="SF015", file=cs.path, changeset=cs.id,
                        message=f"changeset {cs.id} replaces {old}, whose file still exists",
                        hint="delete the files of the squashed changesets"))
                self.replaced_by[old] = cs.id
        if self.replaced_by:
            changesets = [self._remap(cs) for cs in changesets]
        for cs in changesets:
            if cs.id in by_id:
                diags.append(Diagnostic(
                    code="SF010", file=cs.path, changeset=cs.id,
                    message=f"duplicate id '{cs.id}': also used by {by_id[cs.id].path}"))
            else:
                by_id[cs.id] = cs
        for cs in by_id.values():
            for kind, ids in (("parent", cs.parents), ("depends_on", cs.depends_on)):
                for p in ids:
                    if p not in by_id:
                        close = difflib.get_close_matches(p, list(by_id), n=1)
                        diags.append(Diagnostic(
                            code="SF011", file=cs.path, changeset=cs.id,
                            message=f"{kind} '{p}' of changeset '{cs.id}' does not exist",
                            hint=f"did you mean '{close[0]}'?" if close else
                            "check the id, or restore the missing changeset file"))
        if diags:
            raise ValidationFailed(diags)
        # by_id is only read through the Mapping interface: a cached graph revives each
        # changeset on first use. Walks of the graph use the plain-id maps below.
        self.by_id: Mapping[str, Changeset] = by_id
        self.all_parents = {i: cs.all_parents for i, cs in by_id.items()}
        self.tags = {i: cs.tag for i, cs in by_id.items() if cs.tag}
        self.children, self.dependents = _links(
            (i, cs.parents, self.all_parents[i]) for i, cs in by_id.items())
        self.order = self._toposort()
        self.heads = [i for i in self.order if not self.children[i]]

    @classmethod
    def from_parts(cls, parts: GraphParts) -> Graph:
        """The graph with these parts, taken as they are: they come from `parts()` of a graph
        built and checked before."""
        graph = cls.__new__(cls)
        (graph.by_id, graph.replaced_by, graph.all_parents, graph.tags, graph.children,
         graph.dependents, graph.order, graph.position, graph.heads) = parts
        return graph

    @classmethod
    def restored(cls, by_id: Mapping[str, Changeset], replaced_by: dict[str, str],
                 tags: dict[str, str], order: list[str], heads: list[str], tips: list[str],
                 edges: Callable[[], Edges]) -> Graph:
        """A graph built and checked before, from what a listing reads first (its order,
        heads and tips); its links are derived from `edges` when first used: `heads` and
        `status` on a long history then build no map of them."""
        graph = cls.__new__(cls)
        graph.by_id, graph.replaced_by, graph.tags = by_id, replaced_by, tags
        graph.order, graph.heads, graph.tips = order, heads, tips
        graph._edges = edges
        return graph

    # Derived when first used (a restored graph's, or the position of any).
    _edges: Callable[[], Edges]
    # The memo's key of each changeset (`memo.changeset_keys`, a pure function of the graph),
    # once computed.
    memo_keys: dict[str, bytes] | None = None

    @cached_property
    def all_parents(self) -> dict[str, tuple[str, ...]]:
        """id → everything it builds on: parents, then depends_on beyond them."""
        return {cid: every for cid, _, every in self._edges()}

    @cached_property
    def children(self) -> dict[str, list[str]]:
        """id → the changesets that name it as a parent."""
        return _links(self._edges())[0]

    @cached_property
    def dependents(self) -> dict[str, list[str]]:
        """id → the changesets that build on it (as a parent or through depends_on)."""
        return _links(self._edges())[1]

    @cached_property
    def tip_set(self) -> frozenset[str]:
        """`tips` as a set: whether a changeset has dependents, asked without deriving every
        link (a cached graph knows its tips)."""
        return frozenset(self.tips)

    @cached_property
    def position(self) -> dict[str, int]:
        """id → its place in `order`."""
        return {cid: i for i, cid in enumerate(self.order)}

    @cached_property
    def tips(self) -> list[str]:
        """The changesets nothing builds on, in order (the heads, less those another
        changeset depends on)."""
        return [i for i in self.order if not self.dependents[i]]

    def parts(self) -> GraphParts:
        """Everything the graph holds, for `from_parts`."""
        return GraphParts(self.by_id, self.replaced_by, self.all_parents, self.tags,
                          self.children, self.dependents, self.order, self.position, self.heads)

    def _remap(self, cs: Changeset) -> Changeset:
        """`cs` with references to squashed changesets pointing at their replacement."""
        from dataclasses import replace

        def fix(ids: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(self.replaced_by.get(i, i) for i in ids))

        parents, deps = fix(cs.parents), fix(cs.depends_on)
        if (parents, deps) == (cs.parents, cs.depends_on):
            return cs
        return replace(cs, parents=parents, depends_on=deps)

    def _toposort(self) -> list[str]:
        indegree = {i: len(ps) for i, ps in self.all_parents.items()}
        ready = [i for i, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            cid = heapq.heappop(ready)
            order.append(cid)
            for child in self.dependents[cid]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, child)
        if len(order) != len(self.by_id):
            stuck = sorted(i for i, d in indegree.items() if d > 0)
            cycle = self._find_cycle(set(stuck))
            raise ValidationFailed([Diagnostic(
                code="SF012", file=self.by_id[cycle[0]].path, changeset=cycle[0],
                message="the changesets form a cycle: " + " → ".join([*cycle, cycle[0]]),
                hint="a changeset's parents must be older changesets")])
        return order

    def _find_cycle(self, nodes: set[str]) -> list[str]:
        start = min(nodes)
        path: list[str] = []
        seen: dict[str, int] = {}
        cur = start
        while cur not in seen:
            seen[cur] = len(path)
            path.append(cur)
            cur = next(p for p in self.all_parents[cur] if p in nodes)
        return list(reversed(path[seen[cur]:]))

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, cid: str) -> Changeset:
        return self.by_id[cid]

    def ordered(self, ids: Iterable[str]) -> list[str]:
        """`ids` in topological order."""
        return sorted(ids, key=self.position.__getitem__)

    def ancestors(self, ids: Iterable[str], *, inclusive: bool = True) -> set[str]:
        """Every changeset that must be applied before (and, if inclusive, with) `ids`."""
        start = list(ids)
        seen: set[str] = set(start) if inclusive else set()
        stack = list(start)
        while stack:
            for p in self.all_parents[stack.pop()]:
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
        return seen

    def descendants(self, cid: str, *, parents_only: bool = False) -> set[str]:
        """Every changeset that has `cid` among its ancestors (excluding it); with
        `parents_only`, through `parents` alone (a branch's own chain, not `depends_on`)."""
        links = self.children if parents_only else self.dependents
        seen: set[str] = set()
        stack = [cid]
        while stack:
            for child in links[stack.pop()]:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    def branch_points(self) -> list[str]:
        """Changesets with more than one child."""
        return [i for i in self.order if len(self.children[i]) > 1]

    def heads_of(self, applied: Collection[str]) -> list[str]:
        """The applied changesets that no other applied changeset builds on."""
        if isinstance(applied, (set, frozenset)) and len(applied) >= len(self.order) \
                and applied.issuperset(self.order):
            # All of the history is applied (the common case): no walk, no map of links.
            return list(self.tips)
        covered: set[str] = set()
        parents = self.all_parents
        for cid in applied:
            if cid in parents:
                covered.update(parents[cid])
        known = self.by_id.keys()  # a cached graph's: no Python call per id
        return self.ordered(a for a in applied if a in known and a not in covered)

    # --- targets ---------------------------------------------------------------------------

    def resolve(self, target: str) -> list[str] | Relative:
        """The ids a target names ([] for base), or a Relative for +N/-N."""
        t = target.strip()
        if re.fullmatch(r"[+-]\d+", t):
            return Relative(int(t))
        if t == "base":
            return []
        if t == "heads":
            return list(self.heads)
        if t == "head":
            return [self.single_head()]
        if t.endswith("@head"):
            return [self._label_head(t[: -len("@head")])]
        m = _RELATIVE_TO.fullmatch(t)
        if m and t not in self.by_id and t not in self.tags.values():
            return self._step(target, m.group(1), int(m.group(2)))
        return [self.resolve_id(t)]

    def _step(self, target: str, start: str, steps: int) -> list[str]:
        """`ID+N` / `ID-N` (as Alembic's `ae10+2`): N changesets above or below ID, along a
        chain with no branch point or merge on the way ([] when that reaches base)."""
        base = self.resolve(start)
        if isinstance(base, Relative) or len(base) > 1:
            raise UsageError(f"'{target}': '{start}' does not name one changeset")
        at = base[0] if base else None  # None: base
        for done in range(abs(steps)):
            if steps > 0:
                nxt: list[str | None] = list(self.children[at] if at else [
                    i for i in self.order if not self.all_parents[i]])
            elif at is None:
                nxt = []
            else:
                nxt = list(self.by_id[at].parents) or [None]
            if not nxt:
                raise UsageError(f"'{target}': there are only {done} changesets "
                                 f"{'above' if steps > 0 else 'below'} '{start}'")
            if len(nxt) > 1:
                raise UsageError(f"'{target}' is ambiguous: {at or 'base'} has "
                                 f"{'children' if steps > 0 else 'parents'} "
                                 f"{', '.join(str(n) for n in nxt)}",
                                 hint="name the changeset, or step from the other branch")
            at = nxt[0]
        return [at] if at else []

    def single_head(self) -> str:
        """The only head; a UsageError naming the heads when there are several (or none)."""
        if len(self.heads) == 1:
            return self.heads[0]
        if not self.heads:
            raise UsageError("there are no changesets yet", hint="create one with schemaflow new")
        raise UsageError(
            f"'head' is ambiguous: there are {len(self.heads)} heads: {', '.join(self.heads)}",
            hint="name one of them, use 'heads', or join them with schemaflow merge")

    def _label_head(self, label: str) -> str:
        owners = [i for i in self.order if label in self.by_id[i].branch_labels]
        if not owners:
            labels = sorted({b for cs in self.by_id.values() for b in cs.branch_labels})
            close = difflib.get_close_matches(label, labels, n=1)
            raise UsageError(f"no changeset has the branch label '{label}'",
                             hint=f"did you mean '{close[0]}@head'?" if close else
                             f"labels: {', '.join(labels) or 'none'}")
        # The branch's own chain: a `depends_on` from another branch does not join it.
        reach = set(owners) | {d for o in owners for d in self.descendants(o, parents_only=True)}
        heads = [h for h in self.heads if h in reach]
        if len(heads) != 1:
            raise UsageError(f"'{label}@head' is ambiguous: it reaches the heads "
                             f"{', '.join(heads)}")
        return heads[0]

    def resolve_id(self, text: str) -> str:
        """A full id, a tag, or an unambiguous id prefix."""
        if text in self.by_id:
            return text
        tagged = [i for i in self.order if self.tags.get(i) == text]
        if len(tagged) == 1:
            return tagged[0]
        if len(tagged) > 1:
            raise UsageError(f"the tag '{text}' is on several changesets: {', '.join(tagged)}")
        matches = [i for i in self.order if i.startswith(text)] if text else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            listed = ", ".join(f"{m} ({self.by_id[m].message})" for m in matches[:10])
            raise UsageError(f"'{text}' is ambiguous: it matches {len(matches)} changesets: "
                             f"{listed}", hint="type more characters of the id")
        names = [*self.by_id, *self.tags.values()]
        close = difflib.get_close_matches(text, names, n=1)
        raise UsageError(
            f"unknown target '{text}'",
            hint=(f"did you mean '{close[0]}'? " if close else "")
            + "targets are head, heads, base, an id or its prefix, +N, -N, label@head, a tag")

    # --- plans -----------------------------------------------------------------------------

    def upgrade_plan(self, targets: Iterable[str], applied: Collection[str]) -> list[str]:
        """The changesets to apply, in order, to reach `targets`."""
        wanted = list(targets)
        done = applied if isinstance(applied, (set, frozenset)) else set(applied)
        if set(wanted) == set(self.heads):
            # Every changeset leads to some head: no walk needed, the order is at hand.
            return [i for i in self.order if i not in done]
        return self.ordered(self.ancestors(wanted) - done)

    def downgrade_plan(self, targets: Sequence[str], applied: Collection[str]) -> list[str]:
        """The applied changesets to reverse, newest first, to go back down to `targets`."""
        if not targets:
            remove = {a for a in applied if a in self.by_id}
        else:
            keep = self.ancestors(targets)
            below = set().union(*(self.descendants(t) for t in targets))
            remove = {a for a in applied if a in below and a not in keep}
        return list(reversed(self.ordered(remove)))

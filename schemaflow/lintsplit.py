"""The history check of a long history, checked afresh, split across the cores.

The check is one pass in history order, each changeset checked on the schema its parents
left. Cut the order into parts: this process checks the first; each other part is checked
by a forked process that first replays, without the checks, everything before it (what
`lint.Checker.replay` builds is what the check would have built: an operation that does not
fit is left out in both). A replay costs well under half of a check, so the parts further on
are shorter and all end at about the same time. Each forked process sends back the findings
of its part, changeset by changeset, and the text of the schema files of the heads it
checked (encoding them is a good part of the check's cost at a head). The findings are the
serial check's, in its order; a part whose process fails is checked here, after the parts
before it, as without the split.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from . import parallel

if TYPE_CHECKING:
    from .errors import Diagnostic
    from .lint import Checker
    from .lintcache import Remembered

MIN_CHANGESETS = 1000  # below this, a forked process costs more than it saves
_REPLAY_SHARE = 0.45   # a replay's cost per changeset (and the fork's), as a share of a check's

# One changeset of a part: its id, what its own check found, which of those only the rules
# add (their indices), and its placement findings.
Entry = tuple[str, "list[Diagnostic]", "list[int]", "list[Diagnostic]"]
# A part's entries, whether every operation replayed, and its heads' schema files (key, text).
Part = tuple["list[Entry]", bool, "list[tuple[str, str]]"]


def bounds(count: int, parts: int, share: float = _REPLAY_SHARE) -> list[int]:
    """Where each part starts (and the last ends), so that replaying what comes before a
    part and checking the part cost about the same for every part."""
    rest = 1.0 - share
    # Part k ends at b[k+1] = b[k] * rest + t, with t the cost of each.
    t = count / sum(rest ** j for j in range(parts))
    out, b = [0], 0.0
    for _ in range(parts - 1):
        b = b * rest + t
        out.append(min(count, round(b)))
    out.append(count)
    return out


def start(checker: Checker, order: list[str]) -> Split | None:
    """The other parts started on the other cores; None when the history is too short or
    there is one core."""
    n = parallel.workers()
    if n < 2 or len(order) < MIN_CHANGESETS:
        return None
    b = bounds(len(order), n)
    others = [parallel.fork_call(functools.partial(_part, checker, order, b[k], b[k + 1]))
              for k in range(1, n)]
    return Split(checker, order, b, others)


def _part(checker: Checker, order: list[str], lo: int, hi: int) -> Part:
    """In a forked process: replay what comes before `lo`, then check `order[lo:hi]`."""
    from .lintstate import head_files

    for cid in order[:lo]:
        checker.replay(cid)
    entries: list[Entry] = []
    for cid in order[lo:hi]:
        diags: list[Diagnostic] = []
        placed, rules_only = checker.check(cid, diags)
        own = diags[:placed]
        entries.append((cid, own, [i for i, d in enumerate(own) if id(d) in rules_only],
                        diags[placed:]))
    return entries, checker.replays, head_files(checker.history, checker.states.heads)


class Split:
    """The parts of one check: the first checked here, the others on their way."""

    def __init__(self, checker: Checker, order: list[str], bounds: list[int],
                 others: list[parallel.Forked | None]) -> None:
        self.checker = checker
        self.order = order
        self.bounds = bounds
        self.others = others
        self.heads: list[tuple[str, str]] = []

    def finish(self, diags: list[Diagnostic], remembered: Remembered | None) -> None:
        """Check the first part, then add each other part's findings in order (a part whose
        process failed is checked here)."""
        checker, order, b = self.checker, self.order, self.bounds
        done = 0  # the states here are those after order[:done]
        for k in range(len(b) - 1):
            other = self.others[k - 1] if k else None
            part: Part | None = other.result() if other is not None else None
            if part is None:
                for cid in order[done:b[k]]:
                    checker.replay(cid)
                for cid in order[b[k]:b[k + 1]]:
                    checker.check(cid, diags, remembered)
                done = b[k + 1]
                continue
            entries, replays, heads = part
            for cid, own, rules_only, placement in entries:
                diags += own
                if remembered is not None:
                    remembered.put(cid, own, {id(own[i]) for i in rules_only})
                diags += placement
            checker.replays = checker.replays and replays
            if heads:
                checker.computed = True
                self.heads += heads

    def remember_heads(self) -> None:
        """Write the schema files of the heads the other parts checked."""
        memo = self.checker.history.memo
        for key, text in self.heads:
            memo.put_state_file(key, text)

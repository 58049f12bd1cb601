"""A long run's plan rendered in a forked process while the run goes.

A run renders every changeset of its plan before it runs the first one, so that one that
cannot be rendered here (a type this database lacks, a name too long for it) is refused
with nothing applied. On a long plan (a database built from empty: a test database, a CI
job, a new environment) that rendering is as much CPU as the database's own work, and the
two came one after the other.

Once every item of a plan is known to render on this database, the run does not wait for
it: a forked process renders the items on another core and sends each as it is compiled
(text and bound values, `dialects.prepared`), and the run executes each as it arrives.
What is known is remembered by the memo (`Memo.rendered`), as keys of plan items: a key
hashes the database the plan renders for (`context`: its kind and server version, the
driver, SQLAlchemy's and this schemaflow's code), the direction, and the changesets, by
their own keys (`cache.own_key`: header and body), in the order the item's schema is built
from: for an apply, those replayed before it (applied before the run or earlier in it:
either way the same schema) and the item's own; for a rollback, the applied ones, then
those reversed up to and including the item. An item whose key is remembered rendered
here before, on the very schema it meets now. Keys, never SQL: every statement is
rendered from the files, in this run. A plan that is not known whole is rendered whole
before anything runs, as always, and its keys are remembered once it is.

Whatever goes wrong in the forked process (an item that does not render after all, a
changed file, a statement that only SQLAlchemy's execution can run, a process that dies)
ends its stream, and this process renders the rest itself from there, so that an error is
raised as it is without streaming, only after the changesets before it ran (as with a
database error in a changeset). Only where processes fork (Linux), with a core to spare,
a cache folder, no other thread in the process but the live status line's (`_forkable`),
and at least `MIN_ITEMS` changesets to run; `SCHEMAFLOW_JOBS=1` turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, parallel
from .cache import own_keys
from .planning import Direction, Plan, PlanItem, iter_apply, iter_rollback

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .dialects.render import Renderer, Step
    from .graph import Graph
    from .history import History
    from .planning import Finish

MIN_ITEMS = 32  # below this, starting a process costs about what it saves


@functools.cache
def _code() -> bytes:
    """This schemaflow's code as installed: each module's path, size and modification time
    (a reinstall or a checkout changes it; then nothing is known to render)."""
    root = Path(__file__).resolve().parent
    rows = []
    for path in sorted(root.rglob("*.py")):
        try:
            st = path.stat()
        except OSError:
            continue
        rows.append(f"{path.relative_to(root)}\x1f{st.st_size}\x1f{st.st_mtime_ns}")
    return "\x1e".join(rows).encode()


def context(dialect: Dialect, sa_dialect: Any) -> str:
    """What a plan renders for, besides the changesets: the database (its kind and server
    version), the driver, SQLAlchemy's and this schemaflow's code."""
    import sqlalchemy

    seed = repr((type(dialect).__module__, type(dialect).__qualname__, dialect.server_version,
                 sa_dialect.name, sa_dialect.driver, sqlalchemy.__version__, __version__))
    return hashlib.blake2b(seed.encode() + _code(), digest_size=16).hexdigest()


def item_keys(g: Graph, direction: Direction, applied: Collection[str], ids: Sequence[str],
              ctx: str) -> list[str]:
    """The key of each item of the plan that runs `ids` in `direction` on top of `applied`
    (see the module's docstring). An applied item's key is that of the changesets replayed
    before it, then its own: the same whether they were applied before this run or are
    earlier in its plan (the schema it meets is the same)."""
    own = own_keys(g.by_id)
    running = hashlib.blake2b(f"{ctx}\x1f{direction}\x1e".encode(), digest_size=16)
    running.update(b"".join([own[c] for c in g.ordered(applied)]))
    if direction == "rollback":  # which are reversed, which stay
        running.update(b"\x1d")
    out = []
    for cid in ids:
        running.update(own[cid])
        out.append(running.copy().hexdigest())
    return out


def _items(history: History, direction: Direction, ids: Sequence[str],
           applied: Collection[str], renderer: Renderer,
           finish: Finish | None) -> Iterator[PlanItem]:
    make = iter_apply if direction == "apply" else iter_rollback
    return make(history, ids, applied, renderer, finish)


def _portable(steps: Sequence[Step]) -> bool:
    """Whether the statements can be sent to another process: compiled text and values
    (a statement left for SQLAlchemy's execution is an object graph, not sent)."""
    from .dialects.prepared import Bound

    return all(isinstance(s.sql, (str, Bound)) for s in steps)


class Streamed:
    """The items of a plan as a forked process renders them: iterated once, by the run. Where
    the stream ends early, this process renders the rest (raising what rendering raises)."""

    def __init__(self, history: History, direction: Direction, ids: Sequence[str],
                 applied: Collection[str], renderer: Renderer, finish: Finish,
                 stream: parallel.Stream) -> None:
        self.history = history
        self.direction = direction
        self.ids = tuple(ids)
        self._applied = applied
        self._renderer = renderer
        self._finish = finish
        self._stream: parallel.Stream | None = stream
        self.items: list[PlanItem] = []

    def __iter__(self) -> Iterator[PlanItem]:
        g = self.history.graph
        for k, cid in enumerate(self.ids):
            got = self._stream.receive() if self._stream is not None else None
            if got is None or got[0] != cid:
                self.close()
                yield from self._rest(k)
                return
            _, steps, transactional, checksum = got
            item = PlanItem(g[cid], self.direction, (), steps, transactional, checksum)
            self.items.append(item)
            yield item

    def _rest(self, k: int) -> Iterator[PlanItem]:
        """The items from the `k`-th on, rendered here."""
        done = set(self.ids[:k])
        applied = (set(self._applied) | done if self.direction == "apply"
                   else set(self._applied) - done)
        for item in _items(self.history, self.direction, self.ids[k:], applied,
                           self._renderer, self._finish):
            self.items.append(item)
            yield item

    def plan(self) -> Plan:
        """The items the run took, as a plan."""
        return Plan(self.direction, tuple(self.items), self._renderer.name)

    def close(self) -> None:
        """Let the forked process go: waited for when it sent everything (it is writing the
        schema the run ends on to the memo), stopped otherwise."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close(wait=len(self.items) == len(self.ids))


def _forkable() -> bool:
    """Whether this process may fork: no thread runs but the main one and the live status
    line's (rich's refresh thread, which only writes to the terminal; the forked process
    never does, nor flushes a stream when it ends: `parallel.fork_stream`). A fork copies
    another thread's locks as they are, held or not."""
    main = threading.main_thread()
    return all(t is main or type(t).__name__ == "_RefreshThread" for t in threading.enumerate())


def streamed(history: History, direction: Direction, ids: Sequence[str],
             applied: Collection[str], renderer: Renderer, finish: Finish,
             dialect: Dialect, sa_dialect: Any) -> Streamed | None:
    """The plan's items rendered by a forked process as the run goes, where every one of
    them is known to render here (see the module's docstring); None otherwise."""
    memo = history.memo
    if (len(ids) < MIN_ITEMS or memo.dir is None or parallel.workers() < 2
            or not _forkable()):
        return None
    ctx = context(dialect, sa_dialect)
    if not set(memo.rendered(ctx)).issuperset(item_keys(history.graph, direction, applied,
                                                         ids, ctx)):
        return None

    def render(send: Callable[[Any], None]) -> None:
        for item in _items(history, direction, ids, applied, renderer, finish):
            if not _portable(item.steps):
                return
            send((item.changeset.id, item.steps, item.transactional, item.checksum))

    stream = parallel.fork_stream(render)
    if stream is None:
        return None
    return Streamed(history, direction, ids, applied, renderer, finish, stream)


def remember(history: History, plan: Plan, applied: Collection[str], dialect: Dialect,
             sa_dialect: Any) -> None:
    """Remember that every item of `plan`, rendered whole in this process for a run on
    `applied`, renders here."""
    if len(plan.items) < MIN_ITEMS or history.memo.dir is None:
        return
    ctx = context(dialect, sa_dialect)
    history.memo.mark_rendered(ctx, item_keys(history.graph, plan.direction, applied,
                                              plan.ids, ctx))

"""A long run's plan rendered on two cores: while the run goes, once it is known to render.

A run renders every changeset of its plan before it runs the first one, so that one that
cannot be rendered here (a type this database lacks, a value out of its range) is refused
with nothing applied. On a long plan (a database built from empty: a test database, a CI
job, a new environment) that rendering is as much CPU as the database's own work.

- A plan not known to render is still rendered whole first, but on two cores: this
  process renders its first half while a forked one replays the schema the first half
  builds (from the history loaded, which this process checks every file against as it
  renders it) and renders the second half, sending each item as it is compiled (text and
  bound values, `dialects.prepared`). Then its items are remembered as known.
- A plan every item of which is known to render is not waited for: this process renders
  its first sixteenth (a history's first changesets mostly create tables, which cost more
  to render than to run) while the forked process renders the rest, and the run
  executes each item as it arrives. A run through the driver alone (`driverrun`) has the
  whole of such a plan streamed by its render process (`renderchild`), which renders it
  with `plan_items` too, from a history it loaded itself (`history_key`: the same).

What is known is remembered by the memo (`Memo.rendered`), as keys of plan items: a key
hashes the database the plan renders for (`context`: its kind and server version, the
driver, SQLAlchemy's and this schemaflow's code), the direction, and the changesets, by
their own keys (`cache.own_key`: header and body), in the order the item's schema is built
from: for an apply, those replayed before it (applied before the run or earlier in it:
either way the same schema) and the item's own; for a rollback, the applied ones, then
those reversed up to and including the item. An item whose key is remembered rendered
here before, on the very schema it meets now. The plan itself, once rendered whole, is kept
under its last item's key by `plancache`, and a later run of the same plan sends it instead
of rendering it (neither rendered whole nor streamed).

Whatever goes wrong in the forked process (an item that does not render after all, a
changed file, a statement that only SQLAlchemy's execution can run, a process that dies)
ends its stream, and this process renders the rest itself from there, raising what
rendering raises: before anything ran for a plan rendered whole; for a streamed one after
the changesets before it ran (as with a database error in a changeset). Only where
processes fork (Linux), with a core to spare, no other thread in the process but the live
status line's (`parallel.forkable`), and at least `MIN_ITEMS` changesets to run; streaming also
needs the cache folder. `SCHEMAFLOW_JOBS=1` renders in this process alone.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import __version__, parallel, plancache
from .cache import own_keys
from .cachefile import whole_build
from .plans import Bound, Direction, Plan, PlanItem
from .renderchild import MIN_ITEMS

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .dialects.render import Renderer
    from .graph import Graph
    from .history import History
    from .memo import Memo
    from .planning import Finish
    from .plans import Step

HEAD_SHARE = 16  # a streamed run renders the first 1/HEAD_SHARE of its plan in this process


def context(dialect: Dialect, facts: tuple[Any, ...]) -> str | None:
    """What a plan renders for, besides the changesets: the database (its kind and server
    version, and `facts`: `sa_facts`, or a run through the driver alone its `facts`),
    SQLAlchemy's version and this schemaflow's code (by content, as the history check's
    memo has it: a reinstall of the same code, such as a CI job's, keeps what is known).
    None when that code cannot be read: then nothing is known."""
    code = whole_build()
    if code is None:
        return None
    seed = repr((type(dialect).__module__, type(dialect).__qualname__, dialect.server_version,
                 facts, sqlalchemy_version(), __version__))
    return hashlib.blake2b(seed.encode() + code, digest_size=16).hexdigest()


def sa_facts(dialect: Dialect, sa_dialect: Any, raw: Any, own: bool) -> tuple[Any, ...]:
    """`context`'s facts of a SQLAlchemy connection (`raw`: its driver's connection; `own`:
    of an engine schemaflow made from a URL). Where the database reads them from the
    driver (`Dialect.driver_facts`: what SQLAlchemy's dialect is set up from on such an
    engine), those, so that a run through the driver alone finds the same plans; else the
    dialect's settings as its connection left them (MySQL's sql_mode and whether
    backslashes escape, a caller's engine's options, ...): what it compiles may depend on
    them (not what SQLAlchemy notes on it once it has used it)."""
    found = dialect.driver_facts(raw, sa_dialect.driver) if own else None
    if found is not None:
        return found
    settings = sorted((k, v) for k, v in vars(sa_dialect).items()
                      if type(v) in (bool, int, float, str, tuple, type(None))
                      and k != "_supports_statement_cache")
    return ("sqlalchemy", sa_dialect.name, sa_dialect.driver, tuple(settings))


_VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.M)


@functools.cache
def sqlalchemy_version() -> str:
    """SQLAlchemy's version, without importing it where it is not imported yet (its
    package's `__init__.py` says it)."""
    imported = sys.modules.get("sqlalchemy")
    if imported is not None:
        return str(imported.__version__)
    import importlib.util

    spec = importlib.util.find_spec("sqlalchemy")
    origin = spec.origin if spec is not None else None
    try:
        with open(origin or "", encoding="utf-8") as f:
            found = _VERSION.search(f.read())
    except OSError:
        found = None
    return found.group(1) if found else "unknown"


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


def _after(direction: Direction, applied: Collection[str], done: Sequence[str]) -> set[str]:
    """What is applied once `done` ran in `direction` on top of `applied`."""
    return set(applied) | set(done) if direction == "apply" else set(applied) - set(done)


def plan_items(history: History, direction: Direction, ids: Sequence[str],
           applied: Collection[str], renderer: Renderer, finish: Finish | None, *,
           remember_start: bool = True, remember_end: bool = True,
           stored: bool = True) -> Iterator[PlanItem]:
    from .planning import iter_apply, iter_rollback  # (not for a plan kept whole)

    make = iter_apply if direction == "apply" else iter_rollback
    return make(history, ids, applied, renderer, finish, remember_start=remember_start,
                remember_end=remember_end, stored=stored)


def history_key(g: Graph) -> str:
    """The changesets of `g` as one key (each one's own key, by id: its header but its
    file's path, and its checksum): equal in two processes that loaded the same history."""
    own = own_keys(g.by_id)
    digest = hashlib.blake2b(digest_size=16)
    for cid in sorted(own):
        digest.update(cid.encode() + b"\x1f" + own[cid])
    return digest.hexdigest()


def known_to_render(known: Known) -> bool:
    """Whether every item of the plan `known` rendered here before (on the schema it
    meets now): then it is streamed, each item run as it comes."""
    return bool(known.keys) and known.memo is not None and set(
        known.memo.rendered(known.ctx)).issuperset(known.keys)


def keepable(direction: Direction, ids: Sequence[str], applied: Collection[str]) -> bool:
    """Whether the plan may be kept whole (`plancache`): where every schema it renders on is
    built, in this run, from changesets the plan itself reads from their files (and
    compares with the history loaded), none from the memo's remembered schemas: a database
    built from empty, or rolled back to base."""
    return not applied if direction == "apply" else set(ids) == set(applied)


def may_be_kept(direction: Direction, ids: Sequence[str], applied: Collection[str]) -> bool:
    """Whether a plan of `ids` in `direction` on top of `applied` may be one kept whole
    (`plancache`): long enough to be remembered (`known`), and `keepable`."""
    return len(ids) >= MIN_ITEMS and keepable(direction, ids, applied)


def portable(steps: Sequence[Step]) -> bool:
    """Whether the statements can be sent to another process: compiled text and values
    (a statement left for SQLAlchemy's execution is an object graph, not sent)."""
    return all(isinstance(s.sql, (str, Bound)) for s in steps)


class _Part:
    """The items of a plan from its `k`-th on, as a forked process renders them (from the
    schema the ones before them build, replayed there); where its stream ends early, the
    rest rendered here, raising what rendering raises."""

    def __init__(self, history: History, direction: Direction, ids: Sequence[str], k: int,
                 applied: Collection[str], renderer: Renderer, finish: Finish, *,
                 stored: bool = True) -> None:
        self.history, self.direction, self.ids, self.k = history, direction, ids, k
        self.applied, self.renderer, self.finish = applied, renderer, finish
        self.stored = stored  # (see `_items`)
        self.complete = False
        self.sources: dict[str, str] = {}  # id → the key of the file it was rendered from

        def render(send: Callable[[Any], None]) -> None:
            for item in plan_items(history, direction, ids[k:], _after(direction, applied, ids[:k]),
                               renderer, finish, remember_start=k == 0, stored=stored):
                if not portable(item.steps):
                    return
                cid = item.changeset.id
                send((cid, item.steps, item.transactional, item.checksum,
                      history.read_key(cid)))

        self.stream: parallel.Stream | None = parallel.fork_stream(render)

    def __iter__(self) -> Iterator[PlanItem]:
        g = self.history.graph
        for j in range(self.k, len(self.ids)):
            cid = self.ids[j]
            got = self.stream.receive() if self.stream is not None else None
            if got is None or got[0] != cid:
                self.close()
                yield from plan_items(self.history, self.direction, self.ids[j:],
                                  _after(self.direction, self.applied, self.ids[:j]),
                                  self.renderer, self.finish, remember_start=False,
                                  stored=self.stored)
                self.complete = True
                return
            _, steps, transactional, checksum, source = got
            if source is not None:
                self.sources[cid] = source
            yield PlanItem(g[cid], self.direction, (), steps, transactional, checksum)
        self.complete = True

    def close(self) -> None:
        """Let the forked process go: waited for when it sent everything (it may be writing
        the schema the plan ends on to the memo), stopped otherwise."""
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.close(wait=self.complete)


class Streamed:
    """The items of a plan known to render, each run as it comes: the first ones (`head`)
    as this process renders them, the rest as a forked process does (`part`). Iterated
    once, by the run."""

    def __init__(self, head: Iterator[PlanItem], part: _Part, name: str, key: str,
                 secret: bytes | None) -> None:
        self._head = head
        self._part = part
        self._name = name
        self._key = key
        self._secret = secret  # (None: the plan is not kept)
        self.direction = part.direction
        self.ids = tuple(part.ids)
        self.items: list[PlanItem] = []

    def __iter__(self) -> Iterator[PlanItem]:
        for item in itertools.chain(self._head, self._part):
            self.items.append(item)
            yield item

    def plan(self) -> Plan:
        """The items the run took, as a plan."""
        return Plan(self.direction, tuple(self.items), self._name)

    def close(self) -> None:
        """Let the forked process go (see `_Part.close`); a plan run whole is kept."""
        part = self._part
        part.close()
        if part.complete and self._secret is not None and len(self.items) == len(self.ids):
            plancache.store(part.history, self._key, self.items, part.sources, self._secret)


@dataclass(frozen=True, slots=True)
class Known:
    """What a run's plan is known by: its items' keys (`item_keys`, empty where nothing is
    remembered: a short plan, no cache folder) in the memo, under `ctx` (`context`), and the
    key that signs it where it may be kept whole (`plancache`; else None)."""

    memo: Memo | None
    ctx: str
    keys: list[str]
    secret: bytes | None


def known(history: History, direction: Direction, ids: Sequence[str],
          applied: Collection[str], dialect: Dialect, facts: tuple[Any, ...]) -> Known:
    """What the plan that runs `ids` in `direction` on top of `applied` is known by."""
    memo = history.memo if len(ids) >= MIN_ITEMS and history.memo.dir is not None else None
    ctx = context(dialect, facts) if memo is not None else None
    if memo is None or ctx is None:
        return Known(None, "", [], None)
    keys = item_keys(history.graph, direction, applied, ids, ctx)
    # A plan that may be kept renders on no schema the memo remembers (`keepable`).
    secret = plancache.machine_key() if keys and keepable(direction, ids, applied) else None
    return Known(memo, ctx, keys, secret)


def kept_plan(history: History, direction: Direction, ids: Sequence[str], known: Known,
              name: str) -> Plan | None:
    """The plan kept whole for this run (`plancache`), if any: sent as it is, so that
    nothing renders, and the run imports neither the replay nor the renderers."""
    if known.secret is None:
        return None
    kept = plancache.kept(history, known.keys[-1], direction, ids, known.secret)
    return None if kept is None else Plan(direction, kept, name)


def plan_run(history: History, direction: Direction, ids: Sequence[str],
             applied: Collection[str], renderer: Renderer, finish: Finish,
             known: Known) -> Plan | Streamed:
    """The plan of a run not kept whole (`kept_plan` first): streamed where every item is
    known to render here (see the module's docstring); else rendered whole before anything
    runs, on two cores where there are (this process renders the first half, a forked one
    the second, from the schema the first half builds), and then remembered as known."""
    memo, ctx, keys, secret = known.memo, known.ctx, known.keys, known.secret
    fork = len(ids) >= MIN_ITEMS and parallel.workers() > 1 and parallel.forkable()
    stored = secret is None
    if fork and known_to_render(known):
        # This process renders the first few itself: a history's first changesets mostly
        # create tables, which cost more to render than to run, and meanwhile the forked
        # process gets ahead.
        first = len(ids) // HEAD_SHARE
        part = _Part(history, direction, ids, first, applied, renderer, finish,
                     stored=stored)
        if part.stream is not None:
            return Streamed(plan_items(history, direction, ids[:first], applied, renderer, finish,
                                   remember_end=False, stored=stored), part, renderer.name,
                            keys[-1], secret)
        part.close()
    half = len(ids) // 2 if fork else len(ids)
    tail = _Part(history, direction, ids, half, applied, renderer, finish,
                 stored=stored) if fork else None
    try:
        items = [*plan_items(history, direction, ids[:half], applied, renderer, finish,
                         remember_end=tail is None, stored=stored), *(tail or ())]
    finally:
        if tail is not None:
            tail.close()
    if memo is not None:
        memo.mark_rendered(ctx, keys)
        if secret is not None:
            plancache.store(history, keys[-1], items, tail.sources if tail is not None else {},
                            secret)
    return Plan(direction, tuple(items), renderer.name)

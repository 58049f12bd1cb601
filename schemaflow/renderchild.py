"""What a run runs, rendered by a process of its own, forked as the run starts: so that
importing SQLAlchemy (~0.1 s, more than a deploy's own work on its changeset) happens on
the other core while this process loads the history, reads the version table and checks
the changesets, and this process, which runs them through the driver (`driverrun`), never
imports it.

The command line forks it before it imports itself (`fork_early`, from `launch`); the run
takes that process (`RenderChild.start`) and tells it what it serves, or forks one there.
The forked process imports what rendering and parsing need, connects through SQLAlchemy
(never writing; on a database not made yet, once the run made it) and compiles the
version table's statements (`rowrecipe`), then waits for what the run decided under its
lock. Two kinds of requests:

- A deploy's few changesets (`render`: up to `MOST`, applied): their files, and the key of
  the schema they meet, which the memo holds (a schema the history check or an earlier run
  remembered; else the run replays it first, which remembers it). The forked process reads
  that schema from the memo's folder, parses each file, renders and compiles the
  changesets as a run does (`planning`), each only where it does what the run loaded and
  checked (`history.same_as_loaded`, with what the run sent of it: `History.loaded_body`),
  as `History.from_file` compares what it parses: a file changed meanwhile is never run.
  It answers once, with all of them: nothing runs before all are rendered.
- A plan known to render and not kept whole (`open_stream`, `planstream.known_to_render`:
  at least `MIN_ITEMS` changesets, each of which rendered here before on the
  schema it meets now; a database built from empty or rolled back to base on a CI machine
  whose cache folder was restored, a long run on top of applied changesets), in either
  direction: the forked process loads the history as the run did (from the folder index
  or the parse cache, parsing what they do not hold; on a database not made yet, from an
  up-to-date folder index while the run loads it), and where it is the history the run
  loaded (`planstream.history_key`), renders the plan as `planstream` renders a part of
  one (each file compared with what was loaded) and sends each item as it is compiled
  (`next_item`), while the run runs the ones before.

Anything the forked process cannot do (a changeset that does not render, a statement left
for SQLAlchemy's execution, another database or history, a process that died, no answer
within `WAIT` seconds) ends its answer or stream with None, and the run goes on without it
(`driverrun`: through SQLAlchemy, rendering there and raising what rendering raises). The
process is stopped and reaped once it answered, and as soon as the run knows it is not
needed (nothing pending, a plan kept whole, a plan of another length), before anything
runs; once the run ran a whole stream, it is let end on its own (it may write the schema
the plan ends on to the memo).

Only where processes fork (Linux), with a core to spare, no thread but the main one and the
live status line's (`parallel.forkable`), where SQLAlchemy is not imported yet (an API
caller's process), with a cache folder (the memo), and where the database has a driver side
(`Dialect.driver_side`) and runs in this process (`Dialect.render_process`: SQLite)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import parallel

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .graph import Graph
    from .history import History
    from .memo import Memo
    from .plans import Direction
    from .source import Limits

MOST = 8  # the most changesets rendered there (a deploy's few; more go `planstream`'s way)
MIN_ITEMS = 32  # the fewest streamed (`planstream`): below, a process costs what it saves
WAIT = 30.0  # seconds the run waits for its answer before it renders in its own process
POLL = 0.1  # seconds between the looks a run waiting for a streamed item takes at signals

Rendered = tuple[list[tuple[Any, ...]], dict[str, Any], list[tuple[str, str]]]
"""Each changeset's (transactional, steps), the version table's statements, and each
changeset's id and checksum as parsed there (what its version row records)."""


@dataclass(frozen=True)
class Setup:
    """The run the forked process serves: on the database at `url` (version table `table`
    in `schema`; `exists`: the database was there as the run started), the changesets in
    `folder` (read within `limits`)."""

    url: str
    table: str
    schema: str | None
    folder: Path
    limits: Limits
    exists: bool


# The process `fork_early` started, until a run takes it (`RenderChild.start`).
_early: parallel.Stream | None = None


def rollback_served(target: str) -> bool:
    """Whether a rollback to `target` may use the process: only a plan streamed from it,
    at least MIN_ITEMS changesets, does, which only `base` and `-N` (N >= MIN_ITEMS)
    promise before the version table is read. A rollback to an id or a tag (most undo a few
    changesets) renders in the run, as it would with the process, without one importing
    SQLAlchemy on the other core meanwhile for nothing."""
    return target == "base" or (target[:1] == "-" and target[1:].isdigit()
                                and int(target[1:]) >= MIN_ITEMS)


def fork_early() -> None:
    """Start the process as the command line starts (`launch`), before it imports itself,
    where one may serve a run (see the module): the run's `RenderChild.start` takes it and
    tells it what it serves, or stops it; a command that exits without taking it stops it
    as it exits (an exit handler; and a process whose command died without one ends once
    it reads the closed pipe)."""
    global _early
    if _early is None and parallel.workers() > 1 and parallel.forkable() and (
            "sqlalchemy" not in sys.modules):
        import atexit

        _early = parallel.fork_server(lambda conn: _serve(conn, None))
        atexit.register(drop_early)


def drop_early() -> None:
    """Stop the process `fork_early` started, if no run took it (a command that ended
    before it ran anything)."""
    global _early
    early, _early = _early, None
    if early is not None:
        early.close()


@dataclass(frozen=True)
class Request:
    """What the forked process renders: the changesets `ids` in `files`, in order, on the
    schema the memo holds under `key`, for the database `kind` at `version` whose driver
    says `facts`; each only where its file still does what the run loaded (`loaded`)."""

    kind: str
    version: tuple[int, ...] | None
    facts: tuple[Any, ...]
    key: str
    files: list[Path]
    ids: list[str]
    loaded: list[tuple[bool | None, Any]]  # each as loaded (`History.loaded_body`)


@dataclass(frozen=True)
class Prefetch:
    """The key of the schema a deploy's changesets are likely to meet (read by the run
    before its lock, from the version table as it then was): read from the memo ahead of
    the `Request`, which names the one they meet."""

    key: str


@dataclass(frozen=True)
class StreamRequest:
    """A plan known to render (`planstream.known_to_render`), streamed: `ids` run in
    `direction` on top of `applied`, for the database `kind` at `version` whose driver
    says `facts`, from the history the run loaded (`history`: its `history_key`);
    `stored`: as `planstream.plan_items` takes it."""

    kind: str
    version: tuple[int, ...] | None
    facts: tuple[Any, ...]
    direction: Direction
    ids: list[str]
    applied: list[str]
    stored: bool
    history: str


class RenderChild:
    """The forked process, waiting for its one request."""

    def __init__(self, stream: parallel.Stream) -> None:
        self.stream = stream
        self._keyed: tuple[int, set[str], str] | None = None  # (see `key_of`)

    @classmethod
    def start(cls, url: str, dialect: Dialect | None, table: str, schema: str | None,
              folder: Path, limits: Limits, *, exists: bool = True) -> RenderChild | None:
        """The process for a run on `url` (version table `table` in `schema`; changesets
        in `folder`, read within `limits`), where one may serve it (see the module); on a
        database that does not exist yet (`exists`), it connects once the run sent what
        it renders (the run made the database then)."""
        from .cachefile import folder as cache_folder

        global _early
        early, _early = _early, None  # (taken by this run, used or stopped)
        if (dialect is None or not dialect.render_process
                or dialect.driver_side(url, schema) is None
                or "sqlalchemy" in sys.modules  # (then rendering here costs no import)
                or cache_folder() is None  # (no memo to read the schema from)
                or parallel.workers() < 2 or not parallel.forkable()):
            if early is not None:
                early.close()
            return None
        setup = Setup(url, table, schema, folder, limits, exists)
        if early is not None:
            if early.send(setup, WAIT):
                return cls(early)
            early.close()
        stream = parallel.fork_server(lambda conn: _serve(conn, setup))
        return None if stream is None else cls(stream)

    def render(self, request: Request) -> Rendered | None:
        """What the forked process rendered and parsed (it is reaped then); None where it
        could not, or did not answer within `WAIT` seconds (while the run holds its lock)."""
        answer = self.stream.receive(WAIT) if self.stream.send(request, WAIT) else None
        self.close()
        return answer if isinstance(answer, tuple) and len(answer) == 3 else None

    def prefetch(self, g: Graph, applied: Collection[str], memo: Memo) -> None:
        """Have the process read the schema that `applied` build (see `Prefetch`), where
        `memo` holds it (else the run replays it later, and remembers it then)."""
        key = self.key_of(g, applied)
        if key and memo.holds_state(key):
            self.stream.send(Prefetch(key), WAIT)

    def key_of(self, g: Graph, applied: Collection[str]) -> str:
        """The memo's key of the schema that `applied` build (`memo.START`: none applied);
        of the set it was last asked for, not worked out again."""
        from .memo import START, sequence_keys

        if self._keyed is None or self._keyed[:2] != (id(g), applied):
            self._keyed = (id(g), set(applied),
                           sequence_keys(g, g.ordered(applied)).last or START)
        return self._keyed[2]

    def open_stream(self, request: StreamRequest) -> dict[str, Any] | None:
        """The version table's statements, once the forked process loaded the history and
        found it to be the run's (then `next_item` gives each item as it is rendered);
        None where it cannot serve the request (it is reaped then)."""
        recipe = self.stream.receive(WAIT) if self.stream.send(request, WAIT) else None
        if not isinstance(recipe, dict):
            self.close()
            return None
        return recipe

    def next_item(self, stop: Callable[[], bool]) -> tuple[Any, ...] | None:
        """The next item of the stream (`open_stream`): its changeset's id, statements,
        transaction mode, checksum and the key of the file it was parsed from; None once
        the stream ended (all sent, or it could not go on), after `WAIT` seconds without
        one, or as soon as `stop()` says so (asked every `POLL` seconds meanwhile: a signal
        the run got)."""
        import time

        deadline = time.monotonic() + WAIT
        while not self.stream.ready(min(POLL, max(0.0, deadline - time.monotonic()))):
            if stop() or time.monotonic() >= deadline:
                return None
        got = self.stream.receive()
        return got if isinstance(got, tuple) and len(got) == 5 else None

    def close(self, *, wait: bool = False) -> None:
        """Stop the process (if it still runs; `wait`: a stream the run ran whole, let it end
        on its own first: it may be writing the schema the plan ends on to the memo) and
        reap it."""
        self.stream.close(wait=wait)


def _serve(conn: Any, setup: Setup | None) -> None:
    """In the forked process: import, connect and compile what does not wait for the
    request, then answer it (None: it cannot); a stream ends with None. Started before the
    run knew what it serves (`fork_early`), it is told (`setup`) after the imports."""
    from .dialects.connect import session
    from .dialects.prepared import precompiled
    from .ir.plain import decoders
    from .memo import Memo
    from .planstream import sa_facts
    from .recorder import RunWriter, version_table
    from .rowrecipe import make
    from .source import yamlload  # noqa: F401 (the parser, imported while the run reads)

    if setup is None:
        got = _request(conn)
        if not isinstance(got, Setup):
            return  # (not needed)
        setup = got
    # On a database not made yet, what runs is the whole history, which a stream renders:
    # read from the folder index while the run loads and checks it (compared with the
    # run's there), where the index is up to date (else loaded on a stream's request).
    loaded = None if setup.exists else _history(setup.folder, setup.limits, indexed=True)
    request = None if setup.exists else _request(conn)
    if request is None and not setup.exists:
        return
    try:
        with session(setup.url) as (db, dialect):
            raw = db.connection.dbapi_connection
            here = (dialect.name, dialect.server_version,
                    sa_facts(dialect, db.dialect, raw, True))
            renderer, finish = dialect.renderer(), precompiled(db.dialect)
            recipe = make(RunWriter(db, version_table(setup.table, setup.schema)))
            decoders()  # (what reading a changeset's body as the run loaded it needs)
            memo, request = Memo(setup.folder), request or _request(conn)
            states = {}
            while isinstance(request, Prefetch):  # (read while the run checks the history)
                states[request.key] = memo.state(request.key)
                request = _request(conn)
            if not isinstance(request, (Request, StreamRequest)):
                return  # not needed
            if recipe is None or here != (request.kind, request.version, request.facts):
                answer = None
            elif isinstance(request, StreamRequest):
                history = loaded or _history(setup.folder, setup.limits)
                if history is not None:
                    _stream(request, history, renderer, finish, recipe, conn.send)
                answer = None  # (the end of the stream)
            else:
                state = states.get(request.key) or memo.state(request.key)
                answer = _rendered(request, state, setup.limits, renderer, finish, recipe)
    except Exception:
        answer = None
    conn.send(answer)


def _request(conn: Any) -> Any:
    """What the run sends next; None once it closed its end (it needs nothing more)."""
    try:
        return conn.recv()
    except (EOFError, OSError):
        return None


def _history(folder: Path, limits: Limits, *, indexed: bool = False) -> History | None:
    """The history, loaded as the run loads it (from the cache files where they hold it,
    else parsing the files; `indexed`: only from an up-to-date folder index); None where it
    does not load (the run says why)."""
    from .history import load, load_indexed

    try:
        return load_indexed(folder, limits) if indexed else load(folder, limits=limits)
    except Exception:
        return None


def _stream(request: StreamRequest, history: History, renderer: Any, finish: Any,
            recipe: dict[str, Any], send: Callable[[Any], None]) -> None:
    """Where `history` is the run's (`planstream.history_key`), send the version table's
    statements, then each item of the plan as it is rendered, as `planstream` renders a
    part of a plan: until one is not plain SQL text, or rendering raises."""
    from .planstream import history_key, plan_items, portable

    if history_key(history.graph) != request.history:
        return  # (a file changed meanwhile: the run renders, and sees it)
    send(recipe)
    for item in plan_items(history, request.direction, request.ids, request.applied,
                           renderer, finish, stored=request.stored):
        if not portable(item.steps):
            return
        cid = item.changeset.id
        send((cid, item.steps, item.transactional, item.checksum, history.read_key(cid)))


def _rendered(request: Request, state: Any, limits: Limits, renderer: Any, finish: Any,
              recipe: dict[str, Any]) -> Rendered | None:
    """`request`'s changesets rendered on `state` (the schema the memo holds under its key;
    None: it holds none), their files read within `limits`."""
    from .cache import checksum
    from .history import parse_file, same_as_loaded
    from .planning import Schema, apply_item
    from .plans import Bound

    if state is None:
        return None
    schema = Schema(state)
    items, parsed = [], []
    for cid, path, loaded in zip(request.ids, request.files, request.loaded, strict=True):
        cs, _ = parse_file(path, limits)
        if not same_as_loaded(cs, cid, *loaded):
            return None  # (its file changed meanwhile: the run parses it and says so)
        item = apply_item(renderer, cs, cs.operations, schema, checksum(cs), finish)
        if not all(s.compiled or isinstance(s.sql, Bound) for s in item.steps):
            return None  # (what a batch does not send: the run renders it itself)
        items.append((item.transactional, item.steps))
        parsed.append((cs.id, item.checksum))
    return items, recipe, parsed

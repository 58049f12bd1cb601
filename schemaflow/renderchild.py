"""A few pending changesets rendered by a process of their own, forked as the run starts: so
that importing SQLAlchemy (~0.1 s, more than a deploy's own work on its changeset) happens
on the other core while this process loads the history, reads the version table and checks
the changesets, and this process, which runs them through the driver (`driverrun`), never
imports it.

The forked process imports what rendering needs and waits. `render` sends it what the run
decided under its lock: the schema the changesets meet (as the memo stores one:
`statefile`), the changesets as read from their files, and the database's kind, server
version and facts; it connects through SQLAlchemy (never writing), checks that it meets the
same database, renders and compiles each changeset as a run does (`planning`), compiles
the version table's statements (`rowrecipe`), and sends them back. Anything it cannot do
(a changeset that does not render, another database, a process that died) comes back as
None, and the run renders in this process instead, raising what rendering raises. The
process is stopped as soon as the run knows it is not needed (nothing pending, a plan kept
whole, a long plan, a rollback).

Only where processes fork (Linux), with a core to spare, no thread but the main one and the
live status line's (`planstream._forkable`), where SQLAlchemy is not imported yet (an API
caller's process), and where the database has a driver side (`Dialect.driver_side`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import parallel

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .ir import Changeset
    from .state import SchemaState

MOST = 8  # the most changesets rendered there (a deploy's few; more go `planstream`'s way)


@dataclass(frozen=True)
class Request:
    """What the forked process renders: `changesets` (as read from their files, each with
    its checksum) applied on `state` (`statefile.state_data` under `key`), for the database
    `kind` at `version` whose driver says `facts`, and the version table's statements."""

    kind: str
    version: tuple[int, ...] | None
    facts: tuple[Any, ...]
    key: str
    state: dict[str, Any]
    changesets: list[tuple[Changeset, str]]
    table: str
    schema: str | None


class RenderChild:
    """The forked process, waiting for its one request."""

    def __init__(self, stream: parallel.Stream) -> None:
        self.stream = stream

    @classmethod
    def start(cls, url: str, dialect: Dialect | None, schema: str | None) -> RenderChild | None:
        """The process for a run on `url`, where one may serve it (see the module)."""
        from .planstream import _forkable

        if (dialect is None or dialect.driver_side(url, schema) is None
                or "sqlalchemy" in sys.modules  # (then rendering here costs no import)
                or parallel.workers() < 2 or not _forkable()):
            return None
        stream = parallel.fork_server(lambda conn: _serve(url, conn))
        return None if stream is None else cls(stream)

    def render(self, request: Request) -> tuple[list[tuple[Any, ...]], dict[str, Any]] | None:
        """Each changeset's (transactional, steps) and the version table's statements, as
        rendered there; None where it could not."""
        if not self.stream.send(request):
            return None
        answer = self.stream.receive()
        return answer if isinstance(answer, tuple) and len(answer) == 2 else None

    def close(self) -> None:
        """Stop the process (if it still runs) and reap it."""
        self.stream.close()


def state_request(kind: str, version: tuple[int, ...] | None, facts: tuple[Any, ...],
                  key: str, state: SchemaState, changesets: list[tuple[Changeset, str]],
                  table: str, schema: str | None) -> Request:
    """The request for `changesets` on `state` (remembered under `key`)."""
    from .statefile import state_data

    return Request(kind, version, facts, key, state_data(key, state), changesets, table,
                   schema)


def _serve(url: str, conn: Any) -> None:
    """In the forked process: import, wait for the request, answer it (or None)."""
    from . import planning, rowrecipe
    from .dialects import connect, for_url, prepared

    del planning, rowrecipe, connect, prepared  # (imported while the run reads and checks)
    named = for_url(url)
    if named is not None:
        named.renderer()  # (its module)
    try:
        request = conn.recv()
    except (EOFError, OSError):
        return  # not needed
    try:
        answer = _rendered(url, request)
    except Exception:
        answer = None
    conn.send(answer)


def _rendered(url: str, request: Request) -> tuple[list[tuple[Any, ...]], dict[str, Any]] | None:
    from .dialects.connect import session
    from .dialects.prepared import precompiled
    from .planning import _item, _render, _Schema
    from .plans import Bound
    from .planstream import sa_facts
    from .recorder import RunWriter, version_table
    from .rowrecipe import make
    from .statefile import stored_state

    with session(url) as (conn, dialect):
        raw = conn.connection.dbapi_connection
        if (dialect.name, dialect.server_version, sa_facts(dialect, conn.dialect, raw, True)
                ) != (request.kind, request.version, request.facts):
            return None
        renderer, finish = dialect.renderer(), precompiled(conn.dialect)
        schema = _Schema(stored_state(request.state, request.key, Path("(the run's schema)")))
        items = []
        for cs, checksum in request.changesets:
            steps = _render(renderer, cs, cs.operations, schema, "apply")
            item = _item(renderer, cs, "apply", cs.operations, steps, checksum, finish)
            if not all(isinstance(s.sql, (str, Bound)) for s in item.steps):
                return None  # (a statement left to SQLAlchemy's execution)
            items.append((item.transactional, item.steps))
        recipe = make(RunWriter(conn, version_table(request.table, request.schema)))
    return (items, recipe) if recipe is not None else None

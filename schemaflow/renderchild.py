"""A few pending changesets rendered by a process of their own, forked as the run starts: so
that importing SQLAlchemy (~0.1 s, more than a deploy's own work on its changeset) happens
on the other core while this process loads the history, reads the version table and checks
the changesets, and this process, which runs them through the driver (`driverrun`), never
imports it.

The forked process imports what rendering and parsing need, connects through SQLAlchemy
(never writing) and compiles the version table's statements (`rowrecipe`), then waits.
`render` sends it what the run decided under its lock: the changesets' files, and the key
of the schema they meet, which the memo holds (a schema the history check or an earlier
run remembered; else this process replays it first, which remembers it). The forked
process reads that schema from the memo's folder, parses each file, renders and compiles
the changesets as a run does (`planning`), each only where it does what the run loaded and
checked (`history.same_as_loaded`, with what the run sent of it: `History.loaded_body`), as
`History.from_file` compares what it parses: a file changed meanwhile is never run.
Anything the forked process cannot do (a changeset that does not render, another database,
a process that died, no answer within `WAIT` seconds) comes back as None, and the run
renders in this process instead, raising what rendering raises. The process is stopped and
reaped once it answered, and as soon as the run knows it is not needed (nothing pending, a
plan kept whole, a long plan), before anything runs; a rollback starts none.

Only where processes fork (Linux), with a core to spare, no thread but the main one and the
live status line's (`parallel.forkable`), where SQLAlchemy is not imported yet (an API
caller's process), with a cache folder (the memo), and where the database has a driver side
(`Dialect.driver_side`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import parallel

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .source import Limits

MOST = 8  # the most changesets rendered there (a deploy's few; more go `planstream`'s way)
WAIT = 30.0  # seconds the run waits for its answer before it renders in its own process

Rendered = tuple[list[tuple[Any, ...]], dict[str, Any], list[tuple[str, str]]]
"""Each changeset's (transactional, steps), the version table's statements, and each
changeset's id and checksum as parsed there (what its version row records)."""


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
    limits: Limits
    ids: list[str]
    loaded: list[tuple[bool | None, Any]]  # each as loaded (`History.loaded_body`)


class RenderChild:
    """The forked process, waiting for its one request."""

    def __init__(self, stream: parallel.Stream) -> None:
        self.stream = stream

    @classmethod
    def start(cls, url: str, dialect: Dialect | None, table: str, schema: str | None,
              folder: Path) -> RenderChild | None:
        """The process for a run on `url` (version table `table` in `schema`; changesets
        in `folder`), where one may serve it (see the module)."""
        from .cachefile import folder as cache_folder
        if (dialect is None or dialect.driver_side(url, schema) is None
                or "sqlalchemy" in sys.modules  # (then rendering here costs no import)
                or cache_folder() is None  # (no memo to read the schema from)
                or parallel.workers() < 2 or not parallel.forkable()):
            return None
        stream = parallel.fork_server(lambda conn: _serve(url, table, schema, folder, conn))
        return None if stream is None else cls(stream)

    def render(self, request: Request) -> Rendered | None:
        """What the forked process rendered and parsed (it is reaped then); None where it
        could not, or did not answer within `WAIT` seconds (while the run holds its lock)."""
        answer = self.stream.receive(WAIT) if self.stream.send(request, WAIT) else None
        self.close()
        return answer if isinstance(answer, tuple) and len(answer) == 3 else None

    def close(self) -> None:
        """Stop the process (if it still runs) and reap it."""
        self.stream.close()


def _serve(url: str, table: str, schema: str | None, folder: Path, conn: Any) -> None:
    """In the forked process: import, connect and compile what does not wait for the
    request, then answer it (or None)."""
    from .dialects.connect import session
    from .dialects.prepared import precompiled
    from .memo import Memo
    from .planstream import sa_facts
    from .recorder import RunWriter, version_table
    from .rowrecipe import make
    from .source import yamlload  # noqa: F401 (the parser, imported while the run reads)

    try:
        with session(url) as (db, dialect):
            raw = db.connection.dbapi_connection
            here = (dialect.name, dialect.server_version,
                    sa_facts(dialect, db.dialect, raw, True))
            renderer, finish = dialect.renderer(), precompiled(db.dialect)
            recipe = make(RunWriter(db, version_table(table, schema)))
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return  # not needed
            answer = None
            if recipe is not None and here == (request.kind, request.version, request.facts):
                answer = _rendered(request, Memo(folder), renderer, finish, recipe)
    except Exception:
        answer = None
    conn.send(answer)


def _rendered(request: Request, memo: Any, renderer: Any, finish: Any,
              recipe: dict[str, Any]) -> Rendered | None:
    from .cache import checksum
    from .history import parse_file, same_as_loaded
    from .planning import Schema, apply_item
    from .plans import Bound

    state = memo.state(request.key)
    if state is None:
        return None
    schema = Schema(state)
    items, parsed = [], []
    for cid, path, loaded in zip(request.ids, request.files, request.loaded, strict=True):
        cs, _ = parse_file(path, request.limits)
        if not same_as_loaded(cs, cid, *loaded):
            return None  # (its file changed meanwhile: the run parses it and says so)
        item = apply_item(renderer, cs, cs.operations, schema, checksum(cs), finish)
        if not all(s.compiled or isinstance(s.sql, Bound) for s in item.steps):
            return None  # (what a batch does not send: the run renders it itself)
        items.append((item.transactional, item.steps))
        parsed.append((cs.id, item.checksum))
    return items, recipe, parsed

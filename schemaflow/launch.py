"""The command line's entry point (`schemaflow`, `python -m schemaflow`), before the command
line itself is imported: for `apply` and `rollback` (and their aliases), the process that
renders what they run (`renderchild`) is forked here, where the interpreter holds little
more than itself, so that it starts importing SQLAlchemy while this one still imports the
command line (~0.04 s earlier than the run could start it) and holds none of the command
line's memory. Nothing here imports more than the standard library and the forking
helper."""

from __future__ import annotations

import sys

# The options given before the command (see cli.app's `_global`) and whether each takes a
# value.
GLOBAL_OPTIONS = {"-c": True, "--config": True, "--url": True, "-v": False, "--verbose": False,
                  "-q": False, "--quiet": False}
_APPLY = frozenset({"apply", "upgrade"})
_RUNS = _APPLY | {"rollback", "downgrade"}  # (and their aliases)
# The options after which `apply` and `rollback` run nothing (the SQL or the plan shown).
_NOT_RUN = frozenset({"--sql", "--dry-run", "--help", "-h", "--resume-from"})


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def command_at(argv: list[str]) -> int | None:
    """Where the command in `argv` is (the first word after the global options), or None."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        if argv[i] == "--":
            return None
        i += 2 if GLOBAL_OPTIONS.get(argv[i].split("=")[0]) and "=" not in argv[i] else 1
    return i if i < len(argv) else None


def named(argv: list[str]) -> str | None:
    """The command `argv` names, or None."""
    at = command_at(argv)
    return None if at is None else argv[at]


def _forks(argv: list[str]) -> bool:
    """Whether the command in `argv` is a run that may use the render process: an apply, or
    a rollback whose target says its plan is long (`renderchild.rollback_served`; among
    the words after the command, which are its options' values or its target)."""
    at = command_at(argv)
    if at is None or argv[at] not in _RUNS or any(a.split("=")[0] in _NOT_RUN for a in argv):
        return False
    if argv[at] in _APPLY:
        return True
    from .renderchild import rollback_served

    return any(rollback_served(a) for a in argv[at + 1:])


def main() -> None:
    """Console-script entry point."""
    if _forks(sys.argv[1:]):
        import signal

        from .renderchild import fork_early

        # Until the command line sets its own: a SIGTERM ends the command as its handler
        # does (143), running the exit handlers, which stop the forked process.
        signal.signal(signal.SIGTERM, _terminated)
        fork_early()
    from .cli import main as cli_main

    cli_main()

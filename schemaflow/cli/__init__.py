"""The command line: parse arguments, call the API, show the result through `output`, exit.

`app` and the options before the command are in `app`; each command registers itself on it
when its module is imported.

The command modules do not postpone their annotations (`from __future__ import
annotations`): typer reads the signature of every command it builds (all of them for
`--help`) with `typing.get_type_hints`, which compiles and evaluates a postponed annotation
from its text, each `Annotated[..., typer.Option(...)]` anew; written as objects, they are
built once, at import, from the module's compiled code. Names imported only for the type
checker are quoted there.
"""

from .app import app, main

# isort: off
# `--help` lists the commands in the order they were registered, so in this order.
from . import authoring, migrate, listing, checks, importing  # noqa: F401
# isort: on

__all__ = ["app", "main"]

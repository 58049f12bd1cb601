"""The command line: parse arguments, call the API, show the result through `output`, exit.

`app` and the options before the command are in `app`; each command registers itself on it
when its module is imported.
"""

from .app import app, main

# isort: off
# `--help` lists the commands in the order they were registered, so in this order.
from . import authoring, migrate, listing, checks, importing  # noqa: F401
# isort: on

__all__ = ["app", "main"]

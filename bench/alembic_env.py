"""The Alembic side: a project whose revisions do what the workload's changesets do.

`write_project(workload, root, url)` writes ``alembic.ini``, ``env.py``, ``script.py.mako``
and one revision file per changeset under ``versions/`` (same ids, same parent chain). The
revisions use what an Alembic user writes by hand: ``op.create_table`` with named
``PrimaryKeyConstraint``/``ForeignKeyConstraint`` (the names schemaflow gives), ``op.add_column``,
``op.create_index``, ``op.alter_column(new_column_name=...)`` for renames, ``op.drop_column``,
``op.bulk_insert``, and ``op.batch_alter_table`` for type/nullability changes (a table rebuild
on SQLite, plain ``ALTER`` on PostgreSQL). Every ``downgrade()`` undoes its ``upgrade()``.

``env.py`` is Alembic's generic template reduced to online mode, with
``transaction_per_migration=True`` so that, like schemaflow, each revision and its version
update commit together (Alembic's default is one transaction for the whole run). On SQLite
Alembic does not use transactional DDL (pysqlite), which is Alembic's own choice.
"""

from __future__ import annotations

from pathlib import Path

from workload import Workload

ALEMBIC_INI = """\
[alembic]
script_location = %(here)s
prepend_sys_path = .
sqlalchemy.url = {url}

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = WARNING
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""

ENV_PY = '''\
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)
target_metadata = None


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True,
                      transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}),
                                     prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

SCRIPT_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""
from alembic import op
import sqlalchemy as sa
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
'''

REVISION = '''\
"""{message}

Revision ID: {rev}
Revises: {down}
"""
import datetime
import decimal

import sqlalchemy as sa
from alembic import op

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{up}


def downgrade():
{downgrade}
'''


def alembic_url(url: str) -> str:
    """The SQLAlchemy URL Alembic needs (psycopg 3 named explicitly)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def set_url(root: Path, url: str) -> None:
    """Point the project's alembic.ini at `url`."""
    (root / "alembic.ini").write_text(
        ALEMBIC_INI.format(url=alembic_url(url).replace("%", "%%")), encoding="utf-8")


def _body(lines: list[str]) -> str:
    return "\n".join("    " + line for line in lines) if lines else "    pass"


def write_project(w: Workload, root: Path, url: str) -> Path:
    """The Alembic project in `root` (script_location is `root` itself)."""
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    set_url(root, url)
    (root / "env.py").write_text(ENV_PY, encoding="utf-8")
    (root / "script.py.mako").write_text(SCRIPT_MAKO, encoding="utf-8")
    for cs in w.changesets:
        text = REVISION.format(message=cs.message, rev=cs.id, down=cs.parent,
                               up=_body(cs.up), downgrade=_body(cs.down))
        (versions / f"{cs.id}_{cs.slug}.py").write_text(text, encoding="utf-8")
    return root

"""The autogenerate/check workload: T tables as SQLAlchemy models, as changesets, for Alembic.

`make(t)` describes T tables (integer pk ``pk_<t>``, a name, a note, an amount, a flag, a
timestamp; every third table has a foreign key to an earlier one, every other one an index)
and K = `DRIFT` extra columns. Written out:

* ``models.py`` — one ``sa.MetaData`` with all T tables *including* the K extra columns (the
  models a developer has just edited);
* the schemaflow project — T ``create_table`` changesets, then K ``add_column`` changesets, so
  ``schemaflow check`` (models against changesets) finds nothing, and ``models`` configured;
* the Alembic project — ``env.py`` with ``target_metadata`` = those models and no revisions
  (Alembic compares the models with the live database only), and an ``include_name`` hook
  that leaves schemaflow's version table out, as an Alembic user would for a foreign table.

Two PostgreSQL databases are built once with ``schemaflow apply``: *in sync* (everything) and
*drifted* (without the last K changesets). On the drifted one, autogenerate must find exactly
K ``add_column`` operations; on the one in sync, ``check`` must find nothing. The harness
verifies both for every tool before a time counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic_env import ALEMBIC_INI, alembic_url

DRIFT = 5

COLUMNS = [  # name, schemaflow type, SQLAlchemy type, nullable
    ("name", "string(50)", "sa.String(50)", False),
    ("note", "text", "sa.Text()", True),
    ("amount", "numeric(10,2)", "sa.Numeric(10, 2)", True),
    ("flag", "boolean", "sa.Boolean()", False),
    ("created_at", "datetime", "sa.DateTime()", True),
]


@dataclass
class ATable:
    name: str
    ref: str | None      # the table its foreign key points at
    index: str | None    # the column with an index
    extra: bool = False  # one of the DRIFT tables that get a column `extra_col`


def make(t: int) -> list[ATable]:
    out = []
    for i in range(1, t + 1):
        name = f"m{i:05d}"
        ref = f"m{i - 1:05d}" if i % 3 == 0 and i > 1 else None
        index = ("name" if i % 4 == 0 else "created_at") if i % 2 == 0 else None
        out.append(ATable(name, ref, index))
    step = max(1, t // DRIFT)
    for k in range(DRIFT):
        out[min(k * step, t - 1)].extra = True
    return out


def _fk_col(a: ATable) -> str:
    return f"{a.ref}_id"


def models_py(tables: list[ATable]) -> str:
    lines = ['"""The models: what autogenerate compares against."""',
             "import sqlalchemy as sa", "", "metadata = sa.MetaData()", ""]
    for a in tables:
        lines.append(f"sa.Table({a.name!r}, metadata,")
        lines.append("    sa.Column('id', sa.Integer(), nullable=False),")
        for name, _, sa_type, nullable in COLUMNS:
            lines.append(f"    sa.Column({name!r}, {sa_type}, nullable={nullable}),")
        if a.ref:
            lines.append(f"    sa.Column({_fk_col(a)!r}, sa.Integer(), nullable=True),")
        if a.extra:
            lines.append("    sa.Column('extra_col', sa.String(20), nullable=True),")
        lines.append(f"    sa.PrimaryKeyConstraint('id', name={'pk_' + a.name!r}),")
        if a.ref:
            fk = f"fk_{a.name}_{_fk_col(a)}_{a.ref}"
            lines.append(f"    sa.ForeignKeyConstraint([{_fk_col(a)!r}], [{a.ref + '.id'!r}], "
                         f"name={fk!r}),")
        if a.index:
            lines.append(f"    sa.Index({'ix_' + a.name + '_' + a.index!r}, {a.index!r}),")
        lines.append(")")
    return "\n".join(lines) + "\n"


def _cs(cid: str, parent: str | None, message: str, op: dict[str, Any]) -> str:
    return (f"schemaflow: 1\nid: {cid}\nparents: [{parent or ''}]\n"
            f"message: {json.dumps(message)}\noperations:\n  - {json.dumps(op)}\n")


def write_schemaflow(tables: list[ATable], root: Path, url: str) -> tuple[str, str]:
    """The project; returns (id of the last create_table, id of the last changeset)."""
    folder = root / "changesets"
    folder.mkdir(parents=True, exist_ok=True)
    (root / "models.py").write_text(models_py(tables), encoding="utf-8")
    set_url(root, url)
    parent: str | None = None
    n = 0

    def write(message: str, op: dict[str, Any]) -> str:
        nonlocal parent, n
        n += 1
        cid = f"a{n:05d}"
        (folder / f"{cid}_{message.replace(' ', '_')}.yaml").write_text(
            _cs(cid, parent, message, op), encoding="utf-8")
        parent = cid
        return cid

    for a in tables:
        cols: list[dict[str, Any]] = [{"name": "id", "type": "integer", "primary_key": True}]
        cols += [{"name": name, "type": sf_type, **({} if nullable else {"nullable": False})}
                 for name, sf_type, _, nullable in COLUMNS]
        body: dict[str, Any] = {"name": a.name, "columns": cols}
        if a.ref:
            cols.append({"name": _fk_col(a), "type": "integer"})
            body["foreign_keys"] = [{"name": f"fk_{a.name}_{_fk_col(a)}_{a.ref}",
                                     "columns": [_fk_col(a)],
                                     "references": {"table": a.ref, "columns": ["id"]}}]
        if a.index:
            body["indexes"] = [{"name": f"ix_{a.name}_{a.index}", "columns": [a.index]}]
        last_create = write(f"create {a.name}", {"create_table": body})
    last = last_create
    for a in tables:
        if a.extra:
            last = write(f"add {a.name} extra_col", {"add_column": {
                "table": a.name, "column": {"name": "extra_col", "type": "string(20)"}}})
    return last_create, last


def set_url(root: Path, url: str) -> None:
    (root / "schemaflow.toml").write_text(
        f'changesets = "changesets"\nmodels = "models:metadata"\nurl = {json.dumps(url)}\n',
        encoding="utf-8")


ENV_PY = '''\
import os
import sys
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schemaflow"))
from models import metadata  # noqa: E402

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)
target_metadata = metadata


def include_name(name, type_, parent_names):
    # schemaflow's version table is not the models' business (it was built by schemaflow)
    return not (type_ == "table" and name == "schemaflow_version")


def run_migrations_online() -> None:
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}),
                                     prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          include_name=include_name, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
'''


def write_alembic(root: Path, url: str) -> None:
    """The Alembic project (no revisions; the models come from ../schemaflow/models.py)."""
    from alembic_env import SCRIPT_MAKO

    (root / "versions").mkdir(parents=True, exist_ok=True)
    (root / "env.py").write_text(ENV_PY, encoding="utf-8")
    (root / "script.py.mako").write_text(SCRIPT_MAKO, encoding="utf-8")
    set_alembic_url(root, url)


def set_alembic_url(root: Path, url: str) -> None:
    (root / "alembic.ini").write_text(
        ALEMBIC_INI.format(url=alembic_url(url).replace("%", "%%")), encoding="utf-8")


def count_operations(tool: str, text: str) -> tuple[int, int]:
    """(add_column operations, all operations) in a file autogenerate wrote."""
    if tool == "schemaflow":
        import yaml

        doc = yaml.safe_load(text)
        # Not counted: the `sql` prelude (SET LOCAL lock_timeout, SF345) written before
        # operations that lock existing PostgreSQL tables; it changes no schema.
        ops = [next(iter(op)) for op in doc.get("operations") or []]
        return ops.count("add_column"), len(ops) - ops.count("sql")
    upgrade = text.split("def upgrade", 1)[1].split("def downgrade", 1)[0]
    return upgrade.count("op.add_column("), upgrade.count("op.")

"""Constraint names as Alembic gives them under a naming convention: env.py's
`target_metadata` carries one (SQLAlchemy's documented `"ck": "ck_%(table_name)s_%(
constraint_name)s"`, Airflow's), and Alembic's operations build their constraints in a
MetaData with it, so `op.create_check_constraint("positive", "t", ...)` makes
`ck_t_positive`, and `op.drop_constraint("positive", "t", type_="check")` drops it. The
import runs no env.py: the convention is the configured models' (`models` in
schemaflow.toml), handed to Alembic's runs and applied here to each operation's name."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from . import Finding


def conventions(convention: dict[str, Any] | None) -> tuple[Any, Any]:
    """(A MetaData with `convention`, for Alembic's runs as env.py's target_metadata; a
    MigrationContext whose operations name things after it, for `conventional`), or
    (None, None) without one."""
    if convention is None:
        return None, None
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext

    target = sa.MetaData(naming_convention=convention)
    return target, MigrationContext.configure(dialect_name="sqlite",
                                              opts={"target_metadata": target})


def unknown_convention(scripts: Path, root: Path) -> list[Finding]:
    """A finding where env.py gives a naming convention the import was not told of."""
    env = scripts / "env.py"
    try:
        text = env.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    if "naming_convention" not in text:
        return []
    shown = env.resolve()
    return [Finding(
        "env.py", str(shown.relative_to(root) if shown.is_relative_to(root) else env), "",
        "it gives a naming convention, which Alembic applies to the names of the "
        "constraints the revisions make and drop; the import knows it from the models: set "
        "`models` in the configuration to the MetaData env.py uses (its target_metadata), "
        "then import again")]


def conventional(op: Any, ctx: Any) -> Any:
    """`op` with the name its constraint or index gets under `ctx`'s naming convention (a
    copy; `op` itself as it is where the convention changes nothing)."""
    from alembic.operations import ops as aops
    from alembic.operations.schemaobj import SchemaObjects

    name: Any = None
    attr = ""
    try:
        if isinstance(op, (aops.CreateCheckConstraintOp, aops.CreateUniqueConstraintOp,
                           aops.CreateForeignKeyOp, aops.CreatePrimaryKeyOp)):
            name = op.to_constraint(ctx).name
            attr = "constraint_name"
        elif isinstance(op, aops.DropConstraintOp) and op.constraint_name:
            name = SchemaObjects(ctx).generic_constraint(
                op.constraint_name, op.table_name, op.constraint_type, schema=op.schema).name
            attr = "constraint_name"
        elif isinstance(op, aops.CreateIndexOp) and op.index_name is None:
            name = op.to_index(ctx).name
            attr = "index_name"
    except Exception:  # (a convention Alembic cannot apply here fails its runs, reported)
        return op
    if name is None or str(name) == str(getattr(op, attr) or ""):
        return op
    renamed = copy.copy(op)
    setattr(renamed, attr, str(name))
    return renamed

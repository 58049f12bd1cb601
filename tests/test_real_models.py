"""Real open-source model sets, installed from PyPI, round-trip (or are refused by name).

Each set is imported as its users import it: Optuna's storage models, kombu's SQLAlchemy
transport tables (as its Channel declares them), and a model set built on advanced-alchemy's
base models and TypeDecorators (GUID, DateTimeUTC, EncryptedString, Bool, BigIntIdentity).
On SQLite, PostgreSQL and MariaDB: models → `new --autogenerate` → validate → apply → check
→ `check --against-db`; a `metadata.create_all()` database passes `check --against-db`; a
`--from-db` baseline of it rebuilds an equal database. A construct schemaflow cannot
express yet must be refused naming the object (exit 2), and the rest of the set, without
it, must then round-trip.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import Project, make_project
from test_fidelity import _driver, _second, created_equals_models

# What a user's models module says to use each set. `metadata` is the set as published.
SETS: dict[str, str] = {
    "optuna": """
        from optuna.storages._rdb import models

        metadata = models.BaseModel.metadata
    """,
    "kombu": """
        from kombu.transport import sqlalchemy as transport
        from kombu.transport.sqlalchemy import models

        # The transport declares its two tables when a channel is configured.
        transport.Channel.__new__(transport.Channel)._configure_entity_tablenames({})
        metadata = models.metadata
    """,
    "advanced_alchemy": """
        import datetime
        import uuid
        from typing import Any, Optional

        import sqlalchemy as sa
        from advanced_alchemy import base, mixins, types
        from sqlalchemy.orm import Mapped, mapped_column


        class Author(base.UUIDAuditBase):
            __tablename__ = "author"
            name: Mapped[str] = mapped_column(sa.String(100))
            dob: Mapped[Optional[datetime.date]]
            profile: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
            external_id: Mapped[Optional[uuid.UUID]] = mapped_column(types.GUID)
            last_seen: Mapped[Optional[datetime.datetime]] = mapped_column(types.DateTimeUTC)


        class Book(base.BigIntAuditBase, mixins.SlugKey):
            __tablename__ = "book"
            title: Mapped[str] = mapped_column(sa.String(200))
            author_id: Mapped[uuid.UUID] = mapped_column(
                sa.ForeignKey("author.id", ondelete="CASCADE"))
            in_print: Mapped[bool] = mapped_column(types.Bool, default=True)


        class Tag(base.IdentityAuditBase):
            __tablename__ = "tag"
            name: Mapped[str] = mapped_column(sa.String(50), unique=True)


        class Event(base.UUIDv7Base):
            __tablename__ = "event"
            payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
            secret: Mapped[Optional[str]] = mapped_column(types.EncryptedString(key="k" * 32))


        metadata = base.orm_registry.metadata
    """,
}

# What schemaflow refuses today in each set: (objects one of which the message must name,
# TypeDecorators to build as their `impl` in the set without what is refused).
# Per-database type variants: kombu's `Integer().with_variant(BigInteger, "mssql")` keys,
# advanced-alchemy's `BigInteger().with_variant(Integer, "sqlite")` identity keys; and its
# GUID, whose load_dialect_impl() builds UUID on PostgreSQL and BINARY(16) elsewhere, and
# EncryptedString (VARCHAR on PostgreSQL, TEXT on MariaDB).
REFUSALS: dict[str, tuple[list[str], set[str]]] = {
    "optuna": ([], set()),
    # kombu asks SQLite for AUTOINCREMENT (`sqlite_autoincrement: true`); its keys,
    # numbered from a sa.Sequence, are written (the column's `sequence:`).
    "kombu": ([], set()),
    # GUID, BigIntIdentity and EncryptedString build a type per database: variants.
    "advanced_alchemy": (["column book.id"], set()),
}

# The set without what is refused: each type with per-database variants becomes its base
# type, each TypeDecorator named in DECORATORS its `impl`, a key numbered by a sequence the
# database's own numbering, and no table options (every other table, column, key and index
# stays as published).
SUPPORTED = """
    import sqlalchemy as sa

    from real_models import metadata as published

    DECORATORS = {decorators!r}
    metadata = sa.MetaData(naming_convention=published.naming_convention)
    for table in published.sorted_tables:
        copy = table.to_metadata(metadata)
        for column in copy.columns:
            if type(column.type).__name__ in DECORATORS:
                column.type = column.type.impl_instance
            if getattr(column.type, "_variant_mapping", None):
                column.type = column.type.copy()
                column.type._variant_mapping = {{}}
            if isinstance(column.default, sa.Sequence):
                column.default = None
        for option in list(copy.dialect_kwargs):
            del copy.dialect_kwargs[option]
    metadata._sequences.clear()
"""


def _project(root: Path, name: str, url: str) -> Project:
    p = make_project(root, url)
    (root / "real_models.py").write_text(textwrap.dedent(SETS[name]), encoding="utf-8")
    supported = textwrap.dedent(SUPPORTED).format(decorators=sorted(REFUSALS[name][1]))
    (root / "supported_models.py").write_text(supported, encoding="utf-8")
    with (root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "real_models:metadata"\n')
    return p


def _use(p: Project, module: str) -> None:
    toml = p.root / "schemaflow.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace("real_models:metadata", f"{module}:metadata"), encoding="utf-8")


def _create_all(p: Project, url: str) -> None:
    """metadata.create_all() of the project's models, in a process of its own (model sets
    declare their classes on import, once per process)."""
    module = (p.root / "schemaflow.toml").read_text().split('models = "')[1].split(":")[0]
    code = (f"import sqlalchemy as sa, {module} as m\n"
            f"e = sa.create_engine({_driver(url)!r})\n"
            "m.metadata.create_all(e)\ne.dispose()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=p.root, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _urls(tmp_path: Path, dialect: str, request: pytest.FixtureRequest,
          mariadb: bool = False) -> list[str]:
    """Three databases; `mariadb`: the MySQL server's named so (mariadb://), for models that
    use what only MariaDB has (a mysql:// URL is checked as MySQL)."""
    if dialect == "sqlite":
        return [f"sqlite:///{tmp_path / n}.db" for n in "abc"]
    fixture = "pg_url" if dialect == "postgresql" else "mysql_url"
    urls = [request.getfixturevalue(fixture), _second(request, dialect),
            _second(request, dialect)]
    return [re.sub(r"^mysql(\+\w+)?://", r"mariadb\1://", u) for u in urls] if mariadb else urls


# Real differences these sets still find, each as a strict expected failure with its reason.
XFAIL: dict[tuple[str, str], str] = {}


def _cases() -> list[object]:
    server = {"postgresql": [pytest.mark.postgresql], "mysql": [pytest.mark.mysql]}
    out: list[object] = []
    for name in SETS:
        for d in ("sqlite", "postgresql", "mysql"):
            marks = list(server.get(d, []))
            if (name, d) in XFAIL:
                marks.append(pytest.mark.xfail(reason=XFAIL[name, d], strict=True))
            out.append(pytest.param(name, d, marks=marks, id=f"{name}-{d}"))
    return out


@pytest.mark.parametrize(("name", "dialect"), _cases())
def test_a_real_model_set_round_trips(tmp_path: Path, name: str, dialect: str,
                                      request: pytest.FixtureRequest) -> None:
    # advanced-alchemy and kombu number their keys from sequences, which MariaDB has.
    urls = _urls(tmp_path, dialect, request, mariadb=name in ("advanced_alchemy", "kombu"))
    p = _project(tmp_path / "proj", name, urls[0])
    made = p.cli("new", "--autogenerate", "-m", "models")
    refused = REFUSALS[name][0]
    if refused and made.returncode == 2:
        assert "Traceback" not in made.stderr
        assert "cannot express yet" in made.stderr, made.stderr
        assert any(obj in made.stderr for obj in refused), made.stderr
        assert list(p.changesets.iterdir()) == []
        _use(p, "supported_models")
        made = p.cli("new", "--autogenerate", "-m", "models")
    assert made.returncode == 0, made.stderr
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)

    # A database that metadata.create_all() built from the same models is equal to them, and
    # its --from-db baseline, applied to an empty database, rebuilds the same schema.
    _create_all(p, urls[1])
    created_equals_models(p, tmp_path / "base", urls[1], urls[2])

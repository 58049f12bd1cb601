"""Every public SQLAlchemy type class, one column each: autogenerate writes a changeset that
validates, applies and checks clean (`check`, `check --against-db`), or refuses the column
with exit 2 and a message naming the column and the type; never a traceback or exit 1.

The classes are enumerated from `sqlalchemy.types` and the PostgreSQL, MySQL and SQLite
dialect modules (every exported TypeEngine subclass), each built with typical arguments.
All of them run on SQLite; each dialect's own types also on its database. One models module
holds one table per type; a refused table is taken out and the rest tried again.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Project, make_project
from sqlalchemy.dialects import mysql, postgresql, sqlite

MODULES = {"sa": sa.types, "pg": postgresql, "my": mysql, "lite": sqlite}

# Exported classes that are not a column's type: bases and SQL-expression-only types.
NOT_COLUMN_TYPES = {"TypeEngine", "TypeDecorator", "UserDefinedType", "Variant", "TupleType",
                    "MatchType", "AbstractRange", "AbstractMultiRange", "AbstractSingleRange",
                    "NamedType"}

# Typical arguments of the classes that need some (source text, for the models module).
ARGUMENTS = {
    "Enum": 'Enum("new", "done", name="e_{table}")',
    "ENUM": 'ENUM("new", "done", name="e_{table}")',
    "SET": 'SET("a", "b")',
    "ARRAY": "ARRAY(sa.Integer)",
    "DOMAIN": 'DOMAIN("d_{table}", sa.Integer)',
    "PickleType": "PickleType()",
    "Interval": "Interval()",
}


def _source(prefix: str, name: str, table: str) -> str:
    """The expression building `name` from MODULES[prefix] with typical arguments."""
    cls = getattr(MODULES[prefix], name)
    module = "sa.types" if prefix == "sa" else {"pg": "postgresql", "my": "mysql",
                                                "lite": "sqlite"}[prefix]
    if name in ARGUMENTS:
        return f"{module}.{ARGUMENTS[name].format(table=table)}"
    if issubclass(cls, (sa.BINARY, sa.VARBINARY)) or (
            issubclass(cls, sa.String) and not issubclass(cls, sa.Text)
            and "length" in inspect.signature(cls).parameters):
        return f"{module}.{name}(40)"
    if issubclass(cls, sa.Numeric) and not issubclass(cls, sa.Float):
        return f"{module}.{name}(10, 2)"
    return f"{module}.{name}()"


def _type_classes(prefix: str) -> list[str]:
    mod = MODULES[prefix]
    return sorted(n for n in dir(mod) if not n.startswith("_") and n not in NOT_COLUMN_TYPES
                  and inspect.isclass(getattr(mod, n))
                  and issubclass(getattr(mod, n), sa.types.TypeEngine))


def _table(prefix: str, name: str) -> str:
    """A table name per class (BOOLEAN and Boolean apart), lower case on every database."""
    return f"t_{prefix}_{'uc_' if name.isupper() else ''}{name.lower()}"


def _models(cases: list[tuple[str, str]]) -> str:
    lines = ["import os", "import sqlalchemy as sa",
             "from sqlalchemy.dialects import mysql, postgresql, sqlite", "",
             "metadata = sa.MetaData()",
             "try:  # written by _refusals, which loads these models in-process",
             "    from type_only import ONLY",
             "except ImportError:",
             '    ONLY = set(os.environ.get("SF_TABLES", "").split(","))', ""]
    for prefix, name in cases:
        table = _table(prefix, name)
        lines.append(f"if {table!r} in ONLY:")
        lines.append(f"    sa.Table({table!r}, metadata, sa.Column('id', sa.Integer, "
                     f"primary_key=True), sa.Column('c', {_source(prefix, name, table)}))")
    return "\n".join(lines) + "\n"


# (database, type) → why it fails today; each is run alone as a strict xfail.
KNOWN: dict[tuple[str, str], str] = {
    ("mysql", "my.BIT"): "BIT() comes back from MariaDB as BIT(1): a false difference",
}

RUNS = {
    "sqlite": ["sa", "pg", "my", "lite"],
    "postgresql": ["pg"],
    "mysql": ["my"],
}


def _cases(dialect: str) -> list[tuple[str, str]]:
    return [(p, n) for p in RUNS[dialect] for n in _type_classes(p)]


def _project(tmp_path: Path, dialect: str, request: pytest.FixtureRequest,
             cases: list[tuple[str, str]]) -> Project:
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'a.db'}"
    else:
        url = request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url")
    if dialect == "postgresql":  # the types of two contrib extensions, as their users do
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            for extension in ("citext", "hstore"):
                conn.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {extension}")
        engine.dispose()
    p = make_project(tmp_path / "proj", url)
    (p.root / "type_models.py").write_text(_models(cases), encoding="utf-8")
    with (p.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "type_models:metadata"\n')
    return p


def _refusals(p: Project, tables: list[str]) -> dict[str, str]:
    """The tables autogenerate refuses, with the message, found in-process through the API
    (one models module whose tables are taken out one refusal at a time)."""
    from schemaflow.errors import SchemaflowError

    # The API loads the models again when a file of theirs changed: the tables left are
    # written into a module of the project that the models import.
    only = p.root / "type_only.py"
    refused: dict[str, str] = {}
    left = list(tables)
    try:
        while left:
            only.write_text(f"ONLY = {set(left)!r}\n", encoding="utf-8")
            try:
                p.api().compare()
            except SchemaflowError as exc:
                message = str(exc)
                named = re.search(r"column '?(t_\w+)\.c\b", message)
                assert named and named.group(1) in left, message
                refused[named.group(1)] = message
                left.remove(named.group(1))
            else:
                return refused
    finally:
        only.unlink(missing_ok=True)
    return refused


def _run(p: Project, tables: list[str]) -> tuple[dict[str, str], list[Any]]:
    """Autogenerate, validate, apply, check the tables; returns the refused tables (with the
    message) and the steps that failed otherwise (empty: all the rest round-tripped)."""
    refused = _refusals(p, tables)
    for table in sorted(refused)[:3]:  # a handful as a user sees them: exit 2, by name
        done = p.cli("new", "--autogenerate", "-m", "types", env={"SF_TABLES": table})
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and f"{table}.c" in done.stderr, done.stderr
        assert list(p.changesets.iterdir()) == []
    left = [t for t in tables if t not in refused]
    env = {"SF_TABLES": ",".join(left)}
    if not left:
        return refused, []
    made = p.cli("new", "--autogenerate", "-m", "types", env=env)
    assert "Traceback" not in made.stderr, made.stderr
    if made.returncode != 0:
        return refused, [("new", made.returncode, made.stderr)]
    failed: list[Any] = []
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args, env=env)
        assert "Traceback" not in done.stderr, (args, done.stderr)
        if done.returncode != 0:
            failed.append((args, done.returncode, done.stdout, done.stderr))
            break
    return refused, failed


def _check_refusals(refused: dict[str, str], cases: list[tuple[str, str]]) -> None:
    by_table = {_table(p, n): n for p, n in cases}
    for table, message in refused.items():
        name = by_table[table]
        assert f"{table}.c" in message, message
        assert name.lower() in message.lower(), (name, message)  # the type is named


@pytest.mark.parametrize("dialect", [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", marks=pytest.mark.mysql),
])
def test_every_type_round_trips_or_is_refused_by_name(tmp_path: Path, dialect: str,
                                                     request: pytest.FixtureRequest) -> None:
    cases = [c for c in _cases(dialect) if (dialect, f"{c[0]}.{c[1]}") not in KNOWN]
    assert len(cases) > 10
    p = _project(tmp_path, dialect, request, cases)
    refused, failed = _run(p, [_table(*c) for c in cases])
    _check_refusals(refused, cases)
    assert failed == [], failed


@pytest.mark.parametrize(("dialect", "type_"), [
    pytest.param(d, t, marks=[pytest.mark.xfail(reason=why, strict=True)]
                 + ([getattr(pytest.mark, d)] if d != "sqlite" else []), id=f"{d}-{t}")
    for (d, t), why in KNOWN.items()])
def test_a_type_that_fails_today(tmp_path: Path, dialect: str, type_: str,
                                 request: pytest.FixtureRequest) -> None:
    prefix, name = type_.split(".")
    p = _project(tmp_path, dialect, request, [(prefix, name)])
    refused, failed = _run(p, [_table(prefix, name)])
    _check_refusals(refused, [(prefix, name)])
    assert failed == [], failed


def test_the_models_module_builds_every_type() -> None:
    """The generated models module itself is sound: every type builds, one table each."""
    cases = _cases("sqlite")
    scope: dict[str, Any] = {}
    import os

    os.environ["SF_TABLES"] = ",".join(_table(*c) for c in cases)
    try:
        exec(compile(textwrap.dedent(_models(cases)), "type_models.py", "exec"), scope)
    finally:
        del os.environ["SF_TABLES"]
    assert len(scope["metadata"].tables) == len(cases)

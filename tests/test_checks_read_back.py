"""CHECK constraints as a database gives them back: without the `dialects` scope of a type's
own CHECK (`Boolean` or a native `Enum` with `create_constraint=True`, which create_all()
creates on some databases only), and in the database's own words (PostgreSQL's
`x = ANY (ARRAY[...])` for `x IN (...)`). A `--from-db` baseline of a create_all() database,
stamped, is equal to the models in `check`; one written before the models were configured
differs only by what the database cannot hold (the checks of other databases)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DIALECTS, Project, make_project
from test_fidelity import _create_all, _second, models_project

from schemaflow import ir
from schemaflow.dialects import by_name
from schemaflow.diff import diff
from schemaflow.state import SchemaState, apply, ck_name
from schemaflow.typespec import parse_type

TYPE_CHECKS = """
    sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("active", sa.Boolean(create_constraint=True, name="ck_t_active")),
             sa.Column("flag", sa.Boolean(create_constraint=True)),
             sa.Column("state", sa.Enum("new", "done", native_enum=False,
                                        create_constraint=True, name="ck_t_state")),
             sa.Column("qty", sa.Integer), sa.Column("code", sa.String(5)),
             sa.CheckConstraint("qty IN (1, 2, 3)", name="ck_t_qty"),
             sa.CheckConstraint("code IN ('x', 'y')"))
"""
NATIVE_ENUM = """
    sa.Table("u", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("kind", sa.Enum("a", "b", create_constraint=True, name="kind_enum")))
"""


def _databases(tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> list[str]:
    """Two fresh databases of `dialect`."""
    if dialect == "sqlite":
        return [f"sqlite:///{tmp_path / n}.db" for n in "ab"]
    fixture = "pg_url" if dialect == "postgresql" else "mysql_url"
    return [request.getfixturevalue(fixture), _second(request, dialect)]


def _adopted(p: Project) -> str:
    """A --from-db baseline of p's database, stamped, and `check` (the models against it)
    passing; the baseline's text."""
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"), ("stamp", "heads"),
                 ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (p.root.name, args, done.stdout, done.stderr)
    return next(p.changesets.iterdir()).read_text(encoding="utf-8")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_type_check_of_create_all_adopts_without_a_difference(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """create_all() → a baseline of its database (models configured) → stamp → check exit
    0. It reported a drop and a create of each boolean's CHECK (the baseline's had no
    `dialects`), of each IN check on PostgreSQL (read back as `= ANY (ARRAY[...])`), and a
    create of the checks the database cannot hold (a native enum's, SQLite's only). The
    baseline is in the models' words: it builds on SQLite what the models do. The same for
    a baseline of the database the models' own changeset built."""
    created, applied = _databases(tmp_path, dialect, request)
    p = models_project(tmp_path / "models", TYPE_CHECKS + NATIVE_ENUM, created)
    _create_all(p.root / "fidelity_models.py", created, dialect)
    done = p.cli("check", "--against-db")
    assert done.returncode == 0, (done.stdout, done.stderr)
    text = _adopted(models_project(tmp_path / "adopt", TYPE_CHECKS + NATIVE_ENUM, created))
    assert "ANY" not in text and "`" not in text, text
    assert text.count("dialects: [mysql, sqlite]") == 2, text
    assert "dialects: [sqlite]" in text, text
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    base = Project(tmp_path / "adopt", created)
    args: tuple[str, ...]
    for cli, args in ((base.cli, ("--url", elsewhere, "apply")),
                      (p.cli, ("--url", elsewhere, "check", "--against-db"))):
        done = cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    for args in (("--url", applied, "new", "--autogenerate", "-m", "models"),
                 ("--url", applied, "apply")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    _adopted(models_project(tmp_path / "adopt2", TYPE_CHECKS + NATIVE_ENUM, applied))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_baseline_read_without_the_models_has_their_checks(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """A baseline written before the models were configured (in the database's own words,
    unscoped): `check` reads each CHECK the database holds as the models' one where it
    means the same there; what differs is only what the database cannot hold, the
    booleans' CHECKs on PostgreSQL (scoped to the others: created nowhere here)."""
    created = _databases(tmp_path, dialect, request)[0]
    models = models_project(tmp_path / "models", TYPE_CHECKS, created)
    _create_all(models.root / "fidelity_models.py", created, dialect)
    p = make_project(tmp_path / "plain", created)
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"), ("stamp", "heads")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    (p.root / "fidelity_models.py").write_text(
        (models.root / "fidelity_models.py").read_text(encoding="utf-8"), encoding="utf-8")
    with (p.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "fidelity_models:metadata"\n')
    done = p.cli("check")
    if dialect != "postgresql":
        assert done.returncode == 0, (done.stdout, done.stderr)
        return
    assert done.returncode == 1, (done.stdout, done.stderr)
    said = [line.strip() for line in done.stdout.splitlines() if " on t" in line]
    assert said == [f"+ create_check_constraint {ck_name('t', 'flag IN (0, 1)')} on t",
                    "+ create_check_constraint ck_t_active on t"], done.stdout


def test_postgresql_in_lists_are_read_as_written_and_nothing_else() -> None:
    """`x = ANY (ARRAY[...])` is `x IN (...)` only in the shape PostgreSQL prints for one:
    an array that is more than its brackets is something else."""
    key = by_name("postgresql").check_key
    for printed, written in [
        ("qty = ANY (ARRAY[1, 2, 3])", "qty IN (1, 2, 3)"),
        ("((state)::text = ANY ((ARRAY['new'::character varying, 'done'::character "
         "varying])::text[]))", "state IN ('new', 'done')"),
        ("state::text = ANY (ARRAY['a'::character varying(5)]::text[])", "state IN ('a')"),
        ("(n <> ALL (ARRAY[1, 2])) AND (m > 0)", "n NOT IN (1, 2) AND m > 0"),
    ]:
        assert key(printed) == key(written), (printed, written)
    for printed, other in [
        ("x = ANY (ARRAY[1, 2] || y)", "x IN (1, 2 || y)"),
        ("x = ANY (ARRAY[1] || ARRAY[2])", "x IN (1 || 2)"),
        ("x = ANY (y)", "x IN y"),
    ]:
        assert key(printed) != key(other), (printed, other)


def _table(*checks: ir.CheckDef) -> SchemaState:
    return apply(SchemaState(), ir.CreateTable(name="t", columns=(
        ir.Column(name="id", type=parse_type("integer"), primary_key=True),
        ir.Column(name="active", type=parse_type("boolean"))), checks=checks))


def test_a_check_scoped_to_the_projects_database_is_the_baselines_unscoped_one() -> None:
    """What `check` compares, changesets with models, on the project's database: a CHECK the
    models scope to databases that include it is the baseline's unscoped one of the same
    meaning; not on a database outside that scope, nor with another meaning."""
    scoped = ir.CheckDef(expression="active IN (0, 1)", name="ck_t_active",
                         dialects=("mysql", "sqlite"))
    models = _table(scoped)
    for baseline, database, same in [
        (ir.CheckDef(expression="active IN (0, 1)", name="ck_t_active"), "sqlite", True),
        (ir.CheckDef(expression="`active` in (0,1)", name="ck_t_active"), "mariadb", True),
        (ir.CheckDef(expression="active IN (0, 1)", name="ck_t_active"), "postgresql",
         False),
        (ir.CheckDef(expression="active IN (1)", name="ck_t_active"), "sqlite", False),
        (ir.CheckDef(expression="active IN (0, 1)", name="ck_t_active",
                     dialects=("sqlite",)), "sqlite", False),
    ]:
        old = by_name(database).matched(_table(baseline), models)
        ops = diff(old, models, exact_checks=True).operations
        assert (ops == []) is same, (baseline, database, ops)

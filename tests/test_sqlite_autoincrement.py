"""SQLite's AUTOINCREMENT (`sqlite_autoincrement: true`, SQLAlchemy's table option of that
name): built on SQLite as create_all() builds it, kept through a table rebuild with the keys
it gave (deleted ones are never given again), read back by `--from-db`, refused by name
where SQLite cannot build it, and nothing on the other databases. (kombu's real models, which
ask for it: test_real_models.)"""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import DIALECTS, Project, database_url, make_project, rows

MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("asset", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("name", sa.String({length})), sqlite_autoincrement={flag})
"""


def _models(root: Path, url: str | None = None, *, length: int = 50,
            flag: bool = True) -> Project:
    p = make_project(root, url)
    (root / "ai_models.py").write_text(MODELS.format(length=length, flag=flag),
                                       encoding="utf-8")
    with (root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "ai_models:metadata"\n')
    return p


def _ok(p: Project, *args: str) -> str:
    done = p.cli(*args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _create_sql(url: str) -> str:
    ((sql,),) = rows(url, "SELECT sql FROM sqlite_master WHERE name = 'asset'")
    return str(sql)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_models_with_it_build_what_create_all_builds(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    import sqlalchemy as sa

    url = database_url(tmp_path, dialect, request)
    p = _models(tmp_path / "proj", url)
    _ok(p, "new", "--autogenerate", "-m", "models")
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    assert doc["operations"][0]["create_table"]["sqlite_autoincrement"] is True
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        _ok(p, *args)
    if dialect == "sqlite":
        created = f"sqlite:///{tmp_path / 'created.db'}"
        namespace: dict[str, object] = {}
        exec(MODELS.format(length=50, flag=True), namespace)  # the models, as create_all() has them
        engine = sa.create_engine(created)
        try:
            namespace["metadata"].create_all(engine)  # type: ignore[attr-defined]
        finally:
            engine.dispose()
        assert "PRIMARY KEY AUTOINCREMENT" in _create_sql(url)
        assert " ".join(_create_sql(url).split()) == " ".join(_create_sql(created).split())
        _ok(p, "--url", created, "check", "--against-db")


def test_a_rebuild_keeps_it_and_never_gives_a_deleted_key_again(tmp_path: Path) -> None:
    """A table rebuilt (a column widened) was refused as AUTOINCREMENT 'the changesets do not
    describe'; and rebuilt, its counter would fall to the largest key left, so a key of a
    deleted row would be given again."""
    p = _models(tmp_path / "proj")
    _ok(p, "new", "--autogenerate", "-m", "models")
    _ok(p, "apply")
    db = str(p.url).removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        conn.executescript("INSERT INTO asset (name) VALUES ('a'), ('b'), ('c');"
                           "DELETE FROM asset WHERE id = 3;")
    (p.root / "ai_models.py").write_text(MODELS.format(length=80, flag=True), encoding="utf-8")
    _ok(p, "new", "--autogenerate", "-m", "widen")
    _ok(p, "apply")
    assert "PRIMARY KEY AUTOINCREMENT" in _create_sql(p.url)
    assert "VARCHAR(80)" in _create_sql(p.url)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO asset (name) VALUES ('d')")
    assert rows(p.url, "SELECT id, name FROM asset ORDER BY id") == [
        (1, "a"), (2, "b"), (4, "d")]
    _ok(p, "check", "--against-db")
    _ok(p, "rollback", "base")
    assert rows(p.url, "SELECT count(*) FROM sqlite_master WHERE name = 'asset'") == [(0,)]


def test_a_baseline_of_a_database_reads_it(tmp_path: Path) -> None:
    """`--from-db` refused a table with AUTOINCREMENT as a table option."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with sqlite3.connect(tmp_path / "live.db") as conn:
        conn.execute("CREATE TABLE asset (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)")
    p = make_project(tmp_path / "proj", url)
    _ok(p, "new", "--autogenerate", "--from-db", "-m", "baseline")
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    assert doc["operations"][0]["create_table"]["sqlite_autoincrement"] is True
    other = f"sqlite:///{tmp_path / 'other.db'}"
    _ok(p, "--url", other, "apply")
    assert "AUTOINCREMENT" in _create_sql(other)


@pytest.mark.parametrize(("table", "later", "named"), [
    ({"columns": [{"name": "id", "type": "bigint", "primary_key": True}]}, None,
     "its key id is bigint here"),
    ({"columns": [{"name": "a", "type": "integer"}, {"name": "b", "type": "integer"}],
      "primary_key": {"columns": ["a", "b"]}}, None, "a primary key of 2 columns"),
    ({"columns": [{"name": "id", "type": "integer", "primary_key": True}]},
     {"alter_column": {"table": "t", "name": "id", "type": "string(20)"}},
     "its key id is string(20) here"),
], ids=["bigint key", "key of two columns", "key made a string later"])
def test_a_table_sqlite_cannot_give_it_is_refused_by_name(
        project: Project, table: dict[str, object], later: dict[str, object] | None,
        named: str) -> None:
    """SQLAlchemy leaves AUTOINCREMENT out of such a table without a word (and SQLite
    refuses it on any key but an INTEGER one): the table would be built without it."""
    ops: list[dict[str, object]] = [
        {"create_table": {"name": "t", **table, "sqlite_autoincrement": True}}]
    project.write("c1", ops + ([later] if later else []))
    done = project.cli("validate")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "SF331" in done.stdout and named in done.stdout, done.stdout
    assert "Traceback" not in done.stderr
    assert project.cli("validate", "--dialect", "postgresql").returncode == 0


def test_turning_it_on_later_is_an_alter_table_that_rebuilds_on_sqlite(tmp_path: Path) -> None:
    """Autogenerate refused the change by name; now `alter_table: {sqlite_autoincrement:
    true}`, a rebuild on SQLite (rows and keys kept) and nothing elsewhere, rolled back by
    turning it off again."""
    p = _models(tmp_path / "proj", flag=False)
    _ok(p, "new", "--autogenerate", "-m", "models")
    _ok(p, "apply")
    db = str(p.url).removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        conn.executescript("INSERT INTO asset (name) VALUES ('a'), ('b');")
    (p.root / "ai_models.py").write_text(MODELS.format(length=50, flag=True), encoding="utf-8")
    _ok(p, "new", "--autogenerate", "-m", "changed")
    (path,) = [f for f in p.changesets.iterdir() if "changed" in f.name]
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["operations"] == [
        {"alter_table": {"name": "asset", "sqlite_autoincrement": True}}]
    pg = _ok(p, "apply", "--sql", "--dialect", "postgresql")
    assert "asset" not in pg.split("-- apply")[-1].split("INSERT INTO schemaflow_version")[0]
    _ok(p, "apply")
    assert "PRIMARY KEY AUTOINCREMENT" in _create_sql(p.url)
    assert rows(p.url, "SELECT id, name FROM asset ORDER BY id") == [(1, "a"), (2, "b")]
    _ok(p, "check", "--against-db")
    _ok(p, "rollback", "-1")
    assert "AUTOINCREMENT" not in _create_sql(p.url)
    assert rows(p.url, "SELECT id, name FROM asset ORDER BY id") == [(1, "a"), (2, "b")]


def test_an_alter_table_that_changes_nothing_is_refused(project: Project) -> None:
    project.write("c1", [
        {"create_table": {"name": "t", "columns": [
            {"name": "id", "type": "integer", "primary_key": True}]}},
        {"alter_table": {"name": "t"}}])
    done = project.cli("validate")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "c1_change.yaml" in done.stdout and "alter_table" in done.stdout, done.stdout
    assert "Traceback" not in done.stderr


def test_an_alembic_revision_with_it_imports_as_alembic_builds_it(tmp_path: Path) -> None:
    """Alembic's create_table(..., sqlite_autoincrement=True) was written as SQL."""
    pytest.importorskip("alembic")
    from test_import_alembic import _alembic_project, _imported, alembic_upgrade

    ini = _alembic_project(tmp_path, [
        ("a1", None, textwrap.dedent("""\
            def upgrade():
                op.create_table('asset', sa.Column('id', sa.Integer, primary_key=True),
                                sa.Column('name', sa.String(50)), sqlite_autoincrement=True)
            def downgrade():
                op.drop_table('asset')
            """))])
    anchor = f"sqlite:///{tmp_path / 'alembic.db'}"
    alembic_upgrade(ini.parent / "migrations", anchor)
    p = make_project(tmp_path / "proj", f"sqlite:///{tmp_path / 'sf.db'}")
    _ok(p, "import", "alembic", str(ini))
    (op,) = _imported(p, "a1")["operations"]
    assert op["create_table"]["sqlite_autoincrement"] is True
    _ok(p, "apply")
    assert " ".join(_create_sql(p.url).split()) == " ".join(_create_sql(anchor).split())


def test_turning_it_on_for_a_key_sqlite_cannot_give_it_is_refused(project: Project) -> None:
    project.write("c1", [
        {"create_table": {"name": "t", "columns": [
            {"name": "id", "type": "bigint", "primary_key": True}]}},
        {"alter_table": {"name": "t", "sqlite_autoincrement": True}}])
    done = project.cli("validate")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "SF331" in done.stdout and "its key id is bigint here" in done.stdout, done.stdout


def test_turned_on_with_the_key_it_needs_comes_after_the_key_changes(tmp_path: Path) -> None:
    """(From a review.) The key made an integer and AUTOINCREMENT turned on in one step:
    the alter_table came first, and SQLite's check refused it, the key still a bigint."""
    p = _models(tmp_path / "proj")
    p.write("c1", [{"create_table": {"name": "asset", "columns": [
        {"name": "id", "type": "bigint", "primary_key": True},
        {"name": "name", "type": "string(50)"}]}}])
    _ok(p, "apply")
    _ok(p, "new", "--autogenerate", "-m", "changed")
    (path,) = [f for f in p.changesets.iterdir() if "changed" in f.name]
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["operations"] == [
        {"alter_column": {"table": "asset", "name": "id", "type": "integer"}},
        {"alter_table": {"name": "asset", "sqlite_autoincrement": True}}]
    _ok(p, "apply")
    assert "PRIMARY KEY AUTOINCREMENT" in _create_sql(p.url)
    _ok(p, "check", "--against-db")


@pytest.mark.postgresql
def test_a_baseline_of_another_database_keeps_the_models_autoincrement(
        tmp_path: Path, pg_url: str) -> None:
    """(From a review.) A `--from-db` baseline of a PostgreSQL database, which holds no
    AUTOINCREMENT, left it out where the models ask for it: `check` then differed, and a
    SQLite database built from the baseline had none."""
    import sqlalchemy as sa

    p = _models(tmp_path / "proj", pg_url)
    namespace: dict[str, object] = {}
    exec(MODELS.format(length=50, flag=True), namespace)
    engine = sa.create_engine(pg_url)
    try:
        namespace["metadata"].create_all(engine)  # type: ignore[attr-defined]
    finally:
        engine.dispose()
    _ok(p, "new", "--autogenerate", "--from-db", "-m", "baseline")
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    assert doc["operations"][0]["create_table"]["sqlite_autoincrement"] is True
    _ok(p, "check")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    _ok(p, "--url", other, "apply")
    assert "AUTOINCREMENT" in _create_sql(other)


def test_a_truthy_option_is_read_as_sqlalchemy_reads_it(tmp_path: Path) -> None:
    """`sqlite_autoincrement=1` builds AUTOINCREMENT in create_all(): it was left out."""
    p = make_project(tmp_path / "proj")
    (p.root / "ai_models.py").write_text(
        MODELS.format(length=50, flag=1) + "sa.Table('other', metadata, sa.Column('id', "
        "sa.Integer, primary_key=True), sqlite_autoincrement=0)\n", encoding="utf-8")
    with (p.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "ai_models:metadata"\n')
    _ok(p, "new", "--autogenerate", "-m", "models")
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    flags = {op["create_table"]["name"]: op["create_table"].get("sqlite_autoincrement")
             for op in doc["operations"]}
    assert flags == {"asset": True, "other": None}

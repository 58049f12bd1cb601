"""A table's default character set and collation on MySQL and MariaDB (`mysql_charset`,
`mysql_collate` on create_table; SQLAlchemy's table options of those names): built as
create_all() builds them, read back by `--from-db` in the fewest words that rebuild them (in
the models' words where both build the same), compared by what the server builds, a change
of them refused by name, nothing on the other databases. Buildbot's tables ask for
`mysql_character_set='utf8'`, Keystone's for `mysql_charset='utf8'`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DIALECTS, MYSQL_URL, Project, _server_database, database_url, make_project
from test_fidelity import HEADER, models_project
from test_fidelity import _create_all as create_all
from test_index_names import _tables as show_create

# (a body of test_fidelity's models: `sa` and `metadata` given)
MODELS = """
sa.Table("builds", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("name", sa.String(255), nullable=False),
         sa.UniqueConstraint("name", name="uq_builds_name"), mysql_character_set="utf8")
sa.Table("users", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("email", sa.String(255)), mysql_engine="InnoDB", mysql_charset="utf8")
sa.Table("notes", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("body", sa.Text), mysql_charset="{notes}")
sa.Table("tags", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("label", sa.String(40)), mysql_collate="utf8mb4_bin")
sa.Table("legacy", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("code", sa.String(10)), mysql_DEFAULT_CHARSET="latin1",
         mysql_COLLATE="latin1_bin")
sa.Table("plain", metadata, sa.Column("id", sa.Integer, primary_key=True))
"""

# What each table's create_table says, as the models say it.
WORDS = {"builds": ("utf8", None), "users": ("utf8", None), "notes": ("utf8mb4", None),
         "tags": (None, "utf8mb4_bin"), "legacy": ("latin1", "latin1_bin"),
         "plain": (None, None)}


def _models(root: Path, url: str, notes: str = "utf8mb4") -> Project:
    return models_project(root, MODELS.format(notes=notes), url)


def _create_all(p: Project, url: str) -> None:
    """What create_all() of `p`'s models builds, on `url`."""
    create_all(p.root / "fidelity_models.py", url, url.split(":", 1)[0].split("+", 1)[0])


def _ok(p: Project, *args: str) -> str:
    done = p.cli(*args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout


def _tables(p: Project) -> dict[str, dict[str, Any]]:
    """Each create_table of the project's changesets, by table name."""
    found = {}
    for f in sorted(p.changesets.iterdir()):
        for op in yaml.safe_load(f.read_text(encoding="utf-8"))["operations"]:
            if "create_table" in op:
                found[op["create_table"]["name"]] = op["create_table"]
    return found


def _words(t: dict[str, Any]) -> tuple[str | None, str | None]:
    return t.get("mysql_charset"), t.get("mysql_collate")


@contextlib.contextmanager
def _another_mysql_database() -> Iterator[str]:
    yield from _server_database(MYSQL_URL, "MySQL")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_models_with_them_build_what_create_all_builds(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """They were refused by name (Buildbot's 42 tables, Keystone's)."""
    url = database_url(tmp_path, dialect, request)
    p = _models(tmp_path / "proj", url)
    _ok(p, "new", "--autogenerate", "-m", "models")
    assert {n: _words(t) for n, t in _tables(p).items()} == WORDS
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        _ok(p, *args)
    if dialect != "mysql":
        return
    built = show_create(url)
    assert "DEFAULT CHARSET=utf8mb3" in built["builds"], built["builds"]
    assert "COLLATE=latin1_bin" in built["legacy"], built["legacy"]
    assert "COLLATE=utf8mb4_bin" in built["tags"], built["tags"]
    with _another_mysql_database() as other:
        _create_all(p, other)
        assert show_create(other) == built
    _ok(p, "rollback", "base")
    assert show_create(url) == {}


@pytest.mark.mysql
def test_a_baseline_reads_them_and_rebuilds_them(mysql_url: str, tmp_path: Path) -> None:
    """`--from-db` refused a table whose character set was not the database's."""
    import sqlalchemy as sa

    engine = sa.create_engine(mysql_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        for sql in ("CREATE TABLE a (id integer PRIMARY KEY, s varchar(10)) DEFAULT CHARSET=utf8",
                    "CREATE TABLE b (id integer PRIMARY KEY, s text) COLLATE utf8mb4_bin",
                    "CREATE TABLE c (id integer PRIMARY KEY, s varchar(10)) "
                    "CHARACTER SET latin1 COLLATE latin1_bin",
                    "CREATE TABLE d (id integer PRIMARY KEY, s varchar(10))",
                    "CREATE TABLE e (id integer PRIMARY KEY) CHARSET=utf8mb4 "
                    "COLLATE=utf8mb4_general_ci"):
            conn.exec_driver_sql(sql)
    engine.dispose()
    p = make_project(tmp_path / "proj", mysql_url)
    _ok(p, "new", "--autogenerate", "--from-db", "-m", "baseline")
    # The fewest words: none where the table has the database's default, the character set
    # alone where the collation is its default one.
    assert {n: _words(t) for n, t in _tables(p).items()} == {
        "a": ("utf8mb3", None), "b": ("utf8mb4", "utf8mb4_bin"), "c": ("latin1", "latin1_bin"),
        "d": (None, None), "e": (None, None)}
    with _another_mysql_database() as other:
        _ok(p, "--url", other, "apply")
        assert show_create(other) == show_create(mysql_url)
    sqlite = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    _ok(p, "--url", sqlite, "apply")


@pytest.mark.mysql
@pytest.mark.parametrize("notes", ["utf8mb4", "UTF8MB4"])
def test_adopting_a_database_built_by_create_all_finds_nothing_to_do(
        mysql_url: str, tmp_path: Path, notes: str) -> None:
    """`mysql_charset="utf8mb4"` in a utf8mb4 database builds the database's default, which
    the server gives back as no option at all: the baseline writes the models' words, and
    `check` finds nothing, with or without the database."""
    p = _models(tmp_path / "proj", mysql_url, notes=notes)
    _create_all(p, mysql_url)
    _ok(p, "new", "--autogenerate", "--from-db", "-m", "baseline")
    assert {n: _words(t) for n, t in _tables(p).items()} == {**WORDS, "notes": (notes, None)}
    _ok(p, "stamp", "head")
    _ok(p, "check")
    _ok(p, "check", "--against-db")


@pytest.mark.mysql
def test_a_database_that_differs_from_the_models_is_a_difference(mysql_url: str,
                                                                 tmp_path: Path) -> None:
    """A table of the database's default where the models ask for utf8 (a server that never
    ran the models' DDL) is reported, not taken as the same."""
    p = _models(tmp_path / "proj", mysql_url)
    _ok(p, "new", "--autogenerate", "-m", "models")
    _ok(p, "apply")
    import sqlalchemy as sa

    engine = sa.create_engine(mysql_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE users CONVERT TO CHARACTER SET utf8mb4")
    engine.dispose()
    done = p.cli("check", "--against-db")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert ("the character set of table users changes on MySQL and MariaDB (utf8mb3 in what "
            "is wanted, the database's default in what exists); no operation writes that "
            "change yet") in done.stderr
    assert "Traceback" not in done.stderr


def test_a_change_of_them_is_refused_by_name(tmp_path: Path) -> None:
    p = _models(tmp_path / "proj", f"sqlite:///{tmp_path / 'app.db'}")
    _ok(p, "new", "--autogenerate", "-m", "models")
    before = sorted(p.changesets.iterdir())
    (p.root / "fidelity_models.py").write_text(HEADER + MODELS.format(notes="latin1"),
                                               encoding="utf-8")
    for args in (("new", "--autogenerate", "-m", "latin1"), ("check",)):
        done = p.cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert ("the character set of table notes changes on MySQL and MariaDB (latin1 in "
                "what is wanted, utf8mb4 in what exists); no operation writes that change "
                "yet") in done.stderr
        assert "Traceback" not in done.stderr
    assert sorted(p.changesets.iterdir()) == before


@pytest.mark.parametrize(("words", "message"), [
    ({"mysql_charset": "utf8mb"}, "mysql_charset 'utf8mb' is no character set of MySQL or "
                                  "MariaDB"),
    ({"mysql_charset": "latin1", "mysql_collate": "utf8mb4_bin"},
     "mysql_collate 'utf8mb4_bin' is a collation of utf8mb4, not of mysql_charset 'latin1'"),
    ({"mysql_charset": "utf8; DROP TABLE x"}, "mysql_charset"),
])
def test_wrong_words_are_refused_where_they_are_written(project: Project,
                                                        words: dict[str, str],
                                                        message: str) -> None:
    doc = {"schemaflow": 1, "id": "a1", "parents": [], "message": "t", "operations": [
        {"create_table": {"name": "t", **words,
                          "columns": [{"name": "id", "type": "integer", "primary_key": True}]}}]}
    (project.changesets / "a1_t.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    done = project.cli("validate")
    assert done.returncode != 0, done.stdout
    assert "a1_t.yaml" in done.stdout + done.stderr
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    applied = project.cli("apply")
    assert applied.returncode != 0
    assert not (project.root / "app.db").exists() or "t" not in _sqlite_tables(project)


def _sqlite_tables(p: Project) -> set[str]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(p.root / "app.db")) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


@pytest.mark.parametrize(("option", "message"), [
    ('mysql_charset="utf8mb"', "model table 'docs': mysql_charset 'utf8mb' is no character "
                               "set of MySQL or MariaDB"),
    ('mysql_charset="utf8", mariadb_charset="latin1"',
     "table docs: mariadb_charset='latin1' where mysql_charset is 'utf8'"),
])
def test_models_with_wrong_words_are_refused(tmp_path: Path, option: str, message: str) -> None:
    p = models_project(tmp_path / "proj", 'sa.Table("docs", metadata, sa.Column("id", '
                       f'sa.Integer, primary_key=True), {option})\n')
    done = p.cli("new", "--autogenerate", "-m", "m")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert list(p.changesets.iterdir()) == []


def test_the_same_words_for_mariadb_are_taken(tmp_path: Path) -> None:
    """`mysql_charset` with the same `mariadb_charset` (models written for both URLs)."""
    p = models_project(tmp_path / "proj", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 mysql_charset="utf8mb4", mariadb_charset="utf8mb4",
                 mysql_collate="utf8mb4_unicode_ci", mariadb_collate="utf8mb4_unicode_ci")
    """)
    _ok(p, "new", "--autogenerate", "-m", "m")
    assert _words(_tables(p)["docs"]) == ("utf8mb4", "utf8mb4_unicode_ci")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_alembic_history_with_them_builds_what_alembic_builds(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """Keystone's and Buildbot's create_table options: the imported create_table keeps them
    (it was written as SQL per database), and builds what `alembic upgrade` builds."""
    from test_import_alembic import _alembic_project, _imported, alembic_upgrade, drop_all

    ini = _alembic_project(tmp_path, [(
        "a1", None, "def upgrade():\n"
                    "    op.create_table('project', sa.Column('id', sa.Integer, "
                    "primary_key=True),\n"
                    "        sa.Column('name', sa.String(64)), mysql_engine='InnoDB',\n"
                    "        mysql_charset='utf8')\n"
                    "    op.create_table('logs', sa.Column('id', sa.Integer, primary_key=True),\n"
                    "        mysql_character_set='utf8mb4', mysql_collate='utf8mb4_bin')\n"
                    "def downgrade():\n    op.drop_table('logs')\n    op.drop_table('project')\n")])
    url = database_url(tmp_path, dialect, request)
    alembic_upgrade(ini.parent / "migrations", url)
    expected = show_create(url) if dialect == "mysql" else None
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'schemaflow.db'}"
    else:
        drop_all(url)
    p = make_project(tmp_path / "proj", url)
    _ok(p, "import", "alembic", str(ini))
    ops = [op["create_table"] for op in _imported(p, "a1")["operations"]]
    assert [(t["name"], _words(t)) for t in ops] == [
        ("project", ("utf8", None)), ("logs", ("utf8mb4", "utf8mb4_bin"))]
    _ok(p, "apply")
    if expected is not None:
        assert show_create(url) == {k: v for k, v in expected.items() if k != "alembic_version"}
    _ok(p, "rollback", "base")


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgresql)])
def test_a_baseline_of_another_database_keeps_the_models_words(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """(From a review.) A `--from-db` baseline of a database that keeps no character set
    lost the models' `mysql_charset`, and `check` then stopped on a change no operation
    writes: the baseline writes the models' words, as it does `sqlite_autoincrement`."""
    url = database_url(tmp_path, dialect, request)
    p = _models(tmp_path / "proj", url)
    _create_all(p, url)
    _ok(p, "new", "--autogenerate", "--from-db", "-m", "baseline")
    assert {n: _words(t) for n, t in _tables(p).items()} == WORDS
    _ok(p, "stamp", "head")
    _ok(p, "check")
    _ok(p, "check", "--against-db")


@pytest.mark.mysql
def test_a_collation_that_names_no_character_set(mysql_url: str, tmp_path: Path) -> None:
    """(From a review.) MariaDB's `uca1400_ai_ci` (10.10 on) is a collation of the table's
    character set, which the server gives back by its full name: `check --against-db` took
    the two names for a change."""
    import sqlalchemy as sa

    engine = sa.create_engine(mysql_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        version = str(conn.exec_driver_sql("SELECT version()").scalar())
    engine.dispose()
    numbers = tuple(int(n) for n in version.split("-")[0].split(".")[:2])
    if "mariadb" not in version.lower() or numbers < (10, 10):
        pytest.skip(f"uca1400 collations need MariaDB 10.10 or later (this is {version})")
    p = models_project(tmp_path / "proj", """
        sa.Table("a", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("s", sa.String(20)), mysql_collate="uca1400_ai_ci")
        sa.Table("b", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 mysql_charset="utf8", mysql_collate="uca1400_as_cs")
    """, mysql_url)
    for args in (("new", "--autogenerate", "-m", "m"), ("apply",), ("check",),
                 ("check", "--against-db")):
        _ok(p, *args)
    built = show_create(mysql_url)
    assert "COLLATE=utf8mb4_uca1400_ai_ci" in built["a"], built["a"]
    assert "COLLATE=utf8mb3_uca1400_as_cs" in built["b"], built["b"]


def test_sqlalchemys_own_spellings_are_read(tmp_path: Path) -> None:
    """(From a review.) Models reflected by SQLAlchemy (`autoload_with`) carry `mysql_default
    charset`, with a space; `utf8` for MySQL and `utf8mb3` for MariaDB are the same."""
    p = models_project(tmp_path / "proj", """
        sa.Table("docs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 **{"mysql_default charset": "latin1"})
        sa.Table("more", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 mysql_charset="utf8", mariadb_charset="utf8mb3")
    """)
    _ok(p, "new", "--autogenerate", "-m", "m")
    tables = _tables(p)
    assert (_words(tables["docs"]), _words(tables["more"])) == (("latin1", None), ("utf8", None))


def test_a_squash_over_a_change_of_character_set_says_to_concatenate(project: Project) -> None:
    """(From a review.) A table dropped and made again with another character set: the
    difference of the two schemas is a change no operation writes, and squash said to write
    it as SQL. It says that --concat keeps the operations, and --concat does."""
    table = {"name": "t", "columns": [{"name": "id", "type": "integer", "primary_key": True}]}
    ids = project.chain([{"create_table": {**table, "mysql_charset": "latin1"}}],
                        [{"drop_table": {"name": "t"}}],
                        [{"create_table": {**table, "mysql_charset": "utf8mb4"}}])
    done = project.cli("squash", ids[1], ids[2], "-m", "sq")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "the character set of table t changes" in done.stderr
    assert "use --concat" in done.stderr and "Traceback" not in done.stderr
    _ok(project, "squash", ids[1], ids[2], "-m", "sq", "--concat")
    _ok(project, "validate")


def test_a_rollback_to_another_character_set_is_sf202(project: Project) -> None:
    """(From a review.) A drop_table whose rollback makes the table again with another
    character set: validate stopped with exit 2 and no place; it is SF202, at the rollback."""
    table = {"name": "t", "columns": [{"name": "id", "type": "integer", "primary_key": True}]}
    project.write("c001", [{"create_table": {**table, "mysql_charset": "latin1"}}])
    project.write("c002", [{"drop_table": {"name": "t"}}], parents=["c001"],
                  rollback=[{"create_table": {**table, "mysql_charset": "utf8mb4"}}])
    done = project.cli("validate")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "c002_change.yaml" in done.stdout and "SF202" in done.stdout, done.stdout
    assert "the character set of table t changes" in done.stdout
    assert "Traceback" not in done.stderr

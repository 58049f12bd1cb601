"""An index's condition for some databases only (`where_dialects`): partial where it is
named, whole elsewhere, as `metadata.create_all()` builds an index given `postgresql_where`
alone. Applied, rolled back, rebuilt by SQLite and compared on the real databases. Then
PostgreSQL's own index options, built where the database has them, and an index of some
databases only (`dialects:`), as each database builds and judges it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import DIALECTS, Project, make_project, rows


def _url(request: pytest.FixtureRequest, dialect: str, tmp_path: Path) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return str(request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url"))


def _conditions(url: str) -> dict[str, str | None]:
    """Each index of table t, and its condition as the database keeps it (None: whole)."""
    if url.startswith("sqlite"):
        found = rows(url, "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                          "AND tbl_name = 't' AND sql IS NOT NULL")
    elif url.startswith("postgresql"):
        found = rows(url, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 't' "
                          "AND indexname <> 'pk_t'")
    else:  # MariaDB: no partial indexes
        found = [(name, "") for (name,) in rows(
            url, "SELECT DISTINCT index_name FROM information_schema.statistics WHERE "
                 "table_schema = DATABASE() AND table_name = 't' AND index_name <> 'PRIMARY'")]
    out: dict[str, str | None] = {}
    for name, sql in found:
        _, where, condition = str(sql).upper().partition(" WHERE ")
        out[str(name)] = condition.strip("() ").lower() if where else None
    return out


TABLE = {"create_table": {
    "name": "t",
    "columns": [{"name": "id", "type": "integer", "primary_key": True},
                {"name": "a", "type": "integer"}, {"name": "b", "type": "string(10)"}],
    "indexes": [{"name": "ix_lite", "columns": ["a"], "where": "a > 1",
                 "where_dialects": ["sqlite"]}]}}
INDEX = {"create_index": {"name": "ix_pg", "table": "t", "columns": ["b"],
                          "where": "a > 2", "where_dialects": ["postgresql"]}}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_condition_applies_on_the_databases_it_names(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    url = _url(request, dialect, tmp_path)
    p = make_project(tmp_path / "proj", url)
    # The second changeset widens b: a table rebuild on SQLite, which makes the indexes
    # again from the schema the changesets build.
    p.chain([TABLE, INDEX], [{"alter_column": {"table": "t", "name": "b",
                                               "type": "string(20)", "nullable": False,
                                               "default": "x"}}])
    done = p.cli("validate", "--dialect", "mysql")
    assert done.returncode == 0, done.stdout  # (no partial index asked of MariaDB)
    want = {"sqlite": {"ix_lite": "a > 1", "ix_pg": None},
            "postgresql": {"ix_lite": None, "ix_pg": "a > 2"},
            "mysql": {"ix_lite": None, "ix_pg": None}}[dialect]
    for step in ("c001", "c002"):
        done = p.cli("apply", step)
        assert done.returncode == 0, done.stderr
        assert _conditions(url) == want, step
    done = p.cli("rollback", "c001")  # the rebuild undone on SQLite
    assert done.returncode == 0, done.stderr
    assert _conditions(url) == want
    done = p.cli("rollback", "base")
    assert done.returncode == 0, done.stderr
    assert _conditions(url) == {}
    # Dropped, the index comes back as it was when the drop is rolled back.
    p.write("c003", [{"drop_index": {"name": "ix_pg", "table": "t"}}], parents=["c002"])
    for args in (("apply",), ("rollback", "c002")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stderr)
    assert _conditions(url) == want


def _models_project(tmp_path: Path, index: str) -> Project:
    p = make_project(tmp_path / "proj")
    (p.root / "scope_models.py").write_text(textwrap.dedent(f"""\
        import sqlalchemy as sa
        metadata = sa.MetaData()
        t = sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("a", sa.Integer))
        {index}
        """), encoding="utf-8")
    with (p.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write('models = "scope_models:metadata"\n')
    return p


def test_a_condition_written_for_every_database_is_the_models_for_both(
        tmp_path: Path) -> None:
    """A history written before `where_dialects` (the condition on every database) and
    models that give it as postgresql_where and sqlite_where: the same index wherever
    either builds, so `check` finds no difference (MySQL refuses the first at validate)."""
    p = _models_project(tmp_path, 'sa.Index("ix_a", t.c.a, postgresql_where=t.c.a > 0, '
                                  'sqlite_where=t.c.a > 0)')
    p.write("c001", [{"create_table": {
        "name": "t", "columns": [{"name": "id", "type": "integer", "primary_key": True},
                                 {"name": "a", "type": "integer"}],
        "indexes": [{"name": "ix_a", "columns": ["a"], "where": "a > 0"}]}}])
    done = p.cli("check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_condition_moved_to_fewer_databases_is_a_new_index(tmp_path: Path) -> None:
    p = _models_project(tmp_path, 'sa.Index("ix_a", t.c.a, postgresql_where=t.c.a > 0)')
    p.write("c001", [{"create_table": {
        "name": "t", "columns": [{"name": "id", "type": "integer", "primary_key": True},
                                 {"name": "a", "type": "integer"}],
        "indexes": [{"name": "ix_a", "columns": ["a"], "where": "a > 0"}]}}])
    done = p.cli("check")
    assert done.returncode == 1, done.stdout + done.stderr
    # What the index becomes is shown, not only that it is dropped and created (Dagster's
    # trial: the difference was visible with --format json alone).
    assert "+ create_index ix_a on t (a) where a > 0 on postgresql" in done.stdout, done.stdout
    done = p.cli("new", "--autogenerate", "-m", "scope")
    assert done.returncode == 0, done.stderr
    (written,) = [f for f in p.changesets.glob("*.yaml") if "scope" in f.name]
    ops = yaml.safe_load(written.read_text(encoding="utf-8"))["operations"]
    assert ops == [{"drop_index": {"name": "ix_a", "table": "t"}},
                   {"create_index": {"name": "ix_a", "table": "t", "columns": ["a"],
                                     "where": "a > 0", "where_dialects": ["postgresql"]}}]
    for args in (("validate",), ("apply",), ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert _conditions(p.url) == {"ix_a": None}  # whole on SQLite, as create_all() builds it


@pytest.mark.parametrize(("index", "message"), [
    ({"name": "ix", "columns": ["a"], "where_dialects": ["postgresql"]},
     "'where_dialects' goes with 'where'"),
    ({"name": "ix", "columns": ["a"], "where": "a > 0", "where_dialects": []},
     "where_dialects must not be empty"),
    ({"name": "ix", "columns": ["a"], "where": "a > 0", "where_dialects": ["oracle"]},
     "must be one of sqlite, postgresql, mysql, mariadb, not 'oracle'"),
])
def test_a_scope_without_a_condition_is_refused_at_its_line(
        project: Project, index: dict[str, object], message: str) -> None:
    path = project.write("c001", [{"create_table": {
        "name": "t", "columns": [{"name": "id", "type": "integer", "primary_key": True},
                                 {"name": "a", "type": "integer"}], "indexes": [index]}}])
    done = project.cli("validate")
    assert done.returncode == 1
    assert f"{path.relative_to(project.root)}:" in done.stdout and message in done.stdout
    assert "SF002" in done.stdout and "Traceback" not in done.stdout + done.stderr
    done = project.cli("apply")
    assert done.returncode != 0 and "Traceback" not in done.stdout + done.stderr
    assert not (project.root / "app.db").exists() or _conditions(project.url) == {}


# PostgreSQL's own index options in models shared with other databases (Prefect's): every
# database gets these models, PostgreSQL builds the options, the others the plain index.
POSTGRESQL_OPTIONS = {
    "common": ("""
        t = sa.Table("flows", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String(100)), sa.Column("tags", sa.JSON),
                     sa.Column("created", sa.DateTime))
        sa.Index("ix_flows_tags", t.c.name, postgresql_using="hash")
        sa.Index("ix_flows_name_ops", t.c.name, postgresql_ops={"name": "text_pattern_ops"},
                 postgresql_include=["created"])
        sa.Index("ix_flows_created", t.c.created, postgresql_include=["id", "name"])
    """, ["using: hash", "opclass: text_pattern_ops", "include: [created]",
          "include: [id, name]"]),
    "sqlite": ("", []), "postgresql": ("", []), "mysql": ("", []),
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_postgresql_index_options_build_where_the_database_has_them(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """They were refused on SQLite and MySQL, where `create_all()` leaves them out, so such
    models could not run on a SQLite project. Each database now builds what `create_all()`
    builds: the changeset keeps the options, PostgreSQL builds them, and `check
    --against-db` finds nothing on any of the three, on schemaflow's database and on
    create_all()'s (`_round_trip`)."""
    from test_fidelity import _round_trip

    p = _round_trip(tmp_path, dialect, request, POSTGRESQL_OPTIONS)
    if dialect == "postgresql":
        found = dict(rows(p.url, "SELECT indexname, indexdef FROM pg_indexes "
                                 "WHERE tablename = 'flows' AND indexname <> 'pk_flows'"))
        assert "USING hash (name)" in found["ix_flows_tags"]
        assert "(name text_pattern_ops) INCLUDE (created)" in found["ix_flows_name_ops"]
        assert "INCLUDE (id, name)" in found["ix_flows_created"]


# Indexes `ddl_if` builds on some databases only (Prefect's): each exists where create_all()
# builds it, `dialects:` in the changeset.
CONDITIONAL = {
    "common": ("""
        t = sa.Table("runs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String(100)), sa.Column("created", sa.DateTime))
        sa.Index("ix_runs_pg", t.c.name).ddl_if(dialect="postgresql")
        sa.Index("ix_runs_lite", t.c.created).ddl_if(dialect="sqlite")
        sa.Index("ix_runs_both", t.c.name, t.c.created).ddl_if(
            callable_=lambda ddl, target, bind, dialect, **kw: dialect.name in (
                "mysql", "mariadb", "sqlite"))
    """, ["dialects: [postgresql]", "dialects: [sqlite]", "dialects: [mysql, sqlite]"]),
    "sqlite": ("", []), "postgresql": ("", []), "mysql": ("", []),
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_indexes_built_on_some_databases_only(tmp_path: Path, dialect: str,
                                              request: pytest.FixtureRequest) -> None:
    """They were refused by name. Each is built, and compared, where create_all() builds it
    (`_round_trip`: on schemaflow's database and on create_all()'s)."""
    from test_fidelity import _round_trip

    p = _round_trip(tmp_path, dialect, request, CONDITIONAL)
    expected = {"sqlite": {"ix_runs_lite", "ix_runs_both"}, "postgresql": {"ix_runs_pg"},
                "mysql": {"ix_runs_both"}}[dialect]
    import sqlalchemy as sa

    engine = sa.create_engine(p.url, poolclass=sa.pool.NullPool)
    try:
        assert {i["name"] for i in sa.inspect(engine).get_indexes("runs")} == expected
    finally:
        engine.dispose()


# --- an index of some databases only, as each database's checks judge it (from a review) ---

USERS = {"create_table": {"name": "users", "columns": [
    {"name": "id", "type": "integer", "primary_key": True},
    {"name": "user email", "type": "string(100)"}, {"name": "code", "type": "string(10)"}]}}


def _validate(p: Project, dialect: str, *more: str) -> str:
    done = p.cli("validate", "--dialect", dialect, *more)
    assert "Traceback" not in done.stderr
    return f"{done.returncode}\n{done.stdout}{done.stderr}"


def test_a_database_judges_no_index_it_does_not_build(tmp_path: Path) -> None:
    """MySQL refused (SF331: a column in double quotes) an expression index scoped to
    PostgreSQL and SQLite, which it never builds; PostgreSQL warned of the locks of index
    operations scoped to MySQL."""
    p = make_project(tmp_path / "proj")
    p.write("c001", [USERS, {"create_index": {
        "name": "ix_users_email", "table": "users", "dialects": ["postgresql", "sqlite"],
        "columns": [{"expression": 'lower("user email")'}]}}])
    p.write("c002", [{"create_index": {"name": "ix_users_code", "table": "users",
                                       "columns": ["code"], "dialects": ["mysql"]}},
                     {"drop_index": {"name": "ix_users_code", "table": "users"}}],
            parents=["c001"])
    assert _validate(p, "mysql").startswith("0\n")
    said = _validate(p, "postgresql")
    assert said.startswith("0\n") and "SF34" not in said, said
    # (and where it is built, it is judged)
    p.write("c003", [{"create_index": {"name": "ix_users_code2", "table": "users",
                                       "columns": [{"expression": 'lower("user email")'}],
                                       "dialects": ["mysql"]}}], parents=["c002"])
    assert "double quotes" in _validate(p, "mysql")


def test_a_foreign_key_to_a_unique_index_of_other_databases_is_refused_at_validate(
        tmp_path: Path) -> None:
    """`validate --dialect postgresql` passed it, and apply then refused it there."""
    p = make_project(tmp_path / "proj")
    p.write("c001", [USERS, {"create_index": {"name": "ux_users_code", "table": "users",
                                              "columns": ["code"], "unique": True,
                                              "dialects": ["mysql"]}},
                     {"create_table": {"name": "badges", "columns": [
                         {"name": "id", "type": "integer", "primary_key": True},
                         {"name": "code", "type": "string(10)"}], "foreign_keys": [
                         {"columns": ["code"], "references": {"table": "users",
                                                              "columns": ["code"]}}]}}])
    said = _validate(p, "postgresql")
    assert said.startswith("1\n") and "SF331" in said and "which is no primary key" in said
    assert _validate(p, "mariadb").startswith("0\n")


def test_postgresql_judges_its_own_index_options_by_its_version(tmp_path: Path) -> None:
    """INCLUDE came with PostgreSQL 11: before it, still refused (other databases build the
    index without it)."""
    p = make_project(tmp_path / "proj")
    p.write("c001", [USERS, {"create_index": {"name": "ix_users_code", "table": "users",
                                              "columns": ["code"], "include": ["id"]}}])
    said = _validate(p, "postgresql", "--server-version", "10")
    assert said.startswith("1\n") and "postgresql has no INCLUDE columns in indexes" in said
    assert _validate(p, "postgresql", "--server-version", "11").startswith("0\n")
    assert _validate(p, "sqlite").startswith("0\n")


BASELINE = [{"create_table": {"name": "users", "columns": [
    {"name": "id", "type": "integer", "primary_key": True}]}},
    {"create_table": {"name": "posts", "columns": [
        {"name": "id", "type": "integer", "primary_key": True},
        {"name": "user_id", "type": "integer"}],
        "foreign_keys": [{"name": "posts_ibfk_1", "columns": ["user_id"],
                          "references": {"table": "users", "columns": ["id"]}}],
        "indexes": [{"name": "user_id", "columns": ["user_id"], "dialects": ["mysql"]}]}}]

POSTS = """
    sa.Table("users", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("posts", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("user_id", sa.Integer{fk}))
"""


def test_a_mysql_baselines_foreign_key_index_judged_on_sqlite(tmp_path: Path) -> None:
    """A MariaDB baseline's InnoDB index is no difference where the models keep its foreign
    key; where they drop the key, the index is dropped too (where it exists: MariaDB keeps
    it after the key goes), also when the changeset is written with a SQLite URL."""
    from test_fidelity import models_project

    p = models_project(tmp_path / "proj", POSTS.format(
        fk=', sa.ForeignKey("users.id", name="posts_ibfk_1")'))
    p.write("c001", BASELINE)
    done = p.cli("check")
    assert done.returncode == 0 and "No differences" in done.stdout, done.stdout + done.stderr
    (p.root / "fidelity_models.py").write_text(
        (p.root / "fidelity_models.py").read_text(encoding="utf-8").replace(
            ', sa.ForeignKey("users.id", name="posts_ibfk_1")', ""), encoding="utf-8")
    made = p.cli("new", "--autogenerate", "-m", "no key")
    assert made.returncode == 0, made.stderr
    ops = yaml.safe_load(next(p.changesets.glob("*no_key*.yaml")).read_text())["operations"]
    kinds = [next(iter(op)) for op in ops]
    assert "drop_index" in kinds and kinds.index("drop_constraint") < kinds.index("drop_index")
    for args in (("apply",), ("check",), ("rollback", "base")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


def test_a_clash_with_a_third_table_is_seen_past_a_scoped_index(tmp_path: Path) -> None:
    """(From a review.) Table a's `ix` scoped to MySQL hid the clash of b's and c's `ix`,
    which PostgreSQL and SQLite refuse (SF334 without a database)."""
    p = make_project(tmp_path / "proj")
    cols = [{"name": "id", "type": "integer", "primary_key": True},
            {"name": "v", "type": "integer"}]
    p.write("c001", [{"create_table": {"name": "a", "columns": cols, "indexes": [
        {"name": "ix", "columns": ["v"], "dialects": ["mysql"]}]}},
        {"create_table": {"name": "b", "columns": cols, "indexes": [
            {"name": "ix", "columns": ["v"]}]}},
        {"create_table": {"name": "c", "columns": cols}}])
    p.write("c002", [{"create_index": {"name": "ix", "table": "c", "columns": ["v"]}}],
            parents=["c001"])
    found = [(d.code, d.message) for d in p.api().validate()]
    # (b's `ix` beside a's, of MySQL alone, is no clash: c's is, with b's)
    assert [code for code, _ in found] == ["SF334"], found
    assert "the table b has an index named ix too" in found[-1][1], found


def test_a_baseline_of_sqlite_keeps_the_models_indexes_of_other_databases(
        tmp_path: Path) -> None:
    """(From a review.) A SQLite `--from-db` baseline lost Prefect's PostgreSQL-only
    (`ddl_if`) index, and `check` then wanted to create it: the baseline writes the models'
    indexes that exist on other databases only, as it does their CHECKs."""
    from test_fidelity import _create_all, models_project

    p = models_project(tmp_path / "proj", CONDITIONAL["common"][0],
                       f"sqlite:///{tmp_path / 'live.db'}")
    _create_all(p.root / "fidelity_models.py", p.url, "sqlite")
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"), ("stamp", "head"),
                 ("check",), ("check", "--against-db")):
        done = p.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    text = next(p.changesets.iterdir()).read_text(encoding="utf-8")
    assert "ix_runs_pg" in text and "dialects: [postgresql]" in text, text


def test_an_index_for_mariadb_alone(tmp_path: Path) -> None:
    """(From a review.) `ddl_if(dialect="mariadb")` was judged with the dialect a mysql://
    URL gives, counted as built nowhere and left out without a word."""
    from test_fidelity import models_project

    p = models_project(tmp_path / "proj", """
        t = sa.Table("runs", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String(100)))
        sa.Index("ix_runs_maria", t.c.name).ddl_if(dialect="mariadb")
    """)
    done = p.cli("new", "--autogenerate", "-m", "m")
    assert done.returncode == 0, done.stderr
    assert "dialects: [mariadb]" in next(p.changesets.iterdir()).read_text(encoding="utf-8")

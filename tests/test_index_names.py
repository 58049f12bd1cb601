"""Index names per table (MySQL, MariaDB) or per schema (PostgreSQL, SQLite), end to end.

A MariaDB database whose tables share index names (two tables each with an index
`parent_id`, one written by hand and one InnoDB made for a foreign key) is adopted as a user
adopts one: a `--from-db` baseline, `validate`, `stamp`, `check` and `check --against-db`
clean, and the baseline rebuilds the same database. On PostgreSQL the same changeset is
refused by name before anything runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from conftest import Project, rows
from test_fidelity import _driver, _second, models_project

# Both `parent_id` indexes come from the models as create_all() builds them: on `shelf` the
# models name it, on `box` InnoDB makes it for the unnamed foreign key (named after its
# column). `name` is a unique key on two tables too (MariaDB names it after its column).
MODELS = """
    parent = sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True))
    shelf = sa.Table("shelf", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("parent_id", sa.ForeignKey("parent.id"), nullable=False),
                     sa.Column("position", sa.Integer, nullable=False),
                     sa.Column("name", sa.String(40), unique=True))
    sa.Index("parent_id", shelf.c.parent_id, shelf.c.position)
    sa.Table("box", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("parent_id", sa.ForeignKey("parent.id")),
             sa.Column("name", sa.String(40), unique=True))
"""


def _create_all(p: Project, url: str) -> None:
    namespace: dict[str, object] = {}
    exec((p.root / "fidelity_models.py").read_text(encoding="utf-8"), namespace)
    engine = sa.create_engine(_driver(url))
    try:
        metadata = namespace["metadata"]
        assert isinstance(metadata, sa.MetaData)
        metadata.create_all(engine)
    finally:
        engine.dispose()


def _tables(url: str) -> dict[str, str]:
    """Each table's SHOW CREATE TABLE: names of indexes, keys and constraints included."""
    return {str(t): str(rows(url, f"SHOW CREATE TABLE `{t}`")[0][1])
            for (t,) in rows(url, "SHOW TABLES") if t != "schemaflow_version"}


def _ok(p: Project, *args: str) -> str:
    done = p.cli(*args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout + done.stderr


@pytest.mark.mysql
def test_a_mariadb_database_with_index_names_per_table_is_adopted(
        tmp_path: Path, mysql_url: str, request: pytest.FixtureRequest) -> None:
    p = models_project(tmp_path / "proj", MODELS, mysql_url)
    _create_all(p, mysql_url)
    original = _tables(mysql_url)
    assert "KEY `parent_id` (`parent_id`,`position`)" in original["shelf"]
    assert "KEY `parent_id` (`parent_id`)" in original["box"]

    path = p.root / _ok(p, "new", "--autogenerate", "--from-db", "-m", "baseline").split()[0]
    ops = yaml.safe_load(path.read_text(encoding="utf-8"))["operations"]
    indexes = {op["create_table"]["name"]: [(i["name"], i.get("dialects")) for i in op[
        "create_table"].get("indexes", [])] for op in ops}
    # InnoDB's own index is MySQL's and MariaDB's alone: the others make no index for a
    # foreign key (create_all() builds none there), so its name takes no other's there.
    assert indexes["shelf"] == [("parent_id", None)]
    assert indexes["box"] == [("parent_id", ["mysql"])]

    for dialect in ("mysql", "mariadb", "postgresql", "sqlite"):
        _ok(p, "validate", "--dialect", dialect)
    plain = [(d.code, d.severity) for d in p.api().validate()]
    assert plain == [], plain
    sqlite = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    _ok(p, "--url", sqlite, "apply")
    assert [r[0] for r in rows(sqlite, "SELECT name FROM sqlite_master WHERE type = 'index' "
                                       "AND sql IS NOT NULL ORDER BY name")] == ["parent_id"]
    assert "No differences" in _ok(p, "--url", sqlite, "check", "--against-db")
    # (the changesets against the models, judged for SQLite: InnoDB's index is no difference)
    assert "No differences" in _ok(p, "--url", sqlite, "check")

    cid = path.name.split("_", 1)[0]
    _ok(p, "stamp", cid)
    assert "No differences" in _ok(p, "check", "--against-db")
    assert "No differences" in _ok(p, "check")
    assert "Nothing to do" in _ok(p, "apply")

    # The baseline rebuilds the same database, names and all.
    empty = _second(request, "mysql")
    _ok(p, "--url", empty, "apply")
    assert _tables(empty) == original
    assert "No differences" in _ok(p, "--url", empty, "check", "--against-db")


@pytest.mark.mysql
def test_dropping_a_shared_index_name_drops_only_that_tables_index(
        tmp_path: Path, mysql_url: str) -> None:
    p = models_project(tmp_path / "proj", MODELS, mysql_url)
    _create_all(p, mysql_url)
    path = p.root / _ok(p, "new", "--autogenerate", "--from-db", "-m", "baseline").split()[0]
    _ok(p, "stamp", path.name.split("_", 1)[0])
    (p.root / "fidelity_models.py").write_text(
        (p.root / "fidelity_models.py").read_text(encoding="utf-8").replace(
            'sa.Index("parent_id", shelf.c.parent_id, shelf.c.position)',
            'sa.Index("ix_shelf_position", shelf.c.position)'), encoding="utf-8")

    made = p.root / _ok(p, "new", "--autogenerate", "-m", "position").split()[0]
    assert yaml.safe_load(made.read_text(encoding="utf-8"))["operations"] == [
        {"drop_index": {"name": "parent_id", "table": "shelf"}},
        {"create_index": {"name": "ix_shelf_position", "table": "shelf",
                          "columns": ["position"]}}]
    _ok(p, "validate", "--dialect", "mariadb")
    _ok(p, "apply")
    tables = _tables(mysql_url)
    assert "KEY `parent_id` (`parent_id`)" in tables["box"]
    assert "`parent_id` (`parent_id`,`position`)" not in tables["shelf"]
    assert "No differences" in _ok(p, "check", "--against-db")
    assert "No differences" in _ok(p, "check")


def test_sqlite_refuses_an_index_name_two_tables_share_before_running(
        tmp_path: Path) -> None:
    from conftest import make_project

    p = make_project(tmp_path / "proj")
    table = {"name": "shelf", "columns": [{"name": "parent_id", "type": "integer"}],
             "indexes": [{"name": "parent_id", "columns": ["parent_id"]}]}
    p.write("c001", [{"create_table": table}])
    p.write("c002", [{"create_table": {**table, "name": "box"}}], parents=["c001"])
    done = p.cli("apply")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "the index name 'parent_id' on 'box' is taken" in done.stderr, done.stderr
    assert "'shelf'" in done.stderr
    # The plan is rendered whole before anything runs: nothing was applied.
    assert [t for (t,) in rows(p.url, "SELECT name FROM sqlite_master WHERE type = 'table'")
            if t != "schemaflow_version"] == []


def test_an_index_of_mysql_alone_takes_no_name_elsewhere(tmp_path: Path) -> None:
    """An index scoped with `dialects: [mysql]` (a MariaDB baseline's index InnoDB made for
    a foreign key) is neither built nor dropped on SQLite, and its name is no clash there."""
    from conftest import make_project

    p = make_project(tmp_path / "proj")
    table = {"name": "shelf", "columns": [{"name": "parent_id", "type": "integer"}],
             "indexes": [{"name": "parent_id", "columns": ["parent_id"]}]}
    p.write("c001", [{"create_table": table}])
    p.write("c002", [{"create_table": {**table, "name": "box", "indexes": [
        {"name": "parent_id", "columns": ["parent_id"], "dialects": ["mysql"]}]}}],
        parents=["c001"])
    p.write("c003", [{"drop_index": {"name": "parent_id", "table": "box"}}], parents=["c002"])
    assert [(d.code, d.severity) for d in p.api().validate()] == []
    _ok(p, "validate", "--dialect", "sqlite")
    _ok(p, "apply", "c002")
    assert rows(p.url, "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' "
                       "AND sql IS NOT NULL") == [("parent_id", "shelf")]
    _ok(p, "apply")
    _ok(p, "rollback", "base")
    sql = _ok(p, "apply", "--sql")
    assert sql.count("CREATE INDEX parent_id") == 1, sql

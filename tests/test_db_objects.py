"""What a database holds beyond tables, columns, keys, indexes and sequences (table options,
a sequence a column owns) is refused by name, by a `--from-db` baseline and by `check
--against-db`, on each real database: the format cannot express it yet, and a baseline
written without it builds a different schema (a MyISAM table as InnoDB, a latin1 table as
utf8mb4, a WITHOUT ROWID table with rowids, a SERIAL that is no key as a plain column).
Left out by `[autogenerate] exclude_tables`, the rest is read as before."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import DIALECTS, Project
from test_autogenerate import run_sql
from test_fidelity import _driver, refused_from_db, users_project


def _run(url: str, *statements: str) -> None:
    run_sql(_driver(url), *statements)


def _url(tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return str(request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url"))


def _exclude(p: Project, *patterns: str) -> None:
    with (p.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
        fh.write("[autogenerate]\nexclude_tables = [" + ", ".join(
            f'"{x}"' for x in patterns) + "]\n")


def _baseline(p: Project) -> dict[str, list[dict[str, object]]]:
    """A --from-db baseline written (exit 0): each created table's columns."""
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(next(p.changesets.iterdir()).read_text(encoding="utf-8"))
    return {op["create_table"]["name"]: op["create_table"]["columns"]
            for op in doc["operations"] if "create_table" in op}


# Per database: (the table's CREATE TABLE, what the refusal names).
OPTIONS = {
    "sqlite": [
        ("CREATE TABLE t (id integer PRIMARY KEY, x text) WITHOUT ROWID",
         "'sqlite_with_rowid': False"),
        ("CREATE TABLE t (id integer PRIMARY KEY, x text) STRICT", "'sqlite_strict': True"),
    ],
    "postgresql": [
        ("CREATE UNLOGGED TABLE t (id integer PRIMARY KEY)", "'unlogged': True"),
        ("CREATE TABLE t (id integer PRIMARY KEY) WITH (fillfactor = 70)",
         "'postgresql_with': {'fillfactor': '70'}"),
        ("CREATE TABLE t (id integer NOT NULL) PARTITION BY RANGE (id)",
         "'partition_by': 'RANGE (id)'"),
    ],
    "mysql": [
        ("CREATE TABLE t (id integer PRIMARY KEY) ENGINE=MyISAM", "'mysql_engine': 'MyISAM'"),
        ("CREATE TABLE t (id integer PRIMARY KEY) MAX_ROWS=100", "'mysql_max_rows': '100'"),
        ("CREATE TABLE t (id integer PRIMARY KEY) ROW_FORMAT=COMPRESSED",
         "'mysql_row_format': 'COMPRESSED'"),
        ("CREATE TABLE t (id integer PRIMARY KEY) PARTITION BY HASH (id) PARTITIONS 2",
         "'mysql_partition_by'"),
    ],
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_table_options_the_format_lacks_are_refused_by_name(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """Each was dropped without a word: the baseline built a plain table, and check found
    no difference. A plain table beside them (its engine, character set and collation the
    database's own defaults) is no option."""
    url = _url(tmp_path, dialect, request)
    _run(url, "CREATE TABLE plain (id integer PRIMARY KEY, s varchar(10))")
    for i, (create, named) in enumerate(OPTIONS[dialect]):
        _run(url, create)
        p = users_project(tmp_path / f"p{i}", url)
        for stderr in refused_from_db(p):
            assert "table t: the table options {" in stderr and named in stderr, stderr
            assert "exclude_tables" in stderr
        _run(url, "DROP TABLE t")
    p = users_project(tmp_path / "plain", url)
    assert list(_baseline(p)) == ["plain"]


@pytest.mark.postgresql
def test_inheritance_and_partitions_are_refused(tmp_path: Path, pg_url: str) -> None:
    _run(pg_url, "CREATE TABLE parent (id integer)", "CREATE TABLE child (x integer) "
         "INHERITS (parent)", "CREATE TABLE log (id integer NOT NULL) PARTITION BY RANGE (id)",
         "CREATE TABLE log_1 PARTITION OF log FOR VALUES FROM (0) TO (10)")
    p = users_project(tmp_path / "p", pg_url)
    for stderr in refused_from_db(p):
        assert "table child: the table options {'postgresql_inherits': ('parent',)}" in stderr
    _exclude(p, "child", "log")
    done = p.cli("new", "--autogenerate", "--from-db", "-m", "baseline")
    assert done.returncode == 2
    assert "table log_1: the table options {" in done.stderr
    assert "'partition_of': 'log'" in done.stderr


@pytest.mark.postgresql
def test_a_sequence_a_column_owns_is_refused_unless_it_numbers_its_key(
        tmp_path: Path, pg_url: str) -> None:
    """A sequence is read as a key's numbering only when that key owns it (a SERIAL key,
    whatever its name after a rename); any other sequence a column owns (a SERIAL that is
    not the key: OWNED BY a column the format cannot say) is refused, where a baseline wrote
    a plain column and lost the numbering. Sequences of their own are read
    (tests/test_sequences.py)."""
    _run(pg_url, "CREATE TABLE users (id serial PRIMARY KEY)",
         "ALTER TABLE users RENAME TO members",  # keeps users_id_seq, owned by members.id
         "CREATE TABLE ident (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY)")
    p = users_project(tmp_path / "ok", pg_url)
    tables = _baseline(p)
    assert tables["members"] == [{"name": "id", "type": "integer", "nullable": False}]
    assert p.cli("check", "--against-db").returncode == 1  # a real difference: users
    _run(pg_url, "CREATE TABLE t (id integer PRIMARY KEY, n serial)")
    q = users_project(tmp_path / "p", pg_url)
    for stderr in refused_from_db(q):
        assert "sequence t_n_seq (owned by column t.n; a SERIAL is written only as an " \
               "integer primary-key column)" in stderr, stderr
    # Left out (its table, or it by name), the rest is read.
    _exclude(q, "t", "t_n_seq")
    assert sorted(_baseline(q)) == ["ident", "members"]

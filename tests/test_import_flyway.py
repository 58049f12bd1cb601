"""`schemaflow import flyway DIR` and `stamp --from-flyway`, on a folder of Flyway scripts
written here and a database migrated the way Flyway leaves one (its scripts run, and its
`flyway_schema_history` with Flyway's columns and rows)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from conftest import Project, make_project, rows

from schemaflow.importers.flyway import split_statements

SCRIPTS = {
    "V1__create_users.sql": """-- users of the shop
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL
);
CREATE INDEX ix_users_name ON users (name);
""",
    "V1.1__add_email.sql": """ALTER TABLE users ADD COLUMN email VARCHAR(200);
INSERT INTO users (id, name, email) VALUES (1, 'semi;colon', 'a@example.com');
/* a block comment; with a semicolon */
""",
    "sub/V2__orders.sql": """CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    note VARCHAR(200) DEFAULT 'it''s ok; really'
);
""",
    "sub/U2__orders.sql": "DROP TABLE orders;\n",
    "R__user_names.sql": "CREATE VIEW user_names AS SELECT name FROM users;\n",
}

FLYWAY_TABLE = """CREATE TABLE flyway_schema_history (
    installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL,
    type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT,
    installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    execution_time INT NOT NULL, success BOOLEAN NOT NULL)"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "db" / "migration"
    for name, text in SCRIPTS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_split_statements() -> None:
    script = """-- leading comment
CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;
INSERT INTO t VALUES ('a;b', "c;d"); /* x; y */
-- only a comment;
"""
    assert split_statements(script) == (
        "-- leading comment\nCREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; "
        "$body$ LANGUAGE plpgsql",
        "INSERT INTO t VALUES ('a;b', \"c;d\")")


def test_import_flyway_folder(project: Project, folder: Path) -> None:
    done = project.cli("import", "flyway", str(folder))
    assert done.returncode == 1, done.stderr
    assert "imported 3 Flyway migrations" in done.stderr
    assert "R__user_names (R__user_names.sql) upgrade(): a repeatable migration" in done.stderr
    docs = {d["id"]: d for d in (yaml.safe_load(f.read_text())
                                 for f in project.changesets.iterdir())}
    assert {k: (d["parents"], d["message"]) for k, d in docs.items()} == {
        "V1": ([], "create users"), "V1_1": (["V1"], "add email"), "V2": (["V1_1"], "orders")}
    assert len(docs["V1"]["operations"][0]["sql"]["up"]) == 2
    assert docs["V1_1"]["operations"][0]["sql"]["up"][1] == (
        "INSERT INTO users (id, name, email) VALUES (1, 'semi;colon', 'a@example.com')")
    assert docs["V2"]["operations"][0]["sql"]["down"] == "DROP TABLE orders"
    valid = project.cli("validate")
    assert valid.returncode == 0, valid.stdout + valid.stderr


@pytest.mark.parametrize("server", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgresql)])
def test_apply_and_undo(request: pytest.FixtureRequest, tmp_path: Path, folder: Path,
                        server: str) -> None:
    url = (f"sqlite:///{tmp_path / 'app.db'}" if server == "sqlite"
           else request.getfixturevalue("pg_url"))
    p = make_project(tmp_path / "proj", url)
    assert p.cli("import", "flyway", str(folder)).returncode == 1
    assert p.cli("apply").returncode == 0
    assert rows(url, "SELECT name FROM users") == [("semi;colon",)]
    assert rows(url, "SELECT count(*) FROM orders") == [(0,)]
    # V2 has an undo script: it rolls back; V1.1 has none: a rollback past it stops.
    assert p.cli("rollback", "-1").returncode == 0
    back = p.cli("rollback", "base")
    assert back.returncode == 2 and "V1_1" in back.stderr


def _flyway_migrated(path: Path, folder: Path, history: list[tuple[str | None, str, str]]
                     ) -> None:
    """A SQLite database as Flyway leaves it: the scripts run, and its history table."""
    with sqlite3.connect(path) as conn:
        for name in ("V1__create_users.sql", "V1.1__add_email.sql", "sub/V2__orders.sql",
                     "sub/U2__orders.sql"):
            conn.executescript((folder / name).read_text())
        conn.execute(FLYWAY_TABLE)
        for rank, (version, kind, script) in enumerate(history, 1):
            conn.execute("INSERT INTO flyway_schema_history (installed_rank, version, "
                         "description, type, script, checksum, installed_by, execution_time, "
                         "success) VALUES (?, ?, 'x', ?, ?, 0, 'flyway', 5, 1)",
                         (rank, version, kind, script))


def test_stamp_from_flyway(tmp_path: Path, folder: Path) -> None:
    db = tmp_path / "app.db"
    # V2 was applied, then undone: Flyway's table says V1 and V1.1 are applied.
    _flyway_migrated(db, folder, [("1", "SQL", "V1__create_users.sql"),
                                  ("1.1", "SQL", "V1.1__add_email.sql"),
                                  (None, "SQL", "R__user_names.sql"),
                                  ("2", "SQL", "V2__orders.sql"),
                                  ("2", "UNDO_SQL", "U2__orders.sql")])
    url = f"sqlite:///{db}"
    p = make_project(tmp_path / "proj", url)
    assert p.cli("import", "flyway", str(folder)).returncode == 1
    refused = p.cli("apply")
    assert refused.returncode == 2 and "stamp --from-flyway" in refused.stderr
    assert p.cli("stamp", "--from-flyway").returncode == 0
    pending = yaml.safe_load(p.cli("status", "--format", "json").stdout)["pending"]
    assert [c["id"] for c in pending] == ["V2"]
    applied = p.cli("apply")
    assert applied.returncode == 0, applied.stderr
    assert rows(url, "SELECT count(*) FROM orders") == [(0,)]
    assert rows(url, "SELECT count(*) FROM flyway_schema_history") == [(5,)]

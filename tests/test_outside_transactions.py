"""Raw SQL the database refuses inside a transaction block (PostgreSQL's CREATE/DROP INDEX
CONCURRENTLY, REINDEX ... CONCURRENTLY, VACUUM, ...; SQLite's VACUUM): in a changeset with
`transactional: false` it runs alone, outside any transaction, as `create_index` with
`concurrently: true` does (it ran inside one, and the database refused it: "cannot run
inside a transaction block"). In a changeset that runs in one transaction, apply refuses it
before anything runs, and `validate` with the target database says so (SF331)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from conftest import Project, make_project, rows

TABLE = {"create_table": {"name": "t", "columns": [
    {"name": "id", "type": "integer", "primary_key": True}, {"name": "n", "type": "integer"}]}}
CONCURRENT = {"sql": {"up": "-- built without blocking writes\n"
                            "CREATE INDEX CONCURRENTLY ix_t_n ON t (n)",
                      "down": "DROP INDEX CONCURRENTLY ix_t_n"}}
VACUUM = {"sql": {"up": "VACUUM", "down": "SELECT 1"}}


def _history(p: Project, op: Mapping[str, object], transactional: bool) -> None:
    p.write("a1", [TABLE])
    if transactional:
        p.write("a2", [op], parents=["a1"])
    else:
        p.write("a2", [op], parents=["a1"], transactional=False)


def _pg_indexes(url: str) -> list[str]:
    return [r[0] for r in rows(url, "SELECT indexname FROM pg_indexes WHERE tablename = 't' "
                                    "ORDER BY indexname")]


@pytest.mark.postgresql
def test_a_concurrent_index_in_raw_sql_runs_outside_a_transaction(pg_url: str,
                                                                  tmp_path: Path) -> None:
    p = make_project(tmp_path / "p", pg_url)
    _history(p, CONCURRENT, transactional=False)
    assert p.cli("validate", "--dialect", "postgresql").returncode == 0
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert "ix_t_n" in _pg_indexes(pg_url)
    back = p.cli("rollback", "a1")
    assert back.returncode == 0, back.stderr
    assert "ix_t_n" not in _pg_indexes(pg_url)


@pytest.mark.postgresql
def test_in_one_transaction_it_is_refused_before_anything_runs(pg_url: str,
                                                               tmp_path: Path) -> None:
    p = make_project(tmp_path / "p", pg_url)
    _history(p, CONCURRENT, transactional=True)
    valid = p.cli("validate", "--dialect", "postgresql")
    assert valid.returncode == 1 and "SF331" in valid.stdout, valid.stdout
    assert "CREATE INDEX CONCURRENTLY ix_t_n ON t (n) cannot run inside a transaction" in (
        valid.stdout)
    done = p.cli("apply")
    assert done.returncode == 2 and "transactional: false" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert rows(pg_url, "SELECT count(*) FROM pg_tables WHERE tablename = 't'") == [(0,)]


def test_sqlite_vacuum_runs_outside_a_transaction(tmp_path: Path) -> None:
    p = make_project(tmp_path / "p")
    _history(p, VACUUM, transactional=False)
    done = p.cli("apply")
    assert done.returncode == 0, done.stderr
    assert [r[0] for r in rows(p.url, "SELECT id FROM schemaflow_version ORDER BY id")] == [
        "a1", "a2"]
    assert p.cli("rollback", "base").returncode == 0


def test_sqlite_vacuum_in_one_transaction_is_refused(tmp_path: Path) -> None:
    p = make_project(tmp_path / "p")
    _history(p, VACUUM, transactional=True)
    valid = p.cli("validate", "--dialect", "sqlite")
    assert valid.returncode == 1 and "SF331" in valid.stdout, valid.stdout
    done = p.cli("apply")
    assert done.returncode == 2 and "transactional: false" in done.stderr, done.stderr
    assert rows(p.url, "SELECT name FROM sqlite_master") == []  # (no version table either)

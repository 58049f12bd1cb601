"""A NaN or an infinity written in `insert_rows` (YAML's .nan, .inf): stored as written where
the column's type holds it (PostgreSQL's floating-point types, SQLite's infinity), refused
with SF333 before anything runs where it does not (SQLite would write NULL for a NaN, MySQL
and MariaDB refuse both half-way), and never taken for a file that changed (two parses of
one file make two NaN objects, which `==` holds unequal)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from conftest import Project, make_project, rows, run_cli

TEXT = """schemaflow: 1
id: a1
parents: []
message: readings
operations:
  - create_table:
      name: readings
      columns:
        - {name: id, type: integer, primary_key: true}
        - {name: x, type: float}
        - {name: n, type: "numeric(10,2)"}
  - insert_rows:
      table: readings
      rows:
        - {id: 1, x: .nan, n: .nan}
        - {id: 2, x: .inf, n: 1.5}
        - {id: 3, x: -.inf, n: null}
"""


def _project(tmp_path: Path, url: str | None = None, text: str = TEXT) -> Project:
    p = make_project(tmp_path / "proj", url)
    p.write_text("a1_readings.yaml", text)
    return p


@pytest.mark.postgresql
def test_postgresql_stores_them_as_written_run_after_run(tmp_path: Path, pg_url: str) -> None:
    p = _project(tmp_path, pg_url)
    for args in (("apply",), ("rollback", "base"), ("apply",)):
        done = run_cli(*args, cwd=p.root)
        assert done.returncode == 0, done.stderr
    got = rows(pg_url, "SELECT id, x, n FROM readings ORDER BY id")
    assert math.isnan(got[0][1]) and str(got[0][2]) == "NaN"
    assert got[1][1:] == (math.inf, 1.5) and got[2][1:] == (-math.inf, None)


@pytest.mark.postgresql
def test_postgresql_refuses_them_where_the_type_does_not_hold_them(
        tmp_path: Path, pg_url: str) -> None:
    p = _project(tmp_path, pg_url, TEXT.replace("n: 1.5", "n: .inf"))
    done = run_cli("apply", cwd=p.root)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert ("row 2, column 'readings.n' (numeric(10,2)): infinity is held on postgresql only "
            "by a column of type float") in done.stderr
    assert rows(pg_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
    p.write_text("a2_counts.yaml", "schemaflow: 1\nid: a2\nparents: [a1]\nmessage: counts\n"
                 "operations:\n  - create_table:\n      name: counts\n      columns:\n"
                 "        - {name: id, type: integer, primary_key: true}\n"
                 "  - insert_rows:\n      table: counts\n      rows:\n        - {id: .nan}\n")
    done = run_cli("validate", cwd=p.root)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    said = done.stdout + done.stderr
    assert ("a1_readings.yaml:16:28: error SF333 insert_rows on postgresql: row 2, column "
            "'readings.n' (numeric(10,2)): infinity is held on postgresql only by a column "
            "of type float") in said
    # (a NaN in an integer column is the check of the value's type that was there before)
    assert "column 'counts.id' (integer): the value NaN is not a whole number" in said
    assert "2 errors, 0 warnings" in said


def test_sqlite_refuses_a_nan_it_would_write_as_null(tmp_path: Path) -> None:
    p = _project(tmp_path)
    done = run_cli("validate", cwd=p.root)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    said = done.stdout + done.stderr
    assert ("a1_readings.yaml:15:19: error SF333 insert_rows on sqlite: row 1, column "
            "'readings.x' (float): NaN is not a value sqlite stores: it writes NULL "
            "instead") in said
    assert "a1_readings.yaml:15:28: error SF333" in said and said.count("SF333") == 2
    assert "infinity" not in said  # (SQLite stores an infinity as written)
    done = run_cli("apply", cwd=p.root)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "NaN is not a value sqlite stores" in done.stderr
    assert rows(p.url, "SELECT name FROM sqlite_master WHERE type = 'table'") == []
    # An infinity goes in as written, run after run.
    p.write_text("a1_readings.yaml", TEXT.replace("x: .nan, n: .nan", "x: 0.5, n: 2"))
    for args in (("apply",), ("rollback", "base"), ("apply",)):
        done = run_cli(*args, cwd=p.root)
        assert done.returncode == 0, done.stderr
    assert rows(p.url, "SELECT x FROM readings ORDER BY id") == [
        (0.5,), (math.inf,), (-math.inf,)]


@pytest.mark.mysql
def test_mysql_refuses_both_before_anything_runs(tmp_path: Path, mysql_url: str) -> None:
    p = _project(tmp_path, mysql_url)
    done = run_cli("apply", cwd=p.root)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert re.search(r"row 1, column 'readings\.x' \(float\): NaN is not a value "
                     r"(mysql|mariadb) stores\n", done.stderr)
    assert rows(mysql_url, "SHOW TABLES") == []
    done = run_cli("validate", "--dialect", "mysql", cwd=p.root)
    said = done.stdout + done.stderr
    assert done.returncode == 1 and said.count("SF333") == 4  # (two NaN, two infinities)

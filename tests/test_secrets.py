"""Passwords never reach the output, however the URL was written (raw `%`, `@`, `:`, `/`)."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import POSTGRES_URL, Project, make_project, run_cli

from schemaflow.config import hide_password, hide_passwords_in, normal_url, url_parts

# Passwords as users paste them into a URL without percent-encoding.
RAW_PASSWORDS = ["se%cret99", "p@ss@word9", "pa:ss/wd99", "a%zz@b:c/d9", "x?y@z%41q"]
COMMANDS = [["current"], ["status"], ["validate", "--db"], ["apply"]]


def _run_all(project: Project, urls: list[str]) -> list[tuple[list[str], str,
                                                              subprocess.CompletedProcess[str]]]:
    cases = [(cmd, url) for url in urls for cmd in COMMANDS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda c: project.cli(*c[0], "--url", c[1]), cases))
    return [(cmd, url, result) for (cmd, url), result in zip(cases, done, strict=True)]


def _assert_hidden(password: str, cmd: list[str], result: subprocess.CompletedProcess[str]
                   ) -> None:
    out = result.stdout + result.stderr
    assert "Traceback" not in out, (cmd, out)
    for piece in {password, *password.replace(":", "@").replace("/", "@").split("@")}:
        if len(piece) >= 4:
            assert piece not in out, (cmd, piece, out)


@pytest.mark.parametrize("password", RAW_PASSWORDS)
def test_a_raw_password_is_never_printed(project: Project, password: str) -> None:
    project.write("c001", [{"create_table": {"name": "t", "columns": [
        {"name": "id", "type": "integer", "primary_key": True}]}}])
    urls = [f"postgresql://no_such_role:{password}@127.0.0.1:5432/test",  # refused
            f"postgresql+psycopg://postgres:{password}@127.0.0.1:1/test"]  # unreachable
    if "@" in password:
        urls.append(f"mysql+pymysql://no_such_user:{password}@127.0.0.1:3306/test")
    for cmd, url, result in _run_all(project, urls):
        _assert_hidden(password, cmd, result)
        assert "***" in result.stdout + result.stderr, (cmd, url)
        if cmd != ["validate", "--db"]:
            assert result.returncode == 2, (cmd, url, result.stderr)


def test_a_non_numeric_port_is_a_clear_error(project: Project) -> None:
    url = "postgresql://postgres:se%cret99@127.0.0.1:abc/test"
    for cmd, _, result in _run_all(project, [url]):
        _assert_hidden("se%cret99", cmd, result)
        assert "the port must be a number" in result.stderr + result.stdout, cmd
        assert result.returncode == (0 if cmd == ["validate", "--db"] else 2)


@pytest.mark.parametrize("url", ["postgres:/u:secretpw@host/db", "u:secretpw@host/db",
                                 "host=h password=secretpw", "postgresql://u:secretpw@[::1/d"])
def test_an_unparsable_url_is_not_echoed(project: Project, url: str) -> None:
    result = project.cli("current", "--url", url)
    assert result.returncode == 2, result.stderr
    assert "secretpw" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "URL" in result.stderr


@pytest.mark.postgresql
def test_a_raw_at_sign_in_the_password_connects(tmp_path: Path) -> None:
    # The test server trusts local connections: any password works, if the host is right.
    base = POSTGRES_URL.replace("postgres@", "postgres:p@ss@w%rd/9@", 1)
    if base == POSTGRES_URL:
        pytest.skip("the test server URL has a password of its own")
    p = make_project(tmp_path / "proj", base)
    result = run_cli("current", cwd=p.root)
    if "Connection refused" in result.stderr:
        pytest.skip("PostgreSQL test server unreachable")
    assert result.returncode == 0, result.stderr
    assert "<base>" in result.stdout


def test_url_parts_take_the_user_part_up_to_the_last_at() -> None:
    parts = url_parts("postgresql://u:p@ss@w:rd/x@db.example:5432/app?sslmode=require")
    assert parts is not None
    assert (parts.user, parts.password) == ("u", "p@ss@w:rd/x")
    assert parts.rest == "db.example:5432/app?sslmode=require"
    assert url_parts("sqlite:////tmp/a@b.db") is not None
    assert url_parts("sqlite:////tmp/a@b.db").user is None  # type: ignore[union-attr]
    assert url_parts("not a url") is None
    # An `@` in a query value is not the end of a user part.
    for url in ("postgresql://host?opt=a@b", "postgresql://host:5432?options=a@b=c"):
        assert url_parts(url).user is None, url  # type: ignore[union-attr]
        assert normal_url(url) == url
    assert normal_url("mysql://u:p?x@h/db") == "mysql://u:p%3Fx@h/db"


def test_normal_url_encodes_only_what_needs_it() -> None:
    assert normal_url("postgresql://u:p@ss%zz@h/db") == "postgresql://u:p%40ss%25zz@h/db"
    assert normal_url("postgresql://u:se%41cret@h/db") == "postgresql://u:se%41cret@h/db"
    assert normal_url("sqlite:////tmp/a@b.db") == "sqlite:////tmp/a@b.db"
    once = normal_url("mysql://u:a:b/c?d@h/db")
    assert normal_url(once) == once


def test_hide_password_in_every_shape() -> None:
    assert hide_password("postgresql://u:p@ss@word@h/db") == "postgresql://u:***@h/db"
    assert hide_password("postgresql://h/db?password=abcd&x=1") == \
        "postgresql://h/db?password=***&x=1"
    assert "secret" not in hide_password("host=h password=secret")
    assert "zz9q" not in hide_passwords_in("failed for mysql://u:zz9q@h/db, try again")

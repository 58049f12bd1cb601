"""What the models leave to the database, read as create_all() builds it, so that a changeset,
the database it builds and a baseline of it agree: whether an integer key is numbered
(SERIAL, AUTO_INCREMENT: SQLAlchemy's `autoincrement="auto"`, which numbers the sole integer
key unless it has a foreign key, as a joined-inheritance child's, or a default of its own),
and the kind of a generated column whose `persisted` is not given."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DIALECTS
from test_fidelity import _round_trip, models_project

INHERITANCE = """
    sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("child", metadata,
             sa.Column("id", sa.Integer, sa.ForeignKey("parent.id"), primary_key=True))
    # Numbered all the same, as the models say so.
    sa.Table("told", metadata, sa.Column("id", sa.Integer, sa.ForeignKey("parent.id"),
                                         primary_key=True, autoincrement=True))
    sa.Table("ignored", metadata, sa.Column("id", sa.Integer, sa.ForeignKey("parent.id"),
                                            primary_key=True, autoincrement="ignore_fk"))
"""


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_key_that_is_a_foreign_key_is_not_numbered_unless_told(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """`check --against-db` stopped with "the numbering of column child.id changes" on the
    database schemaflow built and on create_all()'s, and `check` after a --from-db baseline
    did the same: the models' key was taken as numbered, the database's was not. Models →
    changeset → apply → check (--against-db), create_all() → check --against-db, and its
    baseline applied elsewhere → check --against-db, all with no difference."""
    p = _round_trip(tmp_path, dialect, request, {
        "common": (INHERITANCE, ["autoincrement: true"]), dialect: ("", [])})
    text = next(p.changesets.iterdir()).read_text(encoding="utf-8")
    assert text.count("autoincrement: true") == 2, text
    # Adopted: a baseline of that database, stamped, and the models checked against it.
    # (SQLite numbers every integer key and says of none whether it was told to: there the
    # baseline cannot know that `told` is, and a check against the models says so.)
    base = models_project(tmp_path / "adopt", INHERITANCE, p.url)
    if dialect == "sqlite":
        with (base.root / "schemaflow.toml").open("a", encoding="utf-8") as fh:
            fh.write('[autogenerate]\nexclude_tables = ["told", "ignored"]\n')
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"), ("stamp", "heads"),
                 ("check",)):
        done = base.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


LEFT_TO_THE_DATABASE = """
    sa.Table("lines", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("a", sa.Integer), sa.Column("b", sa.Integer),
             sa.Column("total", sa.Integer, sa.Computed("a * b")))
"""


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_generated_column_of_the_databases_own_kind_builds_and_adopts(
        tmp_path: Path, dialect: str, request: pytest.FixtureRequest) -> None:
    """`Computed()` without `persisted` is written without `stored`: the database's own kind
    (STORED on PostgreSQL before 18, VIRTUAL elsewhere), as the schema says. apply refused it
    on PostgreSQL ('has only stored generated columns') while validate passed it, and a
    baseline of create_all()'s database (`stored: true` there) then differed from the models
    in check."""
    p = _round_trip(tmp_path, dialect, request, {
        "common": (LEFT_TO_THE_DATABASE, ["expression: a * b"]), dialect: ("", [])})
    assert "stored" not in next(p.changesets.iterdir()).read_text(encoding="utf-8")
    base = models_project(tmp_path / "adopt", LEFT_TO_THE_DATABASE, p.url)
    for args in (("new", "--autogenerate", "--from-db", "-m", "baseline"), ("stamp", "heads"),
                 ("check",)):
        done = base.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)

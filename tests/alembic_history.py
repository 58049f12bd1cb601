"""A small Alembic history written by the tests (`alembic init` + revision files): create_table,
add_column, alter_column, indexes, foreign keys, batch operations, op.execute, bulk_insert, a
branch label, a merge, an empty downgrade, a revision that branches on the database, and one
whose Python reads rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAD = '''"""{message}

Revision ID: {rev}
Revises: {down}
Create Date: 2024-01-{day:02d} 09:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = {down_repr}
branch_labels = {labels}
depends_on = None
'''

REVISIONS: list[tuple[str, object, str, str | None, str]] = [
    ("a1", None, "create users", None, '''
def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("email", sa.String(120), unique=True),
        sa.Column("status", sa.String(20), server_default="new", nullable=False),
    )
    op.create_index("ix_users_name", "users", ["name"])


def downgrade():
    op.drop_index("ix_users_name", table_name="users")
    op.drop_table("users")
'''),
    ("b2", "a1", "posts", None, '''
def upgrade():
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_posts_user",
                                                       ondelete="CASCADE")),
        sa.Column("title", sa.String(200)),
    )
    op.add_column("users", sa.Column("bio", sa.Text()))
    op.execute("UPDATE users SET bio = 'none'")


def downgrade():
    pass
'''),
    ("c3", "b2", "nicknames", "feature", '''
def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("name", type_=sa.String(100), existing_type=sa.String(50),
                              existing_nullable=False)
        batch_op.add_column(sa.Column("nickname", sa.String(40)))
        batch_op.create_unique_constraint("uq_users_nickname", ["nickname"])


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("uq_users_nickname", type_="unique")
        batch_op.drop_column("nickname")
        batch_op.alter_column("name", type_=sa.String(50), existing_type=sa.String(100),
                              existing_nullable=False)
'''),
    ("d4", "b2", "tags, and an index that differs by database", None, '''
def upgrade():
    tags = op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(30), nullable=False),
    )
    op.bulk_insert(tags, [{"id": 1, "label": "news"}, {"id": 2, "label": "howto"}])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_tags_label", "tags", [sa.text("lower(label)")])
    else:
        op.create_index("ix_tags_label", "tags", ["label"])
    with op.batch_alter_table("posts") as batch_op:
        batch_op.add_column(sa.Column("tag_id", sa.Integer))
        batch_op.create_foreign_key("fk_posts_tag", "tags", ["tag_id"], ["id"])


def downgrade():
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_constraint("fk_posts_tag", type_="foreignkey")
        batch_op.drop_column("tag_id")
    op.execute("DELETE FROM tags")
    op.drop_table("tags")
'''),
    ("e5", ("c3", "d4"), "merge nicknames and tags", None, '''
def upgrade():
    pass


def downgrade():
    pass
'''),
    ("f6", "e5", "fill nicknames in Python", None, '''
def upgrade():
    conn = op.get_bind()
    for user_id, name in conn.execute(sa.text("SELECT id, name FROM users")).fetchall():
        conn.execute(sa.text("UPDATE users SET nickname = :n WHERE id = :i"),
                     {"n": name.lower(), "i": user_id})
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, server_default=sa.text("CURRENT_TIMESTAMP")),
    )


def downgrade():
    op.drop_table("audit")
'''),
    ("g7", "f6", "rename and checks", None, '''
def upgrade():
    with op.batch_alter_table("posts") as batch_op:
        batch_op.alter_column("title", new_column_name="headline",
                              existing_type=sa.String(200))
        batch_op.create_check_constraint("ck_posts_headline", "length(headline) > 0")
    op.create_index("ix_users_email_status", "users", ["email", "status"], unique=True)


def downgrade():
    op.drop_index("ix_users_email_status", table_name="users")
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_constraint("ck_posts_headline", type_="check")
        batch_op.alter_column("headline", new_column_name="title",
                              existing_type=sa.String(200))
'''),
]


def build(root: Path, url: str = "sqlite:///alembic.db") -> Path:
    """`alembic init` in `root`, the revisions above written into it; returns alembic.ini."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "alembic", "init", "migrations"], cwd=root,
                   check=True, capture_output=True)
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", url))
    for day, (rev, down, message, label, body) in enumerate(REVISIONS, 1):
        text = HEAD.format(rev=rev, message=message, day=day, labels=repr(label),
                           down=", ".join(down) if isinstance(down, tuple) else down or "",
                           down_repr=repr(down)) + body
        (root / "migrations" / "versions" / f"{rev}_{rev}.py").write_text(text)
    return ini

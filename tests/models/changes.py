"""A small model whose shape depends on VARIANT: the base, or the base with one change.

The tests copy this file into a project and replace the VARIANT line. There is no naming
convention, so constraint names come from schemaflow's rules (pk_*, uq_*, fk_*, ix_*), and
explicit names where a variant changes a named thing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

VARIANT = "base"
V = VARIANT

STATUSES = ("active", "banned", "away") if V == "enum_value" else ("active", "banned")
# A non-native enum with its CHECK (unnamed): a value added changes only the CHECK.
KINDS = ("draft", "final", "gone") if V == "enum_check_value" else ("draft", "final")
SCORE_DEFAULTS = {"default_changed": text("10"), "default_removed": None}
NO_POST = ("drop_referenced_table", "drop_two_tables")


class Base(DeclarativeBase):
    pass


if V != "drop_two_tables":

    class Author(Base):
        __tablename__ = "author"
        __table_args__ = (
            *([CheckConstraint("score >= 0", name="ck_author_score")] if V == "add_check"
              else []),
            {"comment": "people who write"} if V == "table_comment" else {},
        )

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(
            String(100 if V == "string_length" else 50), index=V == "add_index",
            comment="display name" if V == "column_comment" else None)
        email: Mapped[str | None] = mapped_column(String(100), nullable=V != "not_null",
                                                  unique=V == "add_unique")
        score: Mapped[int] = mapped_column(server_default=SCORE_DEFAULTS.get(V, text("0")))
        status: Mapped[str] = mapped_column(Enum(*STATUSES, name="author_status"),
                                            server_default="active")
        joined: Mapped[dt.datetime] = mapped_column(DateTime, nullable=V == "nullable",
                                                    server_default=text("CURRENT_TIMESTAMP"))


if V not in NO_POST:

    class Post(Base):
        __tablename__ = "post"
        __table_args__ = (
            *([] if V == "drop_unique" else [UniqueConstraint("author_id", "title")]),
            *([] if V == "drop_index" else [Index("ix_post_title", "title",
                                                  unique=V == "index_unique")]),
            *([] if V == "drop_check" else [CheckConstraint("views >= 0", name="ck_post_views")]),
            *([Index("ix_post_published", "author_id", postgresql_where=text("published"),
                     sqlite_where=text("published"))] if V == "partial_index" else []),
        )

        id: Mapped[int] = mapped_column(primary_key=True)
        author_id: Mapped[int] = mapped_column(ForeignKey("author.id", ondelete="CASCADE"))
        editor_id: Mapped[int | None] = mapped_column(
            ForeignKey("author.id") if V == "add_fk" else Integer)
        title: Mapped[str] = mapped_column(String(50))
        if V == "rename_column":
            content: Mapped[str | None] = mapped_column(Text)
        elif V != "drop_column":
            body: Mapped[str | None] = mapped_column(Text)
        if V == "add_column":
            subtitle: Mapped[str | None] = mapped_column(String(100))
        if V == "new_enum_type":
            mood: Mapped[str | None] = mapped_column(Enum("happy", "sad", name="post_mood"))
        views: Mapped[int | None] = mapped_column(
            BigInteger if V == "bigint" else Integer,
            server_default=text("0") if V == "default_added" else None)
        published: Mapped[bool] = mapped_column(server_default=false())


if V != "drop_table":

    class Note(Base):
        __tablename__ = "memo" if V == "rename_table" else "note"

        id: Mapped[int] = mapped_column(primary_key=True)
        post_id: Mapped[int | None] = mapped_column(
            Integer if V == "drop_fk" or V in NO_POST
            else ForeignKey("post.id", ondelete="SET NULL" if V == "fk_ondelete" else "CASCADE"))
        text: Mapped[str] = mapped_column(String(200))


class Pair(Base):
    __tablename__ = "pair"

    left: Mapped[str] = mapped_column(String(10), primary_key=True)
    right: Mapped[str] = mapped_column(String(10), primary_key=V == "pk_change")
    kind: Mapped[str | None] = mapped_column(Enum(*KINDS, native_enum=False,
                                                  create_constraint=True))


if V == "add_table":

    class Tag(Base):
        __tablename__ = "tag"

        id: Mapped[int] = mapped_column(primary_key=True)
        label: Mapped[str] = mapped_column(String(30), unique=True)
        post_id: Mapped[int] = mapped_column(ForeignKey("post.id"))

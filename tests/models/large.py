"""Forty tables built programmatically: eight domains of five tables each.

Every domain has an account (enum status, comments, defaults), items (self reference,
composite unique, check, composite index), events (shared enum type, SQL default), links
(composite primary key, references into the previous domain) and settings (string primary
key). Accounts also reference the previous domain's account, and the first account and its
items reference each other (a cycle, broken with use_alter).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DOMAINS = ("crm", "billing", "catalog", "inventory", "shipping", "support", "hr", "analytics")
STATUSES = ("active", "suspended", "closed")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _model(name: str, attrs: dict[str, Any]) -> type:
    cls_name = "".join(part.title() for part in name.split("_"))
    return type(cls_name, (Base,), {"__tablename__": name, **attrs})


def _domain(d: str, previous: str | None) -> None:
    status = Enum(*STATUSES, name=f"{d}_status")
    account: dict[str, Any] = {
        "__table_args__": (
            CheckConstraint("length(code) >= 2", name="code_length"),
            {"comment": f"{d} accounts"},
        ),
        "id": mapped_column(Integer, primary_key=True),
        "code": mapped_column(String(20), nullable=False, unique=True),
        "title": mapped_column(String(100), nullable=False, index=True,
                               comment="shown in lists"),
        "status": mapped_column(status, nullable=False, server_default="active"),
        "is_active": mapped_column(Boolean, nullable=False, server_default=true()),
        "created_at": mapped_column(DateTime, nullable=False, server_default=func.now()),
    }
    if previous:
        account["owner_id"] = mapped_column(
            Integer, ForeignKey(f"{previous}_account.id", ondelete="SET NULL"))
    else:
        account["favorite_item_id"] = mapped_column(
            BigInteger, ForeignKey(f"{d}_item.id", use_alter=True))
    _model(f"{d}_account", account)
    _model(f"{d}_item", {
        "__table_args__": (
            UniqueConstraint("account_id", "name"),
            CheckConstraint("qty >= 0", name="qty_positive"),
            Index(f"ix_{d}_item_account_qty", "account_id", "qty"),
        ),
        "id": mapped_column(BigInteger, primary_key=True),
        "account_id": mapped_column(Integer, ForeignKey(f"{d}_account.id", ondelete="CASCADE"),
                                    nullable=False),
        "parent_id": mapped_column(BigInteger, ForeignKey(f"{d}_item.id")),
        "name": mapped_column(String(80), nullable=False),
        "qty": mapped_column(Integer, nullable=False, server_default=text("0")),
        "price": mapped_column(Numeric(10, 2)),
        "description": mapped_column(Text, comment="free text"),
    })
    _model(f"{d}_event", {
        "__table_args__": {"comment": f"what happened in {d}"},
        "id": mapped_column(BigInteger, primary_key=True),
        "item_id": mapped_column(BigInteger, ForeignKey(f"{d}_item.id", ondelete="CASCADE"),
                                 nullable=False, index=True),
        "status": mapped_column(status),
        "kind": mapped_column(String(30), nullable=False, server_default="info"),
        "happened_at": mapped_column(DateTime(timezone=True), nullable=False,
                                     server_default=text("CURRENT_TIMESTAMP"), index=True),
        "payload": mapped_column(Text),
    })
    link: dict[str, Any] = {
        "item_id": mapped_column(BigInteger, primary_key=True),
        "other_id": mapped_column(BigInteger, primary_key=True),
        "weight": mapped_column(Float),
        "note": mapped_column(String(200)),
    }
    fks: list[Any] = [ForeignKeyConstraint(["item_id"], [f"{d}_item.id"], ondelete="CASCADE")]
    fks.append(ForeignKeyConstraint(["other_id"], [f"{previous or d}_item.id"],
                                    ondelete="CASCADE"))
    link["__table_args__"] = (*fks, CheckConstraint("item_id <> other_id", name="not_self"))
    _model(f"{d}_link", link)
    _model(f"{d}_setting", {
        "__table_args__": (CheckConstraint("priority BETWEEN 0 AND 9", name="priority_range"),),
        "key": mapped_column(String(40), primary_key=True),
        "value": mapped_column(Text),
        "priority": mapped_column(SmallInteger, nullable=False, server_default=text("1")),
        "valid_from": mapped_column(Date),
        "account_id": mapped_column(Integer, ForeignKey(f"{d}_account.id", onupdate="CASCADE")),
    })


for _i, _d in enumerate(DOMAINS):
    _domain(_d, DOMAINS[_i - 1] if _i else None)

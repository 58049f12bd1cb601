"""A shop without a naming convention: every constraint name comes from schemaflow's rules.

Many column types, Python and string enums, literal and SQL server defaults, composite keys,
checks, comments, and a pair of tables that reference each other (use_alter).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class OrderStatus(enum.Enum):
    new = "new"
    paid = "paid"
    shipped = "shipped"
    cancelled = "cancelled"


class Country(Base):
    __tablename__ = "countries"
    __table_args__ = ({"comment": "ISO 3166 countries"},)

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (CheckConstraint("credit_limit >= 0", name="ck_customers_credit"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    full_name: Mapped[str] = mapped_column(String(120), comment="as printed on invoices")
    country_code: Mapped[str] = mapped_column(ForeignKey("countries.code"))
    credit_limit: Mapped[decimal.Decimal] = mapped_column(Numeric(12, 2), server_default="0")
    vip: Mapped[bool] = mapped_column(server_default=false())
    born_on: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True),
                                                    server_default=func.now())


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(Enum("billing", "shipping", name="address_kind"),
                                      server_default="shipping")
    line1: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    country_code: Mapped[str] = mapped_column(ForeignKey("countries.code"))


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    name: Mapped[str] = mapped_column(String(80))
    # Which product is shown for the category: categories and products refer to each other.
    featured_product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", use_alter=True, name="fk_categories_featured"))

    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_categories_parent_name"),)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="ck_products_price"),
        Index("ix_products_category_price", "category_id", "price"),
        {"comment": "things we sell"},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(200))
    price: Mapped[decimal.Decimal] = mapped_column(Numeric(10, 2))
    weight_kg: Mapped[float | None] = mapped_column(Float)
    stock: Mapped[int] = mapped_column(server_default=text("0"))
    attributes: Mapped[Any | None] = mapped_column(JSON)
    photo: Mapped[bytes | None] = mapped_column(LargeBinary)
    public_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)


class Warehouse(Base):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    opens_at: Mapped[dt.time | None] = mapped_column(Time)


class Stock(Base):
    __tablename__ = "stock"

    warehouse_id: Mapped[int] = mapped_column(
        SmallInteger, ForeignKey("warehouses.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    quantity: Mapped[int] = mapped_column(server_default=text("0"))


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customers.id"))
    status: Mapped[OrderStatus] = mapped_column(Enum(OrderStatus, name="order_status"),
                                                server_default="new")
    shipping_address_id: Mapped[int | None] = mapped_column(
        ForeignKey("addresses.id", ondelete="SET NULL"))
    placed_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    total: Mapped[decimal.Decimal] = mapped_column(Numeric(12, 2), server_default="0.00")

    __table_args__ = (Index("ix_orders_customer_placed", "customer_id", "placed_at"),)


class OrderLine(Base):
    __tablename__ = "order_lines"

    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    line_no: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(server_default=text("1"))
    unit_price: Mapped[decimal.Decimal] = mapped_column(Numeric(10, 2))

    __table_args__ = (
        ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        CheckConstraint("quantity > 0", name="ck_order_lines_quantity"),
    )


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("orders.id"), unique=True)
    amount: Mapped[decimal.Decimal] = mapped_column(Numeric(12, 2))
    method: Mapped[str] = mapped_column(String(20), server_default="card")
    paid_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("product_id", "customer_id"),
        CheckConstraint("stars BETWEEN 1 AND 5", name="ck_reviews_stars"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigInteger,
                                             ForeignKey("customers.id", ondelete="CASCADE"))
    stars: Mapped[int] = mapped_column(SmallInteger)
    body: Mapped[str | None] = mapped_column(Text)

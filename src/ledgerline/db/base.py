"""Declarative base: constraint naming convention and the columns most tables share."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, ForeignKey, ForeignKeyConstraint, Index, MetaData, Table, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from uuid6 import uuid7

NAMING_CONVENTION = {
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}


def new_id() -> UUID:
    """A time-ordered UUIDv7, as a standard `uuid.UUID`."""
    return UUID(bytes=uuid7().bytes)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}  # noqa: RUF012 - SQLAlchemy's API


class TimestampMixin:
    """created_at and updated_at, set by the database (the transaction's time).

    Mappers using it set `eager_defaults`: an UPDATE then returns the new updated_at
    (RETURNING) instead of expiring it, which async code could not lazy-load.
    """

    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __mapper_args__: Any = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy's API


def child_of(
    parent: str, column: str, *, ondelete: str = "CASCADE", indexed: bool = True
) -> tuple[ForeignKeyConstraint | Index, ...]:
    """`__table_args__` entries for a tenant row that belongs to a row of `parent`: the
    composite foreign key (tenant_id, column) -> parent (tenant_id, id), and an index
    on (tenant_id, column) when the child is looked up by its parent."""
    key = ForeignKeyConstraint(
        ["tenant_id", column], [f"{parent}.tenant_id", f"{parent}.id"], ondelete=ondelete
    )
    return (key, Index(None, "tenant_id", column)) if indexed else (key,)


class Versioned:
    """A row whose version is its ETag: every ORM update increments it, and an update of
    a row changed meanwhile fails (optimistic locking). Server-set columns come back
    with each write (eager defaults)."""

    version: Mapped[int] = mapped_column(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        table: Table = cls.__table__  # type: ignore[attr-defined]  # set by the declarative mapping
        return {"version_id_col": table.c.version, "eager_defaults": True}


class TenantScoped:
    """A tenant-owned row: `tenant_id` leads the primary key (docs/architecture.md).

    References to another tenant table are composite: `(tenant_id, other_id)`.
    """

    @declared_attr
    def tenant_id(cls) -> Mapped[UUID]:
        return mapped_column(
            ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True, sort_order=-20
        )

    @declared_attr
    def id(cls) -> Mapped[UUID]:
        return mapped_column(primary_key=True, default=new_id, sort_order=-10)

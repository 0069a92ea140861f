"""Declarative base with a constraint naming convention, so migrations are stable on both
databases."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __repr__(self) -> str:
        """Ids only: a repr may end up in a log or an error report; patient data must not."""
        keys = [str(c.key) for c in self.__mapper__.primary_key]
        ids = ", ".join(f"{k}={getattr(self, k)!r}" for k in keys)
        return f"<{type(self).__name__} {ids}>"

"""The dashboard's tables (a stub with only `Base` on the page branch; the lead's read model
replaces it)."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class Base(SQLModel, registry=registry()): ...

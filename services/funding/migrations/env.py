"""Alembic environment of the funding service (body shared: shared.migrations_env)."""

from services.funding.tables import Base
from shared import migrations_env

migrations_env.run(Base.metadata)

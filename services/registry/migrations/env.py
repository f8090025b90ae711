"""Alembic environment of the registry service (body shared: shared.migrations_env)."""

from services.registry.tables import Base
from shared import migrations_env

migrations_env.run(Base.metadata)

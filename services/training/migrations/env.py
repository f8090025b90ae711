"""Alembic environment of the training service (body shared: shared.migrations_env)."""

from services.training.tables import Base
from shared import migrations_env

migrations_env.run(Base.metadata)

"""Alembic environment of the certification service (body shared: shared.migrations_env)."""

from services.certification.tables import Base
from shared import migrations_env

migrations_env.run(Base.metadata)

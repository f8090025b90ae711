"""Alembic environment of the dashboard service (body shared: shared.migrations_env)."""

from services.dashboard import sessions  # noqa: F401  (its page_session table on Base)
from services.dashboard.tables import Base
from shared import migrations_env

migrations_env.run(Base.metadata)

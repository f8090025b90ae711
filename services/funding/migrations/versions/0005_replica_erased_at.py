"""known_person.erased_at: when the person was erased (PDPA subject access says so)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('known_person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('known_person', schema=None) as batch_op:
        batch_op.drop_column('erased_at')

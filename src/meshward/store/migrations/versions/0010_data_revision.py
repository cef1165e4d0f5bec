"""data revision: a counter per table, moved by every committed change to it (store/revision.py)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 11:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_revision",
        sa.Column("name", sa.String(length=100), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("data_revision")

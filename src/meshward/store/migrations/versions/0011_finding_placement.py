"""finding placement: the SBOM document, dependency kind and shortest path of each finding

The matcher fills them (services/matching.py, services/placement.py); rows stored before
stay NULL until a re-match touches them, and a blast radius places those itself.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("dependency", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("path", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_column("path")
        batch_op.drop_column("dependency")
        batch_op.drop_column("document_id")

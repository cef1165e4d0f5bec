"""risk

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 05:29:27.178438
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('epss_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cve', sa.String(length=40), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('percentile', sa.Double(), nullable=False),
    sa.Column('score_date', sa.Date(), nullable=True),
    sa.Column('model_version', sa.String(length=60), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cve')
    )
    op.create_table('kev_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cve', sa.String(length=40), nullable=False),
    sa.Column('vendor', sa.String(length=300), nullable=True),
    sa.Column('product', sa.String(length=300), nullable=True),
    sa.Column('name', sa.String(length=500), nullable=True),
    sa.Column('date_added', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('ransomware', sa.Boolean(), nullable=False),
    sa.Column('catalog_version', sa.String(length=40), nullable=False),
    sa.Column('released', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cve')
    )
    op.create_table('risk_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('scope_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=1000), nullable=False),
    sa.Column('version', sa.String(length=100), nullable=True),
    sa.Column('findings', sa.Integer(), nullable=False),
    sa.Column('critical', sa.Integer(), nullable=False),
    sa.Column('high', sa.Integer(), nullable=False),
    sa.Column('medium', sa.Integer(), nullable=False),
    sa.Column('low', sa.Integer(), nullable=False),
    sa.Column('vulnerabilities', sa.Integer(), nullable=False),
    sa.Column('services', sa.Integer(), nullable=False),
    sa.Column('fixable', sa.Integer(), nullable=False),
    sa.Column('kev', sa.Integer(), nullable=False),
    sa.Column('risk_score', sa.Double(), nullable=False),
    sa.Column('taken_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('day', 'scope', 'scope_id')
    )
    with op.batch_alter_table('risk_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_risk_snapshots_scope_day', ['scope', 'scope_id', 'day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('risk_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_snapshots_scope_day')

    op.drop_table('risk_snapshots')
    op.drop_table('kev_entries')
    op.drop_table('epss_scores')

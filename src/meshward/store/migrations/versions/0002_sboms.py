"""sboms

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 04:42:58.450504
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('packages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purl', sa.String(length=2000), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('ecosystem', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('version', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('purl')
    )
    with op.batch_alter_table('packages', schema=None) as batch_op:
        batch_op.create_index('ix_packages_ecosystem_name', ['ecosystem', 'name'], unique=False)

    op.create_table('sbom_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('component_version_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=False),
    sa.Column('spec_version', sa.String(length=20), nullable=False),
    sa.Column('encoding', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=True),
    sa.Column('name', sa.String(length=500), nullable=True),
    sa.Column('serial', sa.String(length=200), nullable=True),
    sa.Column('created', sa.String(length=40), nullable=True),
    sa.Column('tools', sa.JSON(), nullable=False),
    sa.Column('package_count', sa.Integer(), nullable=False),
    sa.Column('unmatchable_count', sa.Integer(), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['component_version_id'], ['component_versions.id'], ondelete='CASCADE'),
    sa.UniqueConstraint('component_version_id', 'digest'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sbom_documents', schema=None) as batch_op:
        batch_op.create_index('ix_sbom_documents_cv_current', ['component_version_id', 'current'], unique=False)
        batch_op.create_index(batch_op.f('ix_sbom_documents_digest'), ['digest'], unique=False)

    op.create_table('occurrences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('component_version_id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=True),
    sa.Column('ref', sa.String(length=1000), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('version', sa.String(length=200), nullable=True),
    sa.Column('purl', sa.String(length=2000), nullable=True),
    sa.Column('cpe', sa.String(length=1000), nullable=True),
    sa.Column('licenses', sa.JSON(), nullable=False),
    sa.Column('hashes', sa.JSON(), nullable=False),
    sa.Column('scope', sa.String(length=20), nullable=True),
    sa.Column('supplier', sa.String(length=500), nullable=True),
    sa.Column('type', sa.String(length=40), nullable=True),
    sa.Column('dependency', sa.String(length=12), nullable=False),
    sa.Column('parent_ref', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['component_version_id'], ['component_versions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['document_id'], ['sbom_documents.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['package_id'], ['packages.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('occurrences', schema=None) as batch_op:
        batch_op.create_index('ix_occurrences_cv_package', ['component_version_id', 'package_id'], unique=False)
        batch_op.create_index('ix_occurrences_document_ref', ['document_id', 'ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_occurrences_package_id'), ['package_id'], unique=False)

    op.create_table('sbom_dependencies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('from_ref', sa.String(length=1000), nullable=False),
    sa.Column('to_ref', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['sbom_documents.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sbom_dependencies', schema=None) as batch_op:
        batch_op.create_index('ix_sbom_dependencies_document_to', ['document_id', 'to_ref'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sbom_dependencies', schema=None) as batch_op:
        batch_op.drop_index('ix_sbom_dependencies_document_to')

    op.drop_table('sbom_dependencies')
    with op.batch_alter_table('occurrences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_occurrences_package_id'))
        batch_op.drop_index('ix_occurrences_document_ref')
        batch_op.drop_index('ix_occurrences_cv_package')

    op.drop_table('occurrences')
    with op.batch_alter_table('sbom_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sbom_documents_digest'))
        batch_op.drop_index('ix_sbom_documents_cv_current')

    op.drop_table('sbom_documents')
    with op.batch_alter_table('packages', schema=None) as batch_op:
        batch_op.drop_index('ix_packages_ecosystem_name')

    op.drop_table('packages')

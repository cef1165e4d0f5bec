"""advisories_findings_triage

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 05:19:01.506699
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('advisories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('osv_id', sa.String(length=200), nullable=False),
    sa.Column('vulnerability', sa.String(length=200), nullable=False),
    sa.Column('modified', sa.DateTime(), nullable=True),
    sa.Column('published', sa.DateTime(), nullable=True),
    sa.Column('withdrawn', sa.DateTime(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('severity_score', sa.Double(), nullable=True),
    sa.Column('severity', sa.String(length=20), nullable=True),
    sa.Column('severity_vector', sa.String(length=300), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=True),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('osv_id')
    )
    with op.batch_alter_table('advisories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advisories_vulnerability'), ['vulnerability'], unique=False)

    op.create_table('triage_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('scope_id', sa.Integer(), nullable=True),
    sa.Column('vulnerability', sa.String(length=200), nullable=False),
    sa.Column('package', sa.String(length=500), nullable=True),
    sa.Column('version_range', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('justification', sa.String(length=60), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('triage_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_triage_rules_vulnerability'), ['vulnerability'], unique=False)

    op.create_table('advisory_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=200), nullable=False),
    sa.Column('advisory_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['advisory_id'], ['advisories.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alias', 'advisory_id')
    )
    with op.batch_alter_table('advisory_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_advisory_aliases_advisory_id'), ['advisory_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advisory_aliases_alias'), ['alias'], unique=False)
        batch_op.create_index('ix_advisory_aliases_alias_upper', [sa.text('upper(alias)')], unique=False)

    op.create_table('affected_packages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('advisory_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('ecosystem', sa.String(length=60), nullable=False),
    sa.Column('ecosystem_release', sa.String(length=60), nullable=True),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['advisory_id'], ['advisories.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('affected_packages', schema=None) as batch_op:
        batch_op.create_index('ix_affected_ecosystem_name', ['ecosystem', 'name'], unique=False)
        batch_op.create_index(batch_op.f('ix_affected_packages_advisory_id'), ['advisory_id'], unique=False)

    op.create_table('sla_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=True),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domains.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('domain_id', 'severity')
    )
    op.create_table('findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('component_version_id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('vulnerability', sa.String(length=200), nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=True),
    sa.Column('severity_score', sa.Double(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('fixed_version', sa.String(length=200), nullable=True),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('justification', sa.String(length=60), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('analysed_by', sa.String(length=200), nullable=True),
    sa.Column('analysed_at', sa.DateTime(), nullable=True),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['component_version_id'], ['component_versions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['package_id'], ['packages.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['triage_rules.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('component_version_id', 'package_id', 'vulnerability')
    )
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_findings_rule_id'), ['rule_id'], unique=False)
        batch_op.create_index('ix_findings_vulnerability', ['vulnerability', 'active'], unique=False)

    op.create_table('finding_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=True),
    sa.Column('justification', sa.String(length=60), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('finding_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_finding_events_finding_id'), ['finding_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('finding_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_events_finding_id'))
        batch_op.drop_index(batch_op.f('ix_finding_events_at'))

    op.drop_table('finding_events')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index('ix_findings_vulnerability')
        batch_op.drop_index(batch_op.f('ix_findings_rule_id'))

    op.drop_table('findings')
    op.drop_table('sla_policies')
    with op.batch_alter_table('affected_packages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_affected_packages_advisory_id'))
        batch_op.drop_index('ix_affected_ecosystem_name')

    op.drop_table('affected_packages')
    with op.batch_alter_table('advisory_aliases', schema=None) as batch_op:
        batch_op.drop_index('ix_advisory_aliases_alias_upper')
        batch_op.drop_index(batch_op.f('ix_advisory_aliases_alias'))
        batch_op.drop_index(batch_op.f('ix_advisory_aliases_advisory_id'))

    op.drop_table('advisory_aliases')
    with op.batch_alter_table('triage_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_triage_rules_vulnerability'))

    op.drop_table('triage_rules')
    with op.batch_alter_table('advisories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advisories_vulnerability'))

    op.drop_table('advisories')

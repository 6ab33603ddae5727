"""oauth clients and signing keys, PSC role grants and rules

Revision ID: 0006_psc_oauth
Revises: 0001_core
Create Date: 2026-12-03 06:30:18.829505
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006_psc_oauth'
down_revision: str | Sequence[str] | None = '0001_core'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('oauth_signing_keys',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('private_jwk', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_oauth_signing_keys'))
    )
    with op.batch_alter_table('oauth_signing_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_signing_keys_created_at'), ['created_at'], unique=False)

    op.create_table('oauth_used_assertions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=80), nullable=False),
    sa.Column('jti', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_used_assertions')),
    sa.UniqueConstraint('client_id', 'jti', name='uq_oauth_assertion_jti')
    )
    with op.batch_alter_table('oauth_used_assertions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_used_assertions_expires_at'), ['expires_at'], unique=False)

    op.create_table('psc_role_grants',
    sa.Column('national_id', sa.String(length=20), nullable=False),
    sa.Column('roles', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('national_id', name=op.f('pk_psc_role_grants'))
    )
    op.create_table('psc_role_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profession_code', sa.String(length=10), nullable=True),
    sa.Column('finess', sa.String(length=9), nullable=True),
    sa.Column('roles', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_psc_role_rules'))
    )
    op.create_table('oauth_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=80), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=False),
    sa.Column('jwks', sa.JSON(), nullable=True),
    sa.Column('jwks_url', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_oauth_clients_api_key_id_api_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_clients')),
    sa.UniqueConstraint('client_id', name=op.f('uq_oauth_clients_client_id'))
    )
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_clients_api_key_id'), ['api_key_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_clients_api_key_id'))

    op.drop_table('oauth_clients')
    op.drop_table('psc_role_rules')
    op.drop_table('psc_role_grants')
    with op.batch_alter_table('oauth_used_assertions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_used_assertions_expires_at'))

    op.drop_table('oauth_used_assertions')
    with op.batch_alter_table('oauth_signing_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_signing_keys_created_at'))

    op.drop_table('oauth_signing_keys')

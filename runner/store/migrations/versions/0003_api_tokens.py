"""API tokens (only their SHA-256 hashes).

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False, index=True),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("revoked_at", _TS),
        sa.Column("revoked_by", sa.String(256)),
        sa.Column("last_used_at", _TS),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")

"""Controller replicas: session ownership leases with fencing tokens, and the replica list.

Revision ID: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "session_leases",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(256), nullable=False, index=True),
        # Grows on every change of owner: a write carrying an older token is refused.
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("expires_at", _TS, nullable=False, index=True),
    )
    op.create_table(
        "replicas",
        sa.Column("id", sa.String(256), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("seen_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("replicas")
    op.drop_table("session_leases")

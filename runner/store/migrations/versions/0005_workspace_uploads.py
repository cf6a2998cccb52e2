"""Workspace sources: uploaded archives, and each session's source.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0007"  # main's head when this was written
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workspace_uploads",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=False, index=True),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("declared_bytes", sa.BigInteger, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False, index=True),
    )
    # Where the session's workspace came from: {"path"|"archive"|"git"|"session": …}.
    op.add_column("sessions", sa.Column("workspace", sa.JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("sessions", "workspace")
    op.drop_table("workspace_uploads")

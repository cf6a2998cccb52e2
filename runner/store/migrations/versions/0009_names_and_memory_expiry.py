"""A session's optional name, and memory entries that expire (Aegis-shaped routes).

Revision ID: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sessions") as table:
        table.add_column(sa.Column("name", sa.String(200), nullable=True))
    with op.batch_alter_table("memory_entries") as table:
        # Null for entries written before this revision (their first write is unknown).
        table.add_column(sa.Column("created_at", _TS, nullable=True))
        table.add_column(sa.Column("expires_at", _TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memory_entries") as table:
        table.drop_column("expires_at")
        table.drop_column("created_at")
    with op.batch_alter_table("sessions") as table:
        table.drop_column("name")

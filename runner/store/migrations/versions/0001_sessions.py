"""Sessions, their state history and artifacts.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=False, index=True),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("state", sa.String(32), nullable=False, index=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("work_dir", sa.Text, nullable=False),
        sa.Column("workspace_mode", sa.String(8), nullable=False),
        sa.Column("policy", sa.String(256), nullable=False),
        sa.Column("image", sa.String(512), nullable=False),
        sa.Column("model", sa.String(128)),
        sa.Column("permission_mode", sa.String(32), nullable=False),
        sa.Column("prompt", sa.Text),
        sa.Column("env", sa.JSON, nullable=False),
        sa.Column("container_id", sa.String(128)),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("ended_at", _TS),
        sa.Column("error", sa.Text),
        sa.Column("usage", sa.JSON, nullable=False),
    )
    op.create_table(
        "session_states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("at", _TS, nullable=False),
    )  # fmt: skip
    op.create_index("ix_session_states_session", "session_states", ["session_id", "id"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            nullable=False, index=True,
        ),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("artifacts")
    op.drop_index("ix_session_states_session", "session_states")
    op.drop_table("session_states")
    op.drop_table("sessions")

"""The audit ledger's tables; on PostgreSQL also its append-only triggers, append
function and the ``warden_app`` role's grants (see ``audit.stores.pg_schema``). Also
``sessions.unattended``: sessions no person watches (CI), whose prompts the policy's
CI fallback answers.

On SQLite the ledger creates its tables itself when it opens (no roles or triggers
exist there; the embedded store relies on verification against signed checkpoints).

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from audit.stores.pg_schema import install_schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: The role the controller should connect as in production: SELECT on the ledger and
#: EXECUTE on its append function only.
APP_ROLE = "warden_app"


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(
            sa.Column("unattended", sa.Boolean, nullable=False, server_default=sa.false())
        )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # A constant role name, not input: no injection surface.
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warden_app') "
        "THEN CREATE ROLE warden_app NOLOGIN; END IF; END $$"
    )
    install_schema(bind.connection.dbapi_connection, schema="public", app_role=APP_ROLE)


def downgrade() -> None:
    # The ledger is append-only by design: a downgrade never drops it.
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("unattended")

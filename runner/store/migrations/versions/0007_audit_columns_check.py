"""The ledger's columns CHECK on PostgreSQL: each event's ts, actor, tenant, session, type
and id columns must say what its canonical bytes say (``audit.stores.pg_schema``).

Installing the ledger schema again is idempotent and adds only what is missing. Rows
edited before this upgrade cannot be corrected in an append-only table: the CHECK then
stays NOT VALID (it still binds every new or updated row) and ``warden audit verify --db``
names the first edited row.

Revision ID: 0007
"""

from __future__ import annotations

from alembic import op

from audit.stores.pg_schema import install_schema

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

APP_ROLE = "warden_app"  # created by revision 0002


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite: the ledger installs its own tables; verification is the control
    install_schema(bind.connection.dbapi_connection, schema="public", app_role=APP_ROLE)


def downgrade() -> None:
    # The ledger is append-only by design, and its checks stay with it.
    pass

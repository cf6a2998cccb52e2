"""Persistence: SQLAlchemy tables, the repositories behind the domain's stores, migrations."""

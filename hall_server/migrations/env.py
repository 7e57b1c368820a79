"""Alembic environment: runs on the connection `hall_server.db.migrate` passes in.

On PostgreSQL an advisory lock serialises concurrent upgrades, so several server processes may start
at the same time without racing to create the same tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, text

from hall_server.models import Base

MIGRATION_LOCK_KEY = 7_342_001  # any constant shared by all hall server processes

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run them against a database")
run_migrations_online()

"""Initial schema: halls, windows, devices, tickets, visits, ratings, commands, bus tracking, audit.

Generated from hall_server.models with alembic autogenerate, then reviewed; the server_sessions row
is seeded so the liveness counter is a plain UPDATE.

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_hall_action", ["hall_id", "action"], unique=False)

    op.create_table(
        "bus_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_table(
        "commands",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cmd_id", sa.String(length=64), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("edge_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("result_at", sa.BigInteger(), nullable=True),
        sa.Column("publish_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cmd_id"),
    )
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.create_index("ix_command_pending", ["status", "deadline"], unique=False)

    op.create_table(
        "edges",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("session", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("boot_id", sa.String(length=64), nullable=True),
        sa.Column("inventory", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("offline_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("hall_id", "id"),
    )
    op.create_table(
        "halls",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "matters",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=4), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    sessions = op.create_table(
        "server_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(sessions, [{"id": 1, "counter": 0}])
    op.create_table(
        "stream_marks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("highest", sa.BigInteger(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hall_id", "edge_id", "stream", name="uq_stream_mark"),
    )
    op.create_table(
        "ticket_counters",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("prefix", sa.String(length=4), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
        ),
        sa.PrimaryKeyConstraint("hall_id", "day", "prefix"),
    )
    op.create_table(
        "windows",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("clerk_staff_id", sa.String(length=32), nullable=True),
        sa.Column("clerk_name", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("current_ticket_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
        ),
        sa.PrimaryKeyConstraint("hall_id", "id"),
    )
    op.create_table(
        "devices",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=True),
        sa.Column("window_id", sa.String(length=64), nullable=True),
        sa.Column("availability", sa.String(length=16), nullable=False),
        sa.Column("availability_reason", sa.String(length=64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("in_topology", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hall_id", "window_id"],
            ["windows.hall_id", "windows.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
        ),
        sa.PrimaryKeyConstraint("hall_id", "id"),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("prefix", sa.String(length=4), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("window_id", sa.String(length=64), nullable=True),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("called_at", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("recalls", sa.Integer(), nullable=False),
        sa.Column("printer_id", sa.String(length=64), nullable=True),
        sa.Column("print_status", sa.String(length=16), nullable=False),
        sa.Column("print_cmd_id", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["hall_id", "window_id"],
            ["windows.hall_id", "windows.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
        ),
        sa.ForeignKeyConstraint(
            ["matter_code"],
            ["matters.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hall_id", "day", "number", name="uq_ticket_number"),
        sa.UniqueConstraint("hall_id", "request_id", name="uq_ticket_request"),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_queue", ["hall_id", "state", "issued_at"], unique=False)
        batch_op.create_index(
            "uq_window_one_active_ticket",
            ["hall_id", "window_id"],
            unique=True,
            sqlite_where=sa.text("state IN ('called', 'serving')"),
            postgresql_where=sa.text("state IN ('called', 'serving')"),
        )

    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
    )
    op.create_table(
        "rating_requests",
        sa.Column("rating_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.String(length=64), nullable=False),
        sa.Column("clerk_staff_id", sa.String(length=32), nullable=True),
        sa.Column("clerk_name", sa.String(length=32), nullable=True),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("evaluator_id", sa.String(length=64), nullable=True),
        sa.Column("cmd_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hall_id"],
            ["halls.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("rating_id"),
        sa.UniqueConstraint("visit_id"),
    )
    op.create_table(
        "visit_periods",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("window_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("visit_periods", schema=None) as batch_op:
        batch_op.create_index("ix_period_visit", ["visit_id"], unique=False)
        batch_op.create_index("ix_period_window", ["hall_id", "window_id"], unique=False)

    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.String(length=64), nullable=False),
        sa.Column("clerk_staff_id", sa.String(length=32), nullable=True),
        sa.Column("clerk_name", sa.String(length=32), nullable=True),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["rating_requests.rating_id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rating_id"),
    )


def downgrade() -> None:
    op.drop_table("ratings")
    with op.batch_alter_table("visit_periods", schema=None) as batch_op:
        batch_op.drop_index("ix_period_window")
        batch_op.drop_index("ix_period_visit")

    op.drop_table("visit_periods")
    op.drop_table("rating_requests")
    op.drop_table("visits")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_window_one_active_ticket",
            sqlite_where=sa.text("state IN ('called', 'serving')"),
            postgresql_where=sa.text("state IN ('called', 'serving')"),
        )
        batch_op.drop_index("ix_ticket_queue")

    op.drop_table("tickets")
    op.drop_table("devices")
    op.drop_table("windows")
    op.drop_table("ticket_counters")
    op.drop_table("stream_marks")
    op.drop_table("server_sessions")
    op.drop_table("matters")
    op.drop_table("halls")
    op.drop_table("edges")
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_index("ix_command_pending")

    op.drop_table("commands")
    op.drop_table("bus_events")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_hall_action")

    op.drop_table("audit_log")

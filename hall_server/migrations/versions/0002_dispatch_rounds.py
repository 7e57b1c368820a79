"""Dispatch rounds, priority classes, holds, transfers, bookings, hall locations.

Tickets get their queue key (category, priority, queue_rank, queue_at), a personal-queue target and a
hold deadline; existing tickets are back-filled as `normal` tickets queued at their issue time in
their matter's category. Halls get a location, a staff roster and the dispatch-round counters;
windows get `ready_at` and a pause reason. Bookings are a new table.

Revision ID: 0002_dispatch_rounds
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_dispatch_rounds"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("halls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("district", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("staff", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("round_seq", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_round_at", sa.BigInteger(), nullable=False, server_default="0"))

    with op.batch_alter_table("windows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ready_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("pause_reason", sa.String(length=64), nullable=True))

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("priority", sa.String(length=16), nullable=False, server_default="normal"))
        batch_op.add_column(sa.Column("queue_rank", sa.Integer(), nullable=False, server_default="3"))
        batch_op.add_column(sa.Column("queue_at", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("target_window_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("held_until", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("booking_code", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_ticket_order", ["hall_id", "state", "queue_rank", "queue_at"], unique=False)

    op.execute(
        "UPDATE tickets SET queue_at = issued_at, "
        "category = COALESCE((SELECT matters.category FROM matters WHERE matters.code = tickets.matter_code), '')"
    )

    op.create_table(
        "bookings",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("slot_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["hall_id"], ["halls.id"]),
        sa.ForeignKeyConstraint(["matter_code"], ["matters.code"]),
        sa.PrimaryKeyConstraint("hall_id", "code"),
    )


def downgrade() -> None:
    op.drop_table("bookings")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_order")
        for column in ("booking_code", "held_until", "target_window_id", "queue_at", "queue_rank", "priority"):
            batch_op.drop_column(column)
        batch_op.drop_column("category")
    with op.batch_alter_table("windows", schema=None) as batch_op:
        batch_op.drop_column("pause_reason")
        batch_op.drop_column("ready_at")
    with op.batch_alter_table("halls", schema=None) as batch_op:
        for column in ("last_round_at", "round_seq", "staff", "district", "lon", "lat"):
            batch_op.drop_column(column)

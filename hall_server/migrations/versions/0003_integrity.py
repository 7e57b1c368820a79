"""Integrity: the audit hash chain, cases (办件), certificates and blanks, seal jobs and stamps, alarms,
rectification items; matters get an optional department and seal.

Existing audit entries are chained in id order, so `hallctl audit-verify` holds from this revision on.
The canonical serialisation is copied from hall_server/auditchain.py (a migration must not change when
the module does); the two are checked against each other by a test.

Revision ID: 0003_integrity
Revises: 0002_dispatch_rounds
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003_integrity"
down_revision = "0002_dispatch_rounds"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _canonical(row: dict[str, Any]) -> bytes:
    details = row["details"]
    if isinstance(details, str):
        details = json.loads(details)
    doc = {
        "id": row["id"],
        "seq": row["seq"],
        "at": row["at"],
        "hall": row["hall_id"],
        "actor": row["actor"],
        "action": row["action"],
        "subject": row["subject"],
        "details": json.loads(json.dumps(details or {}, ensure_ascii=False, default=str)),
        "prev_hash": row["prev_hash"],
    }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_audit_seq", ["seq"])
    with op.batch_alter_table("matters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("seal_id", sa.String(length=32), nullable=True))

    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "integrity_kv",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "case_counters",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["hall_id"], ["halls.id"]),
        sa.PrimaryKeyConstraint("hall_id", "day"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("seal_id", sa.String(length=32), nullable=False),
        sa.Column("applicant_hash", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("media", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("intake_by", sa.String(length=64), nullable=False),
        sa.Column("intake_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.Column("decision_note", sa.String(length=256), nullable=False),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("released_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["hall_id"], ["halls.id"]),
        sa.ForeignKeyConstraint(["matter_code"], ["matters.code"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("hall_id", "day", "seq", name="uq_case_seq"),
    )
    op.create_index("ix_case_hall_state", "cases", ["hall_id", "state"])
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("fetch_token", sa.String(length=64), nullable=False),
        sa.Column("media", sa.String(length=32), nullable=False),
        sa.Column("printer_id", sa.String(length=64), nullable=True),
        sa.Column("blank_serial", sa.String(length=32), nullable=True),
        sa.Column("cmd_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("printed_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "blank_stock",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("media", sa.String(length=32), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hall_id", "media"),
    )
    op.create_table(
        "blank_uses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("media", sa.String(length=32), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=False),
        sa.Column("printer_id", sa.String(length=64), nullable=True),
        sa.Column("tray", sa.String(length=32), nullable=True),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificates.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("serial"),
    )
    op.create_table(
        "seal_keys",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("key_hex", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hall_id", "device_id"),
    )
    op.create_table(
        "seal_machines",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("last_nonce", sa.BigInteger(), nullable=False),
        sa.Column("last_source_seq", sa.BigInteger(), nullable=False),
        sa.Column("counters", sa.JSON(), nullable=False),
        sa.Column("counters_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("hall_id", "device_id"),
    )
    op.create_table(
        "seal_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=True),
        sa.Column("seal_id", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("seal_rfid", sa.String(length=16), nullable=False),
        sa.Column("max_count", sa.Integer(), nullable=False),
        sa.Column("not_after", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("doc_hash", sa.String(length=16), nullable=False),
        sa.Column("mac", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("authorize_cmd_id", sa.String(length=64), nullable=True),
        sa.Column("stamp_cmd_id", sa.String(length=64), nullable=True),
        sa.Column("counters_cmd_id", sa.String(length=64), nullable=True),
        sa.Column("reconciled", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificates.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
        sa.UniqueConstraint("hall_id", "device_id", "nonce", name="uq_seal_nonce"),
    )
    op.create_table(
        "stamps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("stamp_idx", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("seal_rfid", sa.String(length=16), nullable=True),
        sa.Column("lifetime_count_after", sa.BigInteger(), nullable=True),
        sa.Column("photo_before", sa.BigInteger(), nullable=True),
        sa.Column("photo_after", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("source_seq", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "stamp_idx", name="uq_stamp"),
    )
    op.create_table(
        "seal_photos",
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("photo_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hall_id", "device_id", "photo_id"),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("raised_at", sa.BigInteger(), nullable=False),
        sa.Column("cleared_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alarm_hall", "alarms", ["hall_id", "cleared_at"])
    op.create_table(
        "rectifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.String(length=64), nullable=False),
        sa.Column("window_id", sa.String(length=64), nullable=False),
        sa.Column("clerk_staff_id", sa.String(length=32), nullable=True),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.BigInteger(), nullable=False),
        sa.Column("due_day", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("callbacks", sa.JSON(), nullable=False),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("close_note", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(["rating_id"], ["rating_requests.rating_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rating_id"),
    )
    op.create_index("ix_rectification_hall", "rectifications", ["hall_id", "state"])

    # chain the entries written before this revision, in id order
    conn = op.get_bind()
    prev, seq = GENESIS, 0
    rows = conn.execute(sa.text("SELECT id, at, hall_id, actor, action, subject, details FROM audit_log ORDER BY id"))
    updates = []
    for row in rows.mappings():
        seq += 1
        record = {**row, "seq": seq, "prev_hash": prev}
        digest = hashlib.sha256(_canonical(record)).hexdigest()
        updates.append({"id": row["id"], "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    for chunk in range(0, len(updates), 1000):
        conn.execute(
            sa.text("UPDATE audit_log SET seq = :seq, prev_hash = :prev_hash, hash = :hash WHERE id = :id"),
            updates[chunk : chunk + 1000],
        )
    op.bulk_insert(head, [{"id": 1, "seq": seq, "hash": prev, "updated_at": 0}])
    # the per-database salt of applicant references (cases store no ID number in clear)
    kv = sa.table("integrity_kv", sa.column("name", sa.String), sa.column("value", sa.String))
    op.bulk_insert(kv, [{"name": "applicant_salt", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_index("ix_rectification_hall", table_name="rectifications")
    op.drop_table("rectifications")
    op.drop_index("ix_alarm_hall", table_name="alarms")
    for table in ("alarms", "seal_photos", "stamps", "seal_jobs", "seal_machines", "seal_keys", "blank_uses",
                  "blank_stock", "certificates"):  # fmt: skip
        op.drop_table(table)
    op.drop_index("ix_case_hall_state", table_name="cases")
    for table in ("cases", "case_counters", "integrity_kv", "audit_head"):
        op.drop_table(table)
    with op.batch_alter_table("matters", schema=None) as batch_op:
        batch_op.drop_column("seal_id")
        batch_op.drop_column("department")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_seq", type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")

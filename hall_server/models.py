"""SQLAlchemy 2 tables of the hall server: the single source of truth (architecture.md).

Times are UTC milliseconds (BigInteger), as on the bus, so SQLite and PostgreSQL compare them alike.
Uniqueness that protects an invariant is declared here as a constraint, so a bug elsewhere fails
loudly instead of issuing a number twice or calling a ticket to two windows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = String(64)
ACTIVE_TICKET_STATES = ("called", "serving")
_ACTIVE_SQL = "state IN ('called', 'serving')"


class Base(DeclarativeBase):
    """Declarative base; JSON columns name their type explicitly so both backends agree."""


class Hall(Base):
    __tablename__ = "halls"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)
    # where the hall is, for recommending a nearby hall with a shorter wait (all optional)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    district: Mapped[str | None] = mapped_column(String(64))
    # the clerks who may log in at this hall's windows; a caller keypad logs in staff[arg]
    staff: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # dispatch rounds (dispatch.md): serialised per hall by the lock on this row
    round_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_round_at: Mapped[int] = mapped_column(BigInteger, default=0)


class Matter(Base):
    __tablename__ = "matters"

    code: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(4))
    # 一章审批: the department deciding this matter and the seal applied (default: seal catalogue)
    department: Mapped[str | None] = mapped_column(String(64))
    seal_id: Mapped[str | None] = mapped_column(String(32))


class Window(Base):
    """A service counter. `current_ticket_id` mirrors the one called/serving ticket for fast reads."""

    __tablename__ = "windows"

    hall_id: Mapped[str] = mapped_column(ID, ForeignKey("halls.id"), primary_key=True)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    number: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128), default="")
    categories: Mapped[list[str]] = mapped_column(JSON)
    clerk_staff_id: Mapped[str | None] = mapped_column(String(32))
    clerk_name: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="offline")
    current_ticket_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[int] = mapped_column(BigInteger, default=0)
    ready_at: Mapped[int | None] = mapped_column(BigInteger)
    pause_reason: Mapped[str | None] = mapped_column(String(64))


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (ForeignKeyConstraint(["hall_id", "window_id"], ["windows.hall_id", "windows.id"]),)

    hall_id: Mapped[str] = mapped_column(ID, ForeignKey("halls.id"), primary_key=True)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    edge_id: Mapped[str | None] = mapped_column(ID)
    window_id: Mapped[str | None] = mapped_column(ID)
    availability: Mapped[str] = mapped_column(String(16), default="unknown")
    availability_reason: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    in_topology: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[int] = mapped_column(BigInteger, default=0)


class TicketCounter(Base):
    """Last number issued per (hall, local day, prefix); bumped with one atomic upsert."""

    __tablename__ = "ticket_counters"

    hall_id: Mapped[str] = mapped_column(ID, ForeignKey("halls.id"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("hall_id", "day", "number", name="uq_ticket_number"),
        UniqueConstraint("hall_id", "request_id", name="uq_ticket_request"),
        ForeignKeyConstraint(["hall_id", "window_id"], ["windows.hall_id", "windows.id"]),
        Index(
            "uq_window_one_active_ticket",
            "hall_id",
            "window_id",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        Index("ix_ticket_queue", "hall_id", "state", "issued_at"),
        Index("ix_ticket_order", "hall_id", "state", "queue_rank", "queue_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(ID, ForeignKey("halls.id"))
    day: Mapped[str] = mapped_column(String(10))
    prefix: Mapped[str] = mapped_column(String(4))
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(16))
    matter_code: Mapped[str] = mapped_column(ID, ForeignKey("matters.code"))
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    window_id: Mapped[str | None] = mapped_column(ID)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    called_at: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)
    recalls: Mapped[int] = mapped_column(Integer, default=0)
    printer_id: Mapped[str | None] = mapped_column(ID)
    print_status: Mapped[str] = mapped_column(String(16), default="none")
    print_cmd_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    # queueing (dispatch.md): the category the ticket now queues in (a transfer may change it), its
    # priority class, and the sort key of the queue: (queue_rank, queue_at, id), smallest first
    category: Mapped[str] = mapped_column(String(64), default="")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    queue_rank: Mapped[int] = mapped_column(Integer, default=3)
    queue_at: Mapped[int] = mapped_column(BigInteger, default=0)
    target_window_id: Mapped[str | None] = mapped_column(ID)  # a window's personal queue (transfer)
    held_until: Mapped[int | None] = mapped_column(BigInteger)
    booking_code: Mapped[str | None] = mapped_column(String(64))


class Booking(Base):
    """An online appointment; checking in near its slot issues a ticket in the `booked` class."""

    __tablename__ = "bookings"

    hall_id: Mapped[str] = mapped_column(ID, ForeignKey("halls.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    matter_code: Mapped[str] = mapped_column(ID, ForeignKey("matters.code"))
    slot_at: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    ticket_id: Mapped[int | None] = mapped_column(Integer)


class Visit(Base):
    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    hall_id: Mapped[str] = mapped_column(ID, ForeignKey("halls.id"))
    opened_at: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(String(16))


class VisitPeriod(Base):
    """One stretch of a visit in one state; the stats detect double calls from these rows."""

    __tablename__ = "visit_periods"
    __table_args__ = (
        Index("ix_period_visit", "visit_id"),
        Index("ix_period_window", "hall_id", "window_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    hall_id: Mapped[str] = mapped_column(ID)
    state: Mapped[str] = mapped_column(String(16))
    window_id: Mapped[str | None] = mapped_column(ID)
    started_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger)


class RatingRequest(Base):
    """一次一评: one request per visit; `rating_id` is issued here and nowhere else."""

    __tablename__ = "rating_requests"

    rating_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), unique=True)
    hall_id: Mapped[str] = mapped_column(ID, ForeignKey("halls.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    window_id: Mapped[str] = mapped_column(ID)
    clerk_staff_id: Mapped[str | None] = mapped_column(String(32))
    clerk_name: Mapped[str | None] = mapped_column(String(32))
    matter_code: Mapped[str] = mapped_column(ID)
    evaluator_id: Mapped[str | None] = mapped_column(ID)
    cmd_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[int | None] = mapped_column(BigInteger)


class Rating(Base):
    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("rating_requests.rating_id"), unique=True)
    hall_id: Mapped[str] = mapped_column(ID)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    window_id: Mapped[str] = mapped_column(ID)
    clerk_staff_id: Mapped[str | None] = mapped_column(String(32))
    clerk_name: Mapped[str | None] = mapped_column(String(32))
    matter_code: Mapped[str] = mapped_column(ID)
    level: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[int]] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text, default="")
    event_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[int] = mapped_column(BigInteger)


class CommandRecord(Base):
    """A command to a device or an edge, stored (and committed) before it is published."""

    __tablename__ = "commands"
    __table_args__ = (Index("ix_command_pending", "status", "deadline"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cmd_id: Mapped[str] = mapped_column(String(64), unique=True)
    hall_id: Mapped[str] = mapped_column(ID)
    device_id: Mapped[str | None] = mapped_column(ID)
    edge_id: Mapped[str | None] = mapped_column(ID)
    name: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    deadline: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result_at: Mapped[int | None] = mapped_column(BigInteger)
    publish_count: Mapped[int] = mapped_column(Integer, default=0)


class BusEvent(Base):
    """Every event applied, keyed by `event_id` so a replay is a no-op (bus.md §7.1)."""

    __tablename__ = "bus_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    hall_id: Mapped[str] = mapped_column(ID)
    edge_id: Mapped[str] = mapped_column(ID)
    stream: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(ID)
    type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[int] = mapped_column(BigInteger)


class StreamMark(Base):
    """Highest `seq` seen per (hall, edge, stream) and the numbers still missing below it."""

    __tablename__ = "stream_marks"
    __table_args__ = (UniqueConstraint("hall_id", "edge_id", "stream", name="uq_stream_mark"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(ID)
    edge_id: Mapped[str] = mapped_column(ID)
    stream: Mapped[str] = mapped_column(String(64))
    highest: Mapped[int] = mapped_column(BigInteger)
    missing: Mapped[list[int]] = mapped_column(JSON, default=list)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class Edge(Base):
    __tablename__ = "edges"

    hall_id: Mapped[str] = mapped_column(ID, primary_key=True)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    session: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    boot_id: Mapped[str | None] = mapped_column(String(64))
    inventory: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[int] = mapped_column(BigInteger, default=0)
    offline_at: Mapped[int | None] = mapped_column(BigInteger)


class ServerSession(Base):
    """The server's liveness session counter (bus.md §4.2), one row, bumped per connect."""

    __tablename__ = "server_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_hall_action", "hall_id", "action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger)
    hall_id: Mapped[str | None] = mapped_column(ID)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the hash chain (hall_server/auditchain.py): position, link to the previous entry, own hash
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


# --- integrity: audit chain, cases, certificates, seal jobs, alarms, rectification (migration 0003) ----------


class AuditHead(Base):
    """The head of the audit hash chain: one row, locked FOR UPDATE while an entry is appended."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[int] = mapped_column(BigInteger, default=0)


class KeyValue(Base):
    """Small server-held values that are no configuration (e.g. the salt of applicant references)."""

    __tablename__ = "integrity_kv"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class CaseCounter(Base):
    """Last case sequence per (hall, local day); bumped with one atomic upsert."""

    __tablename__ = "case_counters"

    hall_id: Mapped[str] = mapped_column(ID, ForeignKey("halls.id"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Case(Base):
    """办件: opened at intake, decided by the owning department, released by the hall's seal custodian."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("hall_id", "day", "seq", name="uq_case_seq"),
        Index("ix_case_hall_state", "hall_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    hall_id: Mapped[str] = mapped_column(ID, ForeignKey("halls.id"))
    day: Mapped[str] = mapped_column(String(10))
    seq: Mapped[int] = mapped_column(Integer)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    matter_code: Mapped[str] = mapped_column(ID, ForeignKey("matters.code"))
    department: Mapped[str] = mapped_column(String(64))
    seal_id: Mapped[str] = mapped_column(String(32))
    applicant_hash: Mapped[str] = mapped_column(String(64))  # salted SHA-256, never the ID number
    holder: Mapped[str] = mapped_column(String(128), default="")  # printed on the certificate (e.g. firm name)
    credit_code: Mapped[str] = mapped_column(String(18), default="")  # 统一社会信用代码 of an enterprise
    media: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="intake")
    intake_by: Mapped[str] = mapped_column(String(64))
    intake_at: Mapped[int] = mapped_column(BigInteger)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[int | None] = mapped_column(BigInteger)
    decision_note: Mapped[str] = mapped_column(String(256), default="")
    released_by: Mapped[str | None] = mapped_column(String(64))
    released_at: Mapped[int | None] = mapped_column(BigInteger)


class Certificate(Base):
    """The PDF the server generated for a released case; the printer fetches it and checks its SHA-256."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    hall_id: Mapped[str] = mapped_column(ID)
    sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    fetch_token: Mapped[str] = mapped_column(String(64))  # capability in the printer's document_url
    media: Mapped[str] = mapped_column(String(32))
    printer_id: Mapped[str | None] = mapped_column(ID)
    blank_serial: Mapped[str | None] = mapped_column(String(32))
    cmd_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[int] = mapped_column(BigInteger)
    printed_at: Mapped[int | None] = mapped_column(BigInteger)


class BlankStock(Base):
    """Pre-printed blanks are controlled stock: a counter per (hall, media) gives the next serial."""

    __tablename__ = "blank_stock"

    hall_id: Mapped[str] = mapped_column(ID, primary_key=True)
    media: Mapped[str] = mapped_column(String(32), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class BlankUse(Base):
    """Every consumed blank, spoiled ones included (devices.md §7)."""

    __tablename__ = "blank_uses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(32), unique=True)
    hall_id: Mapped[str] = mapped_column(ID)
    media: Mapped[str] = mapped_column(String(32))
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    case_number: Mapped[str] = mapped_column(String(32))
    printer_id: Mapped[str | None] = mapped_column(ID)
    tray: Mapped[str | None] = mapped_column(String(32))
    operator: Mapped[str] = mapped_column(String(64))
    credit_code: Mapped[str] = mapped_column(String(18), default="")
    status: Mapped[str] = mapped_column(String(16), default="issued")  # issued, printed, spoiled
    at: Mapped[int] = mapped_column(BigInteger)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SealKey(Base):
    """A seal machine's 32-byte key K (hex), when the keys are kept in the database and not in a key file."""

    __tablename__ = "seal_keys"

    hall_id: Mapped[str] = mapped_column(ID, primary_key=True)
    device_id: Mapped[str] = mapped_column(ID, primary_key=True)
    key_hex: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)


class SealMachineState(Base):
    """Per machine: the last nonce issued (strictly increasing), the event mark and the counters seen."""

    __tablename__ = "seal_machines"

    hall_id: Mapped[str] = mapped_column(ID, primary_key=True)
    device_id: Mapped[str] = mapped_column(ID, primary_key=True)
    last_nonce: Mapped[int] = mapped_column(BigInteger, default=0)
    last_source_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    counters: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # slot -> lifetime_count reconciled
    counters_at: Mapped[int | None] = mapped_column(BigInteger)


class SealJob(Base):
    """One signed, single-use authorisation of one seal on one document; `id` is the HDP/1 job_id."""

    __tablename__ = "seal_jobs"
    __table_args__ = (UniqueConstraint("hall_id", "device_id", "nonce", name="uq_seal_nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hall_id: Mapped[str] = mapped_column(ID)
    device_id: Mapped[str] = mapped_column(ID)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    seal_id: Mapped[str] = mapped_column(String(32))
    slot: Mapped[int] = mapped_column(Integer)
    seal_rfid: Mapped[str] = mapped_column(String(16))
    max_count: Mapped[int] = mapped_column(Integer)
    not_after: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[int] = mapped_column(BigInteger)
    doc_hash: Mapped[str] = mapped_column(String(16))
    mac: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="authorised")
    issued_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    authorize_cmd_id: Mapped[str | None] = mapped_column(String(64))
    stamp_cmd_id: Mapped[str | None] = mapped_column(String(64))
    counters_cmd_id: Mapped[str | None] = mapped_column(String(64))
    reconciled: Mapped[str | None] = mapped_column(String(16))  # None, "ok", "mismatch"


class StampRecord(Base):
    """One stamp outcome; (job_id, stamp_idx) is unique (bus.md §7.1)."""

    __tablename__ = "stamps"
    __table_args__ = (UniqueConstraint("job_id", "stamp_idx", name="uq_stamp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(Integer)
    stamp_idx: Mapped[int] = mapped_column(Integer)
    hall_id: Mapped[str] = mapped_column(ID)
    device_id: Mapped[str] = mapped_column(ID)
    outcome: Mapped[str] = mapped_column(String(16))  # done, failed
    slot: Mapped[int | None] = mapped_column(Integer)
    seal_rfid: Mapped[str | None] = mapped_column(String(16))
    lifetime_count_after: Mapped[int | None] = mapped_column(BigInteger)
    photo_before: Mapped[int | None] = mapped_column(BigInteger)
    photo_after: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(64))
    source_seq: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[int] = mapped_column(BigInteger)


class SealPhoto(Base):
    """A photo a seal machine reported (PHOTO_READY); the bytes stay with the edge, the digest is kept."""

    __tablename__ = "seal_photos"

    hall_id: Mapped[str] = mapped_column(ID, primary_key=True)
    device_id: Mapped[str] = mapped_column(ID, primary_key=True)
    photo_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[int] = mapped_column(BigInteger)


class Alarm(Base):
    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarm_hall", "hall_id", "cleared_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    hall_id: Mapped[str] = mapped_column(ID)
    device_id: Mapped[str | None] = mapped_column(ID)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    raised_at: Mapped[int] = mapped_column(BigInteger)
    cleared_at: Mapped[int | None] = mapped_column(BigInteger)


class Rectification(Base):
    """整改: opened by a bad rating (level <= 2), with a deadline in working days and call-backs."""

    __tablename__ = "rectifications"
    __table_args__ = (Index("ix_rectification_hall", "hall_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("rating_requests.rating_id"), unique=True)
    hall_id: Mapped[str] = mapped_column(ID)
    window_id: Mapped[str] = mapped_column(ID)
    clerk_staff_id: Mapped[str | None] = mapped_column(String(32))
    matter_code: Mapped[str] = mapped_column(ID)
    level: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[int] = mapped_column(BigInteger)
    due_day: Mapped[str] = mapped_column(String(10))  # last working day (local) to close it
    state: Mapped[str] = mapped_column(String(16), default="open")
    callbacks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    closed_at: Mapped[int | None] = mapped_column(BigInteger)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    close_note: Mapped[str] = mapped_column(String(512), default="")

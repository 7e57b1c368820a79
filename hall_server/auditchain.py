"""The audit hash chain (全程留痕): every entry is linked to the one before, so an edited, deleted or
inserted row shows.

`hash` = SHA-256 over a canonical JSON of (id, seq, at, hall, actor, action, subject, details, prev_hash),
with sorted keys, no spaces and UTF-8; `prev_hash` is the previous entry's hash (64 zeros for the first).
`seq` numbers the chain 1, 2, 3, … in the order entries were appended.

Appending happens right before the commit of the transaction that wrote the entries (a `before_commit`
hook on every SQLAlchemy session), under the lock of the one `audit_head` row: `SELECT … FOR UPDATE` on
PostgreSQL; on SQLite every write transaction is `BEGIN IMMEDIATE` and therefore serialised already.
Taking the lock last keeps it short and out of every other lock order (no deadlock with hall locks),
and keeps the chain linear with any number of concurrent writers and server processes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from hall_server.models import AuditEntry, AuditHead
from hallbus.models import now_ms

GENESIS = "0" * 64
PENDING_KEY = "hall_audit_pending"
HEAD_ID = 1


def canonical(entry: AuditEntry) -> bytes:
    """The bytes the hash covers; the JSON round trip makes in-memory and stored details hash alike."""
    doc = {
        "id": entry.id,
        "seq": entry.seq,
        "at": entry.at,
        "hall": entry.hall_id,
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "details": json.loads(json.dumps(entry.details or {}, ensure_ascii=False, default=str)),
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def mark_pending(session: Session, entry: AuditEntry) -> None:
    """Called by `audit.record`: the entry is chained when its transaction commits."""
    session.info.setdefault(PENDING_KEY, []).append(entry)


def _lock_head(session: Session) -> AuditHead:
    stmt = select(AuditHead).where(AuditHead.id == HEAD_ID)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    head = session.scalars(stmt).one_or_none()
    if head is None:  # a database made without the migration's seed row
        head = AuditHead(id=HEAD_ID, seq=0, hash=GENESIS, updated_at=now_ms())
        session.add(head)
    return head


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    pending: list[AuditEntry] = session.info.pop(PENDING_KEY, [])
    entries = [e for e in pending if e in session]  # entries of a rolled-back savepoint are gone
    if not entries:
        return
    session.flush()  # ids
    head = _lock_head(session)
    for entry in sorted(entries, key=lambda e: e.id):
        entry.seq = head.seq + 1
        entry.prev_hash = head.hash or GENESIS
        entry.hash = entry_hash(entry)
        head.seq, head.hash = entry.seq, entry.hash
    head.updated_at = now_ms()
    session.flush()


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


# -- verification ----------------------------------------------------------------------------------


@dataclass
class Break:
    id: int | None
    seq: int | None
    problem: str

    def __str__(self) -> str:
        return f"entry id={self.id} seq={self.seq}: {self.problem}"


@dataclass
class Report:
    entries: int = 0
    head_seq: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "first_break": None
            if self.ok
            else {"id": self.breaks[0].id, "seq": self.breaks[0].seq, "problem": self.breaks[0].problem},
            "breaks": len(self.breaks),
        }


def _differs(entry: AuditEntry) -> str:
    stored = entry.hash or ""
    return f"content does not match its hash (stored {stored[:16]}…, recomputed {entry_hash(entry)[:16]}…): " \
           f"a field of this row was changed after it was written"  # fmt: skip


def verify(session: Session, *, batch: int = 5000, max_breaks: int = 20) -> Report:
    """Walk the chain in seq order; every break is reported, the first one is where tampering starts."""
    report = Report()
    unchained = session.scalars(select(AuditEntry).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id).limit(5))
    for entry in unchained:
        report.breaks.append(Break(entry.id, None, "not in the chain (inserted around the audit writer)"))
    prev, expected_seq, last_seq = GENESIS, 1, 0
    while len(report.breaks) < max_breaks:
        rows = list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.seq >= expected_seq).order_by(AuditEntry.seq).limit(batch)
            )
        )
        if not rows:
            break
        for entry in rows:
            seq = int(entry.seq or 0)
            report.entries += 1
            if seq != expected_seq:
                report.breaks.append(Break(entry.id, seq, f"entries with seq {expected_seq}..{seq - 1} are missing "
                                                          f"(deleted)"))  # fmt: skip
            if entry.prev_hash != prev:
                report.breaks.append(Break(entry.id, seq, f"prev_hash {str(entry.prev_hash)[:16]}… does not link to "
                                                          f"the previous entry's hash {prev[:16]}…"))  # fmt: skip
            if entry.hash != entry_hash(entry):
                report.breaks.append(Break(entry.id, seq, _differs(entry)))
            prev, expected_seq, last_seq = entry.hash or "", seq + 1, seq
    head = session.get(AuditHead, HEAD_ID)
    report.head_seq = head.seq if head else 0
    if head is not None and len(report.breaks) < max_breaks:
        if head.seq != last_seq:
            report.breaks.append(Break(None, head.seq, f"the chain head is at seq {head.seq} but the last entry "
                                                       f"is seq {last_seq} (entries deleted at the end)"))  # fmt: skip
        elif head.seq and head.hash != prev:
            report.breaks.append(Break(None, head.seq, "the chain head's hash differs from the last entry's"))
    return report

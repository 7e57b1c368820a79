"""The audit trail: who did what, when, to which subject (一网通办: every step leaves a trace).

Entries are written in the same transaction as the decision they record, so the trail can never
disagree with the state, and are hash-chained when that transaction commits (hall_server/auditchain.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server import auditchain
from hall_server.models import AuditEntry
from hallbus.models import now_ms


def record(
    session: Session,
    *,
    hall: str | None,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(at=now_ms(), hall_id=hall, actor=actor, action=action, subject=subject, details=details or {})
    session.add(entry)
    auditchain.mark_pending(session, entry)
    return entry


def entries(
    session: Session, hall: str, action: str | None = None, limit: int = 200, after: int | None = None
) -> list[AuditEntry]:
    """Newest first; with `after`, the entries after that id, oldest first (for paging through all)."""
    stmt = select(AuditEntry).where(AuditEntry.hall_id == hall)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if after is not None:
        return list(session.scalars(stmt.where(AuditEntry.id > after).order_by(AuditEntry.id).limit(limit)))
    return list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "hall": entry.hall_id,
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "details": entry.details,
        "seq": entry.seq,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }

"""Hall alarms the integrity checks raise (seal counters, photos, event gaps, tamper, failed prints).

An alarm is a row (kind, hall, device, details, raised_at, cleared_at) and an audit entry; the hall
operator sees the open ones and clears them.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server import audit
from hall_server.errors import NotFoundError
from hall_server.models import Alarm
from hallbus.models import now_ms

log = logging.getLogger(__name__)


def raise_alarm(session: Session, kind: str, hall: str, device: str | None, details: dict[str, Any]) -> Alarm:
    alarm = Alarm(kind=kind, hall_id=hall, device_id=device, details=details, raised_at=now_ms())
    session.add(alarm)
    session.flush()
    audit.record(session, hall=hall, actor="server", action=f"alarm_{kind}", subject=f"alarm:{alarm.id}",
                 details={"device": device, **details})  # fmt: skip
    log.error("ALARM %s hall=%s device=%s %s", kind, hall, device, details)
    return alarm


def clear(session: Session, alarm_id: int, actor: str, hall: str | None = None) -> Alarm:
    alarm = session.get(Alarm, alarm_id)
    if alarm is None or (hall is not None and alarm.hall_id != hall):
        raise NotFoundError(f"no alarm {alarm_id}")
    if alarm.cleared_at is None:
        alarm.cleared_at = now_ms()
        audit.record(session, hall=alarm.hall_id, actor=actor, action="alarm_cleared", subject=f"alarm:{alarm.id}",
                     details={"kind": alarm.kind})  # fmt: skip
    return alarm


def list_alarms(session: Session, hall: str, active: bool | None = None) -> list[dict[str, Any]]:
    stmt = select(Alarm).where(Alarm.hall_id == hall)
    if active is True:
        stmt = stmt.where(Alarm.cleared_at.is_(None))
    elif active is False:
        stmt = stmt.where(Alarm.cleared_at.is_not(None))
    return [view(a) for a in session.scalars(stmt.order_by(Alarm.id))]


def view(alarm: Alarm) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "kind": alarm.kind,
        "hall": alarm.hall_id,
        "device": alarm.device_id,
        "details": alarm.details,
        "raised_at": alarm.raised_at,
        "cleared_at": alarm.cleared_at,
    }

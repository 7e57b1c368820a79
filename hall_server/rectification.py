"""Rectification items (整改) opened by bad ratings, with a deadline in working days and call-backs.

A rating of level 1 or 2 (非常不满意, 不满意) opens one item per rating, due after N working days
(configuration, default 5; Saturdays and Sundays are skipped, public holidays are not known here). The
hall records each call-back to the citizen and closes the item after at least one. The notes are
personal data: stored, never logged.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server import audit
from hall_server.context import HallContext
from hall_server.db import local_day
from hall_server.errors import ConflictError, NotFoundError
from hall_server.integrity_settings import integrity
from hall_server.models import Rating, Rectification
from hallbus.models import now_ms

log = logging.getLogger(__name__)

BAD_LEVELS = (1, 2)


def add_working_days(start: date, days: int) -> date:
    """`days` working days after `start` (Monday to Friday)."""
    current = start
    left = days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def on_rating(ctx: HallContext, session: Session, rating: Rating) -> Rectification | None:
    if rating.level not in BAD_LEVELS:
        return None
    opened = now_ms()
    today = date.fromisoformat(local_day(opened, ctx.tz))
    item = Rectification(rating_id=rating.rating_id, hall_id=rating.hall_id, window_id=rating.window_id,
                         clerk_staff_id=rating.clerk_staff_id, matter_code=rating.matter_code, level=rating.level,
                         opened_at=opened, due_day=add_working_days(today, integrity(ctx).rectification_days)
                         .isoformat(), state="open", callbacks=[], close_note="")  # fmt: skip
    session.add(item)
    session.flush()
    audit.record(
        session,
        hall=rating.hall_id,
        actor="server",
        action="rectification_opened",
        subject=f"rectification:{item.id}",
        details={"rating_id": rating.rating_id, "level": rating.level, "window": rating.window_id, "due": item.due_day},
    )
    log.warning("hall=%s rectification %d opened for rating %d (level %d), due %s", rating.hall_id, item.id,
                rating.rating_id, rating.level, item.due_day)  # fmt: skip
    return item


def get(session: Session, item_id: int) -> Rectification:
    item = session.get(Rectification, item_id)
    if item is None:
        raise NotFoundError(f"no rectification item {item_id}")
    return item


def callback(session: Session, item: Rectification, actor: str, note: str, reached: bool) -> Rectification:
    if item.state != "open":
        raise ConflictError(f"rectification item {item.id} is {item.state}")
    item.callbacks = [*item.callbacks, {"at": now_ms(), "by": actor, "note": note, "reached": reached}]
    audit.record(
        session,
        hall=item.hall_id,
        actor=actor,
        action="rectification_callback",
        subject=f"rectification:{item.id}",
        details={"reached": reached, "n": len(item.callbacks)},
    )
    return item


def close(session: Session, item: Rectification, actor: str, note: str) -> Rectification:
    if item.state != "open":
        raise ConflictError(f"rectification item {item.id} is {item.state}")
    if not item.callbacks:
        raise ConflictError(f"rectification item {item.id}: record the call-back to the citizen before closing")
    item.state, item.closed_at, item.closed_by, item.close_note = "closed", now_ms(), actor, note
    audit.record(
        session,
        hall=item.hall_id,
        actor=actor,
        action="rectification_closed",
        subject=f"rectification:{item.id}",
        details={"on_time": not is_overdue_at(item, item.closed_at)},
    )
    return item


def is_overdue_at(item: Rectification, at_ms: int, ctx: HallContext | None = None) -> bool:
    tz = ctx.tz if ctx is not None else None
    day = datetime.fromtimestamp(at_ms / 1000, tz=tz).date().isoformat()
    return day > item.due_day


def list_items(ctx: HallContext, session: Session, hall: str, overdue: bool | None = None,
               state: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    stmt = select(Rectification).where(Rectification.hall_id == hall)
    if state is not None:
        stmt = stmt.where(Rectification.state == state)
    today = local_day(now_ms(), ctx.tz)
    items = [view(i, today) for i in session.scalars(stmt.order_by(Rectification.id))]
    if overdue is not None:
        items = [i for i in items if i["overdue"] == overdue]
    return items


def view(item: Rectification, today: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "hall": item.hall_id,
        "rating_id": item.rating_id,
        "window": item.window_id,
        "clerk_staff_id": item.clerk_staff_id,
        "matter": item.matter_code,
        "level": item.level,
        "opened_at": item.opened_at,
        "due_day": item.due_day,
        "state": item.state,
        "overdue": item.state == "open" and today > item.due_day,
        "callbacks": item.callbacks,
        "closed_at": item.closed_at,
        "closed_by": item.closed_by,
        "close_note": item.close_note,
    }

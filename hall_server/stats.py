"""Hall statistics, computed from the stored facts so that a broken invariant shows up as a number.

`double_calls` is not a counter anyone increments: it is recomputed from visit periods, counting
tickets called at two different windows and pairs of overlapping called/serving periods at one window.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session, aliased

from hall_server.models import Rating, Ticket, VisitPeriod
from hall_server.topology import get_hall

ACTIVE = ("called", "serving")
OPEN_END = 2**62  # an open period lasts "forever" for the overlap test


def hall_stats(session: Session, hall_id: str, day: str | None = None) -> dict[str, Any]:
    get_hall(session, hall_id)
    t = select(Ticket.state, Ticket.called_at).where(Ticket.hall_id == hall_id)
    if day is not None:
        t = t.where(Ticket.day == day)
    rows = session.execute(t).all()
    count = {s: sum(1 for r in rows if r.state == s) for s in ("waiting", "done", "no_show")}
    ratings = select(func.count(Rating.id)).where(Rating.hall_id == hall_id)
    if day is not None:
        ratings = ratings.join(Ticket, Ticket.id == Rating.ticket_id).where(Ticket.day == day)
    return {
        "tickets_issued": len(rows),
        "called": sum(1 for r in rows if r.called_at is not None),
        "served": count["done"],
        "no_show": count["no_show"],
        "ratings": int(session.scalar(ratings) or 0),
        "double_calls": double_calls(session, hall_id),
        "waiting": count["waiting"],
    }


def double_calls(session: Session, hall_id: str) -> int:
    return _called_at_two_windows(session, hall_id) + _overlapping_at_one_window(session, hall_id)


def _called_at_two_windows(session: Session, hall_id: str) -> int:
    per_visit = (
        select(VisitPeriod.visit_id)
        .where(VisitPeriod.hall_id == hall_id, VisitPeriod.state == "called")
        .group_by(VisitPeriod.visit_id)
        .having(func.count(func.distinct(VisitPeriod.window_id)) > 1)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(per_visit)) or 0)


def _overlapping_at_one_window(session: Session, hall_id: str) -> int:
    a, b = aliased(VisitPeriod), aliased(VisitPeriod)
    a_end = func.coalesce(a.ended_at, literal(OPEN_END))
    b_end = func.coalesce(b.ended_at, literal(OPEN_END))
    stmt = (
        select(func.count())
        .select_from(a)
        .join(
            b,
            and_(
                b.hall_id == a.hall_id,
                b.window_id == a.window_id,
                b.id > a.id,
                b.visit_id != a.visit_id,
                b.state.in_(ACTIVE),
                a.started_at < b_end,
                b.started_at < a_end,
            ),
        )
        .where(a.hall_id == hall_id, a.state.in_(ACTIVE), a.window_id.is_not(None))
    )
    return int(session.scalar(stmt) or 0)

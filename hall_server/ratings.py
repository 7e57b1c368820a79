"""Ratings (好差评, 一次一评): one server-issued rating id per visit, stored exactly once or not at all.

A rating counts only if it answers a pending request with that id and comes from the evaluator the
request was sent to. A timeout or cancel closes the request as not rated: no rating is ever invented.
The free text of a rating is personal data and is never logged.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hall_server import audit, commands
from hall_server.context import HallContext
from hall_server.errors import NotFoundError
from hall_server.models import Device, Hall, Rating, RatingRequest, Ticket, Visit, Window
from hallbus.catalogue import EVALUATOR, RATING_LABELS, RatingEventData
from hallbus.models import Event, now_ms

log = logging.getLogger(__name__)

BAD_LEVELS = (1, 2)


def request_rating(ctx: HallContext, session: Session, ticket: Ticket, visit: Visit, window: Window) -> RatingRequest:
    """Open the visit's rating request and ask the window's evaluator (if it has one)."""
    evaluator = session.scalars(
        select(Device)
        .where(Device.hall_id == window.hall_id, Device.window_id == window.id, Device.kind == EVALUATOR)
        .order_by(Device.id)
        .limit(1)
    ).first()
    req = RatingRequest(
        visit_id=visit.id,
        hall_id=ticket.hall_id,
        ticket_id=ticket.id,
        window_id=window.id,
        clerk_staff_id=window.clerk_staff_id,
        clerk_name=window.clerk_name,
        matter_code=ticket.matter_code,
        evaluator_id=evaluator.id if evaluator else None,
        status="pending",
        created_at=now_ms(),
    )
    session.add(req)
    session.flush()
    if evaluator is not None:
        # b0 voice prompt; b3 replace: a request left pending by a citizen who walked away must not block
        # the next visit's request (devices.md §5.11); the evaluator reports the old one cancelled.
        args = {"rating_id": req.rating_id, "timeout_s": ctx.settings.rating_timeout_s, "options": 0x01 | 0x08}
        req.cmd_id = commands.send_to_device(ctx, session, evaluator, "request_rating", args).cmd_id
    log.info(
        "hall=%s window=%s ticket=%s rating requested (rating_id=%d, evaluator=%s)",
        ticket.hall_id,
        window.id,
        ticket.number,
        req.rating_id,
        req.evaluator_id,
    )
    return req


def _pending_request(session: Session, hall: str, device: str, rating_id: int) -> RatingRequest | None:
    req = session.get(RatingRequest, rating_id)
    if req is None or req.hall_id != hall:
        log.warning("hall=%s device=%s rating for unknown rating_id=%d ignored", hall, device, rating_id)
        return None
    if req.evaluator_id != device:
        log.warning(
            "hall=%s device=%s rating_id=%d belongs to evaluator %s; ignored", hall, device, rating_id, req.evaluator_id
        )
        return None
    if req.status != "pending":
        log.info("hall=%s device=%s rating_id=%d already %s; ignored", hall, device, rating_id, req.status)
        return None
    return req


def _close(session: Session, req: RatingRequest, status: str) -> bool:
    """Move a pending request to `status`; False if someone else closed it first."""
    done = session.execute(
        update(RatingRequest)
        .where(RatingRequest.rating_id == req.rating_id, RatingRequest.status == "pending")
        .values(status=status, closed_at=now_ms())
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def apply_rating(session: Session, hall: str, device: str, event: Event, data: RatingEventData) -> Rating | None:
    """Store the one rating of a pending request; anything else changes nothing."""
    req = _pending_request(session, hall, device, data.rating_id)
    if req is None or not _close(session, req, "rated"):
        return None
    rating = Rating(
        rating_id=req.rating_id,
        hall_id=hall,
        visit_id=req.visit_id,
        ticket_id=req.ticket_id,
        window_id=req.window_id,
        clerk_staff_id=req.clerk_staff_id,
        clerk_name=req.clerk_name,
        matter_code=req.matter_code,
        level=data.level,
        source=data.source,
        reasons=list(data.reasons),
        text=data.text,
        event_id=event.event_id,
        received_at=now_ms(),
    )
    session.add(rating)
    session.flush()
    audit.record(
        session,
        hall=hall,
        actor=f"device:{device}",
        action="rating",
        subject=f"rating:{req.rating_id}",
        details={"window": req.window_id, "level": data.level, "ticket_id": req.ticket_id},
    )
    log.info(
        "hall=%s window=%s rating_id=%d stored: level %d (%s)",
        hall,
        req.window_id,
        req.rating_id,
        data.level,
        RATING_LABELS[data.level],
    )
    if data.level in BAD_LEVELS:
        log.warning(
            "hall=%s window=%s rating_id=%d is a bad rating: rectification case due", hall, req.window_id, req.rating_id
        )
    return rating


def close_unrated(session: Session, hall: str, device: str, rating_id: int, status: str) -> bool:
    """A timeout or cancel from the evaluator: the request ends without a rating."""
    req = _pending_request(session, hall, device, rating_id)
    if req is None or not _close(session, req, status):
        return False
    log.info("hall=%s window=%s rating_id=%d closed as %s (not rated)", hall, req.window_id, rating_id, status)
    return True


def list_ratings(session: Session, hall: str) -> list[dict[str, Any]]:
    if session.get(Hall, hall) is None:
        raise NotFoundError(f"no hall {hall!r}")
    stmt = select(Rating, Ticket.number).join(Ticket, Ticket.id == Rating.ticket_id).where(Rating.hall_id == hall)
    return [_view(r, number) for r, number in session.execute(stmt.order_by(Rating.id))]


def list_requests(session: Session, hall: str) -> list[dict[str, Any]]:
    stmt = select(RatingRequest).where(RatingRequest.hall_id == hall).order_by(RatingRequest.rating_id)
    return [
        {
            "rating_id": r.rating_id,
            "visit": r.visit_id,
            "ticket_id": r.ticket_id,
            "window": r.window_id,
            "evaluator": r.evaluator_id,
            "status": r.status,
            "cmd_id": r.cmd_id,
            "created_at": r.created_at,
            "closed_at": r.closed_at,
        }
        for r in session.scalars(stmt)
    ]


def _view(rating: Rating, number: str) -> dict[str, Any]:
    return {
        "rating_id": rating.rating_id,
        "visit": rating.visit_id,
        "ticket_id": rating.ticket_id,
        "ticket": number,
        "window": rating.window_id,
        "clerk": {"staff_id": rating.clerk_staff_id, "name": rating.clerk_name},
        "matter": rating.matter_code,
        "level": rating.level,
        "label": RATING_LABELS.get(rating.level, ""),
        "source": rating.source,
        "reasons": rating.reasons,
        "text": rating.text,
        "event_id": rating.event_id,
        "received_at": rating.received_at,
    }

"""Window actions of a clerk (API or caller keypad): ready/call-next, recall, start, finish, skip, pause, resume.

A clerk never names a ticket: call-next only marks the window ready, and the dispatcher decides. Every
action takes the hall lock first, so window actions and dispatch passes of one hall never interleave.

Window states: ``offline`` (nobody there yet), ``idle`` (staffed, not taking: after finish, skip or
resume), ``ready`` (waiting for the dispatcher), ``called``, ``serving``, ``paused``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server import audit, dispatch, ratings
from hall_server.context import HallContext
from hall_server.errors import ConflictError, NotFoundError
from hall_server.models import Hall, Ticket, Window
from hall_server.tickets import ticket_view
from hall_server.visits import close_visit, start_period, visit_of
from hallbus.models import now_ms

log = logging.getLogger(__name__)

ACTIONS = ("ready", "call-next", "recall", "start", "finish", "skip", "pause", "resume")
# Caller keypad keys (hallbus.catalogue.KEYS) that map onto window actions.
KEY_ACTIONS = {
    "call_next": "call-next",
    "recall": "recall",
    "start": "start",
    "finish": "finish",
    "skip": "skip",
    "pause": "pause",
    "resume": "resume",
}

Handler = Callable[[HallContext, Session, Window, Ticket | None], Ticket | None]


def perform(
    ctx: HallContext, session: Session, hall_id: str, window_id: str, action: str, actor: str
) -> dict[str, Any]:
    """Run one action in the caller's transaction and return the window and its ticket."""
    dispatch.lock_hall(session, hall_id)
    window = session.get(Window, (hall_id, window_id))
    if window is None:
        raise NotFoundError(f"hall {hall_id!r} has no window {window_id!r}")
    current = session.get(Ticket, window.current_ticket_id) if window.current_ticket_id else None
    before = window.state
    ticket = _HANDLERS[action](ctx, session, window, current)
    session.flush()
    audit.record(
        session,
        hall=hall_id,
        actor=actor,
        action=f"window_{action}",
        subject=f"window:{window_id}",
        details={"from": before, "to": window.state, "ticket": ticket.number if ticket else None},
    )
    log.info(
        "hall=%s window=%s ticket=%s %s: %s -> %s",
        hall_id,
        window_id,
        ticket.number if ticket else "-",
        action,
        before,
        window.state,
    )
    return {"window": window_view(window), "ticket": ticket_view(session, ticket, with_print=False) if ticket else None}


def _require(current: Ticket | None, window: Window, states: tuple[str, ...], action: str) -> Ticket:
    if current is None or current.state not in states:
        holding = f"holds {current.number} ({current.state})" if current else "holds no ticket"
        raise ConflictError(f"cannot {action}: window {window.id} {holding}")
    return current


def _set_window(window: Window, state: str, ticket_id: int | None) -> None:
    window.state = state
    window.current_ticket_id = ticket_id
    window.updated_at = now_ms()


def _call_next(ctx: HallContext, session: Session, window: Window, current: Ticket | None) -> Ticket | None:
    if current is not None:
        raise ConflictError(
            f"window {window.id} still holds ticket {current.number} ({current.state}); finish or skip it first"
        )
    _set_window(window, "ready", None)
    session.flush()
    dispatch.dispatch_pass(ctx, session, window.hall_id)
    session.refresh(window)
    return session.get(Ticket, window.current_ticket_id) if window.current_ticket_id else None


def _recall(ctx: HallContext, session: Session, window: Window, current: Ticket | None) -> Ticket:
    ticket = _require(current, window, ("called",), "recall")
    ticket.recalls += 1
    dispatch.announce(ctx, session, ticket, window)
    return ticket


def _start(ctx: HallContext, session: Session, window: Window, current: Ticket | None) -> Ticket:
    ticket = _require(current, window, ("called",), "start")
    now = now_ms()
    ticket.state, ticket.started_at = "serving", now
    start_period(session, visit_of(session, ticket.id), "serving", window.id, now)
    _set_window(window, "serving", ticket.id)
    return ticket


def _finish(ctx: HallContext, session: Session, window: Window, current: Ticket | None) -> Ticket:
    ticket = _require(current, window, ("called", "serving"), "finish")
    now = now_ms()
    ticket.state, ticket.finished_at = "done", now
    visit = visit_of(session, ticket.id)
    close_visit(session, visit, "done", now)
    _set_window(window, "idle", None)
    session.flush()
    ratings.request_rating(ctx, session, ticket, visit, window)
    return ticket


def _skip(ctx: HallContext, session: Session, window: Window, current: Ticket | None) -> Ticket:
    ticket = _require(current, window, ("called",), "skip")
    now = now_ms()
    ticket.state, ticket.finished_at = "no_show", now
    close_visit(session, visit_of(session, ticket.id), "no_show", now)
    _set_window(window, "idle", None)
    return ticket


def _pause(ctx: HallContext, session: Session, window: Window, current: Ticket | None) -> None:
    if current is not None:
        raise ConflictError(f"window {window.id} holds ticket {current.number}; finish or skip it first")
    _set_window(window, "paused", None)


def _resume(ctx: HallContext, session: Session, window: Window, current: Ticket | None) -> None:
    if window.state != "paused":
        raise ConflictError(f"window {window.id} is {window.state}, not paused")
    _set_window(window, "idle", None)


_HANDLERS: dict[str, Handler] = {
    "ready": _call_next,
    "call-next": _call_next,
    "recall": _recall,
    "start": _start,
    "finish": _finish,
    "skip": _skip,
    "pause": _pause,
    "resume": _resume,
}


def window_view(window: Window) -> dict[str, Any]:
    return {
        "hall": window.hall_id,
        "id": window.id,
        "number": window.number,
        "name": window.name,
        "categories": window.categories,
        "clerk": {"staff_id": window.clerk_staff_id, "name": window.clerk_name} if window.clerk_staff_id else None,
        "state": window.state,
        "current_ticket_id": window.current_ticket_id,
        "updated_at": window.updated_at,
    }


def hall_windows(session: Session, hall_id: str) -> list[Window]:
    if session.get(Hall, hall_id) is None:
        raise NotFoundError(f"no hall {hall_id!r}")
    return list(session.scalars(select(Window).where(Window.hall_id == hall_id).order_by(Window.id)))

"""Window actions of a clerk (API or caller keypad): call-next, recall, start, finish, skip, hold, transfer,
pause, resume, login, logout.

A clerk never names a ticket: call-next only marks the window ready, and the dispatcher decides (in the
next dispatch round, docs/dispatch.md). Every action takes the hall lock first, so window actions and
dispatch rounds of one hall never interleave.

Window states: ``offline`` (nobody logged in), ``idle`` (staffed, not taking: after finish, skip, hold,
transfer, resume or login), ``ready`` (waiting for the dispatcher), ``called``, ``serving``, ``paused``.
A window paused while ready keeps `ready_at`, and resuming makes it ready again.
Ticket states: ``waiting``, ``called``, ``serving``, ``held`` (back at the head of its queue when the hold
ends), ``done``, ``no_show`` (skipped, or recalled more than `recall_limit` times).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server import audit, dispatch, ratings
from hall_server.context import HallContext, wake_round
from hall_server.errors import ConflictError, InvalidError, NotFoundError
from hall_server.models import Hall, Matter, Ticket, Window
from hall_server.tickets import ticket_view
from hall_server.visits import close_visit, start_period, visit_of
from hallbus.models import now_ms

log = logging.getLogger(__name__)

ACTIONS = (
    "ready",
    "call-next",
    "recall",
    "start",
    "finish",
    "skip",
    "hold",
    "transfer",
    "pause",
    "resume",
    "login",
    "logout",
)
# Caller keypad keys (hallbus.catalogue.KEYS) that map onto window actions.
KEY_ACTIONS = {
    "call_next": "call-next",
    "recall": "recall",
    "start": "start",
    "finish": "finish",
    "skip": "skip",
    "pause": "pause",
    "resume": "resume",
    "transfer": "transfer",
    "login": "login",
    "logout": "logout",
}


@dataclass(frozen=True)
class ActionParams:
    """What some actions need: a pause reason, a transfer target, a hold length, the clerk logging in."""

    reason: str | None = None
    category: str | None = None  # transfer: to the head of this category's queue
    window: str | None = None  # transfer: to this window's personal queue
    seconds: int | None = None  # hold: how long (default settings.hold_timeout_s)
    staff_id: str | None = None  # login
    name: str | None = None  # login


NO_PARAMS = ActionParams()

Handler = Callable[[HallContext, Session, Window, Ticket | None, ActionParams], Ticket | None]


def perform(
    ctx: HallContext,
    session: Session,
    hall_id: str,
    window_id: str,
    action: str,
    actor: str,
    params: ActionParams = NO_PARAMS,
) -> dict[str, Any]:
    """Run one action in the caller's transaction and return the window and its ticket."""
    dispatch.lock_hall(session, hall_id)
    window = session.get(Window, (hall_id, window_id))
    if window is None:
        raise NotFoundError(f"hall {hall_id!r} has no window {window_id!r}")
    handler = _HANDLERS.get(action)
    if handler is None:
        raise InvalidError(f"unknown window action {action!r}")
    current = session.get(Ticket, window.current_ticket_id) if window.current_ticket_id else None
    before = window.state
    ticket = handler(ctx, session, window, current, params)
    session.flush()
    details: dict[str, Any] = {"from": before, "to": window.state, "ticket": ticket.number if ticket else None}
    details.update({k: v for k, v in vars(params).items() if v is not None and k != "name"})
    audit.record(
        session, hall=hall_id, actor=actor, action=f"window_{action}", subject=f"window:{window_id}", details=details
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


def _require_free(current: Ticket | None, window: Window, action: str) -> None:
    if current is not None:
        raise ConflictError(
            f"cannot {action}: window {window.id} holds ticket {current.number}; finish or skip it first"
        )


def _set_window(window: Window, state: str, ticket_id: int | None) -> None:
    window.state = state
    window.current_ticket_id = ticket_id
    window.updated_at = now_ms()


def _release(window: Window) -> None:
    """The window lets go of its ticket and waits for the clerk's next press."""
    _set_window(window, "idle", None)
    window.ready_at = None


def _call_next(
    ctx: HallContext, session: Session, window: Window, current: Ticket | None, p: ActionParams
) -> Ticket | None:
    if current is not None:
        raise ConflictError(
            f"window {window.id} still holds ticket {current.number} ({current.state}); finish or skip it first"
        )
    if window.state != "ready":
        window.ready_at = now_ms()
    _set_window(window, "ready", None)
    window.pause_reason = None
    session.flush()
    dispatch.on_queue_event(ctx, session, window.hall_id)
    session.refresh(window)
    return session.get(Ticket, window.current_ticket_id) if window.current_ticket_id else None


def _recall(ctx: HallContext, session: Session, window: Window, current: Ticket | None, p: ActionParams) -> Ticket:
    ticket = _require(current, window, ("called",), "recall")
    if ticket.recalls >= ctx.settings.recall_limit:
        log.info("hall=%s ticket=%s not there after %d recalls: no_show", window.hall_id, ticket.number, ticket.recalls)
        return _skip(ctx, session, window, current, p)
    ticket.recalls += 1
    dispatch.announce(ctx, session, ticket, window, recall=True)
    return ticket


def _start(ctx: HallContext, session: Session, window: Window, current: Ticket | None, p: ActionParams) -> Ticket:
    ticket = _require(current, window, ("called",), "start")
    now = now_ms()
    ticket.state, ticket.started_at = "serving", now
    start_period(session, visit_of(session, ticket.id), "serving", window.id, now)
    _set_window(window, "serving", ticket.id)
    return ticket


def _finish(ctx: HallContext, session: Session, window: Window, current: Ticket | None, p: ActionParams) -> Ticket:
    ticket = _require(current, window, ("called", "serving"), "finish")
    now = now_ms()
    ticket.state, ticket.finished_at = "done", now
    visit = visit_of(session, ticket.id)
    close_visit(session, visit, "done", now)
    _release(window)
    session.flush()
    ratings.request_rating(ctx, session, ticket, visit, window)
    return ticket


def _skip(ctx: HallContext, session: Session, window: Window, current: Ticket | None, p: ActionParams) -> Ticket:
    ticket = _require(current, window, ("called",), "skip")
    now = now_ms()
    ticket.state, ticket.finished_at = "no_show", now
    close_visit(session, visit_of(session, ticket.id), "no_show", now)
    _release(window)
    return ticket


def _hold(ctx: HallContext, session: Session, window: Window, current: Ticket | None, p: ActionParams) -> Ticket:
    """The citizen steps away (e.g. to fetch a document): the ticket returns with priority after the hold."""
    ticket = _require(current, window, ("called", "serving"), "hold")
    now = now_ms()
    seconds = p.seconds if p.seconds is not None else ctx.settings.hold_timeout_s
    ticket.state, ticket.window_id, ticket.held_until = "held", None, now + seconds * 1000
    start_period(session, visit_of(session, ticket.id), "held", window.id, now)
    _release(window)
    wake_round(session, window.hall_id, ticket.held_until)
    return ticket


def _transfer(ctx: HallContext, session: Session, window: Window, current: Ticket | None, p: ActionParams) -> Ticket:
    """To the head of another category's queue, or to one window's personal queue."""
    ticket = _require(current, window, ("called", "serving"), "transfer")
    if (p.category is None) == (p.window is None):
        raise InvalidError("transfer needs exactly one of category or window")
    hall_windows = list(session.scalars(select(Window).where(Window.hall_id == window.hall_id)))
    if p.window is not None:
        target = next((w for w in hall_windows if w.id == p.window), None)
        if target is None:
            raise NotFoundError(f"hall {window.hall_id!r} has no window {p.window!r}")
        if target.id == window.id:
            raise InvalidError("cannot transfer a ticket to the window that holds it")
        ticket.target_window_id = target.id
    else:
        assert p.category is not None
        known = set(session.scalars(select(Matter.category).distinct())) | {
            c for w in hall_windows for c in w.categories
        }
        if p.category not in known or not any(dispatch.eligible(w.categories, p.category) for w in hall_windows):
            raise InvalidError(f"no window of hall {window.hall_id} takes category {p.category!r}")
        ticket.category, ticket.target_window_id = p.category, None
    now = now_ms()
    ticket.state, ticket.window_id = "waiting", None
    ticket.queue_rank, ticket.queue_at = dispatch.RANK_RETURNING, now
    start_period(session, visit_of(session, ticket.id), "waiting", None, now)
    _release(window)
    session.flush()
    dispatch.on_queue_event(ctx, session, window.hall_id)
    session.refresh(ticket)
    return ticket


def _pause(ctx: HallContext, session: Session, window: Window, current: Ticket | None, p: ActionParams) -> None:
    _require_free(current, window, "pause")
    if window.state != "ready":
        window.ready_at = None
    _set_window(window, "paused", None)
    window.pause_reason = (p.reason or "")[:64] or None


def _resume(
    ctx: HallContext, session: Session, window: Window, current: Ticket | None, p: ActionParams
) -> Ticket | None:
    if window.state != "paused":
        raise ConflictError(f"window {window.id} is {window.state}, not paused")
    window.pause_reason = None
    if window.ready_at is None:
        _set_window(window, "idle", None)
        return None
    _set_window(window, "ready", None)  # it was ready when paused: ready again, and a queue event
    session.flush()
    dispatch.on_queue_event(ctx, session, window.hall_id)
    session.refresh(window)
    return session.get(Ticket, window.current_ticket_id) if window.current_ticket_id else None


def _login(ctx: HallContext, session: Session, window: Window, current: Ticket | None, p: ActionParams) -> None:
    _require_free(current, window, "log in")
    if not p.staff_id or not p.name:
        raise InvalidError("login needs staff_id and name")
    window.clerk_staff_id, window.clerk_name = p.staff_id[:32], p.name[:32]
    if window.state in ("offline", "paused"):
        window.pause_reason, window.ready_at = None, None
        _set_window(window, "idle", None)


def _logout(ctx: HallContext, session: Session, window: Window, current: Ticket | None, p: ActionParams) -> None:
    _require_free(current, window, "log out")
    window.clerk_staff_id, window.clerk_name = None, None
    window.pause_reason, window.ready_at = None, None
    _set_window(window, "offline", None)


_HANDLERS: dict[str, Handler] = {
    "ready": _call_next,
    "call-next": _call_next,
    "recall": _recall,
    "start": _start,
    "finish": _finish,
    "skip": _skip,
    "hold": _hold,
    "transfer": _transfer,
    "pause": _pause,
    "resume": _resume,
    "login": _login,
    "logout": _logout,
}


def key_params(session: Session, hall_id: str, key: str, arg: int) -> ActionParams:
    """The parameters a caller keypad key carries in its `arg`: a window number or a staff index."""
    if key == "transfer":
        target = session.scalars(select(Window.id).where(Window.hall_id == hall_id, Window.number == str(arg))).first()
        if target is None:
            raise NotFoundError(f"hall {hall_id!r} has no window number {arg}")
        return ActionParams(window=target)
    if key == "login":
        hall = session.get(Hall, hall_id)
        staff = list(hall.staff or []) if hall is not None else []
        if not 0 <= arg < len(staff):
            raise NotFoundError(f"hall {hall_id!r} has no staff entry {arg}")
        return ActionParams(staff_id=staff[arg]["staff_id"], name=staff[arg]["name"])
    if key == "pause":
        return ActionParams(reason="keypad")
    return NO_PARAMS


def window_view(window: Window) -> dict[str, Any]:
    return {
        "hall": window.hall_id,
        "id": window.id,
        "number": window.number,
        "name": window.name,
        "categories": window.categories,
        "clerk": {"staff_id": window.clerk_staff_id, "name": window.clerk_name} if window.clerk_staff_id else None,
        "state": window.state,
        "pause_reason": window.pause_reason,
        "ready_at": window.ready_at,
        "current_ticket_id": window.current_ticket_id,
        "updated_at": window.updated_at,
    }


def get_window(session: Session, hall_id: str, window_id: str) -> Window:
    window = session.get(Window, (hall_id, window_id))
    if window is None:
        raise NotFoundError(f"hall {hall_id!r} has no window {window_id!r}")
    return window


def hall_windows(session: Session, hall_id: str) -> list[Window]:
    if session.get(Hall, hall_id) is None:
        raise NotFoundError(f"no hall {hall_id!r}")
    return list(session.scalars(select(Window).where(Window.hall_id == hall_id).order_by(Window.id)))

"""The dispatcher: the next waiting ticket goes to a window drawn at random among the eligible ready ones.

一窗受理: neither clerk nor citizen chooses. Each pass takes the hall lock (``SELECT … FOR UPDATE`` on
PostgreSQL; on SQLite the write transaction already runs under ``BEGIN IMMEDIATE``), then assigns with
conditional UPDATEs (``WHERE state='waiting'`` / ``WHERE state='ready'``); the unique partial index on
tickets is the last line against a window holding two tickets. The draw uses the OS CSPRNG through
``secrets.SystemRandom().choice`` (no modulo bias) and every draw, with its candidate set, is audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hall_server import audit, commands
from hall_server.context import HallContext
from hall_server.errors import ConflictError, NotFoundError
from hall_server.models import Device, Hall, Matter, Ticket, Window
from hall_server.visits import start_period, visit_of
from hallbus.catalogue import CALLER, HALL_SCREEN, WINDOW_SCREEN
from hallbus.models import now_ms

log = logging.getLogger(__name__)

ALL_CATEGORIES = "all"


@dataclass(frozen=True)
class Assignment:
    ticket_id: int
    number: str
    window_id: str
    candidates: tuple[str, ...]


def lock_hall(session: Session, hall_id: str) -> Hall:
    """Serialise decisions for one hall across threads and server processes."""
    stmt = select(Hall).where(Hall.id == hall_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    hall = session.scalars(stmt).one_or_none()
    if hall is None:
        raise NotFoundError(f"no hall {hall_id!r}")
    return hall


def eligible(window: Window, category: str) -> bool:
    """A window takes a category it lists; "all" (全科窗口) takes every category."""
    return ALL_CATEGORIES in window.categories or category in window.categories


def dispatch_pass(ctx: HallContext, session: Session, hall_id: str) -> list[Assignment]:
    """Assign waiting tickets to ready windows until no waiting ticket has an eligible ready window.

    The caller must hold the hall lock (`lock_hall`) in this transaction.
    """
    made: list[Assignment] = []
    while (assignment := _assign_one(ctx, session, hall_id)) is not None:
        made.append(assignment)
    return made


def _assign_one(ctx: HallContext, session: Session, hall_id: str) -> Assignment | None:
    ready = list(
        session.scalars(
            select(Window)
            .where(Window.hall_id == hall_id, Window.state == "ready", Window.current_ticket_id.is_(None))
            .order_by(Window.id)
        )
    )
    if not ready:
        return None
    waiting = session.execute(
        select(Ticket, Matter.category)
        .join(Matter, Matter.code == Ticket.matter_code)
        .where(Ticket.hall_id == hall_id, Ticket.state == "waiting")
        .order_by(Ticket.issued_at, Ticket.id)
    ).all()
    for ticket, category in waiting:
        candidates = [w for w in ready if eligible(w, category)]
        if candidates:
            chosen = ctx.rng.choice(candidates)
            return call_ticket(ctx, session, ticket, chosen, candidates)
    return None


def call_ticket(
    ctx: HallContext, session: Session, ticket: Ticket, window: Window, candidates: list[Window]
) -> Assignment:
    now = now_ms()
    taken = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.state == "waiting")
        .values(state="called", window_id=window.id, called_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(f"ticket {ticket.number} is no longer waiting")
    bound = session.execute(
        update(Window)
        .where(
            Window.hall_id == window.hall_id,
            Window.id == window.id,
            Window.state == "ready",
            Window.current_ticket_id.is_(None),
        )
        .values(state="called", current_ticket_id=ticket.id, updated_at=now)
    )
    if bound.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(f"window {window.id} is no longer ready")
    start_period(session, visit_of(session, ticket.id), "called", window.id, now)
    ids = tuple(sorted(w.id for w in candidates))
    audit.record(
        session,
        hall=ticket.hall_id,
        actor="dispatcher",
        action="dispatch",
        subject=f"ticket:{ticket.id}",
        details={"ticket": ticket.number, "window": window.id, "candidates": list(ids), "rng": "secrets.SystemRandom"},
    )
    log.info(
        "hall=%s window=%s ticket=%s called (drawn among %s)", ticket.hall_id, window.id, ticket.number, ",".join(ids)
    )
    announce(ctx, session, ticket, window)
    return Assignment(ticket_id=ticket.id, number=ticket.number, window_id=window.id, candidates=ids)


def call_text(ticket: Ticket, window: Window) -> str:
    return f"{ticket.number}请到{window.number}号窗口"


def announce(ctx: HallContext, session: Session, ticket: Ticket, window: Window) -> None:
    """Show a call on the window screen, the caller keypad and every hall screen."""
    text = call_text(ticket, window)[:128]
    for device in _devices(session, window.hall_id, window.id, (WINDOW_SCREEN, CALLER)):
        if device.kind == WINDOW_SCREEN:
            commands.send_to_device(ctx, session, device, "show_text", {"text": text})
        else:
            commands.send_to_device(ctx, session, device, "show_number", {"text": ticket.number[:8], "blink": 3})
    for device in _devices(session, window.hall_id, None, (HALL_SCREEN,)):
        commands.send_to_device(ctx, session, device, "show_text", {"text": text})


def _devices(session: Session, hall_id: str, window_id: str | None, kinds: tuple[str, ...]) -> list[Device]:
    stmt = select(Device).where(Device.hall_id == hall_id, Device.kind.in_(kinds))
    if window_id is not None:
        stmt = stmt.where(Device.window_id == window_id)
    return list(session.scalars(stmt.order_by(Device.id)))

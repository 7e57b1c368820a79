"""The dispatcher: head tickets go to windows drawn at random among the eligible ready ones, in rounds.

一窗受理: neither clerk nor citizen chooses. A CALL press only makes a window *ready*; a **dispatch round**
(docs/dispatch.md) then matches every window that became ready since the last round to the head tickets
of the hall's pooled queue: the head ticket gets a window drawn uniformly among the eligible ready
windows, the next ticket one drawn among those left, and so on (a uniformly random matching). Rounds run
at most every `dispatch_round_ms`, a collection period after the event that asked for them, so pressing
CALL a moment earlier or later than another clerk changes nothing about who gets which ticket.

`plan_round` is the pure decision (the statistical tests call it directly); `run_round` and
`dispatch_pass` apply it under the hall lock (``SELECT … FOR UPDATE`` on the hall row on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), with conditional UPDATEs (``WHERE state='waiting'`` / ``WHERE
state='ready'``) and the unique partial index on tickets as the last line against a window holding two
tickets. Draws use the OS CSPRNG (``secrets.SystemRandom.randrange``: rejection sampling, no modulo
bias), and every decision is audited with its candidate set, its draw and its round.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hall_server import audit, commands
from hall_server.context import HallContext, savepoint, wake_round
from hall_server.errors import ConflictError, HallError, NotFoundError
from hall_server.models import Device, Hall, Ticket, Window
from hall_server.visits import start_period, visit_of
from hallbus.catalogue import CALLER, HALL_SCREEN, VOICE, WINDOW_SCREEN
from hallbus.models import now_ms

log = logging.getLogger(__name__)

ALL_CATEGORIES = "all"
RNG_NAME = "secrets.SystemRandom.randrange"

# Queue order: (queue_rank, queue_at, id). Returning tickets (back from a hold, transferred) go first.
RANK_RETURNING = 0
PRIORITY_RANK = {"green": 1, "booked": 2, "normal": 3}
PRIORITIES = tuple(PRIORITY_RANK)


@dataclass(frozen=True)
class Candidate:
    """A ready window as the planner sees it."""

    id: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Waiting:
    """A waiting ticket as the planner sees it, in queue order."""

    ticket_id: int
    category: str
    target_window: str | None = None


@dataclass(frozen=True)
class Decision:
    ticket_id: int
    window_id: str
    candidates: tuple[str, ...]
    draw: int | None  # index into `candidates`; None for a ticket addressed to one window (personal queue)


@dataclass(frozen=True)
class Assignment:
    ticket_id: int
    number: str
    window_id: str
    candidates: tuple[str, ...]
    draw: int | None = None
    round: int = 0


@dataclass(frozen=True)
class RoundOutcome:
    hall: str
    assignments: list[Assignment] = field(default_factory=list)
    retry_at: int | None = None  # too early: the previous round was less than dispatch_round_ms ago
    next_hold_at: int | None = None  # the earliest held ticket's return time


def eligible(categories: Sequence[str], category: str) -> bool:
    """A window takes a category it lists; "all" (全科窗口) takes every category."""
    return ALL_CATEGORIES in categories or category in categories


def draw(rng: random.Random, k: int) -> int:
    """A uniform index in [0, k): `randrange` rejects out-of-range bits, so there is no modulo bias."""
    return rng.randrange(k)


def plan_round(rng: random.Random, ready: Sequence[Candidate], waiting: Sequence[Waiting]) -> list[Decision]:
    """Match ready windows to waiting tickets (given in queue order); pure, so tests can run it directly.

    A ticket addressed to one window (a transfer) goes to that window if it is ready. Then, head first,
    each ticket gets a window drawn uniformly among the ready windows eligible for it and not yet taken
    in this round; a ticket no ready window can take is passed over (it keeps its place).
    """
    free = sorted(ready, key=lambda c: c.id)  # a fixed order, so an audited draw index names its window
    decisions: list[Decision] = []
    pooled: list[Waiting] = []
    for ticket in waiting:
        if ticket.target_window is None:
            pooled.append(ticket)
            continue
        mine = next((c for c in free if c.id == ticket.target_window), None)
        if mine is not None:
            decisions.append(Decision(ticket.ticket_id, mine.id, (mine.id,), None))
            free.remove(mine)
    for ticket in pooled:
        if not free:
            break
        candidates = [c for c in free if eligible(c.categories, ticket.category)]
        if not candidates:
            continue
        index = draw(rng, len(candidates))
        chosen = candidates[index]
        decisions.append(Decision(ticket.ticket_id, chosen.id, tuple(c.id for c in candidates), index))
        free.remove(chosen)
    return decisions


def lock_hall(session: Session, hall_id: str) -> Hall:
    """Serialise decisions for one hall across threads and server processes."""
    stmt = select(Hall).where(Hall.id == hall_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    hall = session.scalars(stmt).one_or_none()
    if hall is None:
        raise NotFoundError(f"no hall {hall_id!r}")
    return hall


def on_queue_event(ctx: HallContext, session: Session, hall_id: str) -> list[Assignment]:
    """A window became ready or a ticket joined the queue: dispatch now (round 0 ms) or ask for a round.

    The caller holds the hall lock. With rounds, the round runs one collection period later, after the
    commit, from the round scheduler (hall_server/rounds.py).
    """
    round_ms = ctx.settings.dispatch_round_ms
    if round_ms <= 0:
        return dispatch_pass(ctx, session, hall_id)
    wake_round(session, hall_id, now_ms() + round_ms)
    return []


def dispatch_pass(ctx: HallContext, session: Session, hall_id: str, now: int | None = None) -> list[Assignment]:
    """Return due holds to the queue and run one round now. The caller must hold the hall lock."""
    hall = session.get(Hall, hall_id)
    if hall is None:
        raise NotFoundError(f"no hall {hall_id!r}")
    at = now if now is not None else now_ms()
    release_holds(ctx, session, hall_id, at)
    return _round(ctx, session, hall, at)


def run_round(ctx: HallContext, hall_id: str, now: int | None = None) -> RoundOutcome:
    """One dispatch round in its own transaction."""
    return run_rounds(ctx, [hall_id], now)[0]


def run_rounds(ctx: HallContext, hall_ids: Sequence[str], now: int | None = None) -> list[RoundOutcome]:
    """The due rounds of many halls in one transaction (what the scheduler runs), each in a savepoint.

    One write transaction per batch instead of per hall: at city scale the scheduler otherwise queued
    for the write connection once per hall behind the ingest and the HTTP requests (city twin). Halls
    are locked in id order, so two processes' batches cannot deadlock each other. A hall whose round
    is refused (a `HallError`) rolls back alone and is reported with no assignments.
    """
    outcomes: list[RoundOutcome] = []
    with ctx.transaction() as session:
        for hall_id in sorted(set(hall_ids)):
            try:
                with savepoint(session):
                    outcomes.append(_hall_round(ctx, session, hall_id, now))
            except HallError as exc:
                log.warning("hall=%s dispatch round refused: %s", hall_id, exc.detail)
                outcomes.append(RoundOutcome(hall_id))
    return outcomes


def _hall_round(ctx: HallContext, session: Session, hall_id: str, now: int | None) -> RoundOutcome:
    hall = lock_hall(session, hall_id)
    at = now if now is not None else now_ms()
    round_ms = ctx.settings.dispatch_round_ms
    if round_ms > 0 and hall.last_round_at and at < hall.last_round_at + round_ms:
        return RoundOutcome(hall_id, retry_at=hall.last_round_at + round_ms)
    release_holds(ctx, session, hall_id, at)
    made = _round(ctx, session, hall, at)
    next_hold = session.scalar(
        select(func.min(Ticket.held_until)).where(Ticket.hall_id == hall_id, Ticket.state == "held")
    )
    return RoundOutcome(hall_id, made, next_hold_at=int(next_hold) if next_hold is not None else None)


def _round(ctx: HallContext, session: Session, hall: Hall, at: int) -> list[Assignment]:
    windows = list(
        session.scalars(
            select(Window).where(Window.hall_id == hall.id, Window.state == "ready", Window.current_ticket_id.is_(None))
        )
    )
    if not windows:
        return []
    rows = session.execute(
        select(Ticket.id, Ticket.category, Ticket.target_window_id)
        .where(Ticket.hall_id == hall.id, Ticket.state == "waiting")
        .order_by(Ticket.queue_rank, Ticket.queue_at, Ticket.id)
    ).all()
    if not rows:
        return []
    ready = [Candidate(w.id, tuple(w.categories)) for w in windows]
    waiting = [Waiting(r.id, r.category, r.target_window_id) for r in rows]
    decisions = plan_round(ctx.rng, ready, waiting)
    if not decisions:
        return []
    hall.round_seq += 1
    hall.last_round_at = at
    by_id = {w.id: w for w in windows}
    devices = announcers(session, hall.id)  # once per round, not three queries per call
    made = []
    for decision in decisions:
        ticket = session.get(Ticket, decision.ticket_id)
        assert ticket is not None
        window = by_id[decision.window_id]
        made.append(call_ticket(ctx, session, ticket, window, decision, hall.round_seq, devices))
    return made


def release_holds(ctx: HallContext, session: Session, hall_id: str, at: int) -> int:
    """Held tickets whose time is up return to the head of their queue (rank `RANK_RETURNING`)."""
    due = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.hall_id == hall_id, Ticket.state == "held", Ticket.held_until <= at)
            .order_by(Ticket.held_until, Ticket.id)
        )
    )
    for ticket in due:
        ticket.state, ticket.queue_rank, ticket.queue_at = "waiting", RANK_RETURNING, ticket.held_until or at
        ticket.held_until, ticket.window_id = None, None
        start_period(session, visit_of(session, ticket.id), "waiting", None, at)
        audit.record(
            session,
            hall=hall_id,
            actor="dispatcher",
            action="hold_returned",
            subject=f"ticket:{ticket.id}",
            details={"ticket": ticket.number, "category": ticket.category},
        )
        log.info("hall=%s ticket=%s back from hold, at the head of %s", hall_id, ticket.number, ticket.category)
    if due:
        session.flush()
    return len(due)


def call_ticket(
    ctx: HallContext,
    session: Session,
    ticket: Ticket,
    window: Window,
    decision: Decision,
    round_id: int,
    devices: list[Device] | None = None,
) -> Assignment:
    now = now_ms()
    taken = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.state == "waiting")
        .values(state="called", window_id=window.id, called_at=now, target_window_id=None)
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
        .values(state="called", current_ticket_id=ticket.id, updated_at=now, ready_at=None)
    )
    if bound.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(f"window {window.id} is no longer ready")
    # the conditional UPDATEs decided; reload the rows' new values on next access (attributes a new
    # object never had set are not refreshed by the UPDATE's in-session synchronisation)
    session.expire(ticket, ["state", "window_id", "called_at", "target_window_id"])
    session.expire(window, ["state", "current_ticket_id", "updated_at", "ready_at"])
    start_period(session, visit_of(session, ticket.id), "called", window.id, now)
    audit.record(
        session,
        hall=ticket.hall_id,
        actor="dispatcher",
        action="dispatch",
        subject=f"ticket:{ticket.id}",
        details={
            "ticket": ticket.number,
            "ticket_id": ticket.id,
            "category": ticket.category,
            "priority": ticket.priority,
            "window": window.id,
            "candidates": list(decision.candidates),
            "k": len(decision.candidates),
            "draw": decision.draw,
            "mode": "random" if decision.draw is not None else "personal",
            "round": round_id,
            "rng": RNG_NAME,
        },
    )
    log.info(
        "hall=%s window=%s ticket=%s called in round %d (drawn among %s)",
        ticket.hall_id,
        window.id,
        ticket.number,
        round_id,
        ",".join(decision.candidates),
    )
    announce(ctx, session, ticket, window, devices=devices)
    return Assignment(ticket.id, ticket.number, window.id, decision.candidates, decision.draw, round_id)


def call_text(ticket: Ticket, window: Window) -> str:
    return f"{ticket.number}请到{window.number}号窗口"


def announce(
    ctx: HallContext,
    session: Session,
    ticket: Ticket,
    window: Window,
    recall: bool = False,
    devices: list[Device] | None = None,
) -> None:
    """Show a call on the window screen, the caller keypad and every hall screen, and say it.

    Each hall speaker queues announcements itself, so two calls are never spoken over each other.
    `devices` are the hall's `announcers` when the caller already has them.
    """
    text = call_text(ticket, window)[:128]
    spoken = {"ticket_no": ticket.number, "window_no": str(window.number), "recall": recall}
    for device in devices if devices is not None else announcers(session, window.hall_id):
        if device.kind == WINDOW_SCREEN and device.window_id == window.id:
            commands.send_to_device(ctx, session, device, "show_text", {"text": text})
        elif device.kind == CALLER and device.window_id == window.id:
            commands.send_to_device(ctx, session, device, "show_number", {"text": ticket.number[:8], "blink": 3})
        elif device.kind == HALL_SCREEN:
            commands.send_to_device(ctx, session, device, "show_text", {"text": text})
        elif device.kind == VOICE:
            commands.send_to_device(ctx, session, device, "announce", spoken)


ANNOUNCER_KINDS = (WINDOW_SCREEN, CALLER, HALL_SCREEN, VOICE)


def announcers(session: Session, hall_id: str) -> list[Device]:
    """The devices a call is shown or spoken on, in a fixed order: window screens and callers (each
    window's own), hall screens and speakers (all of them)."""
    order = {kind: i for i, kind in enumerate(ANNOUNCER_KINDS)}
    found = session.scalars(select(Device).where(Device.hall_id == hall_id, Device.kind.in_(ANNOUNCER_KINDS)))
    return sorted(found, key=lambda d: (order[d.kind], d.id))

"""Queue tickets: atomic numbering per (hall, local day, prefix), idempotent issue, printing.

The number comes from one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` on the counter row, which is
atomic on SQLite and PostgreSQL alike, so concurrent requests and concurrent server processes never
receive the same number. Issuing is a queue event: it asks for a dispatch round (or, with rounds of 0 ms,
dispatches at once). A ticket queues in its matter's category, in its priority class (`green` channel,
`booked` near its slot, `normal`), FIFO within the class; the issue response carries its predicted wait
and, when a nearby hall is much quicker, an alternative (hall_server/queueing.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hall_server import audit, commands, dispatch, queueing
from hall_server.context import HallContext
from hall_server.db import bump_counter, local_day
from hall_server.errors import ConflictError, InvalidError, NotFoundError
from hall_server.models import Booking, CommandRecord, Device, Hall, Matter, Ticket, TicketCounter
from hall_server.visits import open_visit
from hallbus.catalogue import TICKET_PRINTER
from hallbus.models import now_ms

log = logging.getLogger(__name__)

TICKET_STATES = ("waiting", "called", "serving", "held", "done", "no_show")


@dataclass(frozen=True)
class IssueRequest:
    matter: str
    printer: str | None = None
    request_id: str | None = None
    priority: str = "normal"  # "green" (elderly, disabled, pregnant, key projects) or "normal"; see check_in
    booking_code: str | None = None


def allocate_seq(session: Session, hall: str, day: str, prefix: str) -> int:
    """Bump and return the counter of (hall, day, prefix) in one atomic statement."""
    return bump_counter(session, TicketCounter, hall_id=hall, day=day, prefix=prefix)


def format_number(prefix: str, seq: int) -> str:
    return f"{prefix}{seq:03d}"


def qr_payload(hall: str, ticket_id: int, number: str) -> str:
    return f"hall://{hall}/ticket/{ticket_id}?n={number}"


def issue_ticket(ctx: HallContext, hall_id: str, req: IssueRequest) -> tuple[dict[str, Any], bool]:
    """Issue (or, for a known request_id, return) a ticket; the bool says whether it is new.

    The view carries `predicted_wait_s` (and `alternative` when a nearby hall is much quicker).
    """
    view, created = _issue_or_get(ctx, hall_id, req)
    if view["state"] == "waiting":
        view.update(queueing.forecast_for_ticket(ctx, hall_id, view["matter"], view["category"]))
    else:
        view.update({"predicted_wait_s": 0.0, "wait_method": "called", "alternative": None})
    return view, created


def _issue_or_get(ctx: HallContext, hall_id: str, req: IssueRequest) -> tuple[dict[str, Any], bool]:
    if req.priority not in dispatch.PRIORITY_RANK:
        raise InvalidError(f"unknown priority {req.priority!r}")
    try:
        with ctx.transaction() as session:
            existing = _by_request_id(session, hall_id, req.request_id)
            if existing is not None:
                return ticket_view(session, existing), False
            ticket = _issue(ctx, session, hall_id, req)
            view = ticket_view(session, ticket)
    except IntegrityError:
        if req.request_id is None:
            raise
        with ctx.db.read() as session:  # a concurrent request with the same key won the race
            existing = _by_request_id(session, hall_id, req.request_id)
            if existing is None:
                raise
            return ticket_view(session, existing), False
    return view, True


def _by_request_id(session: Session, hall_id: str, request_id: str | None) -> Ticket | None:
    if request_id is None:
        return None
    stmt = select(Ticket).where(Ticket.hall_id == hall_id, Ticket.request_id == request_id)
    return session.scalars(stmt).one_or_none()


def _issue(ctx: HallContext, session: Session, hall_id: str, req: IssueRequest) -> Ticket:
    # With rounds, issuing decides nothing but the number (one atomic upsert): no hall lock needed, and
    # the round that follows takes it. Dispatching inside the issue (0 ms rounds) needs the lock first.
    if ctx.settings.dispatch_round_ms > 0:
        hall = session.get(Hall, hall_id)
        if hall is None:
            raise NotFoundError(f"no hall {hall_id!r}")
    else:
        hall = dispatch.lock_hall(session, hall_id)
    matter = session.get(Matter, req.matter)
    if matter is None:
        raise InvalidError(f"unknown matter {req.matter!r}")
    printer = _printer(session, hall_id, req.printer)
    now = now_ms()
    day = local_day(now, ctx.tz)
    seq = allocate_seq(session, hall_id, day, matter.prefix)
    ticket = Ticket(
        category=matter.category,
        priority=req.priority,
        queue_rank=dispatch.PRIORITY_RANK[req.priority],
        queue_at=now,
        booking_code=req.booking_code,
        hall_id=hall_id,
        day=day,
        prefix=matter.prefix,
        seq=seq,
        number=format_number(matter.prefix, seq),
        matter_code=matter.code,
        state="waiting",
        issued_at=now,
        recalls=0,
        request_id=req.request_id,
        printer_id=printer.id if printer else None,
        print_status="none",
    )
    session.add(ticket)
    session.flush()
    open_visit(session, hall_id, ticket.id, now)
    if printer is not None:
        _print(ctx, session, hall, matter, ticket, printer)
    audit.record(
        session,
        hall=hall_id,
        actor="kiosk",
        action="ticket_issued",
        subject=f"ticket:{ticket.id}",
        details={
            "number": ticket.number,
            "matter": matter.code,
            "printer": ticket.printer_id,
            "priority": ticket.priority,
            "booking": ticket.booking_code,
        },
    )
    log.info("hall=%s ticket=%s issued for matter %s (%s)", hall_id, ticket.number, matter.code, ticket.priority)
    dispatch.on_queue_event(ctx, session, hall_id)
    return ticket


def _printer(session: Session, hall_id: str, printer_id: str | None) -> Device | None:
    if printer_id is not None:
        device = session.get(Device, (hall_id, printer_id))
        if device is None or device.kind != TICKET_PRINTER:
            raise InvalidError(f"hall {hall_id} has no ticket printer {printer_id!r}")
        return device
    stmt = select(Device).where(Device.hall_id == hall_id, Device.kind == TICKET_PRINTER).order_by(Device.id)
    return session.scalars(stmt.limit(1)).first()


def _print(ctx: HallContext, session: Session, hall: Hall, matter: Matter, ticket: Ticket, printer: Device) -> None:
    args = {
        "hall_name": hall.name[:64],
        "ticket_no": ticket.number,
        "matter": matter.name[:64],
        "ahead": ahead_of(session, ticket),
        "issued_at": ticket.issued_at,
        "qr": qr_payload(hall.id, ticket.id, ticket.number),
    }
    record = commands.send_to_device(ctx, session, printer, "print_ticket", args)
    ticket.print_cmd_id = record.cmd_id
    ticket.print_status = "pending"


def ahead_of(session: Session, ticket: Ticket) -> int:
    """Waiting tickets of the same hall and category ahead of this one in queue order."""
    if ticket.state != "waiting":
        return 0
    before = or_(
        Ticket.queue_rank < ticket.queue_rank,
        and_(Ticket.queue_rank == ticket.queue_rank, Ticket.queue_at < ticket.queue_at),
        and_(Ticket.queue_rank == ticket.queue_rank, Ticket.queue_at == ticket.queue_at, Ticket.id < ticket.id),
    )
    stmt = select(func.count(Ticket.id)).where(
        Ticket.hall_id == ticket.hall_id,
        Ticket.state == "waiting",
        Ticket.category == ticket.category,
        before,
    )
    return int(session.scalar(stmt) or 0)


def on_print_result(session: Session, record: CommandRecord) -> None:
    """Reflect a print_ticket outcome on its ticket; a failure is a hall alarm (the kiosk shows the number)."""
    ticket = session.scalars(select(Ticket).where(Ticket.print_cmd_id == record.cmd_id)).one_or_none()
    if ticket is None:
        return
    if record.status == "ok":
        ticket.print_status = "printed"
        return
    ticket.print_status = "failed" if record.status != "timeout" else "timeout"
    error = (record.result or {}).get("error") or {}
    log.error(
        "ALARM print_failed hall=%s device=%s ticket=%s status=%s code=%s",
        ticket.hall_id,
        record.device_id,
        ticket.number,
        record.status,
        error.get("code"),
    )
    audit.record(
        session,
        hall=ticket.hall_id,
        actor="bus",
        action="alarm_print_failed",
        subject=f"ticket:{ticket.id}",
        details={"cmd_id": record.cmd_id, "status": record.status, "error": error},
    )


def get_ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFoundError(f"no ticket {ticket_id}")
    return ticket


def list_tickets(session: Session, hall_id: str, state: str | None) -> list[Ticket]:
    if session.get(Hall, hall_id) is None:
        raise NotFoundError(f"no hall {hall_id!r}")
    stmt = select(Ticket).where(Ticket.hall_id == hall_id)
    if state is not None:
        stmt = stmt.where(Ticket.state == state)
    return list(session.scalars(stmt.order_by(Ticket.issued_at, Ticket.id)))


def ticket_view(session: Session, ticket: Ticket, *, with_print: bool = True) -> dict[str, Any]:
    matter = session.get(Matter, ticket.matter_code)
    hall = session.get(Hall, ticket.hall_id)
    view: dict[str, Any] = {
        "id": ticket.id,
        "number": ticket.number,
        "hall": ticket.hall_id,
        "hall_name": hall.name if hall else "",
        "matter": ticket.matter_code,
        "matter_name": matter.name if matter else "",
        "state": ticket.state,
        "category": ticket.category,
        "priority": ticket.priority,
        "window": ticket.window_id,
        "target_window": ticket.target_window_id,
        "held_until": ticket.held_until,
        "booking": ticket.booking_code,
        "ahead": ahead_of(session, ticket),
        "day": ticket.day,
        "issued_at": ticket.issued_at,
        "called_at": ticket.called_at,
        "started_at": ticket.started_at,
        "finished_at": ticket.finished_at,
        "recalls": ticket.recalls,
        "qr": qr_payload(ticket.hall_id, ticket.id, ticket.number),
        "printer": ticket.printer_id,
        "print_cmd_id": ticket.print_cmd_id,
        "print_status": ticket.print_status,
    }
    if with_print and ticket.print_cmd_id:
        record = commands.get(session, ticket.print_cmd_id)
        view["print"] = {"status": record.status, "error": (record.result or {}).get("error")} if record else None
    return view


# --- bookings (online appointments) -------------------------------------------------------------------


def create_booking(session: Session, hall_id: str, code: str, matter_code: str, slot_at: int) -> dict[str, Any]:
    """Register an appointment; the same code again with the same content is a no-op, else a conflict."""
    if session.get(Hall, hall_id) is None:
        raise NotFoundError(f"no hall {hall_id!r}")
    if session.get(Matter, matter_code) is None:
        raise InvalidError(f"unknown matter {matter_code!r}")
    booking = session.get(Booking, (hall_id, code))
    if booking is not None:
        if (booking.matter_code, booking.slot_at) != (matter_code, slot_at):
            raise ConflictError(f"booking {code} exists with another matter or slot")
        return booking_view(booking)
    booking = Booking(hall_id=hall_id, code=code, matter_code=matter_code, slot_at=slot_at, created_at=now_ms())
    session.add(booking)
    session.flush()
    return booking_view(booking)


def booking_view(booking: Booking) -> dict[str, Any]:
    return {
        "hall": booking.hall_id,
        "code": booking.code,
        "matter": booking.matter_code,
        "slot_at": booking.slot_at,
        "ticket_id": booking.ticket_id,
    }


def check_in(
    ctx: HallContext, hall_id: str, code: str, printer: str | None = None, at_ms: int | None = None
) -> tuple[dict[str, Any], bool]:
    """Issue the ticket of a booking: class `booked` if the citizen checks in near the slot, else `normal`.

    Checking in again returns the same ticket (the request id is derived from the booking code).
    """
    with ctx.db.read() as session:
        booking = session.get(Booking, (hall_id, code))
        if booking is None:
            raise NotFoundError(f"hall {hall_id!r} has no booking {code!r}")
        matter, slot = booking.matter_code, booking.slot_at
    now = at_ms if at_ms is not None else now_ms()
    on_time = slot - ctx.settings.booking_early_s * 1000 <= now <= slot + ctx.settings.booking_late_s * 1000
    req = IssueRequest(
        matter=matter,
        printer=printer,
        request_id=f"booking:{code}"[:64],
        priority="booked" if on_time else "normal",
        booking_code=code,
    )
    view, created = issue_ticket(ctx, hall_id, req)
    if created:
        with ctx.transaction() as session:
            row = session.get(Booking, (hall_id, code))
            if row is not None and row.ticket_id is None:
                row.ticket_id = view["id"]
    view["booking_on_time"] = on_time if created else view["priority"] == "booked"
    return view, created

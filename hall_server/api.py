"""The HTTP API: thin handlers that validate, call one service in one transaction, and shape JSON.

Errors are always JSON ``{"detail": ...}``: 404 for unknown things, 409 for a state that forbids the
action, 422 for bad bodies. There is deliberately no endpoint that takes a ticket id to call.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from hall_server import audit, commands, fairness, queueing, ratings, stats, tickets, topology, windows
from hall_server.auth import Principal, require
from hall_server.context import HallContext
from hall_server.errors import NotFoundError, RowId
from hall_server.topology import IdStr, TopologyIn

router = APIRouter(prefix="/api")

# Who may call what (hall_server/auth.py): reads of what a hall shows its public (screens, waits,
# device health, stats) are open; everything that changes state or shows ratings, tickets or the
# audit trail needs a token whose role and hall (and, for a clerk, window) fit the path.
Admin = Annotated[Principal, Depends(require())]
Kiosk = Annotated[Principal, Depends(require("kiosk", "operator"))]
AtWindow = Annotated[Principal, Depends(require("clerk", "operator"))]
Operator = Depends(require("operator"))
WindowAction = Literal[
    "ready", "call-next", "recall", "start", "finish", "skip", "hold", "transfer", "pause", "resume", "login", "logout"
]
TicketState = Literal["waiting", "called", "serving", "held", "done", "no_show"]


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matter: str = Field(min_length=1, max_length=64)
    printer: IdStr | None = None
    request_id: str | None = Field(default=None, min_length=1, max_length=64)
    # the green channel (elderly, disabled, pregnant, key projects), set by hall staff at the kiosk;
    # `booked` is given only by a booking check-in near its slot
    priority: Literal["normal", "green"] = "normal"


class ActionIn(BaseModel):
    """Optional body of a window action: what pause, hold, transfer and login need."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, min_length=1, max_length=64)
    window: IdStr | None = None
    seconds: int | None = Field(default=None, ge=1, le=4 * 3600)
    staff_id: str | None = Field(default=None, min_length=1, max_length=32)
    name: str | None = Field(default=None, min_length=1, max_length=32)


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    matter: str = Field(min_length=1, max_length=64)
    slot_at: int = Field(ge=0, description="the appointment, UTC milliseconds")


class CheckInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    printer: IdStr | None = None


def _ctx(request: Request) -> HallContext:
    ctx: HallContext = request.app.state.ctx
    return ctx


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    ctx = _ctx(request)
    bridge = getattr(request.app.state, "bridge", None)
    bus = "disabled" if bridge is None else ("connected" if bridge.connected.is_set() else "disconnected")
    with ctx.db.read() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "database": ctx.db.dialect, "bus": bus}


@router.get("/metrics")
def metrics(request: Request) -> dict[str, Any]:
    """How far behind this server process is: ingest and dispatch-round lags (hall_server/metrics.py)."""
    return _ctx(request).metrics.snapshot()


@router.put("/topology")
def put_topology(request: Request, body: Annotated[TopologyIn, Body()], principal: Admin) -> dict[str, int]:
    ctx = _ctx(request)
    with ctx.transaction() as session:
        counts = topology.apply(session, body, principal.id)
    ctx.publisher.halls_changed()
    return counts


@router.get("/halls")
def list_halls(request: Request) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        return topology.list_halls(session)


@router.get("/halls/{hall}")
def get_hall(request: Request, hall: str) -> dict[str, Any]:
    with _ctx(request).db.read() as session:
        row = topology.get_hall(session, hall)
        waiting = tickets.list_tickets(session, hall, "waiting")
        return {
            "id": row.id,
            "name": row.name,
            "location": {"lat": row.lat, "lon": row.lon, "district": row.district},
            "queue_length": len(waiting),
            "windows": [windows.window_view(w) for w in windows.hall_windows(session, hall)],
        }


@router.get("/halls/{hall}/devices")
def hall_devices(request: Request, hall: str) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        return topology.hall_devices(session, hall)


@router.post("/halls/{hall}/tickets", status_code=201)
def issue_ticket(request: Request, response: Response, hall: str, body: IssueIn, principal: Kiosk) -> dict[str, Any]:
    req = tickets.IssueRequest(
        matter=body.matter, printer=body.printer, request_id=body.request_id, priority=body.priority
    )
    view, created = tickets.issue_ticket(_ctx(request), hall, req)
    if not created:
        response.status_code = 200
    return view


@router.post("/halls/{hall}/bookings", status_code=201)
def create_booking(request: Request, hall: str, body: BookingIn, principal: Kiosk) -> dict[str, Any]:
    with _ctx(request).transaction() as session:
        return tickets.create_booking(session, hall, body.code, body.matter, body.slot_at)


@router.post("/halls/{hall}/bookings/{code}/check-in", status_code=201)
def check_in(
    request: Request,
    response: Response,
    hall: str,
    code: str,
    principal: Kiosk,
    body: Annotated[CheckInIn | None, Body()] = None,
) -> dict[str, Any]:
    view, created = tickets.check_in(_ctx(request), hall, code, printer=body.printer if body else None)
    if not created:
        response.status_code = 200
    return view


@router.get("/halls/{hall}/waits")
def hall_waits(request: Request, hall: str) -> dict[str, Any]:
    ctx = _ctx(request)
    with ctx.db.read() as session:
        return queueing.hall_waits(ctx, session, hall)


@router.get("/matters/{code}/halls")
def matter_halls(request: Request, code: str, near: str | None = None) -> list[dict[str, Any]]:
    ctx = _ctx(request)
    with ctx.db.read() as session:
        return queueing.halls_for_matter(ctx, session, code, near)


@router.get("/halls/{hall}/tickets", dependencies=[Operator])
def list_tickets(request: Request, hall: str, state: TicketState | None = None) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        return [tickets.ticket_view(session, t, with_print=False) for t in tickets.list_tickets(session, hall, state)]


@router.get("/tickets/{ticket_id}")
def get_ticket(request: Request, ticket_id: RowId) -> dict[str, Any]:
    with _ctx(request).db.read() as session:
        return tickets.ticket_view(session, tickets.get_ticket(session, ticket_id))


@router.get("/halls/{hall}/windows/{window}")
def get_window(request: Request, hall: str, window: str) -> dict[str, Any]:
    with _ctx(request).db.read() as session:
        return windows.window_view(windows.get_window(session, hall, window))


@router.post("/halls/{hall}/windows/{window}/{action}")
def window_action(
    request: Request,
    hall: str,
    window: str,
    action: WindowAction,
    principal: AtWindow,
    body: Annotated[ActionIn | None, Body()] = None,
) -> dict[str, Any]:
    ctx = _ctx(request)
    params = windows.ActionParams(**body.model_dump()) if body is not None else windows.NO_PARAMS
    with ctx.transaction() as session:
        return windows.perform(ctx, session, hall, window, action, principal.id, params)


@router.get("/halls/{hall}/ratings", dependencies=[Operator])
def hall_ratings(request: Request, hall: str) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        return ratings.list_ratings(session, hall)


@router.get("/halls/{hall}/rating-requests", dependencies=[Operator])
def hall_rating_requests(request: Request, hall: str) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        topology.get_hall(session, hall)
        return ratings.list_requests(session, hall)


@router.get("/halls/{hall}/stats")
def hall_stats(
    request: Request, hall: str, day: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None
) -> dict[str, Any]:
    with _ctx(request).db.read() as session:
        return stats.hall_stats(session, hall, day)


@router.get("/halls/{hall}/audit", dependencies=[Operator])
def hall_audit(
    request: Request,
    hall: str,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    after: Annotated[int | None, Query(ge=0, description="entries with a larger id, oldest first")] = None,
) -> list[dict[str, Any]]:
    """Newest first; with `after`, oldest first from that id on (an auditor reads every draw this way)."""
    with _ctx(request).db.read() as session:
        topology.get_hall(session, hall)
        return [audit.as_dict(e) for e in audit.entries(session, hall, action, limit, after=after)]


@router.get("/halls/{hall}/audit/fairness", dependencies=[Operator])
def hall_fairness(
    request: Request, hall: str, last: Annotated[int, Query(ge=1, le=200_000)] = 20_000
) -> dict[str, Any]:
    """Chi-square uniformity of the last `last` random draws, grouped by candidate count k."""
    with _ctx(request).db.read() as session:
        topology.get_hall(session, hall)
        draws = [e.details for e in audit.entries(session, hall, "dispatch", last)]
    return {"hall": hall, "by_k": fairness.audit_report(draws)}


@router.get("/commands/{cmd_id}", dependencies=[Operator])
def get_command(request: Request, cmd_id: str) -> dict[str, Any]:
    with _ctx(request).db.read() as session:
        record = commands.get(session, cmd_id)
        if record is None:
            raise NotFoundError(f"no command {cmd_id!r}")
        return commands.as_dict(record)

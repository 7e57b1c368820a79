"""The HTTP API: thin handlers that validate, call one service in one transaction, and shape JSON.

Errors are always JSON ``{"detail": ...}``: 404 for unknown things, 409 for a state that forbids the
action, 422 for bad bodies. There is deliberately no endpoint that takes a ticket id to call.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from hall_server import audit, commands, ratings, stats, tickets, topology, windows
from hall_server.context import HallContext
from hall_server.errors import NotFoundError
from hall_server.topology import IdStr, TopologyIn

router = APIRouter(prefix="/api")

Actor = Annotated[str, Header(alias="X-Actor", max_length=64)]
WindowAction = Literal["ready", "call-next", "recall", "start", "finish", "skip", "pause", "resume"]
TicketState = Literal["waiting", "called", "serving", "done", "no_show"]


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matter: str = Field(min_length=1, max_length=64)
    printer: IdStr | None = None
    request_id: str | None = Field(default=None, min_length=1, max_length=64)


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


@router.put("/topology")
def put_topology(request: Request, body: Annotated[TopologyIn, Body()], actor: Actor = "api") -> dict[str, int]:
    ctx = _ctx(request)
    with ctx.transaction() as session:
        counts = topology.apply(session, body, actor)
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
            "queue_length": len(waiting),
            "windows": [windows.window_view(w) for w in windows.hall_windows(session, hall)],
        }


@router.get("/halls/{hall}/devices")
def hall_devices(request: Request, hall: str) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        return topology.hall_devices(session, hall)


@router.post("/halls/{hall}/tickets", status_code=201)
def issue_ticket(request: Request, response: Response, hall: str, body: IssueIn) -> dict[str, Any]:
    req = tickets.IssueRequest(matter=body.matter, printer=body.printer, request_id=body.request_id)
    view, created = tickets.issue_ticket(_ctx(request), hall, req)
    if not created:
        response.status_code = 200
    return view


@router.get("/halls/{hall}/tickets")
def list_tickets(request: Request, hall: str, state: TicketState | None = None) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        return [tickets.ticket_view(session, t, with_print=False) for t in tickets.list_tickets(session, hall, state)]


@router.get("/tickets/{ticket_id}")
def get_ticket(request: Request, ticket_id: int) -> dict[str, Any]:
    with _ctx(request).db.read() as session:
        return tickets.ticket_view(session, tickets.get_ticket(session, ticket_id))


@router.post("/halls/{hall}/windows/{window}/{action}")
def window_action(
    request: Request, hall: str, window: str, action: WindowAction, actor: Actor = "api"
) -> dict[str, Any]:
    ctx = _ctx(request)
    with ctx.transaction() as session:
        return windows.perform(ctx, session, hall, window, action, actor=actor)


@router.get("/halls/{hall}/ratings")
def hall_ratings(request: Request, hall: str) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        return ratings.list_ratings(session, hall)


@router.get("/halls/{hall}/rating-requests")
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


@router.get("/halls/{hall}/audit")
def hall_audit(
    request: Request, hall: str, action: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        topology.get_hall(session, hall)
        return [audit.as_dict(e) for e in audit.entries(session, hall, action, limit)]


@router.get("/commands/{cmd_id}")
def get_command(request: Request, cmd_id: str) -> dict[str, Any]:
    with _ctx(request).db.read() as session:
        record = commands.get(session, cmd_id)
        if record is None:
            raise NotFoundError(f"no command {cmd_id!r}")
        return commands.as_dict(record)

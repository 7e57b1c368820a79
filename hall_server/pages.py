"""The web pages (kiosk, clerk console, hall dashboard, calling display, city overview, statistics) and
the read-only JSON they need beyond the core API.

The pages are static HTML + JS under `hall_server/web/` (nothing is loaded from the internet); they talk
to the JSON API and follow `hall_server.live` server-sent events. The snapshot endpoints here only read:
every decision stays in the services behind `hall_server.api`.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server import live, queueing, rectification, topology, windows
from hall_server.context import HallContext
from hall_server.db import local_day
from hall_server.errors import InvalidError
from hall_server.models import Device, Edge, Hall, Matter, Rating, Rectification, Ticket, Window
from hallbus.models import now_ms

WEB = Path(__file__).resolve().parent / "web"
PAGES = WEB / "pages"
STATIC = WEB / "static"

CLOSED_WINDOW_STATES = ("offline", "paused")
RECENT_CALLS = 8
# 好差评 levels: 5 = 非常满意 ... 1 = 非常不满意; "satisfied" counts 基本满意 and better
SATISFIED_MIN_LEVEL = 3
# one trip (一次跑动): before the reform a matter took 4-5 visits; trips avoided are estimated per
# matter served as BASELINE_VISITS - 1 (domain.md, "visits per matter cut from 4-5 to 1-2")
BASELINE_VISITS = 4
MAX_PERIOD_DAYS = 366

pages = APIRouter(include_in_schema=False)
data = APIRouter(prefix="/api")


def _ctx(request: Request) -> HallContext:
    ctx: HallContext = request.app.state.ctx
    return ctx


# --- pages ------------------------------------------------------------------------------------------


def _page(name: str) -> FileResponse:
    return FileResponse(
        PAGES / f"{name}.html", media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )


@pages.get("/")
def landing() -> FileResponse:
    return _page("index")


@pages.get("/kiosk/{hall}")
def kiosk(hall: str) -> FileResponse:
    return _page("kiosk")


@pages.get("/clerk")
def clerk() -> FileResponse:
    return _page("clerk")


@pages.get("/halls/{hall}")
def hall_dashboard(hall: str) -> FileResponse:
    return _page("hall")


@pages.get("/display/{hall}")
def display(hall: str) -> FileResponse:
    return _page("display")


@pages.get("/city")
def city() -> FileResponse:
    return _page("city")


@pages.get("/stats")
def stats_page() -> FileResponse:
    return _page("stats")


@pages.get("/kiosk")
def kiosk_root() -> RedirectResponse:
    return RedirectResponse("/")


# --- snapshots --------------------------------------------------------------------------------------


def subject_of(matter: Matter) -> str:
    """企业 or 个人: the catalogue's categories for enterprises start with "enterprise" or codes with E."""
    if matter.category.startswith("enterprise") or matter.code.upper().startswith("E"):
        return "enterprise"
    return "personal"


@data.get("/matters")
def list_matters(request: Request) -> list[dict[str, Any]]:
    """The matter catalogue, with the subject (enterprise / personal) the kiosk groups it by."""
    with _ctx(request).db.read() as session:
        return [
            {"code": m.code, "name": m.name, "category": m.category, "prefix": m.prefix, "subject": subject_of(m)}
            for m in session.scalars(select(Matter).order_by(Matter.code))
        ]


def recent_calls(session: Session, hall_id: str, tz: Any, limit: int = RECENT_CALLS) -> list[dict[str, Any]]:
    today = local_day(now_ms(), tz)
    numbers = {w.id: w.number for w in session.scalars(select(Window).where(Window.hall_id == hall_id))}
    rows = session.scalars(
        select(Ticket)
        .where(Ticket.hall_id == hall_id, Ticket.day == today, Ticket.called_at.is_not(None))
        .order_by(Ticket.called_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return [
        {
            "ticket_id": t.id,
            "number": t.number,
            "window": t.window_id,
            "window_number": numbers.get(t.window_id or "", t.window_id),
            "state": t.state,
            "called_at": t.called_at,
            "recalls": t.recalls,
            "key": f"{t.id}:{t.recalls}",
        }
        for t in rows
    ]


def alarms_of(device: dict[str, Any]) -> list[str]:
    """What an operator must react to: offline, paper near end / out, cover open, tamper, faults."""
    found: list[str] = []
    if device["edge_state"] != "online" or device["availability"] != "online":
        found.append("offline")
    state = device.get("state") or {}
    paper = state.get("paper")
    if paper in ("near_end", "out"):
        found.append(f"paper_{paper}")
    if state.get("cover") in ("open",):
        found.append("cover_open")
    if state.get("tamper") or state.get("tampered"):
        found.append("tamper")
    for key in ("cutter", "head", "error"):
        value = state.get(key)
        if value not in (None, "", "ok", False, "none"):
            found.append(f"{key}:{value}")
    return found


def _devices(session: Session, hall_id: str) -> list[dict[str, Any]]:
    rows = topology.hall_devices(session, hall_id)
    for d in rows:
        d["alarms"] = alarms_of(d)
    return rows


def rectifications(session: Session, hall_id: str, tz: Any) -> list[dict[str, Any]]:
    """Open rectification items (hall_server/rectification.py), overdue first: what the operator must chase."""
    today = local_day(now_ms(), tz)
    rows = session.execute(
        select(Rectification, Ticket.number)
        .join(Rating, Rating.rating_id == Rectification.rating_id)
        .join(Ticket, Ticket.id == Rating.ticket_id)
        .where(Rectification.hall_id == hall_id, Rectification.state == "open")
        .order_by(Rectification.due_day, Rectification.id)
        .limit(100)
    ).all()
    items = [{**rectification.view(item, today), "ticket": number, "due_at": item.due_day} for item, number in rows]
    return sorted(items, key=lambda i: not i["overdue"])


@data.get("/halls/{hall}/calls")
def hall_calls(request: Request, hall: str, limit: Annotated[int, Query(ge=1, le=50)] = RECENT_CALLS) -> dict[str, Any]:
    """The latest calls of today, newest first (what the calling display shows)."""
    ctx = _ctx(request)
    with ctx.db.read() as session:
        row = topology.get_hall(session, hall)
        waiting = _waiting_by_category(session, hall)
        return {
            "hall": hall,
            "hall_name": row.name,
            "calls": recent_calls(session, hall, ctx.tz, limit),
            "waiting": sum(waiting.values()),
            "waiting_by_category": waiting,
            "at": now_ms(),
        }


def _waiting_by_category(session: Session, hall_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (category,) in session.execute(
        select(Ticket.category).where(Ticket.hall_id == hall_id, Ticket.state == "waiting")
    ).all():
        counts[category] = counts.get(category, 0) + 1
    return counts


@data.get("/halls/{hall}/overview")
def hall_overview(request: Request, hall: str) -> dict[str, Any]:
    """Everything the hall dashboard shows, in one read: windows, queues and waits, devices, alarms."""
    ctx = _ctx(request)
    with ctx.db.read() as session:
        row = topology.get_hall(session, hall)
        tickets_by_id = {
            t.id: t
            for t in session.scalars(
                select(Ticket).where(Ticket.hall_id == hall, Ticket.state.in_(("called", "serving")))
            )
        }
        matters = {m.code: m.name for m in session.scalars(select(Matter))}
        window_rows = []
        for w in windows.hall_windows(session, hall):
            view = windows.window_view(w)
            t = tickets_by_id.get(w.current_ticket_id or -1)
            view["ticket"] = (
                {
                    "number": t.number,
                    "matter_name": matters.get(t.matter_code, t.matter_code),
                    "state": t.state,
                    "called_at": t.called_at,
                    "started_at": t.started_at,
                }
                if t
                else None
            )
            window_rows.append(view)
        devices = _devices(session, hall)
        waits = queueing.hall_waits(ctx, session, hall)["categories"]
        return {
            "id": row.id,
            "name": row.name,
            "district": row.district,
            "windows": window_rows,
            "waiting_by_category": _waiting_by_category(session, hall),
            "waits": waits,
            "devices": devices,
            "alarms": [{"device": d["id"], "kind": d["kind"], "alarm": a} for d in devices for a in d["alarms"]],
            "calls": recent_calls(session, hall, ctx.tz),
            "rectifications": rectifications(session, hall, ctx.tz),
            "at": now_ms(),
        }


@data.get("/city/overview")
def city_overview(request: Request) -> dict[str, Any]:
    """Every hall: queue, predicted wait (the longest of its categories), open windows and alarms."""
    ctx = _ctx(request)
    with ctx.db.read() as session:
        halls = list(session.scalars(select(Hall).order_by(Hall.id)))
        waiting: dict[str, int] = {}
        for (hall_id,) in session.execute(select(Ticket.hall_id).where(Ticket.state == "waiting")).all():
            waiting[hall_id] = waiting.get(hall_id, 0) + 1
        win_rows = session.execute(select(Window.hall_id, Window.state)).all()
        edges = {(e.hall_id, e.id): e for e in session.scalars(select(Edge))}
        alarms: dict[str, int] = {}
        for device in session.scalars(select(Device).where(Device.in_topology.is_(True))):
            view = topology.device_view(device, edges.get((device.hall_id, device.edge_id or "")))
            alarms[device.hall_id] = alarms.get(device.hall_id, 0) + len(alarms_of(view))
        result = []
        for h in halls:
            waits = queueing.hall_waits(ctx, session, h.id)["categories"]
            predicted = [w["predicted_wait_s"] for w in waits.values() if w.get("predicted_wait_s") is not None]
            finite = [p for p in predicted if math.isfinite(p)]
            result.append(
                {
                    "id": h.id,
                    "name": h.name,
                    "district": h.district,
                    "waiting": waiting.get(h.id, 0),
                    "predicted_wait_s": max(finite) if finite else 0.0,
                    "open_windows": sum(1 for hid, st in win_rows if hid == h.id and st not in CLOSED_WINDOW_STATES),
                    "windows": sum(1 for hid, _ in win_rows if hid == h.id),
                    "alarms": alarms.get(h.id, 0),
                }
            )
        return {"halls": result, "at": now_ms()}


# --- statistics -------------------------------------------------------------------------------------


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = math.floor(k), math.ceil(k)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 1)


def _day(text: str) -> date:
    """A calendar day; a string shaped like one but not a real day (0000-00-00) is a 422, not a crash."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def _period(start: str | None, end: str | None, today: str) -> tuple[str, str]:
    end_day = _day(end or today)
    try:
        start_day = _day(start) if start else end_day - timedelta(days=6)
    except OverflowError:
        raise InvalidError("the period starts before the calendar does") from None
    if start_day > end_day:
        raise InvalidError("the period starts after it ends")
    if (end_day - start_day).days >= MAX_PERIOD_DAYS:
        raise InvalidError(f"a period is at most {MAX_PERIOD_DAYS} days")
    return start_day.isoformat(), end_day.isoformat()


def _summarise(tickets: list[Ticket], levels: list[int]) -> dict[str, Any]:
    waits = [(t.called_at - t.issued_at) / 1000 for t in tickets if t.called_at is not None]
    services = [
        (finished - began) / 1000
        for t in tickets
        if t.state == "done"
        and (finished := t.finished_at) is not None
        and (began := t.started_at or t.called_at) is not None
    ]
    served = sum(1 for t in tickets if t.state == "done")
    by_level = {str(level): levels.count(level) for level in range(5, 0, -1)}
    rated = len(levels)
    satisfied = sum(1 for lv in levels if lv >= SATISFIED_MIN_LEVEL)
    return {
        "tickets": len(tickets),
        "served": served,
        "no_show": sum(1 for t in tickets if t.state == "no_show"),
        "wait_p50_s": _percentile(waits, 0.5),
        "wait_p95_s": _percentile(waits, 0.95),
        "service_mean_s": round(sum(services) / len(services), 1) if services else None,
        "service_p50_s": _percentile(services, 0.5),
        "ratings": rated,
        "ratings_by_level": by_level,
        "satisfaction_rate": round(satisfied / rated, 4) if rated else None,
        "trips_avoided": served * (BASELINE_VISITS - 1),
    }


def stats_report(ctx: HallContext, session: Session, hall: str | None, start: str, end: str) -> dict[str, Any]:
    halls = {h.id: h.name for h in session.scalars(select(Hall).order_by(Hall.id))}
    if hall is not None:
        topology.get_hall(session, hall)
    q = select(Ticket).where(Ticket.day >= start, Ticket.day <= end)
    r = select(Rating.level, Ticket.hall_id, Ticket.day).join(Ticket, Ticket.id == Rating.ticket_id)
    r = r.where(Ticket.day >= start, Ticket.day <= end)
    if hall is not None:
        q, r = q.where(Ticket.hall_id == hall), r.where(Ticket.hall_id == hall)
    tickets = list(session.scalars(q))
    ratings = session.execute(r).all()
    days = []
    d = date.fromisoformat(start)
    while d.isoformat() <= end:
        days.append(d.isoformat())
        d += timedelta(days=1)
    by_day = [
        {"day": day, **_summarise([t for t in tickets if t.day == day], [lv for lv, _, dd in ratings if dd == day])}
        for day in days
    ]
    hall_ids = [hall] if hall is not None else list(halls)
    by_hall = [
        {
            "hall": h,
            "hall_name": halls.get(h, h),
            **_summarise([t for t in tickets if t.hall_id == h], [lv for lv, hh, _ in ratings if hh == h]),
        }
        for h in hall_ids
    ]
    return {
        "hall": hall,
        "from": start,
        "to": end,
        "total": _summarise(tickets, [lv for lv, _, _ in ratings]),
        "by_day": by_day,
        "by_hall": by_hall,
        "definitions": {
            "wait": "called_at - issued_at",
            "service": "finished_at - started_at (or called_at)",
            "satisfaction_rate": f"ratings with level >= {SATISFIED_MIN_LEVEL} / ratings",
            "trips_avoided": f"served x {BASELINE_VISITS - 1} (estimate: {BASELINE_VISITS} visits per matter before)",
        },
    }


CSV_COLUMNS = [
    "tickets",
    "served",
    "no_show",
    "wait_p50_s",
    "wait_p95_s",
    "service_mean_s",
    "service_p50_s",
    "ratings",
    "satisfaction_rate",
    "trips_avoided",
]


@data.get(
    "/stats/report",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}, "description": "report"}},
)
def stats_endpoint(
    request: Request,
    hall: str | None = None,
    start: Annotated[str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    end: Annotated[str | None, Query(alias="to", pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    group: Annotated[str, Query(pattern="^(day|hall)$")] = "day",
) -> dict[str, Any] | Response:
    """Tickets, waits (p50/p95), service times, satisfaction by level and trips avoided, per day and hall."""
    ctx = _ctx(request)
    first, last = _period(start, end, local_day(now_ms(), ctx.tz))
    with ctx.db.read() as session:
        report = stats_report(ctx, session, hall or None, first, last)
    if format == "json":
        return report
    buf = io.StringIO()
    writer = csv.writer(buf)
    key = "day" if group == "day" else "hall"
    levels = [f"level_{lv}" for lv in range(5, 0, -1)]
    writer.writerow([key, *(["hall_name"] if key == "hall" else []), *CSV_COLUMNS, *levels])
    for row in report["by_day" if key == "day" else "by_hall"]:
        writer.writerow(
            [
                row[key],
                *([row["hall_name"]] if key == "hall" else []),
                *(row[c] for c in CSV_COLUMNS),
                *(row["ratings_by_level"][lv[-1]] for lv in levels),
            ]
        )
    name = f"hall-stats-{hall or 'city'}-{first}-{last}-by-{key}.csv"
    return Response(
        "\ufeff" + buf.getvalue(),  # a BOM so that spreadsheet programs read the Chinese names as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- wiring -----------------------------------------------------------------------------------------


def install(app: FastAPI, ctx: HallContext) -> None:
    """Add the pages, their JSON, the live event streams and the static files to `app`."""
    hub = live.Hub()
    app.state.live = hub
    live.attach(ctx.db._write, hub)  # the write sessions: every committed change
    app.include_router(data)
    app.include_router(live.router)
    app.include_router(pages)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

"""Live updates for the pages: an in-process publish/subscribe fed by committed writes, served as SSE.

Where the events come from: every write transaction runs on `Database.write()` sessions. Listeners on
that session factory note which halls a flush touched (any row with a `hall_id`: tickets, windows,
devices, ratings, audit entries, ...) and what kind of row it was; after the commit succeeded the
collected change is published. So a change made anywhere (an API call, a bus event in paho's thread,
a dispatch round, the sweeper) reaches the pages, and a rolled back transaction publishes nothing.

The event is a hint, not the state: a page that receives ``change`` for its hall re-fetches its
snapshot from the JSON API. A lost event therefore costs at most one heartbeat-interval of staleness,
and a page that (re)connects simply fetches a snapshot.

`Hub` is thread-safe: `publish` may be called from any thread and hands each event to every
subscriber's asyncio loop with `loop.call_soon_threadsafe`. One process only: with several server
processes, `publish` would go through PostgreSQL LISTEN/NOTIFY or the broker instead (not done yet).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter

log = logging.getLogger(__name__)

ALL_HALLS = "*"
HEARTBEAT_S = 15.0
RETRY_MS = 1000  # how soon a browser's EventSource reconnects after the stream broke
QUEUE_MAX = 256
PENDING_KEY = "hall_live_pending"

# which page-relevant kind a table is; tables not listed count as "other"
KINDS = {
    "tickets": "tickets",
    "visits": "tickets",
    "visit_periods": "tickets",
    "bookings": "tickets",
    "windows": "windows",
    "devices": "devices",
    "edges": "devices",
    "ratings": "ratings",
    "rating_requests": "ratings",
    "halls": "topology",
    "matters": "topology",
    "commands": "commands",
    "audit_log": "audit",
}


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any]]
    hall: str  # ALL_HALLS for the city-wide stream


@dataclass
class Hub:
    """Thread-safe fan-out of change events to asyncio subscribers."""

    heartbeat_s: float = HEARTBEAT_S
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _by_id: dict[int, _Subscriber] = field(default_factory=dict)
    _seq: int = 0

    def subscribe(self, hall: str) -> tuple[int, asyncio.Queue[dict[str, Any]]]:
        """Register the running loop's queue for `hall` (or ALL_HALLS); returns a token for unsubscribe."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_MAX)
        with self._lock:
            self._seq += 1
            token = self._seq
            self._by_id[token] = _Subscriber(asyncio.get_running_loop(), queue, hall)
        return token, queue

    def unsubscribe(self, token: int) -> None:
        with self._lock:
            self._by_id.pop(token, None)

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._by_id)

    def publish(self, hall: str, kinds: set[str]) -> None:
        """Tell the subscribers of `hall` (ALL_HALLS: of every hall) and the city stream that it changed."""
        message = {"hall": hall, "kinds": sorted(kinds), "at": int(time.time() * 1000)}
        with self._lock:
            targets = [s for s in self._by_id.values() if hall == ALL_HALLS or s.hall in (hall, ALL_HALLS)]
        for sub in targets:
            try:
                sub.loop.call_soon_threadsafe(_offer, sub.queue, message)
            except RuntimeError:  # the subscriber's loop is closed; its stream is gone
                continue


def _offer(queue: asyncio.Queue[dict[str, Any]], message: dict[str, Any]) -> None:
    if queue.full():  # a slow page: drop the oldest hint, the newest one makes it re-fetch anyway
        queue.get_nowait()
    queue.put_nowait(message)


# --- feeding the hub from committed transactions ----------------------------------------------------


def note_table(session: Session, hall: str, table: str) -> None:
    """Say that this transaction changed `table` rows of `hall`, for writes that bypass the ORM events."""
    _note(session, hall, KINDS.get(table, "other"))


def _note(session: Session, hall: str, kind: str) -> None:
    pending: dict[str, set[str]] = session.info.setdefault(PENDING_KEY, {})
    pending.setdefault(hall, set()).add(kind)


def _after_flush(session: Session, _flush_context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table is None:
            continue
        hall = obj.id if table == "halls" else getattr(obj, "hall_id", None)
        _note(session, hall if isinstance(hall, str) else ALL_HALLS, KINDS.get(table, "other"))


def _after_bulk(orm_execute_state: Any) -> None:
    """Core-style UPDATE/INSERT run through the session (dispatch's conditional updates, counters)."""
    if not (orm_execute_state.is_update or orm_execute_state.is_insert or orm_execute_state.is_delete):
        return
    statement = orm_execute_state.statement
    table = getattr(statement, "table", None)
    name = getattr(table, "name", None) or "other"
    for hall in statement_halls(statement) or {ALL_HALLS}:
        _note(orm_execute_state.session, hall, KINDS.get(name, "other"))


def statement_halls(statement: Any) -> set[str]:
    """The hall ids a statement names: `hall_id` in its WHERE clause or in the values it writes.

    Walks the statement's bound parameters instead of compiling it: compiling every UPDATE and INSERT a
    second time only to read its parameters was 7 % of the server's CPU in the city twin (py-spy).
    """
    found: set[str] = set()
    for element in visitors.iterate(statement):
        if not isinstance(element, BindParameter) or getattr(element, "_orig_key", element.key) != "hall_id":
            continue
        values = element.value if isinstance(element.value, list | tuple) else [element.value]  # IN (...)
        found |= {v for v in values if isinstance(v, str)}
    for column, value in (getattr(statement, "_values", None) or {}).items():
        if getattr(column, "key", column) == "hall_id":
            value = getattr(value, "value", value)
            if isinstance(value, str):
                found.add(value)
    return found


def attach(factory: sessionmaker[Session], hub: Hub) -> None:
    """Publish, after each commit of a session made by `factory`, which halls it changed."""

    def after_commit(session: Session) -> None:
        pending: dict[str, set[str]] = session.info.pop(PENDING_KEY, {})
        kinds_all = pending.pop(ALL_HALLS, None)
        if pending:  # a statement without its hall (an UPDATE by id) belongs to the halls named beside it
            kinds_all = None
        for hall, kinds in pending.items():
            kinds.discard("audit")
            kinds.discard("other")
            if kinds:
                hub.publish(hall, kinds)
        if kinds_all and kinds_all - {"audit", "other", "commands"}:
            hub.publish(ALL_HALLS, kinds_all)

    def after_rollback(session: Session) -> None:
        session.info.pop(PENDING_KEY, None)

    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "do_orm_execute", _after_bulk)
    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_soft_rollback", lambda s, _t: after_rollback(s))


# --- the SSE endpoints ------------------------------------------------------------------------------

#: documented so that clients (and schemathesis) know the stream is text/event-stream
SSE_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {}}, "description": "events"}}

router = APIRouter(prefix="/api")


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _stream(hub: Hub, hall: str) -> AsyncIterator[bytes]:
    token, queue = hub.subscribe(hall)
    try:
        yield f"retry: {RETRY_MS}\n".encode() + _sse("hello", {"hall": hall, "heartbeat_s": hub.heartbeat_s})
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), timeout=hub.heartbeat_s)
            except TimeoutError:
                # a comment keeps proxies from closing the stream; the event lets the page see it is alive
                yield b": heartbeat\n" + _sse("heartbeat", {"at": int(time.time() * 1000)})
                continue
            yield _sse("change", message)
    finally:
        hub.unsubscribe(token)


def _response(request: Request, hall: str) -> StreamingResponse:
    hub: Hub = request.app.state.live
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
    return StreamingResponse(_stream(hub, hall), media_type="text/event-stream", headers=headers)


@router.get("/halls/{hall}/events", response_class=StreamingResponse, responses=SSE_RESPONSE)
def hall_events(request: Request, hall: str) -> StreamingResponse:
    """Server-sent events: `change` {hall, kinds, at} after every committed change of this hall."""
    return _response(request, hall)


@router.get("/events", response_class=StreamingResponse, responses=SSE_RESPONSE)
def city_events(request: Request) -> StreamingResponse:
    """Server-sent events of every hall (the city overview)."""
    return _response(request, ALL_HALLS)

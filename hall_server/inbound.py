"""Store-and-apply of every message the edges publish (bus.md §4.3, §5.4, §7).

One message, one transaction: the message is decoded (a bad payload is logged with its reason and
dropped, changing nothing), then recorded and applied together. Unique keys (`event_id`, `cmd_id`
results, `rating_id`) turn replays into no-ops. The bus bridge calls `handle` inside paho's
`on_message`, so the broker gets its PUBACK only after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from hall_server import certificates, commands, live, ratings, rectification, seal_jobs, tickets, windows
from hall_server.context import HallContext, queued_commands, savepoint
from hall_server.errors import HallError
from hall_server.models import BusEvent, Device, Edge, Hall, StreamMark
from hallbus import (
    Availability,
    EdgeStatus,
    Event,
    Inventory,
    PayloadError,
    Result,
    StatePayload,
    TopicError,
    TopicKind,
    decode,
    now_ms,
    parse_topic,
)
from hallbus.catalogue import (
    CALLER,
    EVENTS,
    DoorEventData,
    JobStateData,
    KeyEventData,
    PhotoReadyData,
    RatingClosedData,
    RatingEventData,
    StampDoneData,
    StampFailedData,
    TamperEventData,
)
from hallbus.topics import Topic

SEAL_EVENT_DATA = (StampDoneData, StampFailedData, PhotoReadyData, JobStateData, DoorEventData, TamperEventData)

log = logging.getLogger(__name__)

MAX_MISSING = 1000
KNOWN_HALLS_KEY = "inbound_known_halls"
DB_ATTEMPTS = 3

Apply = Callable[[HallContext, Session, Topic, Any], None]


def handle(ctx: HallContext, topic_name: str, payload: bytes, retained: bool = False) -> bool:
    """Decode, store and apply one message: a batch of one, the bus bridge's own path. False if it was
    dropped or already applied. Never raises for bad input."""
    return handle_batch(ctx, [(topic_name, payload)]) == 1


Decoded = tuple[Topic, BaseModel, Apply]


def _decode(topic_name: str, payload: bytes) -> Decoded | None:
    """The topic, the validated message and how to apply it; None (logged) for anything to drop."""
    try:
        topic = parse_topic(topic_name)
    except TopicError as exc:
        log.warning("dropped message on %r: %s", topic_name, exc)
        return None
    entry = _HANDLERS.get(topic.kind)
    if entry is None:
        log.debug("hall=%s ignoring %s", topic.hall, topic.kind.value)
        return None
    if not payload:  # an empty retained payload deletes a retained topic (bus.md §3)
        log.info("hall=%s %s cleared on %s", topic.hall, topic.kind.value, topic_name)
        return None
    model, apply = entry
    try:
        return topic, decode(model, payload), apply
    except PayloadError as exc:
        log.warning("hall=%s dropped bad payload on %s: %s", topic.hall, topic_name, exc.reason)
        return None


def handle_batch(ctx: HallContext, messages: list[tuple[str, bytes]]) -> int:
    """Apply many messages in few transactions, each message in a savepoint of its own; returns how
    many applied.

    One write transaction per batch instead of per message: at city scale the ingest otherwise waited
    for the write connection behind every HTTP request once per message (profiled in the city twin).
    A transaction ends early at a message that queued commands (a CALL press, say), so its screens
    and voice are not held back behind the rest of the batch (bench/devices.py: the server's share of
    press -> screen). A message that fails rolls back its own savepoint only (and the commands it
    queued); a database error falls back to applying the rest one by one.
    """
    decoded = [d for d in (_decode(t, p) for t, p in messages) if d is not None]
    applied = start = 0
    while start < len(decoded):
        try:
            done, used = _apply_in_savepoints(ctx, decoded[start:])
        except OperationalError as exc:
            rest = decoded[start:]
            log.warning("database error applying a batch of %d (%s); applying one by one", len(rest), exc.orig)
            return applied + sum(_apply_with_retry(ctx, *d) for d in rest)
        applied += done
        start += used
    return applied


def _known_halls(ctx: HallContext, session: Session, wanted: set[str]) -> frozenset[str]:
    """The hall ids this server knows, read again only when a message names one not seen before: at
    city scale, reading every hall once per ingest batch was a visible share of the ingest."""
    known: frozenset[str] = ctx.caches.get(KNOWN_HALLS_KEY, frozenset())
    if not wanted <= known:
        known = frozenset(session.scalars(select(Hall.id)))
        ctx.caches[KNOWN_HALLS_KEY] = known
    return known


def _apply_in_savepoints(ctx: HallContext, decoded: list[Decoded]) -> tuple[int, int]:
    """Apply messages from the head of `decoded` in one transaction, up to and including the first
    that queued commands; returns (applied, messages used). Device states go in one statement."""
    applied = used = 0
    states: list[tuple[Topic, StatePayload]] = []
    with ctx.transaction() as session:
        known = _known_halls(ctx, session, {topic.hall for topic, _, _ in decoded})
        for topic, message, apply in decoded:
            used += 1
            if topic.hall not in known:
                continue
            if isinstance(message, StatePayload) and apply is apply_state:
                states.append((topic, message))
                continue
            queued = queued_commands(session)
            try:
                with savepoint(session):
                    apply(ctx, session, topic, message)
                applied += 1
            except IntegrityError as exc:  # already applied (a replay, or another process first)
                log.info("hall=%s %s already applied (%s)", topic.hall, topic.kind.value, exc.orig)
            except HallError as exc:
                log.info("hall=%s %s refused: %s", topic.hall, topic.kind.value, exc.detail)
            except (OperationalError, KeyboardInterrupt, SystemExit):
                raise
            except Exception:  # a bug on one message costs that message, not the batch around it
                log.exception("hall=%s failed to apply a %s message", topic.hall, topic.kind.value)
            if queued_commands(session) > queued:
                break  # commit now: this message's commands go out without waiting for the rest
        applied += apply_states(session, states)
    return applied, used


def apply_states(session: Session, states: list[tuple[Topic, StatePayload]]) -> int:
    """Store many device states with one executemany UPDATE, outside the ORM.

    A state is the latest full value of its device (bus.md §3) and nothing reacts to it in the
    transaction, so it needs neither a savepoint nor a loaded row: at city scale states were a third of
    all inbound messages and the ORM path per message the ingest's largest cost. A state for a device
    the server does not know updates nothing.
    """
    if not states:
        return 0
    table = Device.__table__
    stmt = (
        table.update()  # type: ignore[attr-defined]
        .where(table.c.hall_id == bindparam("b_hall"), table.c.id == bindparam("b_device"))
        .values(
            state=bindparam("b_state", type_=table.c.state.type),
            updated_at=bindparam("b_at"),
        )
    )
    at = now_ms()
    rows = [{"b_hall": t.hall, "b_device": t.device or "", "b_state": m.fields(), "b_at": at} for t, m in states]
    session.connection().execute(stmt, rows)
    for hall in {t.hall for t, _ in states}:
        live.note_table(session, hall, "devices")
    return len(states)


def _apply_with_retry(ctx: HallContext, topic: Topic, message: BaseModel, apply: Apply) -> bool:
    for attempt in range(1, DB_ATTEMPTS + 1):
        try:
            with ctx.transaction() as session:
                if session.get(Hall, topic.hall) is None:
                    log.debug("hall=%s unknown hall; message on %s ignored", topic.hall, topic.kind.value)
                    return False
                apply(ctx, session, topic, message)
            return True
        except IntegrityError as exc:  # another process applied it first: already applied
            log.info("hall=%s %s already applied (%s)", topic.hall, topic.kind.value, exc.orig)
            return False
        except OperationalError as exc:
            log.warning(
                "hall=%s database error applying %s (attempt %d): %s", topic.hall, topic.kind.value, attempt, exc.orig
            )
    log.error("hall=%s gave up applying a %s message after %d attempts", topic.hall, topic.kind.value, DB_ATTEMPTS)
    return False


# --- liveness and inventory ---------------------------------------------------------------------


def _edge_row(session: Session, hall: str, edge: str) -> Edge:
    row = session.get(Edge, (hall, edge))
    if row is None:
        row = Edge(hall_id=hall, id=edge, session=-1, state="unknown", inventory=[], updated_at=now_ms())
        session.add(row)
    return row


def apply_edge_status(ctx: HallContext, session: Session, topic: Topic, msg: EdgeStatus) -> None:
    """§4.3: online always wins; offline only for the current session (else it is a late Will)."""
    if msg.edge != topic.edge:
        log.warning("hall=%s status for edge %s published under edge %s; ignored", topic.hall, msg.edge, topic.edge)
        return
    edge = _edge_row(session, topic.hall, msg.edge)
    if msg.state == "online":
        new_session = edge.session != msg.session
        edge.session, edge.state, edge.boot_id, edge.updated_at = msg.session, "online", msg.boot_id, now_ms()
        log.info(
            "hall=%s edge=%s online (session %d%s)", topic.hall, msg.edge, msg.session, ", new" if new_session else ""
        )
        if new_session:
            session.flush()
            commands.republish_pending(session, topic.hall, msg.edge)
        return
    if msg.session != edge.session:
        log.info(
            "hall=%s edge=%s late offline of session %d ignored (current %d)",
            topic.hall,
            msg.edge,
            msg.session,
            edge.session,
        )
        return
    edge.state, edge.offline_at, edge.updated_at = "offline", now_ms(), now_ms()
    log.warning("hall=%s edge=%s offline (session %d)", topic.hall, msg.edge, msg.session)


def apply_inventory(ctx: HallContext, session: Session, topic: Topic, msg: Inventory) -> None:
    edge = _edge_row(session, topic.hall, msg.edge)
    edge.inventory = [d.model_dump() for d in msg.devices]
    edge.updated_at = now_ms()
    for info in msg.devices:
        device = session.get(Device, (topic.hall, info.device))
        if device is None:
            log.warning(
                "hall=%s edge=%s reports device %s missing from the topology", topic.hall, msg.edge, info.device
            )
            session.add(
                Device(
                    hall_id=topic.hall,
                    id=info.device,
                    kind=info.kind,
                    edge_id=msg.edge,
                    availability="unknown",
                    state={},
                    in_topology=False,
                    updated_at=now_ms(),
                )
            )
        elif device.edge_id != msg.edge:
            log.warning("hall=%s device=%s moved from edge %s to %s", topic.hall, info.device, device.edge_id, msg.edge)
            device.edge_id = msg.edge


def _device(session: Session, topic: Topic) -> Device | None:
    device = session.get(Device, (topic.hall, topic.device or ""))
    if device is None:
        log.info("hall=%s message for unknown device %s ignored", topic.hall, topic.device)
    return device


def apply_availability(ctx: HallContext, session: Session, topic: Topic, msg: Availability) -> None:
    device = _device(session, topic)
    if device is not None:
        if device.availability != msg.state:
            log.info("hall=%s device=%s %s (%s)", topic.hall, device.id, msg.state, msg.reason or "-")
        device.availability, device.availability_reason, device.updated_at = msg.state, msg.reason, now_ms()


def apply_state(ctx: HallContext, session: Session, topic: Topic, msg: StatePayload) -> None:
    device = _device(session, topic)
    if device is not None:
        device.state, device.updated_at = msg.fields(), now_ms()


# --- stream tracking (§7.2) ---------------------------------------------------------------------


def track_seq(ctx: HallContext, session: Session, hall: str, edge: str, stream: str, seq: int) -> bool:
    """Record (edge, stream, seq); False if this seq was already applied (a duplicate)."""
    mark = session.scalars(
        select(StreamMark).where(StreamMark.hall_id == hall, StreamMark.edge_id == edge, StreamMark.stream == stream)
    ).one_or_none()
    if mark is None:
        _new_stream(ctx, session, hall, edge, stream)
        session.add(StreamMark(hall_id=hall, edge_id=edge, stream=stream, highest=seq, missing=[], updated_at=now_ms()))
        return True
    mark.updated_at = now_ms()
    if seq > mark.highest:
        if seq > mark.highest + 1:
            log.warning(
                "hall=%s edge=%s stream=%s gap: seq %d..%d missing", hall, edge, stream, mark.highest + 1, seq - 1
            )
            gap = list(range(mark.highest + 1, seq))
            mark.missing = (list(mark.missing) + gap)[-MAX_MISSING:]
        mark.highest = seq
        return True
    if seq in mark.missing:
        mark.missing = [s for s in mark.missing if s != seq]
        return True
    log.debug("hall=%s edge=%s stream=%s seq %d is a duplicate", hall, edge, stream, seq)
    return False


def _new_stream(ctx: HallContext, session: Session, hall: str, edge: str, stream: str) -> None:
    known = session.scalars(select(StreamMark.id).where(StreamMark.hall_id == hall, StreamMark.edge_id == edge))
    if known.first() is not None:
        log.error("ALARM edge_store_reset hall=%s edge=%s new stream %s", hall, edge, stream)
        return
    if session.get(Edge, (hall, edge)) is None:
        log.info("hall=%s first message from unknown edge %s: rebirth", hall, edge)
        _edge_row(session, hall, edge)
        commands.send_to_edge(ctx, session, hall, edge, "rebirth")


# --- results and events -------------------------------------------------------------------------


def apply_result(ctx: HallContext, session: Session, topic: Topic, msg: Result) -> None:
    if not track_seq(ctx, session, topic.hall, msg.edge, msg.stream, msg.seq):
        return
    record = commands.apply_result(session, topic.hall, msg)
    if record is None:
        return
    if record.name == "print_ticket":
        tickets.on_print_result(session, record)
    elif record.name == "print_certificate":
        certificates.on_print_result(session, record)
    elif record.name in ("get_counters", "get_log", "authorize_job", "stamp"):
        seal_jobs.on_result(ctx, session, record)


def apply_event(ctx: HallContext, session: Session, topic: Topic, msg: Event) -> None:
    if session.scalars(select(BusEvent.id).where(BusEvent.event_id == msg.event_id)).first() is not None:
        log.debug("hall=%s event %s replayed; ignored", topic.hall, msg.event_id)
        return
    if not track_seq(ctx, session, topic.hall, msg.edge, msg.stream, msg.seq):
        return
    session.add(
        BusEvent(
            event_id=msg.event_id,
            hall_id=topic.hall,
            edge_id=msg.edge,
            stream=msg.stream,
            seq=msg.seq,
            device_id=topic.device or "",
            type=msg.type,
            received_at=now_ms(),
        )
    )
    session.flush()
    model = EVENTS.get(msg.type)
    if model is None:
        log.debug("hall=%s device=%s event %s stored, nothing to apply", topic.hall, topic.device, msg.type)
        return
    try:
        data = model.model_validate(msg.data)
    except ValueError as exc:
        log.warning("hall=%s device=%s bad %s event data: %s", topic.hall, topic.device, msg.type, exc)
        return
    _apply_event_data(ctx, session, topic, msg, data)


def _apply_event_data(ctx: HallContext, session: Session, topic: Topic, msg: Event, data: BaseModel) -> None:
    device = topic.device or ""
    if isinstance(data, KeyEventData):
        _apply_key(ctx, session, topic, data)
    elif isinstance(data, RatingEventData):
        rating = ratings.apply_rating(session, topic.hall, device, msg, data)
        if rating is not None:
            rectification.on_rating(ctx, session, rating)
    elif isinstance(data, SEAL_EVENT_DATA):
        seal_jobs.on_event(ctx, session, topic.hall, device, msg, data)
    elif isinstance(data, RatingClosedData):
        status = "timeout" if msg.type == "rating_timeout" else "cancelled"
        ratings.close_unrated(session, topic.hall, device, data.rating_id, status)


def _apply_key(ctx: HallContext, session: Session, topic: Topic, data: KeyEventData) -> None:
    device = _device(session, topic)
    if device is None or device.kind != CALLER or device.window_id is None:
        log.warning(
            "hall=%s device=%s key %s from a device that is not a window's caller", topic.hall, topic.device, data.key
        )
        return
    action = windows.KEY_ACTIONS.get(data.key)
    if action is None:
        log.info("hall=%s window=%s key %s has no action yet", topic.hall, device.window_id, data.key)
        return
    try:
        with savepoint(session):
            params = windows.key_params(session, topic.hall, data.key, data.arg)
            windows.perform(ctx, session, topic.hall, device.window_id, action, f"caller:{device.id}", params)
    except HallError as exc:
        log.info("hall=%s window=%s key %s refused: %s", topic.hall, device.window_id, data.key, exc.detail)


_HANDLERS: dict[TopicKind, tuple[type[BaseModel], Apply]] = {
    TopicKind.EDGE_STATUS: (EdgeStatus, apply_edge_status),
    TopicKind.EDGE_INVENTORY: (Inventory, apply_inventory),
    TopicKind.EDGE_RESULT: (Result, apply_result),
    TopicKind.DEV_AVAILABILITY: (Availability, apply_availability),
    TopicKind.DEV_STATE: (StatePayload, apply_state),
    TopicKind.DEV_EVENT: (Event, apply_event),
    TopicKind.DEV_RESULT: (Result, apply_result),
}

"""Commands to devices and edges (bus.md §5.4): stored first, published after commit, tracked to an end.

A command is `pending` until its result arrives or its deadline (expires_at + the command's longest
execution time) passes, when the sweeper marks it `timeout`. It may be published again with the same
`cmd_id` only while it has not expired; the edge's processed-command table makes that safe.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hall_server.context import HallContext, Outgoing, enqueue
from hall_server.models import CommandRecord, Device
from hallbus.catalogue import DEFAULT_EXECUTION_BUDGET_S, EDGE_COMMANDS, EXECUTION_BUDGET_S, validate_args
from hallbus.models import Result, new_id, now_ms

log = logging.getLogger(__name__)

OPEN_STATUSES = ("pending", "timeout")  # no result stored yet
FAILED_STATUSES = ("error", "rejected", "expired", "timeout")


def _store(
    ctx: HallContext,
    session: Session,
    *,
    hall: str,
    name: str,
    args: dict[str, Any],
    device: str | None,
    edge: str | None,
) -> CommandRecord:
    now = now_ms()
    expires_at = now + int(ctx.settings.ttl_for(name) * 1000)
    budget = EXECUTION_BUDGET_S.get(name, DEFAULT_EXECUTION_BUDGET_S)
    record = CommandRecord(
        cmd_id=new_id(),
        hall_id=hall,
        device_id=device,
        edge_id=edge,
        name=name,
        args=args,
        created_at=now,
        expires_at=expires_at,
        deadline=expires_at + int(budget * 1000),
        status="pending",
        publish_count=1,
    )
    session.add(record)
    enqueue(session, outgoing(record))
    return record


def send_to_device(
    ctx: HallContext, session: Session, device: Device, name: str, args: dict[str, Any]
) -> CommandRecord:
    """Validate `args` against the catalogue, store the command and queue it for publishing."""
    clean = validate_args(device.kind, name, args).model_dump()
    record = _store(ctx, session, hall=device.hall_id, name=name, args=clean, device=device.id, edge=device.edge_id)
    log.info("hall=%s device=%s command %s %s queued", device.hall_id, device.id, name, record.cmd_id)
    return record


def send_to_edge(ctx: HallContext, session: Session, hall: str, edge: str, name: str) -> CommandRecord:
    if name not in EDGE_COMMANDS:
        raise ValueError(f"unknown edge command {name!r}")
    record = _store(ctx, session, hall=hall, name=name, args={}, device=None, edge=edge)
    log.info("hall=%s edge=%s command %s %s queued", hall, edge, name, record.cmd_id)
    return record


def outgoing(record: CommandRecord) -> Outgoing:
    return Outgoing(
        hall=record.hall_id,
        name=record.name,
        cmd_id=record.cmd_id,
        expires_at=record.expires_at,
        args=dict(record.args),
        device=record.device_id,
        edge=record.edge_id if record.device_id is None else None,
    )


def republish_pending(session: Session, hall: str | None = None, edge: str | None = None) -> int:
    """Queue every pending, unexpired command again (same cmd_id), optionally only one edge's."""
    stmt = select(CommandRecord).where(CommandRecord.status == "pending", CommandRecord.expires_at > now_ms())
    if hall is not None:
        stmt = stmt.where(CommandRecord.hall_id == hall)
    if edge is not None:
        on_edge = select(Device.id).where(Device.hall_id == hall, Device.edge_id == edge)
        stmt = stmt.where((CommandRecord.edge_id == edge) | CommandRecord.device_id.in_(on_edge))
    records = list(session.scalars(stmt.order_by(CommandRecord.id)))
    for record in records:
        record.publish_count += 1
        enqueue(session, outgoing(record))
    if records:
        log.info("hall=%s edge=%s re-publishing %d pending commands", hall, edge, len(records))
    return len(records)


def apply_result(session: Session, hall: str, result: Result) -> CommandRecord | None:
    """Store the one result of a command; a second result, or one for an unknown command, is ignored."""
    record = session.scalars(select(CommandRecord).where(CommandRecord.cmd_id == result.cmd_id)).one_or_none()
    if record is None or record.hall_id != hall:
        log.warning("hall=%s result for unknown command %s ignored", hall, result.cmd_id)
        return None
    if record.status not in OPEN_STATUSES:
        log.debug("hall=%s command %s already has a result; %s ignored", hall, result.cmd_id, result.status)
        return None
    status = result.original_status if result.status == "duplicate" else result.status
    if status is None or status == "duplicate":
        log.warning("hall=%s duplicate result for %s without original_status ignored", hall, result.cmd_id)
        return None
    record.status = status
    record.result = {
        "status": status,
        "data": result.data,
        "error": result.error.model_dump() if result.error else None,
        "reported_as": result.status,
        "edge": result.edge,
    }
    record.result_at = now_ms()
    log.info("hall=%s command %s %s -> %s", hall, record.name, record.cmd_id, status)
    return record


def sweep_timeouts(session: Session, at_ms: int | None = None) -> list[CommandRecord]:
    """Mark pending commands past their deadline `timeout` (server-only status, never on the bus)."""
    now = at_ms if at_ms is not None else now_ms()
    overdue = list(
        session.scalars(select(CommandRecord).where(CommandRecord.status == "pending", CommandRecord.deadline < now))
    )
    if overdue:
        session.execute(
            update(CommandRecord)
            .where(CommandRecord.id.in_([r.id for r in overdue]), CommandRecord.status == "pending")
            .values(status="timeout")
        )
        _log_timeouts(overdue)
    return overdue


def _log_timeouts(overdue: list[CommandRecord]) -> None:
    """One warning per hall and command name, with a few ids: a server that fell behind times out
    thousands of commands at once, and a line for each made its own lag worse (the city twin)."""
    by_hall: dict[tuple[str, str], list[CommandRecord]] = {}
    for record in overdue:
        by_hall.setdefault((record.hall_id, record.name), []).append(record)
    for (hall, name), records in sorted(by_hall.items()):
        sample = ", ".join(f"{r.device_id or r.edge_id}:{r.cmd_id}" for r in records[:3])
        log.warning("hall=%s %d %s command(s) timed out (%s%s)", hall, len(records), name, sample,
                    ", ..." if len(records) > 3 else "")  # fmt: skip


def get(session: Session, cmd_id: str) -> CommandRecord | None:
    return session.scalars(select(CommandRecord).where(CommandRecord.cmd_id == cmd_id)).one_or_none()


def as_dict(record: CommandRecord) -> dict[str, Any]:
    return {
        "cmd_id": record.cmd_id,
        "hall": record.hall_id,
        "device": record.device_id,
        "edge": record.edge_id,
        "name": record.name,
        "args": record.args,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "deadline": record.deadline,
        "status": record.status,
        "result": record.result,
        "publish_count": record.publish_count,
    }

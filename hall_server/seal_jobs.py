"""Seal jobs: signed, single-use authorisations, the stamps they produce, and counter reconciliation.

A released case gets one job (unique per case): the server signs the HDP/1 token with the machine's key
(`seal_tokens`), with a fresh nonce strictly above every nonce it issued to that machine, a short
not_after and the document hash of the case number, and sends `get_counters` (baseline),
`authorize_job` and `stamp` to the machine. Stamp events are stored once per (job_id, stamp_idx).

Reconciliation (devices.md §5.12): on every `get_counters` result, for each slot the number of
STAMP_DONE events since the last reading must equal the change of the machine's lifetime counter, and
every STAMP_DONE must have its photos; a gap in the machine's event sequence is filled with GET_LOG.
Any difference raises an alarm.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hall_server import alarms, audit, commands, seal_tokens
from hall_server.auth import Principal
from hall_server.context import HallContext
from hall_server.errors import ConflictError
from hall_server.integrity_settings import integrity
from hall_server.models import (
    Case,
    Certificate,
    CommandRecord,
    Device,
    SealJob,
    SealMachineState,
    SealPhoto,
    StampRecord,
)
from hall_server.seal_catalogue import Seal
from hallbus.catalogue import (
    EVENTS,
    SEAL_MACHINE,
    STAMPER,
    DoorEventData,
    JobStateData,
    PhotoReadyData,
    StampDoneData,
    StampFailedData,
    TamperEventData,
)
from hallbus.models import Event, now_ms

log = logging.getLogger(__name__)

SEAL_EVENTS = ("stamp_done", "stamp_failed", "photo_ready", "job_state", "door", "tamper")
SEAL_KINDS = (SEAL_MACHINE, STAMPER)
U32 = 0xFFFFFFFF


def machine_device(session: Session, seal: Seal) -> Device:
    """The device holding `seal`: the catalogue's machine id, with or without the hall prefix."""
    short = seal.machine.removeprefix(f"{seal.hall}-")
    for device_id in (seal.machine, short):
        device = session.get(Device, (seal.hall, device_id))
        if device is not None and device.kind in SEAL_KINDS:
            return device
    raise ConflictError(f"hall {seal.hall} has no seal machine {short!r} for seal {seal.id}")


def machine_state(session: Session, hall: str, device: str) -> SealMachineState:
    stmt = select(SealMachineState).where(SealMachineState.hall_id == hall, SealMachineState.device_id == device)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    state = session.scalars(stmt).one_or_none()
    if state is None:
        state = SealMachineState(hall_id=hall, device_id=device, last_nonce=0, last_source_seq=0, counters={})
        session.add(state)
        session.flush()
    return state


def create_job(ctx: HallContext, session: Session, case: Case, cert: Certificate | None, seal: Seal,
               who: Principal) -> SealJob:  # fmt: skip
    """Sign and send the one job of a released case (counters baseline, authorisation, stamps)."""
    settings = integrity(ctx)
    device = machine_device(session, seal)
    key = seal_tokens.load_key(session, settings.seal_key_file, device.hall_id, device.id)
    state = machine_state(session, device.hall_id, device.id)
    now_s = int(time.time())
    nonce = max(state.last_nonce + 1, now_s)  # above every nonce issued before, even after a database reset
    if nonce > U32:
        raise ConflictError(f"seal machine {device.id}: nonces exhausted")
    state.last_nonce = nonce
    digest = seal_tokens.doc_hash(case.number)
    job = SealJob(hall_id=device.hall_id, device_id=device.id, case_id=case.id,
                  certificate_id=cert.id if cert else None, seal_id=seal.id, slot=seal.slot, seal_rfid=seal.rfid,
                  max_count=settings.seal_max_count, not_after=now_s + settings.seal_token_ttl_s, nonce=nonce,
                  doc_hash=digest.hex(), mac="", state="authorised", issued_by=who.id,
                  created_at=now_ms())  # fmt: skip
    session.add(job)
    session.flush()
    if not 1 <= job.id <= U32:
        raise ConflictError("seal job ids exhausted")
    token = seal_tokens.sign(key, job_id=job.id, slot=job.slot, seal_rfid=bytes.fromhex(job.seal_rfid),
                             max_count=job.max_count, not_after=job.not_after, nonce=nonce,
                             document_hash=digest)  # fmt: skip
    job.mac = token.mac.hex()
    commands.send_to_device(ctx, session, device, "get_counters", {})
    job.authorize_cmd_id = commands.send_to_device(ctx, session, device, "authorize_job", token.args()).cmd_id
    for idx in range(1, job.max_count + 1):
        args = {"job_id": job.id, "stamp_idx": idx, "photo_before": True, "photo_after": True,
                "verify_qr": settings.seal_verify_qr}  # fmt: skip
        record = commands.send_to_device(ctx, session, device, "stamp", args)
        job.stamp_cmd_id = job.stamp_cmd_id or record.cmd_id
    audit.record(session, hall=device.hall_id, actor=who.id, action="seal_token_issued", subject=f"seal_job:{job.id}",
                 details={"case": case.number, "seal": seal.id, "device": device.id, "slot": job.slot,
                          "nonce": nonce, "not_after": job.not_after, "doc_hash": job.doc_hash,
                          "max_count": job.max_count})  # fmt: skip
    log.info("hall=%s device=%s seal job %d for case %s (seal %s, nonce %d)", device.hall_id, device.id, job.id,
             case.number, seal.id, nonce)  # fmt: skip
    return job


# -- results -----------------------------------------------------------------------------------------


def on_result(ctx: HallContext, session: Session, record: CommandRecord) -> None:
    if record.name == "get_counters":
        reconcile(ctx, session, record)
    elif record.name == "get_log":
        _recover_from_log(ctx, session, record)
    elif record.name in ("authorize_job", "stamp") and record.status != "ok":
        job = session.get(SealJob, int(record.args.get("job_id", 0)))
        if job is None or job.hall_id != record.hall_id:
            return
        job.state = "refused" if record.name == "authorize_job" else "failed"
        alarms.raise_alarm(
            session,
            f"seal_{record.name}_failed",
            record.hall_id,
            record.device_id,
            {"job": job.id, "status": record.status, "error": (record.result or {}).get("error")},
        )


def reconcile(ctx: HallContext, session: Session, record: CommandRecord) -> None:
    """Compare the machine's lifetime counters with the STAMP_DONE events seen since the last reading."""
    hall, device = record.hall_id, record.device_id or ""
    if record.status != "ok":
        return
    slots = ((record.result or {}).get("data") or {}).get("slots") or []
    state = machine_state(session, hall, device)
    counters = dict(state.counters or {})
    problems: list[dict[str, Any]] = []
    for slot in slots:
        number, new = int(slot["slot"]), int(slot["lifetime_count"])
        old = counters.get(str(number))
        counters[str(number)] = new
        if old is None:
            continue  # first reading: the baseline
        done = list(session.scalars(select(StampRecord).where(
            StampRecord.hall_id == hall, StampRecord.device_id == device, StampRecord.slot == number,
            StampRecord.outcome == "done", StampRecord.lifetime_count_after > old,
            StampRecord.lifetime_count_after <= new)))  # fmt: skip
        if new - old != len(done):
            problems.append({"kind": "seal_counter_mismatch", "slot": number, "counter_before": old,
                             "counter_after": new, "stamps_done": len(done)})  # fmt: skip
        for stamp in done:
            for photo_id in (stamp.photo_before, stamp.photo_after):
                if not _photo_ok(session, hall, device, photo_id):
                    problems.append({"kind": "seal_photo_missing", "job": stamp.job_id, "stamp_idx": stamp.stamp_idx,
                                     "photo": photo_id})  # fmt: skip
    state.counters, state.counters_at = counters, now_ms()
    for problem in problems:
        alarms.raise_alarm(session, problem.pop("kind"), hall, device, problem)
    job = session.scalars(select(SealJob).where(SealJob.counters_cmd_id == record.cmd_id)).one_or_none()
    if job is not None:
        job.reconciled = "mismatch" if problems else "ok"
    audit.record(
        session,
        hall=hall,
        actor="server",
        action="seal_reconciled",
        subject=f"device:{device}",
        details={"counters": counters, "problems": len(problems), "job": job.id if job else None},
    )


def _photo_ok(session: Session, hall: str, device: str, photo_id: int | None) -> bool:
    if not photo_id:
        return False
    photo = session.get(SealPhoto, (hall, device, photo_id))
    return photo is not None and bool(photo.sha256)


# -- events ------------------------------------------------------------------------------------------


def on_event(ctx: HallContext, session: Session, hall: str, device_id: str, msg: Event, data: BaseModel) -> None:
    """Apply one seal machine event (already de-duplicated by event_id)."""
    device = session.get(Device, (hall, device_id))
    if device is None or device.kind not in SEAL_KINDS:
        log.warning("hall=%s device=%s seal event %s from a device that is no seal machine", hall, device_id, msg.type)
        return
    if msg.source_seq is not None:
        _track_source(ctx, session, device, msg.source_seq)
    _apply(ctx, session, device, data, msg.event_id, msg.source_seq)


def _apply(ctx: HallContext, session: Session, device: Device, data: BaseModel, event_id: str,
           source_seq: int | None) -> None:  # fmt: skip
    hall = device.hall_id
    if isinstance(data, StampDoneData | StampFailedData):
        _stamp(ctx, session, device, data, event_id, source_seq)
    elif isinstance(data, PhotoReadyData):
        photo = session.get(SealPhoto, (hall, device.id, data.photo_id))
        if photo is None:
            session.add(SealPhoto(hall_id=hall, device_id=device.id, photo_id=data.photo_id, kind=data.kind,
                                  size=data.size, sha256=data.sha256, at=now_ms()))  # fmt: skip
        elif photo.sha256 is None and data.sha256:
            photo.sha256 = data.sha256
    elif isinstance(data, JobStateData):
        audit.record(session, hall=hall, actor=f"device:{device.id}", action="seal_job_state",
                     subject=f"seal_job:{data.job_id}", details={"state": data.state})  # fmt: skip
        if data.state in ("interrupted", "aborted"):
            alarms.raise_alarm(
                session, "seal_job_interrupted", hall, device.id, {"job": data.job_id, "state": data.state}
            )
    elif isinstance(data, DoorEventData):
        audit.record(session, hall=hall, actor=f"device:{device.id}", action="seal_door", subject=f"device:{device.id}",
                     details=data.model_dump())  # fmt: skip
        if data.open and not data.authorised:
            alarms.raise_alarm(session, "seal_door_forced", hall, device.id, {"door": data.door})
    elif isinstance(data, TamperEventData):
        alarms.raise_alarm(session, "seal_tamper", hall, device.id, {"kind": data.kind})


def _stamp(ctx: HallContext, session: Session, device: Device, data: StampDoneData | StampFailedData,
           event_id: str, source_seq: int | None) -> None:  # fmt: skip
    hall = device.hall_id
    exists = session.scalars(
        select(StampRecord.id).where(StampRecord.job_id == data.job_id, StampRecord.stamp_idx == data.stamp_idx)
    ).first()
    if exists is not None:
        log.info("hall=%s device=%s stamp %d/%d already stored", hall, device.id, data.job_id, data.stamp_idx)
        return
    job = session.get(SealJob, data.job_id)
    done = isinstance(data, StampDoneData)
    stamp = StampRecord(job_id=data.job_id, stamp_idx=data.stamp_idx, hall_id=hall, device_id=device.id,
                        outcome="done" if done else "failed", event_id=event_id, source_seq=source_seq,
                        at=now_ms())  # fmt: skip
    if isinstance(data, StampDoneData):
        stamp.slot, stamp.seal_rfid, stamp.lifetime_count_after = data.slot, data.seal_rfid, data.lifetime_count_after
        stamp.photo_before, stamp.photo_after = data.photo_before, data.photo_after
    else:
        stamp.reason = data.reason
    session.add(stamp)
    session.flush()
    audit.record(session, hall=hall, actor=f"device:{device.id}", action="stamp_done" if done else "stamp_failed",
                 subject=f"seal_job:{data.job_id}", details=data.model_dump())  # fmt: skip
    if job is None or job.hall_id != hall or job.device_id != device.id:
        if done:
            alarms.raise_alarm(session, "seal_unauthorised_stamp", hall, device.id,
                               {"job": data.job_id, "stamp_idx": data.stamp_idx})  # fmt: skip
        return
    if isinstance(data, StampDoneData) and (data.seal_rfid.lower() != job.seal_rfid.lower() or data.slot != job.slot
                                            or data.stamp_idx > job.max_count):  # fmt: skip
        alarms.raise_alarm(session, "seal_stamp_mismatch", hall, device.id,
                           {"job": job.id, "slot": data.slot, "seal_rfid": data.seal_rfid})  # fmt: skip
    if isinstance(data, StampFailedData):
        alarms.raise_alarm(session, "seal_stamp_failed", hall, device.id,
                           {"job": job.id, "stamp_idx": data.stamp_idx, "reason": data.reason})  # fmt: skip
    outcomes = session.scalar(select(func.count()).select_from(StampRecord).where(StampRecord.job_id == job.id))
    if int(outcomes or 0) >= job.max_count and job.state in ("authorised", "stamping"):
        failed = session.scalar(select(func.count()).select_from(StampRecord).where(
            StampRecord.job_id == job.id, StampRecord.outcome == "failed"))  # fmt: skip
        job.state = "failed" if failed else "done"
        commands.send_to_device(ctx, session, device, "end_job", {"job_id": job.id})
        job.counters_cmd_id = commands.send_to_device(ctx, session, device, "get_counters", {}).cmd_id
    elif job.state == "authorised":
        job.state = "stamping"


def _track_source(ctx: HallContext, session: Session, device: Device, source_seq: int) -> None:
    """dev_evt_seq must have no gaps; a gap raises an alarm and is filled from the machine's log."""
    state = machine_state(session, device.hall_id, device.id)
    last = state.last_source_seq
    if last and source_seq > last + 1:
        missing = (last + 1, source_seq - 1)
        alarms.raise_alarm(session, "seal_event_gap", device.hall_id, device.id,
                           {"from_seq": missing[0], "to_seq": missing[1]})  # fmt: skip
        count = min(255, missing[1] - missing[0] + 1)
        commands.send_to_device(ctx, session, device, "get_log", {"from_seq": missing[0], "max": count})
    state.last_source_seq = max(last, source_seq)


def _recover_from_log(ctx: HallContext, session: Session, record: CommandRecord) -> None:
    """Apply the events a GET_LOG returned that never arrived as events (stamps and photos)."""
    if record.status != "ok" or record.device_id is None:
        return
    device = session.get(Device, (record.hall_id, record.device_id))
    if device is None:
        return
    recovered = 0
    for item in ((record.result or {}).get("data") or {}).get("events") or []:
        model = EVENTS.get(str(item.get("type")))
        if model is None or item.get("type") not in ("stamp_done", "stamp_failed", "photo_ready"):
            continue
        try:
            data = model.model_validate(item.get("data") or {})
        except ValueError:
            continue
        _apply(ctx, session, device, data, f"log:{device.id}:{item.get('source_seq')}", item.get("source_seq"))
        recovered += 1
    audit.record(
        session,
        hall=record.hall_id,
        actor="server",
        action="seal_log_replayed",
        subject=f"device:{device.id}",
        details={"events": recovered, "from_seq": record.args.get("from_seq")},
    )


def view(job: SealJob) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "device": job.device_id,
        "seal": job.seal_id,
        "slot": job.slot,
        "max_count": job.max_count,
        "not_after": job.not_after,
        "nonce": job.nonce,
        "doc_hash": job.doc_hash,
        "state": job.state,
        "issued_by": job.issued_by,
        "authorize_cmd_id": job.authorize_cmd_id,
        "stamp_cmd_id": job.stamp_cmd_id,
        "reconciled": job.reconciled,
    }


def stamps(session: Session, job_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(StampRecord).where(StampRecord.job_id == job_id).order_by(StampRecord.stamp_idx))
    return [{"stamp_idx": s.stamp_idx, "outcome": s.outcome, "slot": s.slot, "lifetime_count_after":
             s.lifetime_count_after, "photo_before": s.photo_before, "photo_after": s.photo_after,
             "reason": s.reason, "at": s.at} for s in rows]  # fmt: skip


def jobs_of_hall(session: Session, hall: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(SealJob).where(SealJob.hall_id == hall).order_by(SealJob.id))
    return [{**view(j), "stamps": stamps(session, j.id)} for j in rows]

"""HDP/1 seal machine (0x40) and inline stamper (0x41) simulators (devices.md §5.12).

The reference for the security model: a STAMP happens only under a token whose MAC verifies with this
machine's key, whose nonce is above the persisted high-water mark, whose not_after has not passed by a
clock set since power-up, for the seal actually in the slot, and at most max_count times. Lifetime
counters only go up. Every event also goes to a log that GET_LOG replays, whatever the queue dropped.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from drivers.codecs import hdp1
from drivers.codecs import hdp1_seal as seal
from simulators.devices.hdp1_device import Hdp1DeviceSimulator, Hdp1Refused

log = logging.getLogger(__name__)

TEST_KEY = bytes(range(32))  # the V-HDP-7 key; never a real machine's key


@dataclass
class Slot:
    seal_rfid: bytes
    present: bool = True
    ink_pct: int = 100
    lifetime_count: int = 0  # monotonic, never reset
    ink_count: int = 0  # maintenance counter, reset on refill
    dept_code: str = ""


@dataclass
class Job:
    token: seal.AuthorizeJob
    accepted: set[int] = field(default_factory=set)
    state: int = 0
    ended: bool = False


@dataclass(frozen=True)
class StampRecord:
    """What the machine did for one stamp, with the SHA-256 of each photo it took."""

    job_id: int
    stamp_idx: int
    slot: int
    lifetime_count_after: int
    photo_before: int
    photo_after: int
    photo_sha256: dict[int, str]


@dataclass
class _Outcome:
    due: float
    stamp: seal.Stamp


class SealMachineSimulator(Hdp1DeviceSimulator):
    """State: slots, jobs, doors, locked_out, log, photos, stamps. Control: load_document, tamper,
    force_door, close_door, remove_seal, fail_next_stamp, refill_ink, set_clock, power_cycle."""

    dev_type = hdp1.DevType.SEAL_MACHINE
    caps = 0x07
    has_doors = True

    def __init__(self, profile: dict[str, Any], address: int | None = None, *, key: bytes = TEST_KEY,
                 slots: dict[int, Slot] | None = None, serial: str = "SIMSEAL1",
                 stamp_delay_s: float = 0.0, require_auth: bool = True) -> None:  # fmt: skip
        super().__init__(profile, address, serial=serial)
        self.key = key
        self.slots = slots if slots is not None else {1: Slot(bytes.fromhex("E004015012345678"), dept_code="330100")}
        self.stamp_delay_s = stamp_delay_s
        self.require_auth = require_auth
        self.nonce_mark = 0  # persisted high-water mark of every mac-bearing command
        self.clock_set = False
        self.jobs: dict[int, Job] = {}
        self.doors = {1: False, 2: False}  # door -> open
        self.locked_out = False
        self.maintenance = False
        self.document: bytes | None = None  # doc_hash of the paper in the channel
        self.log_events: list[hdp1.Event] = []
        self.photos: dict[int, bytes] = {}
        self.stamps: list[StampRecord] = []
        self._next_photo = 1
        self._fail_next: int | None = None
        self._outcomes: list[_Outcome] = []
        self._handlers.update({
            seal.SealCmd.GET_SLOTS: self._get_slots,
            seal.SealCmd.AUTHORIZE_JOB: self._authorize_job,
            seal.SealCmd.STAMP: self._stamp,
            seal.SealCmd.END_JOB: self._end_job,
            seal.SealCmd.GET_PHOTO: self._get_photo,
            seal.SealCmd.GET_LOG: self._get_log,
            seal.SealCmd.SEAL_SET_MODE: self._set_mode,
            seal.SealCmd.CLEAR_TAMPER: self._clear_tamper,
        })  # fmt: skip
        if self.has_doors:
            self._handlers[seal.SealCmd.UNLOCK_DOOR] = self._unlock_door
            self._handlers[seal.SealCmd.LOCK_DOOR] = self._lock_door

    # ---- control ------------------------------------------------------------------------------

    def set_clock(self, unix: int) -> None:
        """Set the device clock as SET_TIME does."""
        with self._cond:
            self.clock_offset = unix - time.time()
            self.clock_set = True

    def power_cycle(self) -> None:
        """The clock is lost (tokens are refused until SET_TIME); marks, counters and logs persist."""
        with self._cond:
            super().power_cycle()
            self.clock_set = False

    def load_document(self, document: str | bytes | None) -> None:
        """Put a document in the paper channel (its QR payload or id); None empties the channel."""
        with self._cond:
            self.document = None if document is None else seal.doc_hash(document)

    def fail_next_stamp(self, reason: int | str) -> None:
        with self._cond:
            self._fail_next = reason if isinstance(reason, int) else seal.FAIL_REASON_CODES[reason]

    def remove_seal(self, slot: int, *, authorised: bool = False) -> None:
        """Take the seal out of `slot`; without authorisation that is tamper kind 5."""
        with self._cond:
            self.slots[slot].present = False
            if not authorised:
                self.tamper(5)

    def refill_ink(self, slot: int) -> None:
        """Resets the ink (maintenance) counter; the lifetime counter is untouched."""
        with self._cond:
            self.slots[slot].ink_pct, self.slots[slot].ink_count = 100, 0

    def tamper(self, kind: int | str) -> None:
        """A tamper sensor fires: TAMPER event, LOCKED_OUT, and every open job is interrupted."""
        with self._cond:
            code = kind if isinstance(kind, int) else seal.TAMPER_KIND_CODES[kind]
            self.locked_out = True
            self._photo(4)
            self.queue_event(seal.SealEvent.TAMPER, seal.TamperEvent(code).encode())
            for job_id, job in self.jobs.items():
                if not job.ended and job.state in (0, 1):
                    job.ended = True
                    self._job_state(job_id, job, 2)

    def force_door(self, door: int) -> None:
        """A door opened without authorisation: DOOR (authorised 0) and tamper kind 1."""
        with self._cond:
            self.doors[door] = True
            self.queue_event(seal.SealEvent.DOOR, seal.DoorEvent(door, 1, 0).encode())
            self.tamper(1)

    def close_door(self, door: int) -> None:
        with self._cond:
            if self.doors.get(door):
                self.doors[door] = False
                self.queue_event(seal.SealEvent.DOOR, seal.DoorEvent(door, 0, 1).encode())

    def counters(self) -> dict[int, int]:
        return {slot: state.lifetime_count for slot, state in self.slots.items()}

    # ---- device behaviour ---------------------------------------------------------------------

    def queue_event(self, code: int, data: bytes) -> int:
        """Queue the event for POLL and keep it in the log forever (GET_LOG), even if the queue drops it."""
        with self._cond:
            seq = super().queue_event(code, data)
            self.log_events.append(hdp1.Event(code, seq, self.now(), data))
            return seq

    def status_bits(self) -> int:
        bits = super().status_bits()
        if self.locked_out:
            bits |= seal.STATUS_TAMPER | seal.STATUS_LOCKED_OUT
        if self.maintenance:
            bits |= seal.STATUS_MAINTENANCE
        if self.doors.get(1):
            bits |= seal.STATUS_PAPER_DOOR_OPEN
        if self.doors.get(2):
            bits |= seal.STATUS_SAFETY_DOOR_OPEN
        return bits

    def tick(self) -> None:
        """Finish the stamps whose mechanical time has passed."""
        now = time.monotonic()
        due = [o for o in self._outcomes if o.due <= now]
        self._outcomes = [o for o in self._outcomes if o.due > now]
        for outcome in due:
            self._finish_stamp(outcome.stamp)

    def _set_time(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        result = super()._set_time(frame)
        self.clock_set = True
        return result

    def _check_nonce(self, nonce: int) -> None:
        """AUTH_EXPIRED at or below the mark; otherwise the new mark is persisted before acting."""
        if nonce <= self.nonce_mark:
            raise Hdp1Refused(hdp1.Status.AUTH_EXPIRED)
        self.nonce_mark = nonce

    def _not_locked(self) -> None:
        if self.locked_out:
            raise Hdp1Refused(hdp1.Status.LOCKED_OUT)

    # ---- commands -----------------------------------------------------------------------------

    def _get_slots(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        infos = [seal.SlotInfo(n, s.seal_rfid, int(s.present), s.ink_pct, s.lifetime_count, s.dept_code)
                 for n, s in sorted(self.slots.items())]  # fmt: skip
        return hdp1.Status.OK, seal.encode_slots(infos, frame.encoding)

    def _authorize_job(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        token = seal.AuthorizeJob.decode(frame.payload)
        self._not_locked()
        if not seal.verify_authorisation(self.key, token):
            log.info("seal sim: job %d refused: wrong mac", token.job_id)
            raise Hdp1Refused(hdp1.Status.NOT_AUTHORIZED)
        if token.nonce <= self.nonce_mark or not self.clock_set or token.not_after < self.now():
            log.info("seal sim: job %d refused: replayed or expired", token.job_id)
            raise Hdp1Refused(hdp1.Status.AUTH_EXPIRED)
        slot = self.slots.get(token.slot)
        if slot is None or not slot.present or slot.seal_rfid != token.seal_rfid or token.max_count == 0:
            raise Hdp1Refused(hdp1.Status.NOT_AUTHORIZED)
        self._check_nonce(token.nonce)
        job = Job(token)
        self.jobs[token.job_id] = job
        self._job_state(token.job_id, job, 0)
        return hdp1.Status.OK, b""

    def _stamp(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        stamp = seal.Stamp.decode(frame.payload)
        self._not_locked()
        job = self._job_for(stamp)
        if stamp.stamp_idx in job.accepted:
            return hdp1.Status.OK, b""  # idempotent by (job_id, stamp_idx): no second stamp
        job.accepted.add(stamp.stamp_idx)
        if job.state == 0:
            self._job_state(stamp.job_id, job, 1)
        self._outcomes.append(_Outcome(time.monotonic() + self.stamp_delay_s, stamp))
        if self.stamp_delay_s <= 0:
            self.tick()
        return hdp1.Status.OK, b""

    def _job_for(self, stamp: seal.Stamp) -> Job:
        """The authorised job, or a refusal: unknown/over max_count NOT_AUTHORIZED, ended/expired AUTH_EXPIRED."""
        job = self.jobs.get(stamp.job_id)
        if job is None and not self.require_auth:
            job = Job(seal.AuthorizeJob(stamp.job_id, min(self.slots), self.slots[min(self.slots)].seal_rfid,
                                        0xFFFF, 0xFFFFFFFF, 0, seal.NO_DOC_HASH))  # fmt: skip
            self.jobs[stamp.job_id] = job
        if job is None or not 1 <= stamp.stamp_idx <= job.token.max_count:
            raise Hdp1Refused(hdp1.Status.NOT_AUTHORIZED)
        if stamp.stamp_idx not in job.accepted and (job.ended or job.token.not_after < self.now()):
            raise Hdp1Refused(hdp1.Status.AUTH_EXPIRED)
        return job

    def _failure_reason(self, stamp: seal.Stamp, job: Job, slot: Slot) -> int | None:
        if self._fail_next is not None:
            reason, self._fail_next = self._fail_next, None
            return reason
        if not slot.present or slot.seal_rfid != job.token.seal_rfid:
            return 3
        if slot.ink_pct == 0:
            return 4
        if self.has_doors and any(self.doors.values()):
            return 6
        if stamp.flags & seal.Stamp.VERIFY_QR and job.token.doc_hash != seal.NO_DOC_HASH \
                and self.document != job.token.doc_hash:  # fmt: skip
            return 11
        return None

    def _finish_stamp(self, stamp: seal.Stamp) -> None:
        job = self.jobs[stamp.job_id]
        slot = self.slots[job.token.slot]
        reason = self._failure_reason(stamp, job, slot)
        if reason is not None:
            log.info("seal sim: job %d stamp %d failed: %s", stamp.job_id, stamp.stamp_idx,
                     seal.FAIL_REASONS.get(reason, reason))  # fmt: skip
            failed = seal.StampFailed(stamp.job_id, stamp.stamp_idx, reason)
            self.queue_event(seal.SealEvent.STAMP_FAILED, failed.encode())
            return
        before = self._photo(1) if stamp.flags & seal.Stamp.PHOTO_BEFORE else 0
        slot.lifetime_count += 1
        slot.ink_count += 1
        slot.ink_pct = max(0, slot.ink_pct - 1)
        after = self._photo(2) if stamp.flags & seal.Stamp.PHOTO_AFTER else 0
        digests = {pid: hashlib.sha256(self.photos[pid]).hexdigest() for pid in (before, after) if pid}
        self.stamps.append(StampRecord(stamp.job_id, stamp.stamp_idx, job.token.slot, slot.lifetime_count, before,
                                       after, digests))  # fmt: skip
        done = seal.StampDone(stamp.job_id, stamp.stamp_idx, job.token.slot, slot.seal_rfid, slot.lifetime_count,
                              before, after)  # fmt: skip
        self.queue_event(seal.SealEvent.STAMP_DONE, done.encode())

    def _photo(self, kind: int) -> int:
        """Take a (fake, deterministic) JPEG photo; PHOTO_READY tells the host it can be fetched."""
        photo_id = self._next_photo
        self._next_photo += 1
        body = hashlib.sha256(f"{self.serial}:{photo_id}:{kind}".encode()).digest() * 8
        self.photos[photo_id] = b"\xff\xd8\xff\xe0" + body + b"\xff\xd9"
        ready = seal.PhotoReady(photo_id, len(self.photos[photo_id]), kind)
        self.queue_event(seal.SealEvent.PHOTO_READY, ready.encode())
        return photo_id

    def _job_state(self, job_id: int, job: Job, state: int) -> None:
        job.state = state
        self.queue_event(seal.SealEvent.JOB_STATE, seal.JobState(job_id, state).encode())

    def _end_job(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        job_id = seal.JobId.decode(frame.payload).job_id
        job = self.jobs.get(job_id)
        if job is None:
            raise Hdp1Refused(hdp1.Status.WRONG_STATE)
        used = sum(1 for r in self.stamps if r.job_id == job_id)
        if not job.ended:
            job.ended = True
            self._job_state(job_id, job, 4 if job.accepted else 3)
        return hdp1.Status.OK, seal.EndJobReply(used).encode()

    def _unlock_door(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        request = seal.UnlockDoor.decode(frame.payload)
        self._not_locked()
        if request.door == 1:
            job = self.jobs.get(request.job_id)
            if job is None or job.ended:
                raise Hdp1Refused(hdp1.Status.NOT_AUTHORIZED)
        elif request.door == 2:
            if not request.verify(self.key):
                raise Hdp1Refused(hdp1.Status.NOT_AUTHORIZED)
            self._check_nonce(request.nonce)
        else:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        self.doors[request.door] = True
        self.queue_event(seal.SealEvent.DOOR, seal.DoorEvent(request.door, 1, 1).encode())
        return hdp1.Status.OK, b""

    def _lock_door(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        door = seal.LockDoor.decode(frame.payload).door
        if door not in self.doors:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        self.close_door(door)
        return hdp1.Status.OK, b""

    def _get_photo(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        request = seal.GetPhoto.decode(frame.payload)
        photo = self.photos.get(request.photo_id)
        if photo is None or request.offset > len(photo):
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        size = min(request.max, hdp1.MAX_PAYLOAD - 5)
        return hdp1.Status.OK, seal.PhotoChunk(len(photo), photo[request.offset : request.offset + size]).encode()

    def _get_log(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        request = seal.GetLog.decode(frame.payload)
        out: list[hdp1.Event] = []
        size = 2
        for event in self.log_events:
            if event.dev_evt_seq < request.from_seq:
                continue
            size += len(event.encode())
            if len(out) >= request.max or size > hdp1.MAX_PAYLOAD:
                break
            out.append(event)
        return hdp1.Status.OK, hdp1.encode_events(out)

    def _set_mode(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        request = seal.SealSetMode.decode(frame.payload)
        if request.mode > 2:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        if not request.verify(self.key):
            raise Hdp1Refused(hdp1.Status.NOT_AUTHORIZED)
        self._check_nonce(request.nonce)
        self.maintenance = request.mode == 1
        self.locked_out = self.locked_out or request.mode == 2
        return hdp1.Status.OK, b""

    def _clear_tamper(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        request = seal.ClearTamper.decode(frame.payload)
        if not request.verify(self.key):
            raise Hdp1Refused(hdp1.Status.NOT_AUTHORIZED)
        self._check_nonce(request.nonce)
        self.locked_out = False
        return hdp1.Status.OK, b""


class StamperSimulator(SealMachineSimulator):
    """Inline stamper (0x41): STAMP, events and counters, no doors; `require_auth=False` accepts any job."""

    dev_type = hdp1.DevType.STAMPER
    caps = 0x01
    has_doors = False

    def __init__(self, profile: dict[str, Any], address: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("serial", "SIMSTMP1")
        super().__init__(profile, address, **kwargs)

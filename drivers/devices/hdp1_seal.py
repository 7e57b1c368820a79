"""Seal machine and inline stamper over HDP/1 (devices.md §5.12).

The edge never holds a machine's key: authorize_job, unlock_door (safety door), seal_set_mode and
clear_tamper carry the nonce and mac the hall server computed, and the driver forwards them byte for
byte. A STAMP answered OK is only *accepted*; the stamp happened when STAMP_DONE arrives as an event.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from typing import Any

from drivers.codecs import hdp1
from drivers.codecs import hdp1_seal as seal
from drivers.devices.base import DeviceEvent
from drivers.devices.hdp1_caller import _int_arg
from drivers.devices.hdp1_master import Hdp1Device
from drivers.errors import BadArguments, CodecError, DeviceRejected

log = logging.getLogger(__name__)

U32 = 0xFFFFFFFF


def _hex_arg(args: dict[str, Any], name: str, size: int, default: bytes | None = None) -> bytes:
    """A fixed-size binary field given as hex on the bus (seal_rfid, doc_hash, mac)."""
    if name not in args:
        if default is None:
            raise BadArguments(f"{name} is required")
        return default
    try:
        value = bytes.fromhex(str(args[name]))
    except ValueError:
        raise BadArguments(f"{name} must be hex") from None
    if len(value) != size:
        raise BadArguments(f"{name} must be {size} bytes")
    return value


def _required_int(args: dict[str, Any], name: str, high: int) -> int:
    if name not in args:
        raise BadArguments(f"{name} is required")
    return _int_arg(args, name, 0, high)


class Hdp1SealMachine(Hdp1Device):
    """`kind="seal_machine"`: authorize_job, stamp, end_job, doors, counters, log, photos, maintenance."""

    kind = "seal_machine"
    has_doors = True

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "authorize_job": self._authorize_job,
            "stamp": self._stamp,
            "end_job": self._end_job,
            "get_counters": self._get_counters,
            "get_log": self._get_log,
            "get_photo": self._get_photo,
            "seal_set_mode": self._set_mode,
            "clear_tamper": self._clear_tamper,
        }
        if self.has_doors:
            handlers.update(unlock_door=self._unlock_door, lock_door=self._lock_door)
        return handlers

    def probe(self) -> dict[str, Any]:
        bits = self.get_status().status_bits
        state: dict[str, Any] = {
            "online": True,
            "tamper": bool(bits & seal.STATUS_TAMPER),
            "locked_out": bool(bits & seal.STATUS_LOCKED_OUT),
            "maintenance": bool(bits & seal.STATUS_MAINTENANCE),
        }
        if self.has_doors:
            state["paper_door"] = "open" if bits & seal.STATUS_PAPER_DOOR_OPEN else "closed"
            state["safety_door"] = "open" if bits & seal.STATUS_SAFETY_DOOR_OPEN else "closed"
        return state

    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = self._handlers().get(name)
        if handler is None:
            raise BadArguments(f"{self.kind} has no command {name!r}", code="unknown_command")
        return handler(args)

    # ---- jobs ---------------------------------------------------------------------------------

    def _authorize_job(self, args: dict[str, Any]) -> dict[str, Any]:
        token = seal.AuthorizeJob(
            job_id=_required_int(args, "job_id", U32),
            slot=_required_int(args, "slot", 0xFF),
            seal_rfid=_hex_arg(args, "seal_rfid", seal.RFID_LEN),
            max_count=_required_int(args, "max_count", 0xFFFF),
            not_after=_required_int(args, "not_after", U32),
            nonce=_required_int(args, "nonce", U32),
            doc_hash=_hex_arg(args, "doc_hash", seal.DOC_HASH_LEN, seal.NO_DOC_HASH),
            mac=_hex_arg(args, "mac", seal.MAC_LEN),
        )
        self.request(seal.SealCmd.AUTHORIZE_JOB, token.encode())
        log.info("%s: job %d authorised for slot %d", self.spec.device_id, token.job_id, token.slot)
        return {"job_id": token.job_id}

    def _stamp(self, args: dict[str, Any]) -> dict[str, Any]:
        flags = (
            (seal.Stamp.PHOTO_BEFORE if args.get("photo_before", True) else 0)
            | (seal.Stamp.PHOTO_AFTER if args.get("photo_after", True) else 0)
            | (seal.Stamp.VERIFY_QR if args.get("verify_qr", False) else 0)
        )
        stamp = seal.Stamp(_required_int(args, "job_id", U32), _required_int(args, "stamp_idx", 0xFFFF),
                           _int_arg(args, "x_01mm", 0, 0xFFFF), _int_arg(args, "y_01mm", 0, 0xFFFF), flags)  # fmt: skip
        if stamp.stamp_idx == 0:
            raise BadArguments("stamp_idx starts at 1")
        self.request(seal.SealCmd.STAMP, stamp.encode())
        return {"job_id": stamp.job_id, "stamp_idx": stamp.stamp_idx, "accepted": True}

    def _end_job(self, args: dict[str, Any]) -> dict[str, Any]:
        job_id = _required_int(args, "job_id", U32)
        reply = seal.EndJobReply.decode(self.request(seal.SealCmd.END_JOB, seal.JobId(job_id).encode()))
        return {"job_id": job_id, "used": reply.used}

    # ---- counters, log, photos ----------------------------------------------------------------

    def _get_counters(self, args: dict[str, Any]) -> dict[str, Any]:
        slots = seal.decode_slots(self.request(seal.SealCmd.GET_SLOTS), self.master.encoding)
        return {"slots": [{
            "slot": s.slot, "seal_rfid": s.seal_rfid.hex(), "present": bool(s.present), "ink_pct": s.ink_pct,
            "lifetime_count": s.lifetime_count, "dept_code": s.dept_code,
        } for s in slots]}  # fmt: skip

    def _get_log(self, args: dict[str, Any]) -> dict[str, Any]:
        request = seal.GetLog(_int_arg(args, "from_seq", 0, U32), _int_arg(args, "max", 32, 0xFF))
        events = hdp1.decode_events(self.request(seal.SealCmd.GET_LOG, request.encode()))
        converted = [(event, self.convert_event(event, fetch_photos=False)) for event in events]
        return {"events": [{"type": c.type, "source_seq": c.source_seq, "time": e.time, "data": c.data}
                           for e, c in converted if c is not None]}  # fmt: skip

    def fetch_photo(self, photo_id: int) -> bytes:
        """The whole photo, chunk by chunk (GET_PHOTO); binary content goes to the server over HTTP."""
        data = bytearray()
        while True:
            reply = seal.PhotoChunk.decode(self.request(seal.SealCmd.GET_PHOTO,
                                                        seal.GetPhoto(photo_id, len(data), 900).encode()))  # fmt: skip
            data += reply.chunk
            if len(data) >= reply.total:
                return bytes(data[: reply.total])
            if not reply.chunk:
                raise CodecError(f"{self.spec.device_id}: photo {photo_id} ended at {len(data)} of {reply.total}")

    def _get_photo(self, args: dict[str, Any]) -> dict[str, Any]:
        photo_id = _required_int(args, "photo_id", U32)
        photo = self.fetch_photo(photo_id)
        return {"photo_id": photo_id, "size": len(photo), "sha256": hashlib.sha256(photo).hexdigest(),
                "data_b64": base64.b64encode(photo).decode("ascii")}  # fmt: skip

    # ---- doors and maintenance ----------------------------------------------------------------

    def _door(self, args: dict[str, Any]) -> int:
        door = seal.DOOR_CODES.get(str(args.get("door")))
        if door is None:
            raise BadArguments("door must be paper or safety")
        return door

    def _unlock_door(self, args: dict[str, Any]) -> dict[str, Any]:
        door = self._door(args)
        zero_mac = bytes(seal.MAC_LEN) if door == 1 else None
        request = seal.UnlockDoor(
            door,
            _int_arg(args, "seconds", 30, 0xFF),
            _int_arg(args, "job_id", 0, U32),
            _int_arg(args, "nonce", 0, U32),
            _hex_arg(args, "mac", seal.MAC_LEN, zero_mac),
        )
        self.request(seal.SealCmd.UNLOCK_DOOR, request.encode())
        return {"door": seal.DOORS[door]}

    def _lock_door(self, args: dict[str, Any]) -> dict[str, Any]:
        door = self._door(args)
        self.request(seal.SealCmd.LOCK_DOOR, seal.LockDoor(door).encode())
        return {"door": seal.DOORS[door]}

    def _set_mode(self, args: dict[str, Any]) -> dict[str, Any]:
        mode = args.get("mode")
        if mode not in seal.SEAL_MODES:
            raise BadArguments(f"mode must be one of {', '.join(seal.SEAL_MODES)}")
        request = seal.SealSetMode(seal.SEAL_MODES.index(mode), _required_int(args, "nonce", U32),
                                   _hex_arg(args, "mac", seal.MAC_LEN))  # fmt: skip
        self.request(seal.SealCmd.SEAL_SET_MODE, request.encode())
        return {"mode": mode}

    def _clear_tamper(self, args: dict[str, Any]) -> dict[str, Any]:
        request = seal.ClearTamper(_required_int(args, "nonce", U32), _hex_arg(args, "mac", seal.MAC_LEN))
        self.request(seal.SealCmd.CLEAR_TAMPER, request.encode())
        return {}

    # ---- events -------------------------------------------------------------------------------

    def convert_event(self, event: hdp1.Event, fetch_photos: bool = True) -> DeviceEvent | None:
        converter = _EVENT_CONVERTERS.get(event.code)
        if converter is None:
            return None
        name, data = converter(event.data)
        if name == "photo_ready" and fetch_photos:
            data["sha256"] = self._photo_digest(int(data["photo_id"]))
        return DeviceEvent(name, data, event.dev_evt_seq)

    def _photo_digest(self, photo_id: int) -> str | None:
        """SHA-256 of a photo for the event (bus.md §2.1: binary travels by id and digest)."""
        try:
            return hashlib.sha256(self.fetch_photo(photo_id)).hexdigest()
        except (CodecError, DeviceRejected) as exc:
            log.warning("%s: photo %d unavailable: %s", self.spec.device_id, photo_id, exc)
            return None


def _stamp_done(data: bytes) -> tuple[str, dict[str, Any]]:
    d = seal.StampDone.decode(data)
    return "stamp_done", {"job_id": d.job_id, "stamp_idx": d.stamp_idx, "slot": d.slot,
                          "seal_rfid": d.seal_rfid.hex(), "lifetime_count_after": d.lifetime_count_after,
                          "photo_before": d.photo_before or None, "photo_after": d.photo_after or None}  # fmt: skip


def _stamp_failed(data: bytes) -> tuple[str, dict[str, Any]]:
    d = seal.StampFailed.decode(data)
    reason = seal.FAIL_REASONS.get(d.reason, f"reason_{d.reason}")
    return "stamp_failed", {"job_id": d.job_id, "stamp_idx": d.stamp_idx, "reason": reason, "reason_code": d.reason}


def _door(data: bytes) -> tuple[str, dict[str, Any]]:
    d = seal.DoorEvent.decode(data)
    return "door", {"door": seal.DOORS.get(d.door, f"door_{d.door}"), "open": bool(d.open),
                    "authorised": bool(d.authorised)}  # fmt: skip


def _tamper(data: bytes) -> tuple[str, dict[str, Any]]:
    kind = seal.TamperEvent.decode(data).kind
    return "tamper", {"kind": seal.TAMPER_KINDS.get(kind, f"kind_{kind}")}


def _photo_ready(data: bytes) -> tuple[str, dict[str, Any]]:
    d = seal.PhotoReady.decode(data)
    return "photo_ready", {"photo_id": d.photo_id, "size": d.size, "kind": seal.PHOTO_KINDS.get(d.kind, "other")}


def _job_state(data: bytes) -> tuple[str, dict[str, Any]]:
    d = seal.JobState.decode(data)
    state = seal.JOB_STATES[d.state] if d.state < len(seal.JOB_STATES) else f"state_{d.state}"
    return "job_state", {"job_id": d.job_id, "state": state}


_EVENT_CONVERTERS: dict[int, Callable[[bytes], tuple[str, dict[str, Any]]]] = {
    seal.SealEvent.STAMP_DONE: _stamp_done,
    seal.SealEvent.STAMP_FAILED: _stamp_failed,
    seal.SealEvent.DOOR: _door,
    seal.SealEvent.TAMPER: _tamper,
    seal.SealEvent.PHOTO_READY: _photo_ready,
    seal.SealEvent.JOB_STATE: _job_state,
}


class Hdp1Stamper(Hdp1SealMachine):
    """`kind="stamper"`: the inline stamper subset of §5.12, without doors."""

    kind = "stamper"
    has_doors = False

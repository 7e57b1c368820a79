"""HDP/1 seal machine (0x40) and inline stamper (0x41) payloads and authorisation MACs (devices.md §5.12).

Pure codec, no I/O, pinned by V-HDP-7 and V-HDP-8. A seal is applied only under an authorisation that
the hall server signs with the machine's key K; the edge forwards the token unchanged and never holds
K. `sign_authorisation` is therefore for the hall server and the simulator, not for the edge.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from drivers.codecs.hdp1 import Payload, Reader, Writer
from drivers.errors import CodecError

DOMAIN = b"HDP1SEAL"
MAC_LEN = 16
RFID_LEN = 8
DOC_HASH_LEN = 8
NO_DOC_HASH = bytes(DOC_HASH_LEN)


class SealCmd(IntEnum):
    GET_SLOTS = 0x41
    AUTHORIZE_JOB = 0x42
    STAMP = 0x43
    END_JOB = 0x44
    UNLOCK_DOOR = 0x45
    LOCK_DOOR = 0x46
    GET_PHOTO = 0x47
    GET_LOG = 0x48
    SEAL_SET_MODE = 0x49
    CLEAR_TAMPER = 0x4A


class SealEvent(IntEnum):
    STAMP_DONE = 0xC0
    STAMP_FAILED = 0xC1
    DOOR = 0xC2
    TAMPER = 0xC3
    PHOTO_READY = 0xC4
    JOB_STATE = 0xC5


#: STAMP_FAILED reasons (§5.12) by code.
FAIL_REASONS: dict[int, str] = {
    1: "paper_jam", 2: "no_paper", 3: "seal_missing", 4: "ink_low", 5: "position_out_of_range",
    6: "door_open", 7: "motor_fault", 8: "seal_switching_error", 9: "missed_stamp",
    10: "authorisation_exhausted", 11: "document_mismatch", 12: "foreign_object",
}  # fmt: skip
FAIL_REASON_CODES = {name: code for code, name in FAIL_REASONS.items()}

#: JOB_STATE states, after the 印控机 ActiveX `SealGetState` (§5.12).
JOB_STATES = ("available", "stamping", "interrupted", "voided", "finished", "aborted")
TAMPER_KINDS = {1: "case_opened", 2: "tilt", 3: "motion", 4: "mains_lost", 5: "seal_removed"}
TAMPER_KIND_CODES = {name: code for code, name in TAMPER_KINDS.items()}
DOORS = {1: "paper", 2: "safety"}
DOOR_CODES = {name: code for code, name in DOORS.items()}
SEAL_MODES = ("normal", "maintenance", "locked_out")
PHOTO_KINDS = {1: "before", 2: "after", 3: "door", 4: "tamper"}

#: GET_STATUS type-specific status_bits (b16…); §5.12 leaves them open (assumption of the project).
STATUS_PAPER_DOOR_OPEN = 1 << 16
STATUS_SAFETY_DOOR_OPEN = 1 << 17
STATUS_LOCKED_OUT = 1 << 18
STATUS_TAMPER = 1 << 3
STATUS_MAINTENANCE = 1 << 4


def doc_hash(document: str | bytes) -> bytes:
    """First 8 bytes of SHA-256 of the approved document's QR payload or id (zeros: unused)."""
    data = document.encode("utf-8") if isinstance(document, str) else document
    return hashlib.sha256(data).digest()[:DOC_HASH_LEN]


def mac16(key: bytes, message: bytes) -> bytes:
    """First 16 bytes of HMAC-SHA256(K, message)."""
    return hmac.new(key, message, hashlib.sha256).digest()[:MAC_LEN]


def _fixed(value: bytes, size: int, name: str) -> bytes:
    if len(value) != size:
        raise CodecError(f"{name} must be {size} bytes, got {len(value)}")
    return value


# ---- authorisation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizeJob(Payload):
    """AUTHORIZE_JOB: the signed fields followed by the 16-byte mac."""

    job_id: int
    slot: int
    seal_rfid: bytes
    max_count: int
    not_after: int
    nonce: int
    doc_hash: bytes
    mac: bytes = bytes(MAC_LEN)

    def signed_part(self) -> bytes:
        """The payload without its last 16 bytes: what the MAC covers after the domain string."""
        w = Writer().u32(self.job_id).u8(self.slot).raw(_fixed(self.seal_rfid, RFID_LEN, "seal_rfid"))
        w.u16(self.max_count).u32(self.not_after).u32(self.nonce).raw(_fixed(self.doc_hash, DOC_HASH_LEN, "doc_hash"))
        return w.getvalue()

    def mac_input(self) -> bytes:
        return DOMAIN + self.signed_part()

    def _write(self, w: Writer) -> None:
        w.raw(self.signed_part()).raw(_fixed(self.mac, MAC_LEN, "mac"))

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.u8(), r.take(RFID_LEN), r.u16(), r.u32(), r.u32(), r.take(DOC_HASH_LEN),
                   r.take(MAC_LEN))  # fmt: skip


def sign_authorisation(
    key: bytes,
    *,
    job_id: int,
    slot: int,
    seal_rfid: bytes,
    max_count: int,
    not_after: int,
    nonce: int,
    document_hash: bytes = NO_DOC_HASH,
) -> AuthorizeJob:
    """The hall server's token for one job (V-HDP-7); only a holder of K can make one."""
    unsigned = AuthorizeJob(job_id, slot, seal_rfid, max_count, not_after, nonce, document_hash)
    return AuthorizeJob(job_id, slot, seal_rfid, max_count, not_after, nonce, document_hash,
                        mac16(key, unsigned.mac_input()))  # fmt: skip


def verify_authorisation(key: bytes, token: AuthorizeJob) -> bool:
    return hmac.compare_digest(mac16(key, token.mac_input()), token.mac)


def command_mac(key: bytes, cmd: int, payload_without_mac: bytes) -> bytes:
    """MAC of a maintenance command: HMAC-SHA256(K, "HDP1SEAL" ‖ CMD ‖ payload without the mac)[:16]."""
    return mac16(key, DOMAIN + bytes([cmd]) + payload_without_mac)


class MacPayload(Payload):
    """A maintenance payload ending in nonce and mac; `unsigned()` is what `command_mac` covers."""

    CMD: ClassVar[int] = 0
    mac: bytes

    def unsigned(self) -> bytes:
        full = self.encode()
        return full[:-MAC_LEN]

    def verify(self, key: bytes) -> bool:
        return hmac.compare_digest(command_mac(key, self.CMD, self.unsigned()), self.mac)


@dataclass(frozen=True)
class UnlockDoor(MacPayload):
    """Paper door: job_id of the authorised job, nonce and mac zero. Safety door: job_id 0, nonce, mac."""

    CMD: ClassVar[int] = SealCmd.UNLOCK_DOOR
    door: int
    seconds: int
    job_id: int = 0
    nonce: int = 0
    mac: bytes = bytes(MAC_LEN)

    def _write(self, w: Writer) -> None:
        w.u8(self.door).u8(self.seconds).u32(self.job_id).u32(self.nonce).raw(_fixed(self.mac, MAC_LEN, "mac"))

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8(), r.u8(), r.u32(), r.u32(), r.take(MAC_LEN))

    def signed(self, key: bytes) -> UnlockDoor:
        return UnlockDoor(self.door, self.seconds, self.job_id, self.nonce, command_mac(key, self.CMD, self.unsigned()))


@dataclass(frozen=True)
class SealSetMode(MacPayload):
    CMD: ClassVar[int] = SealCmd.SEAL_SET_MODE
    mode: int
    nonce: int
    mac: bytes = bytes(MAC_LEN)

    def _write(self, w: Writer) -> None:
        w.u8(self.mode).u32(self.nonce).raw(_fixed(self.mac, MAC_LEN, "mac"))

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8(), r.u32(), r.take(MAC_LEN))

    def signed(self, key: bytes) -> SealSetMode:
        return SealSetMode(self.mode, self.nonce, command_mac(key, self.CMD, self.unsigned()))


@dataclass(frozen=True)
class ClearTamper(MacPayload):
    CMD: ClassVar[int] = SealCmd.CLEAR_TAMPER
    nonce: int
    mac: bytes = bytes(MAC_LEN)

    def _write(self, w: Writer) -> None:
        w.u32(self.nonce).raw(_fixed(self.mac, MAC_LEN, "mac"))

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.take(MAC_LEN))

    def signed(self, key: bytes) -> ClearTamper:
        return ClearTamper(self.nonce, command_mac(key, self.CMD, self.unsigned()))


# ---- job commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stamp(Payload):
    """STAMP; OK means accepted, the outcome comes as STAMP_DONE or STAMP_FAILED."""

    job_id: int
    stamp_idx: int
    x_01mm: int = 0
    y_01mm: int = 0
    flags: int = 0

    PHOTO_BEFORE: ClassVar[int] = 0x01
    PHOTO_AFTER: ClassVar[int] = 0x02
    VERIFY_QR: ClassVar[int] = 0x04

    def _write(self, w: Writer) -> None:
        w.u32(self.job_id).u16(self.stamp_idx).u16(self.x_01mm).u16(self.y_01mm).u8(self.flags)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.u16(), r.u16(), r.u16(), r.u8())


@dataclass(frozen=True)
class JobId(Payload):
    """END_JOB request."""

    job_id: int

    def _write(self, w: Writer) -> None:
        w.u32(self.job_id)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32())


@dataclass(frozen=True)
class EndJobReply(Payload):
    used: int

    def _write(self, w: Writer) -> None:
        w.u16(self.used)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u16())


@dataclass(frozen=True)
class LockDoor(Payload):
    door: int

    def _write(self, w: Writer) -> None:
        w.u8(self.door)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8())


@dataclass(frozen=True)
class GetPhoto(Payload):
    photo_id: int
    offset: int = 0
    max: int = 900

    def _write(self, w: Writer) -> None:
        w.u32(self.photo_id).u32(self.offset).u16(self.max)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.u32(), r.u16())


@dataclass(frozen=True)
class PhotoChunk(Payload):
    total: int
    chunk: bytes

    def _write(self, w: Writer) -> None:
        w.u32(self.total).raw(self.chunk)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.rest())


@dataclass(frozen=True)
class GetLog(Payload):
    """GET_LOG; the reply is laid out as a POLL response (hdp1.decode_events)."""

    from_seq: int
    max: int = 32

    def _write(self, w: Writer) -> None:
        w.u32(self.from_seq).u8(self.max)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.u8())


@dataclass(frozen=True)
class SlotInfo(Payload):
    """One slot of GET_SLOTS: its seal, ink and the lifetime (never reset) stamp counter."""

    slot: int
    seal_rfid: bytes
    present: int
    ink_pct: int
    lifetime_count: int
    dept_code: str = ""

    def _write(self, w: Writer) -> None:
        w.u8(self.slot).raw(_fixed(self.seal_rfid, RFID_LEN, "seal_rfid")).u8(self.present).u8(self.ink_pct)
        w.u32(self.lifetime_count).string(self.dept_code)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8(), r.take(RFID_LEN), r.u8(), r.u8(), r.u32(), r.string())


def encode_slots(slots: list[SlotInfo], encoding: str = "gb18030") -> bytes:
    return bytes([len(slots)]) + b"".join(slot.encode(encoding) for slot in slots)


def decode_slots(data: bytes, encoding: str = "gb18030") -> list[SlotInfo]:
    r = Reader(data, encoding)
    slots = [SlotInfo._read(r) for _ in range(r.u8())]
    r.end()
    return slots


# ---- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StampDone(Payload):
    job_id: int
    stamp_idx: int
    slot: int
    seal_rfid: bytes
    lifetime_count_after: int
    photo_before: int = 0
    photo_after: int = 0

    def _write(self, w: Writer) -> None:
        w.u32(self.job_id).u16(self.stamp_idx).u8(self.slot).raw(_fixed(self.seal_rfid, RFID_LEN, "seal_rfid"))
        w.u32(self.lifetime_count_after).u32(self.photo_before).u32(self.photo_after)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.u16(), r.u8(), r.take(RFID_LEN), r.u32(), r.u32(), r.u32())


@dataclass(frozen=True)
class StampFailed(Payload):
    job_id: int
    stamp_idx: int
    reason: int

    def _write(self, w: Writer) -> None:
        w.u32(self.job_id).u16(self.stamp_idx).u8(self.reason)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.u16(), r.u8())


@dataclass(frozen=True)
class DoorEvent(Payload):
    door: int
    open: int
    authorised: int

    def _write(self, w: Writer) -> None:
        w.u8(self.door).u8(self.open).u8(self.authorised)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8(), r.u8(), r.u8())


@dataclass(frozen=True)
class TamperEvent(Payload):
    kind: int

    def _write(self, w: Writer) -> None:
        w.u8(self.kind)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8())


@dataclass(frozen=True)
class PhotoReady(Payload):
    photo_id: int
    size: int
    kind: int

    def _write(self, w: Writer) -> None:
        w.u32(self.photo_id).u32(self.size).u8(self.kind)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.u32(), r.u8())


@dataclass(frozen=True)
class JobState(Payload):
    job_id: int
    state: int

    def _write(self, w: Writer) -> None:
        w.u32(self.job_id).u8(self.state)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.u8())

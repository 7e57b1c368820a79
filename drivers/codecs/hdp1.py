"""HDP/1, the Hall Device Protocol (devices.md §5): frames, stream decoding, events and payloads.

Pure codec, no I/O; shared by the HDP/1 drivers and the simulators, pinned by V-HDP-1…8. Fields are
little-endian; text is GB18030 unless FLAGS bit 4 (UTF8) is set.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, Self

from drivers.codecs.crc import crc16_modbus
from drivers.errors import CodecError

log = logging.getLogger(__name__)

SOF = b"\xaa\x55"
VERSION = 0x01
HOST = 0x00
BROADCAST = 0xFF
HEADER_LEN = 10
MAX_PAYLOAD = 1024
MAX_FRAME = HEADER_LEN + MAX_PAYLOAD + 2

FLAG_ACK_REQ, FLAG_RESPONSE, FLAG_EVENT, FLAG_RETRY, FLAG_UTF8 = 0x01, 0x02, 0x04, 0x08, 0x10
RESPONSE_BIT = 0x80


class Status(IntEnum):
    OK = 0x00
    UNKNOWN_CMD = 0x01
    BAD_LENGTH = 0x02
    BAD_PARAM = 0x03
    BUSY = 0x04
    WRONG_STATE = 0x05
    NOT_AUTHORIZED = 0x06
    AUTH_EXPIRED = 0x07
    HW_FAULT = 0x08
    MEDIA = 0x09
    STORAGE_FULL = 0x0A
    LOCKED_OUT = 0x0B
    TIMEOUT = 0x0C
    ENCODING = 0x0D


class Cmd(IntEnum):
    POLL = 0x01
    GET_INFO = 0x02
    GET_STATUS = 0x03
    SET_TIME = 0x04
    RESET = 0x05
    SET_ADDR = 0x06
    INDICATE = 0x07
    ACK_EVT = 0x0E
    ECHO = 0x0F
    SHOW_NUMBER = 0x11
    SHOW_INFO = 0x12
    SET_LAMP = 0x13
    SET_CLERK = 0x31
    REQUEST_RATING = 0x32
    CANCEL_RATING = 0x33
    SET_MODE = 0x34
    SHOW_MESSAGE = 0x35
    PHOTO_WRITE = 0x36
    SET_REASONS = 0x37
    SET_AREA_TEXT = 0x21
    CLEAR = 0x22
    SET_BRIGHTNESS = 0x23
    POWER = 0x24
    GET_CONTENT = 0x26


class EventCode(IntEnum):
    KEY = 0x90
    RATING = 0xB0
    RATING_TIMEOUT = 0xB1
    RATING_CANCELLED = 0xB2
    EVAL_KEY = 0xB3


class DevType(IntEnum):
    CALLER = 0x10
    WINDOW_SCREEN = 0x20
    HALL_SCREEN = 0x21
    EVALUATOR = 0x30
    SEAL_MACHINE = 0x40
    STAMPER = 0x41


#: Caller keypad keys (§5.9) by code; bit 7 of the code on the wire marks a long press.
CALLER_KEYS: dict[int, str] = {
    0x01: "call_next", 0x02: "recall", 0x03: "start", 0x04: "finish", 0x05: "skip", 0x06: "pause",
    0x07: "resume", 0x08: "transfer", 0x09: "ask_rating", 0x0A: "login", 0x0B: "logout",
    **{0x10 + d: f"digit_{d}" for d in range(10)},
}  # fmt: skip
CALLER_KEY_CODES = {name: code for code, name in CALLER_KEYS.items()}
LONG_PRESS = 0x80

EVALUATOR_MODES = ("idle", "serving", "paused", "off_duty")
RATING_SOURCES = {1: "key", 2: "touch", 3: "qr"}
RATING_SOURCE_CODES = {name: code for code, name in RATING_SOURCES.items()}


def text_encoding(flags: int) -> str:
    return "utf-8" if flags & FLAG_UTF8 else "gb18030"


# ---- frames -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    dst: int
    src: int
    seq: int
    flags: int
    cmd: int
    payload: bytes = b""
    ver: int = VERSION

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAG_RESPONSE)

    @property
    def encoding(self) -> str:
        return text_encoding(self.flags)

    def encode(self) -> bytes:
        if len(self.payload) > MAX_PAYLOAD:
            raise CodecError(f"payload of {len(self.payload)} bytes exceeds {MAX_PAYLOAD}")
        body = struct.pack("<BBBBBBH", self.ver, self.dst, self.src, self.seq & 0xFF, self.flags,
                           self.cmd, len(self.payload)) + self.payload  # fmt: skip
        return SOF + body + struct.pack("<H", crc16_modbus(body))

    def response(self, status: int, data: bytes = b"", src: int | None = None) -> Frame:
        """The response a device sends to this request: same SEQ, CMD with bit 7, STATUS first."""
        flags = FLAG_RESPONSE | (self.flags & FLAG_UTF8)
        return Frame(self.src, self.dst if src is None else src, self.seq, flags, self.cmd | RESPONSE_BIT,
                     bytes([status]) + data)  # fmt: skip


def decode_frame(data: bytes) -> Frame:
    """Decode exactly one frame; CodecError on any defect."""
    if len(data) < HEADER_LEN + 2 or data[:2] != SOF:
        raise CodecError("not an HDP/1 frame: short or no AA 55")
    ver, dst, src, seq, flags, cmd, length = struct.unpack_from("<BBBBBBH", data, 2)
    if length > MAX_PAYLOAD or len(data) != HEADER_LEN + length + 2:
        raise CodecError(f"LEN {length} does not match a frame of {len(data)} bytes")
    (crc,) = struct.unpack_from("<H", data, HEADER_LEN + length)
    if crc != crc16_modbus(data[2 : HEADER_LEN + length]):
        raise CodecError("CRC-16/MODBUS mismatch")
    if ver != VERSION:
        raise CodecError(f"unknown VER {ver}")
    return Frame(dst, src, seq, flags, cmd, data[HEADER_LEN : HEADER_LEN + length], ver)


class StreamDecoder:
    """Hunts for AA 55, waits for the whole frame, checks it, and on failure rescans after that AA.

    Without byte stuffing, a stray `AA 55` can announce a long LEN and hide a real frame behind it.
    The inter-byte timeout of §5.2 ends such a candidate: bytes separated by a longer gap than
    `inter_byte_timeout` never belong to one frame, so the stale candidate is abandoned (`flush`).
    """

    def __init__(self, inter_byte_timeout: float | None = None) -> None:
        self._buf = bytearray()
        self.dropped = 0
        self.inter_byte_timeout = inter_byte_timeout
        self._last = 0.0

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        if self.inter_byte_timeout is not None and data:
            now = time.monotonic()
            if self._buf and now - self._last > self.inter_byte_timeout:
                frames += self.flush()
            self._last = now
        self._buf += data
        frames += self._drain()
        return frames

    def flush(self) -> list[Frame]:
        """Abandon the incomplete candidate at the front; return whole frames found behind it."""
        frames: list[Frame] = []
        while self._buf:
            self._skip("incomplete frame abandoned")
            frames += self._drain()
        return frames

    def _drain(self) -> list[Frame]:
        frames: list[Frame] = []
        while True:
            frame, need_more = self._next()
            if frame is not None:
                frames.append(frame)
            elif need_more:
                return frames

    def _next(self) -> tuple[Frame | None, bool]:
        """One step: (frame, False), (None, False) after a skip, or (None, True) to wait for bytes."""
        start = self._buf.find(SOF)
        if start < 0:
            keep = 1 if self._buf[-1:] == SOF[:1] else 0
            del self._buf[: len(self._buf) - keep]
            return None, True
        del self._buf[:start]
        if len(self._buf) < HEADER_LEN:
            return None, True
        (length,) = struct.unpack_from("<H", self._buf, 8)
        if length > MAX_PAYLOAD:
            return self._skip("LEN too large")
        if len(self._buf) < HEADER_LEN + length + 2:
            return None, True
        try:
            frame = decode_frame(bytes(self._buf[: HEADER_LEN + length + 2]))
        except CodecError as exc:
            return self._skip(exc.message)
        del self._buf[: HEADER_LEN + length + 2]
        return frame, False

    def _skip(self, why: str) -> tuple[None, bool]:
        log.debug("hdp1: dropping candidate frame: %s", why)
        self.dropped += 1
        del self._buf[:1]
        return None, False

    def clear(self) -> None:
        self._buf.clear()


# ---- field readers and writers ---------------------------------------------------------------


class Writer:
    """Little-endian payload builder with HDP/1 str/lstr/char[n]."""

    def __init__(self, encoding: str = "gb18030") -> None:
        self.encoding = encoding
        self.buf = bytearray()

    def u8(self, value: int) -> Self:
        self.buf += struct.pack("<B", value)
        return self

    def u16(self, value: int) -> Self:
        self.buf += struct.pack("<H", value)
        return self

    def i16(self, value: int) -> Self:
        self.buf += struct.pack("<h", value)
        return self

    def u32(self, value: int) -> Self:
        self.buf += struct.pack("<I", value)
        return self

    def raw(self, data: bytes) -> Self:
        self.buf += data
        return self

    def string(self, text: str) -> Self:
        data = encode_text(text, self.encoding)
        if len(data) > 0xFF:
            raise CodecError(f"str of {len(data)} bytes exceeds 255")
        return self.u8(len(data)).raw(data)

    def lstring(self, text: str) -> Self:
        data = encode_text(text, self.encoding)
        if len(data) > 0xFFFF:
            raise CodecError(f"lstr of {len(data)} bytes exceeds 65535")
        return self.u16(len(data)).raw(data)

    def char(self, text: str, size: int) -> Self:
        data = text.encode("ascii", errors="replace")[:size]
        return self.raw(data.ljust(size, b"\x00"))

    def getvalue(self) -> bytes:
        return bytes(self.buf)


def encode_text(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise CodecError(f"text cannot be encoded as {encoding}: {exc}") from None


class Reader:
    """Little-endian payload parser; running past the end is a CodecError."""

    def __init__(self, data: bytes, encoding: str = "gb18030") -> None:
        self.data = data
        self.pos = 0
        self.encoding = encoding

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise CodecError(f"payload ends at {len(self.data)}, needed {self.pos + size}")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def u8(self) -> int:
        return int(self.take(1)[0])

    def u16(self) -> int:
        return int(struct.unpack("<H", self.take(2))[0])

    def i16(self) -> int:
        return int(struct.unpack("<h", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def _text(self, data: bytes) -> str:
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise CodecError(f"text is not {self.encoding}: {exc}") from None

    def string(self) -> str:
        return self._text(self.take(self.u8()))

    def lstring(self) -> str:
        return self._text(self.take(self.u16()))

    def char(self, size: int) -> str:
        return self.take(size).rstrip(b"\x00").decode("ascii", errors="replace")

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    def end(self) -> None:
        if self.pos != len(self.data):
            raise CodecError(f"{len(self.data) - self.pos} unexpected bytes at the end of the payload")


# ---- events (§5.7) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """`code u8 | len u16 | dev_evt_seq u32 | time u32 | data`; len counts from dev_evt_seq."""

    code: int
    dev_evt_seq: int
    time: int
    data: bytes = b""

    def encode(self) -> bytes:
        return struct.pack("<BHII", self.code, 8 + len(self.data), self.dev_evt_seq, self.time) + self.data


def encode_events(events: Sequence[Event]) -> bytes:
    """n u8 followed by the events: the POLL response payload after STATUS."""
    if len(events) > 0xFF:
        raise CodecError("more than 255 events in one reply")
    return bytes([len(events)]) + b"".join(event.encode() for event in events)


def decode_events(data: bytes) -> list[Event]:
    reader = Reader(data)
    events = []
    for _ in range(reader.u8()):
        code, length = reader.u8(), reader.u16()
        if length < 8:
            raise CodecError(f"event len {length} is shorter than 8")
        seq, when = reader.u32(), reader.u32()
        events.append(Event(code, seq, when, reader.take(length - 8)))
    reader.end()
    return events


# ---- typed payloads ---------------------------------------------------------------------------


class Payload:
    """A payload with fixed layout; subclasses list their fields in `_write` / `_read`."""

    def encode(self, encoding: str = "gb18030") -> bytes:
        writer = Writer(encoding)
        self._write(writer)
        return writer.getvalue()

    @classmethod
    def decode(cls, data: bytes, encoding: str = "gb18030") -> Self:
        reader = Reader(data, encoding)
        value = cls._read(reader)
        reader.end()
        return value

    def _write(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def _read(cls, r: Reader) -> Self:
        raise NotImplementedError


@dataclass(frozen=True)
class DeviceInfo(Payload):
    dev_type: int
    hw_rev: int
    fw: str
    serial: str
    caps: int

    def _write(self, w: Writer) -> None:
        w.u8(self.dev_type).u8(self.hw_rev).char(self.fw, 16).char(self.serial, 16).u32(self.caps)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8(), r.u8(), r.char(16), r.char(16), r.u32())


@dataclass(frozen=True)
class StatusReply(Payload):
    """GET_STATUS response after STATUS: status_bits u32 and type-specific bytes."""

    status_bits: int
    data: bytes = b""

    def _write(self, w: Writer) -> None:
        w.u32(self.status_bits).raw(self.data)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.rest())


@dataclass(frozen=True)
class SetTime(Payload):
    unix: int
    tz_min: int = 480

    def _write(self, w: Writer) -> None:
        w.u32(self.unix).i16(self.tz_min)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.i16())


@dataclass(frozen=True)
class AckEvt(Payload):
    last_dev_evt_seq: int

    def _write(self, w: Writer) -> None:
        w.u32(self.last_dev_evt_seq)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32())


@dataclass(frozen=True)
class Indicate(Payload):
    pattern: int
    ms: int

    def _write(self, w: Writer) -> None:
        w.u8(self.pattern).u16(self.ms)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8(), r.u16())


@dataclass(frozen=True)
class ShowNumber(Payload):
    text: str
    blink: int = 0

    def _write(self, w: Writer) -> None:
        w.u8(self.blink).string(self.text)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        blink = r.u8()
        return cls(r.string(), blink)


@dataclass(frozen=True)
class ShowInfo(Payload):
    waiting: int
    text: str = ""

    def _write(self, w: Writer) -> None:
        w.u16(self.waiting).string(self.text)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u16(), r.string())


@dataclass(frozen=True)
class SetLamp(Payload):
    lamp: int
    beep_ms: int = 0

    def _write(self, w: Writer) -> None:
        w.u8(self.lamp).u16(self.beep_ms)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8(), r.u16())


@dataclass(frozen=True)
class CallerStatus(Payload):
    """GET_STATUS type data of a caller: lamp u8, shown text str."""

    lamp: int
    text: str

    def _write(self, w: Writer) -> None:
        w.u8(self.lamp).string(self.text)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8(), r.string())


@dataclass(frozen=True)
class SetClerk(Payload):
    window_no: str
    staff_id: str
    staff_name: str
    title: str = ""
    photo_id: int = 0

    def _write(self, w: Writer) -> None:
        w.string(self.window_no).string(self.staff_id).string(self.staff_name).string(self.title).u32(self.photo_id)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.string(), r.string(), r.string(), r.string(), r.u32())


@dataclass(frozen=True)
class RequestRating(Payload):
    rating_id: int
    timeout_s: int = 30
    level_mask: int = 0x1F
    case_no: str = ""
    options: int = 0x01

    OPT_VOICE: ClassVar[int] = 0x01
    OPT_REASONS: ClassVar[int] = 0x02
    OPT_TEXT: ClassVar[int] = 0x04
    OPT_REPLACE: ClassVar[int] = 0x08

    def _write(self, w: Writer) -> None:
        w.u32(self.rating_id).u16(self.timeout_s).u8(self.level_mask).string(self.case_no).u8(self.options)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32(), r.u16(), r.u8(), r.string(), r.u8())


@dataclass(frozen=True)
class RatingId(Payload):
    """CANCEL_RATING request; also the data of RATING_TIMEOUT and RATING_CANCELLED events."""

    rating_id: int

    def _write(self, w: Writer) -> None:
        w.u32(self.rating_id)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u32())


@dataclass(frozen=True)
class SetMode(Payload):
    mode: int

    def _write(self, w: Writer) -> None:
        w.u8(self.mode)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8())


@dataclass(frozen=True)
class ShowMessage(Payload):
    seconds: int
    text: str

    def _write(self, w: Writer) -> None:
        w.u16(self.seconds).string(self.text)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u16(), r.string())


@dataclass(frozen=True)
class EvaluatorStatus(Payload):
    """GET_STATUS type data of an evaluator: mode u8, pending rating_id u32, free photo slots u8."""

    mode: int
    pending_rating_id: int
    free_photo_slots: int = 0

    def _write(self, w: Writer) -> None:
        w.u8(self.mode).u32(self.pending_rating_id).u8(self.free_photo_slots)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8(), r.u32(), r.u8())


@dataclass(frozen=True)
class KeyData(Payload):
    """Caller KEY event (0x90): key u8 (bit 7 long press), arg u16."""

    key: int
    arg: int = 0

    def _write(self, w: Writer) -> None:
        w.u8(self.key).u16(self.arg)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8(), r.u16())


@dataclass(frozen=True)
class EvalKeyData(Payload):
    """Evaluator KEY event (0xB3): a raw key u8."""

    key: int

    def _write(self, w: Writer) -> None:
        w.u8(self.key)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8())


@dataclass(frozen=True)
class RatingData(Payload):
    """RATING event (0xB0): rating_id u32, level u8, source u8, n u8, n × reason u16, text str."""

    rating_id: int
    level: int
    source: int = 1
    reasons: tuple[int, ...] = field(default_factory=tuple)
    text: str = ""

    def _write(self, w: Writer) -> None:
        w.u32(self.rating_id).u8(self.level).u8(self.source).u8(len(self.reasons))
        for reason in self.reasons:
            w.u16(reason)
        w.string(self.text)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        rating_id, level, source = r.u32(), r.u8(), r.u8()
        reasons = tuple(r.u16() for _ in range(r.u8()))
        return cls(rating_id, level, source, reasons, r.string())


#: Largest JPEG chunk in one PHOTO_WRITE (§5.11).
PHOTO_CHUNK = 900


@dataclass(frozen=True)
class PhotoWrite(Payload):
    """PHOTO_WRITE (0x36): photo_id u32, total u32, offset u32, chunk (the rest, ≤ 900 bytes)."""

    photo_id: int
    total: int
    offset: int
    chunk: bytes

    def _write(self, w: Writer) -> None:
        if len(self.chunk) > PHOTO_CHUNK:
            raise CodecError(f"photo chunk of {len(self.chunk)} bytes exceeds {PHOTO_CHUNK}")
        w.u32(self.photo_id).u32(self.total).u32(self.offset).raw(self.chunk)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        photo_id, total, offset = r.u32(), r.u32(), r.u32()
        chunk = r.rest()
        if len(chunk) > PHOTO_CHUNK:
            raise CodecError(f"photo chunk of {len(chunk)} bytes exceeds {PHOTO_CHUNK}")
        return cls(photo_id, total, offset, chunk)


def photo_chunks(photo_id: int, data: bytes, size: int = PHOTO_CHUNK) -> list[PhotoWrite]:
    """The PHOTO_WRITE payloads that carry `data` in order (one empty chunk for empty data)."""
    offsets = range(0, len(data), size) if data else range(1)
    return [PhotoWrite(photo_id, len(data), offset, data[offset : offset + size]) for offset in offsets]


@dataclass(frozen=True)
class SetReasons(Payload):
    """SET_REASONS (0x37): level u8, n u8, n × {code u16, label str}."""

    level: int
    reasons: tuple[tuple[int, str], ...] = field(default_factory=tuple)

    def _write(self, w: Writer) -> None:
        if len(self.reasons) > 0xFF:
            raise CodecError("more than 255 reasons")
        w.u8(self.level).u8(len(self.reasons))
        for code, label in self.reasons:
            w.u16(code).string(label)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        level = r.u8()
        return cls(level, tuple((r.u16(), r.string()) for _ in range(r.u8())))


# ---- screens (§5.10) --------------------------------------------------------------------------

#: Onbon display modes used by SET_AREA_TEXT, by bus name.
SCREEN_EFFECTS = {"static": 1, "quick_type": 2, "move_left": 3, "move_right": 4, "up": 5, "down": 6}


@dataclass(frozen=True)
class SetAreaText(Payload):
    """SET_AREA_TEXT (0x21): area, geometry, effect, speed, stay, colour, font, align, timeout, text lstr."""

    area: int
    text: str
    x: int = 0
    y: int = 0
    w: int = 0
    h: int = 0
    effect: int = 1
    speed: int = 0
    stay: int = 10
    colour: int = 1
    font_px: int = 16
    align: int = 0
    timeout_s: int = 0

    def _write(self, w: Writer) -> None:
        w.u8(self.area).u16(self.x).u16(self.y).u16(self.w).u16(self.h)
        w.u8(self.effect).u8(self.speed).u8(self.stay).u8(self.colour).u8(self.font_px).u8(self.align)
        w.u16(self.timeout_s).lstring(self.text)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        area, x, y, w, h = r.u8(), r.u16(), r.u16(), r.u16(), r.u16()
        effect, speed, stay, colour, font_px, align = r.u8(), r.u8(), r.u8(), r.u8(), r.u8(), r.u8()
        timeout_s = r.u16()
        return cls(area, r.lstring(), x, y, w, h, effect, speed, stay, colour, font_px, align, timeout_s)


@dataclass(frozen=True)
class AreaArg(Payload):
    """CLEAR (0x22, area 0xFF = all) and GET_CONTENT (0x26) requests: area u8."""

    area: int

    def _write(self, w: Writer) -> None:
        w.u8(self.area)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8())


@dataclass(frozen=True)
class ByteArg(Payload):
    """SET_BRIGHTNESS (0x23, level 0–15) and POWER (0x24, on) requests: one u8."""

    value: int

    def _write(self, w: Writer) -> None:
        w.u8(self.value)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8())


@dataclass(frozen=True)
class AreaContent(Payload):
    """GET_CONTENT response after STATUS: effect u8, colour u8, text lstr."""

    effect: int
    colour: int
    text: str

    def _write(self, w: Writer) -> None:
        w.u8(self.effect).u8(self.colour).lstring(self.text)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u8(), r.u8(), r.lstring())


@dataclass(frozen=True)
class ScreenStatus(Payload):
    """GET_STATUS type data of a screen: width u16, height u16, colours u8, brightness u8, area count u8."""

    width: int
    height: int
    colours: int
    brightness: int
    areas: int

    def _write(self, w: Writer) -> None:
        w.u16(self.width).u16(self.height).u8(self.colours).u8(self.brightness).u8(self.areas)

    @classmethod
    def _read(cls, r: Reader) -> Self:
        return cls(r.u16(), r.u16(), r.u8(), r.u8(), r.u8())


def poll_response_payload(events: Iterable[Event], status: int = Status.OK) -> bytes:
    """STATUS followed by the events, for a POLL response (or a pushed event frame)."""
    return bytes([status]) + encode_events(list(events))

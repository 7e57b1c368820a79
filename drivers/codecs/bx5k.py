"""Onbon BX-5K/6K serial protocol (devices.md §3.2–§3.11): framing, escaping, commands, replies.

Pure codec, no I/O; the screen driver and the screen simulator both use it, and the published test
vectors V-BX-1…9 pin it. The CRC and every length are computed over the bytes before escaping.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from drivers.codecs.crc import crc16_arc
from drivers.errors import CodecError

log = logging.getLogger(__name__)

PREAMBLE = b"\xa5" * 8
HEAD, TAIL = 0xA5, 0x5A
HOST_ADDRESS = 0x8000
BROADCAST_TIMING, BROADCAST_SETTINGS = 0xFFFF, 0xFFFE
ANY_DEVICE = 0xFE
PROTOCOL_VERSION = 0x02
HEADER_LEN = 14
MAX_FRAME_ON_WIRE = 1024  # MAX_CONTROLLER_RECEIVE_BUFFER in BX4K.h
RESPONSE_WANTED, RESPONSE_NONE = 0x01, 0x02

PING = (0xA2, 0x00)
QUERY_STATUS = (0xA1, 0x02)
CLEAR_SCREEN = (0xA3, 0x10)
DYNAMIC_AREA = (0xA3, 0x06)
REPLY_GROUP, ACK_CMD, NACK_CMD = 0xA0, 0x00, 0x01

ERROR_NAMES: dict[int, str] = {
    0: "no_error", 1: "command_group_error", 2: "no_such_command", 3: "controller_busy",
    4: "out_of_memory", 5: "crc_error", 6: "file_missing", 7: "flash_access_error",
    8: "download_error", 9: "bad_file_name", 10: "bad_file_type", 11: "file_crc_error",
    12: "font_missing", 13: "firmware_type_mismatch", 14: "bad_date_time", 15: "file_exists",
    16: "bad_block_number", 17: "controller_type_mismatch", 18: "parameter_out_of_range",
    19: "controller_id_error",
}  # fmt: skip

DISPLAY_MODES = {"static": 1, "quick_type": 2, "move_left": 3, "move_right": 4, "move_up": 5, "move_down": 6}
TEXT_ENCODINGS = {"0": "gb2312", "1": "gbk"}

_ESCAPES = {0xA5: b"\xa6\x02", 0xA6: b"\xa6\x01", 0x5A: b"\x5b\x02", 0x5B: b"\x5b\x01"}
_UNESCAPES = {(0xA6, 0x02): 0xA5, (0xA6, 0x01): 0xA6, (0x5B, 0x02): 0x5A, (0x5B, 0x01): 0x5B}


def escape(phy1: bytes) -> bytes:
    """Replace A5, A6, 5A, 5B by their two-byte escapes so no frame byte looks like a marker."""
    out = bytearray()
    for byte in phy1:
        out += _ESCAPES.get(byte, bytes([byte]))
    return bytes(out)


def unescape(wire: bytes) -> bytes:
    """Undo `escape`; an escape byte followed by anything but 01/02 is a CodecError."""
    out = bytearray()
    i = 0
    while i < len(wire):
        byte = wire[i]
        if byte in (0xA6, 0x5B):
            pair = (byte, wire[i + 1]) if i + 1 < len(wire) else (byte, -1)
            if pair not in _UNESCAPES:
                raise CodecError(f"bad escape {wire[i:i + 2].hex()} at {i}")
            out.append(_UNESCAPES[pair])
            i += 2
        else:
            out.append(byte)
            i += 1
    return bytes(out)


@dataclass(frozen=True)
class Bx5kFrame:
    """PHY1 without its CRC: header fields and the data field (unescaped)."""

    dst: int
    src: int
    data: bytes
    device_type: int = ANY_DEVICE
    version: int = PROTOCOL_VERSION
    reserved: bytes = bytes(6)

    def phy1(self) -> bytes:
        header = struct.pack("<HH6sBBH", self.dst, self.src, self.reserved, self.device_type,
                             self.version, len(self.data))  # fmt: skip
        body = header + self.data
        return body + struct.pack("<H", crc16_arc(body))

    def encode(self) -> bytes:
        """PHY0: preamble, escaped PHY1, tail."""
        return PREAMBLE + escape(self.phy1()) + bytes([TAIL])


def decode_phy1(phy1: bytes) -> Bx5kFrame:
    """Parse unescaped PHY1; CodecError on a short frame, a wrong data length or a bad CRC."""
    if len(phy1) < HEADER_LEN + 2:
        raise CodecError(f"frame of {len(phy1)} bytes is shorter than header and CRC")
    dst, src, reserved, device_type, version, length = struct.unpack_from("<HH6sBBH", phy1)
    if length != len(phy1) - HEADER_LEN - 2:
        raise CodecError(f"data length {length} does not match {len(phy1) - HEADER_LEN - 2} bytes")
    (crc,) = struct.unpack_from("<H", phy1, len(phy1) - 2)
    if crc != crc16_arc(phy1[:-2]):
        raise CodecError("CRC-16/ARC mismatch")
    return Bx5kFrame(dst, src, phy1[HEADER_LEN:-2], device_type, version, reserved)


def decode_frame(wire: bytes) -> Bx5kFrame:
    """Decode exactly one PHY0 frame (leading A5s, escaped PHY1, 5A)."""
    frames = Bx5kStreamDecoder().feed(wire)
    if len(frames) != 1:
        raise CodecError(f"expected one frame, found {len(frames)}")
    return decode_phy1(unescape(frames[0].escaped))


@dataclass(frozen=True)
class RawFrame:
    """One frame cut from the stream: escaped PHY1 and its length on the wire (A5s and 5A included)."""

    escaped: bytes
    wire_length: int

    def phy1(self) -> bytes:
        return unescape(self.escaped)

    def frame(self) -> Bx5kFrame:
        return decode_phy1(self.phy1())


class Bx5kStreamDecoder:
    """Cuts PHY0 frames out of arbitrary fragments: any A5 starts a frame, the first 5A ends it."""

    def __init__(self, max_escaped: int = 4096) -> None:
        self.max_escaped = max_escaped
        self._body = bytearray()
        self._in_frame = False
        self._heads = 0

    def feed(self, data: bytes) -> list[RawFrame]:
        frames: list[RawFrame] = []
        for byte in data:
            frame = self._step(byte)
            if frame is not None:
                frames.append(frame)
        return frames

    def _step(self, byte: int) -> RawFrame | None:
        if byte == HEAD:
            if self._body:
                log.debug("bx5k: frame head inside a frame; dropping %d bytes", len(self._body))
                self._body.clear()
                self._heads = 0
            self._in_frame = True
            self._heads += 1
            return None
        if not self._in_frame:
            return None
        if byte == TAIL:
            frame = RawFrame(bytes(self._body), self._heads + len(self._body) + 1)
            self._reset()
            return frame if frame.escaped else None
        self._body.append(byte)
        if len(self._body) > self.max_escaped:
            log.debug("bx5k: frame longer than %d bytes; dropped", self.max_escaped)
            self._reset()
        return None

    def _reset(self) -> None:
        self._body.clear()
        self._in_frame = False
        self._heads = 0


# ---- data field -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bx5kRequest:
    """Data field of a request: CmdGroup, Cmd, response flag, 2 reserved bytes, command data."""

    group: int
    cmd: int
    response: int = RESPONSE_WANTED
    payload: bytes = b""

    def encode(self) -> bytes:
        return bytes([self.group, self.cmd, self.response, 0, 0]) + self.payload

    @classmethod
    def decode(cls, data: bytes) -> Bx5kRequest:
        if len(data) < 5:
            raise CodecError(f"request data of {len(data)} bytes is shorter than 5")
        return cls(data[0], data[1], data[2], data[5:])


@dataclass(frozen=True)
class Bx5kReply:
    """ACK or NACK (assumed layout of devices.md §3.11)."""

    ok: bool
    error: int = 0
    status: int = 0
    data: bytes = b""

    @property
    def error_name(self) -> str:
        return ERROR_NAMES.get(self.error, f"error_{self.error}")

    def encode(self) -> bytes:
        cmd = ACK_CMD if self.ok else NACK_CMD
        status = self.status if self.ok else self.status | 1
        return struct.pack("<BBBHHH", 0, REPLY_GROUP, cmd, status, self.error, len(self.data)) + self.data

    @classmethod
    def decode(cls, data: bytes) -> Bx5kReply:
        if len(data) < 9:
            raise CodecError(f"reply data of {len(data)} bytes is shorter than 9")
        _, group, cmd, status, error, length = struct.unpack_from("<BBBHHH", data)
        if group != REPLY_GROUP or cmd not in (ACK_CMD, NACK_CMD):
            raise CodecError(f"not a reply: group {group:#04x} cmd {cmd:#04x}")
        ok = cmd == ACK_CMD and not status & 1
        return cls(ok, error, status, data[9 : 9 + length])


def request_frame(address: int, group: int, cmd: int, *, response: bool = True, payload: bytes = b"",
                  device_type: int = ANY_DEVICE) -> Bx5kFrame:  # fmt: skip
    """A host request to screen `address`."""
    flag = RESPONSE_WANTED if response else RESPONSE_NONE
    data = Bx5kRequest(group, cmd, flag, payload).encode()
    return Bx5kFrame(dst=address, src=HOST_ADDRESS, data=data, device_type=device_type)


def ping(address: int = 1, response: bool = True) -> bytes:
    return request_frame(address, *PING, response=response).encode()


def query_status(address: int = 1, response: bool = True) -> bytes:
    return request_frame(address, *QUERY_STATUS, response=response).encode()


def clear_screen(address: int = 1, response: bool = True) -> bytes:
    return request_frame(address, *CLEAR_SCREEN, response=response).encode()


def reply_frame(address: int, reply: Bx5kReply, device_type: int = 0x51) -> bytes:
    """A controller's reply: destination the host, source the screen address."""
    return Bx5kFrame(dst=HOST_ADDRESS, src=address, data=reply.encode(), device_type=device_type).encode()


# ---- dynamic area (A3 06) ---------------------------------------------------------------------


def font_escape(language: str = "O", encoding: str = "0", font: str = "0", size: str = "0") -> bytes:
    """The `\\F` escape that starts every area text (§3.9), e.g. b"\\\\FO000"."""
    code = "\\F" + language + encoding + font + size
    if len(code) != 6:
        raise CodecError(f"font escape {code!r} must be \\F and four characters")
    return code.encode("ascii")


def split_font_escape(text: bytes) -> tuple[str, bytes]:
    """(the four escape characters or "", the text after the escape)."""
    if len(text) >= 6 and text[:2] == b"\\F":
        return text[2:6].decode("ascii", errors="replace"), text[6:]
    return "", text


def decode_area_text(text: bytes) -> str:
    """Area text as shown: the escape removed, decoded as GB2312 or GBK as the escape says."""
    escape_chars, body = split_font_escape(text)
    encoding = TEXT_ENCODINGS.get(escape_chars[1:2], "gb2312") if escape_chars else "gb2312"
    return body.decode("gbk" if encoding == "gb2312" else encoding, errors="replace")


_AREA_FMT = "<BHHHHBBBHBBBBBBBBBI"
_AREA_FIXED = struct.calcsize(_AREA_FMT)  # 27


@dataclass(frozen=True)
class Bx5kArea:
    """One dynamic area record (§3.8). `x` and `width` are in units of 8 px unless bit 15 is set."""

    x: int
    y: int
    width: int
    height: int
    area_id: int = 0
    text: bytes = b""
    line_spacing: int = 0
    run_mode: int = 0
    timeout_s: int = 0
    alignment: int = 0
    single_line: int = 1
    new_line: int = 2
    display_mode: int = 1
    exit_mode: int = 0
    speed: int = 4
    stay: int = 10
    area_type: int = 0
    voice: int = 0

    def encode(self) -> bytes:
        """u16 area length, then the fixed fields and the text (voice 0, no extension bytes)."""
        record = struct.pack(
            _AREA_FMT, self.area_type, self.x, self.y, self.width, self.height, self.area_id,
            self.line_spacing, self.run_mode, self.timeout_s, self.voice, 0, self.alignment,
            self.single_line, self.new_line, self.display_mode, self.exit_mode, self.speed, self.stay,
            len(self.text),
        ) + self.text  # fmt: skip
        return struct.pack("<H", len(record)) + record

    @property
    def shown_text(self) -> str:
        return decode_area_text(self.text)


def _decode_area(record: bytes) -> Bx5kArea:
    if len(record) < _AREA_FIXED:
        raise CodecError(f"area record of {len(record)} bytes is shorter than {_AREA_FIXED}")
    (area_type, x, y, width, height, area_id, spacing, run_mode, timeout_s, voice, ext, align,
     single, new_line, mode, exit_mode, speed, stay, text_len) = struct.unpack_from(_AREA_FMT, record)  # fmt: skip
    if voice != 0 or ext != 0:
        raise CodecError("voice and extension bytes are not supported")
    if _AREA_FIXED + text_len != len(record):
        raise CodecError(f"text length {text_len} does not match area length {len(record)}")
    return Bx5kArea(x, y, width, height, area_id, record[_AREA_FIXED:], spacing, run_mode, timeout_s,
                    align, single, new_line, mode, exit_mode, speed, stay, area_type, voice)  # fmt: skip


@dataclass(frozen=True)
class DynamicAreaUpdate:
    """Command data of A3 06: areas to delete, then areas to (re)draw."""

    areas: Sequence[Bx5kArea] = ()
    delete: Sequence[int] = field(default_factory=tuple)

    def encode(self) -> bytes:
        out = bytearray([len(self.delete), *self.delete, len(self.areas)])
        for area in self.areas:
            out += area.encode()
        return bytes(out)

    @classmethod
    def decode(cls, payload: bytes) -> DynamicAreaUpdate:
        try:
            return cls._decode(payload)
        except (IndexError, struct.error) as exc:
            raise CodecError(f"truncated dynamic area data: {exc}") from None

    @classmethod
    def _decode(cls, payload: bytes) -> DynamicAreaUpdate:
        n_delete = payload[0]
        delete = tuple(payload[1 : 1 + n_delete])
        if len(delete) != n_delete:
            raise CodecError("truncated delete list")
        pos = 1 + n_delete
        n_update = payload[pos]
        pos += 1
        areas = []
        for _ in range(n_update):
            (length,) = struct.unpack_from("<H", payload, pos)
            record = payload[pos + 2 : pos + 2 + length]
            if len(record) != length:
                raise CodecError("truncated area record")
            areas.append(_decode_area(record))
            pos += 2 + length
        if pos != len(payload):
            raise CodecError(f"{len(payload) - pos} bytes after the last area")
        return cls(tuple(areas), delete)


def dynamic_area_frame(address: int, areas: Iterable[Bx5kArea], *, delete: Iterable[int] = (),
                       response: bool = True) -> bytes:  # fmt: skip
    """A complete PHY0 frame sending real-time dynamic areas."""
    payload = DynamicAreaUpdate(tuple(areas), tuple(delete)).encode()
    return request_frame(address, *DYNAMIC_AREA, response=response, payload=payload).encode()

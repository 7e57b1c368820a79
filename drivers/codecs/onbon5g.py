"""Onbon 5th/6th-generation dynamic-area protocol (devices.md §3.14), as spoken over TCP 5005.

Framing, escaping and CRC-16/ARC are those of the BX-5K (§3.2–§3.6), reused from `bx5k`; what differs
is the 16-byte header (ProtocolVer 0xF0, u16 device type, u32 DataLen), the request field order (RtnReq
first) and the A7/A2 commands. Pure codec, no I/O; vector V-5G-1 pins it.

Assumption (project, not from Onbon): the manuals define a page's data as a dot matrix. This codec
carries a page as text instead, PageStyle `PAGE_TEXT` (0x01), the text starting with the `\\F` font
escape of §3.9, as on the 字库 (font-library) controllers. A controller without a font library needs
the text rendered into dot-matrix pages (`PAGE_BITMAP`), which this project does not do yet.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drivers.codecs import bx5k
from drivers.codecs.crc import crc16_arc
from drivers.errors import CodecError

PROTOCOL_VERSION = 0xF0
HEADER_LEN = 16
HOST_ADDRESS = bx5k.HOST_ADDRESS
ANY_ADDRESS = 0xFFFE
ANY_DEVICE = 0xFFFE
RTN_WANTED, RTN_NONE = 0x01, 0x00  # RtnReq 0x00 = no reply: assumption, the manual only names 0x01
MAX_FRAME_ON_WIRE = 64 * 1024  # project limit per frame; areas hold 300 KB, TCP carries any length

PING = (0xA2, 0x00)
BRIGHTNESS = (0xA2, 0x07)
QUERY_BRIGHTNESS = (0xA2, 0x19)
UPDATE_AREAS = (0xA7, 0x00)
DELETE_AREAS = (0xA7, 0x01)
DELETE_ALL = 0xFF
PAGE_BITMAP, PAGE_TEXT = 0x00, 0x01
AREA_TYPE_DYNAMIC = 0x10

#: DisplayMode of a page (manual §5.4.1), the few the hall uses by name
DISPLAY_MODES = {"random": 0x00, "static": 0x01, "quick_type": 0x02, "move_left": 0x03, "scroll_left": 0x04,
                 "move_up": 0x05, "scroll_up": 0x06, "blink": 0x07}  # fmt: skip

Onbon5gReply = bx5k.Bx5kReply  # the Response layout is the same (manual §5.1.2, §5.3)
ERROR_NAMES = bx5k.ERROR_NAMES
Onbon5gStreamDecoder = bx5k.Bx5kStreamDecoder  # PHY0 cutting is identical
RawFrame = bx5k.RawFrame


@dataclass(frozen=True)
class Onbon5gFrame:
    """PHY1 without its CRC: the 16-byte header fields and the data field (unescaped)."""

    dst: int
    src: int
    data: bytes
    device_type: int = ANY_DEVICE
    version: int = PROTOCOL_VERSION

    def phy1(self) -> bytes:
        header = struct.pack("<HHBBH4sI", self.dst, self.src, self.version, 0, self.device_type, bytes(4),
                             len(self.data))  # fmt: skip
        body = header + self.data
        return body + struct.pack("<H", crc16_arc(body))

    def encode(self) -> bytes:
        """PHY0: eight A5, escaped PHY1, 5A."""
        return bx5k.PREAMBLE + bx5k.escape(self.phy1()) + bytes([bx5k.TAIL])


def decode_phy1(phy1: bytes) -> Onbon5gFrame:
    """Parse unescaped PHY1; CodecError on a short frame, wrong version, wrong DataLen or bad CRC."""
    if len(phy1) < HEADER_LEN + 2:
        raise CodecError(f"frame of {len(phy1)} bytes is shorter than header and CRC")
    dst, src, version, _, device_type, _, length = struct.unpack_from("<HHBBH4sI", phy1)
    if length != len(phy1) - HEADER_LEN - 2:
        raise CodecError(f"data length {length} does not match {len(phy1) - HEADER_LEN - 2} bytes")
    (crc,) = struct.unpack_from("<H", phy1, len(phy1) - 2)
    if crc != crc16_arc(phy1[:-2]):
        raise CodecError("CRC-16/ARC mismatch")
    if version != PROTOCOL_VERSION:
        raise CodecError(f"protocol version {version:#04x} is not 0xF0")
    return Onbon5gFrame(dst, src, phy1[HEADER_LEN:-2], device_type, version)


def decode_raw(raw: RawFrame) -> Onbon5gFrame:
    return decode_phy1(raw.phy1())


def decode_frame(wire: bytes) -> Onbon5gFrame:
    """Decode exactly one PHY0 frame."""
    frames = Onbon5gStreamDecoder().feed(wire)
    if len(frames) != 1:
        raise CodecError(f"expected one frame, found {len(frames)}")
    return decode_raw(frames[0])


@dataclass(frozen=True)
class Onbon5gRequest:
    """Data field of a request: RtnReq, CmdGroup, Cmd, command data (reserved bytes included)."""

    group: int
    cmd: int
    rtn: int = RTN_WANTED
    payload: bytes = b""

    def encode(self) -> bytes:
        return bytes([self.rtn, self.group, self.cmd]) + self.payload

    @classmethod
    def decode(cls, data: bytes) -> Onbon5gRequest:
        if len(data) < 3:
            raise CodecError(f"request data of {len(data)} bytes is shorter than 3")
        return cls(data[1], data[2], data[0], data[3:])


def request_frame(address: int, group: int, cmd: int, payload: bytes = b"", *, response: bool = True,
                  device_type: int = ANY_DEVICE) -> bytes:  # fmt: skip
    """A complete PHY0 host request."""
    data = Onbon5gRequest(group, cmd, RTN_WANTED if response else RTN_NONE, payload).encode()
    return Onbon5gFrame(address, HOST_ADDRESS, data, device_type).encode()


def reply_frame(address: int, reply: Onbon5gReply, device_type: int) -> bytes:
    """A controller's ACK or NACK: destination the host, source the screen."""
    return Onbon5gFrame(HOST_ADDRESS, address, reply.encode(), device_type).encode()


def ping(address: int = ANY_ADDRESS, device_type: int = ANY_DEVICE) -> bytes:
    """A2 00 with its two reserved bytes; with the defaults this is exactly V-5G-1."""
    return request_frame(address, *PING, b"\x00\x00", device_type=device_type)


def brightness(address: int, level: int, device_type: int = ANY_DEVICE) -> bytes:
    """A2 07 manual brightness: DataLen 0x31, mode 0, then the level in all 48 half-hour slots."""
    if not 0 <= level <= 15:
        raise CodecError("brightness level must be 0..15")
    payload = struct.pack("<HB", 0x31, 0) + bytes([level]) * 48
    return request_frame(address, *BRIGHTNESS, payload, device_type=device_type)


def decode_brightness(payload: bytes) -> tuple[int, list[int]]:
    """(mode, 48 half-hour levels) of an A2 07 manual or scheduled request."""
    if len(payload) != 51 or struct.unpack_from("<H", payload)[0] != 0x31 or payload[2] not in (0, 1):
        raise CodecError("brightness data must be DataLen 0x31, mode 0/1 and 48 levels")
    return payload[2], list(payload[3:])


def delete_areas(address: int, area_ids: Iterable[int] | None, device_type: int = ANY_DEVICE) -> bytes:
    """A7 01; `None` deletes every area (count 0xFF, no ids follow)."""
    ids = None if area_ids is None else bytes(area_ids)
    body = bytes([DELETE_ALL]) if ids is None else bytes([len(ids)]) + ids
    return request_frame(address, *DELETE_AREAS, b"\x00\x00" + body, device_type=device_type)


def decode_delete(payload: bytes) -> list[int] | None:
    """Area ids of an A7 01 payload; None means all."""
    if len(payload) < 3:
        raise CodecError("delete data shorter than 3 bytes")
    count = payload[2]
    if count == DELETE_ALL:
        return None
    ids = list(payload[3:])
    if len(ids) != count:
        raise CodecError(f"delete count {count} but {len(ids)} ids")
    return ids


# ---- A7 00 areas ------------------------------------------------------------------------------

_AREA_FMT = "<BBHBHB4sBHHHHB"  # id, run mode, timeout, relate-all, relate-count, imme-play, res, type, xywh, frame
_AREA_FIXED = struct.calcsize(_AREA_FMT)
_PAGE_FMT = "<BBBBHBH4s"  # style, display mode, clear mode, speed, stay (10 ms), repeat, valid length, res
_PAGE_FIXED = struct.calcsize(_PAGE_FMT)


@dataclass(frozen=True)
class Onbon5gArea:
    """One dynamic area with one page (manual §5.4.1); coordinates in pixels."""

    area_id: int
    x: int
    y: int
    width: int
    height: int
    data: bytes = b""
    page_style: int = PAGE_TEXT
    display_mode: int = 0x01
    speed: int = 4
    stay_10ms: int = 500
    run_mode: int = 0
    timeout_s: int = 0
    repeat: int = 1
    clear_mode: int = 0

    @property
    def text(self) -> str:
        """The shown text of a text page; "" for a bitmap page."""
        return bx5k.decode_area_text(self.data) if self.page_style == PAGE_TEXT else ""

    def encode(self) -> bytes:
        """AreaDataLen (u32) then the record: all programmes, play now, no frame, one page."""
        page = struct.pack(_PAGE_FMT, self.page_style, self.display_mode, self.clear_mode, self.speed,
                           self.stay_10ms, self.repeat, self.width, bytes(4)) + self.data  # fmt: skip
        record = struct.pack(_AREA_FMT, self.area_id, self.run_mode, self.timeout_s, 1, 0, 1, bytes(4),
                             AREA_TYPE_DYNAMIC, self.x, self.y, self.width, self.height, 0)  # fmt: skip
        record += struct.pack("<HI", 1, len(page)) + page
        return struct.pack("<I", len(record)) + record


def _decode_area(record: bytes) -> Onbon5gArea:
    (area_id, run_mode, timeout_s, _all, relate_n, _imme, _res, _type, x, y, width, height,
     frame_flag) = struct.unpack_from(_AREA_FMT, record)  # fmt: skip
    if relate_n or frame_flag:
        raise CodecError("related programmes and area frames are not supported")
    pos = _AREA_FIXED
    page_num, page_len = struct.unpack_from("<HI", record, pos)
    pos += 6
    if page_num != 1 or pos + page_len != len(record) or page_len < _PAGE_FIXED:
        raise CodecError(f"expected one page filling the area, got {page_num} pages of {page_len} bytes")
    style, mode, clear, speed, stay, repeat, _valid, _ = struct.unpack_from(_PAGE_FMT, record, pos)
    data = record[pos + _PAGE_FIXED :]
    return Onbon5gArea(area_id, x, y, width, height, data, style, mode, speed, stay, run_mode, timeout_s,
                       repeat, clear)  # fmt: skip


def encode_update(areas: Sequence[Onbon5gArea]) -> bytes:
    """A7 00 command data: 2 reserved bytes, AreaNum (u16), then every area."""
    return b"\x00\x00" + struct.pack("<H", len(areas)) + b"".join(area.encode() for area in areas)


def decode_update(payload: bytes) -> list[Onbon5gArea]:
    """Areas of an A7 00 payload; CodecError on any truncation or trailing byte."""
    try:
        (count,) = struct.unpack_from("<H", payload, 2)
        pos, areas = 4, []
        for _ in range(count):
            (length,) = struct.unpack_from("<I", payload, pos)
            record = payload[pos + 4 : pos + 4 + length]
            if len(record) != length:
                raise CodecError("truncated area record")
            areas.append(_decode_area(record))
            pos += 4 + length
    except struct.error as exc:
        raise CodecError(f"truncated area data: {exc}") from None
    if pos != len(payload):
        raise CodecError(f"{len(payload) - pos} bytes after the last area")
    return areas


def update_areas(address: int, areas: Sequence[Onbon5gArea], device_type: int = ANY_DEVICE) -> bytes:
    """A complete A7 00 frame updating `areas` at once."""
    return request_frame(address, *UPDATE_AREAS, encode_update(areas), device_type=device_type)

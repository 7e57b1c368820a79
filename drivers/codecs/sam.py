"""The SAM protocol of GA/T 467 for second-generation ID card readers (devices.md §4).

Pure codec, no I/O; shared by the ID reader driver and its simulator, pinned by V-SAM-1…12. Frames are
`AA AA AA 96 69 | LEN (BE) | body | CHK`, LEN counting body and CHK, CHK the XOR of LEN and body. The
decoded text fields are personal data: nothing in this module logs them.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, fields
from enum import IntEnum

from drivers.errors import CodecError

log = logging.getLogger(__name__)

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
#: Longest body we accept: text, photo and fingerprint (1024) plus headers fit well below this. A stray
#: preamble announcing more is abandoned instead of hiding the real frames behind it.
MAX_LEN = 2400
TEXT_LEN = 256
PHOTO_LEN = 1024
READ_RESPONSE_LEN = 1295


class Sw3(IntEnum):
    """SW3 result codes (§4.4)."""

    SUCCESS = 0x90
    CARD_FOUND = 0x9F
    NO_CONTENT = 0x91
    FIND_FAILED = 0x80
    SELECT_FAILED = 0x81
    CHECKSUM_ERROR = 0x10
    LENGTH_ERROR = 0x11
    COMMAND_ERROR = 0x21
    UNAUTHORISED = 0x23
    UNKNOWN_ERROR = 0x24
    CARD_AUTH_SAM_FAILED = 0x31
    SAM_AUTH_CARD_FAILED = 0x32
    VERIFY_ERROR = 0x33
    UNKNOWN_CARD = 0x40
    READ_FAILED = 0x41
    RANDOM_FAILED = 0x47
    SAM_SELFTEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66


#: (CMD, PARA) of the commands the project sends (§4.3).
FIND = (0x20, 0x01)
SELECT = (0x20, 0x02)
READ = (0x30, 0x01)
READ_WITH_FINGERPRINT = (0x30, 0x10)
SAM_STATUS = (0x11, 0xFF)
SAM_ID = (0x12, 0xFF)


def xor(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def encode_frame(body: bytes) -> bytes:
    """Preamble, LEN (body + CHK, big-endian), body, CHK over LEN and body."""
    if len(body) + 1 > MAX_LEN:
        raise CodecError(f"SAM body of {len(body)} bytes is too long")
    head = struct.pack(">H", len(body) + 1) + body
    return PREAMBLE + head + bytes([xor(head)])


def decode_frame(data: bytes) -> bytes:
    """The body of exactly one frame; CodecError on any defect (preamble, LEN, CHK)."""
    if len(data) < 8 or data[:5] != PREAMBLE:
        raise CodecError("not a SAM frame: short or no AA AA AA 96 69")
    (length,) = struct.unpack_from(">H", data, 5)
    if length < 1 or length > MAX_LEN or len(data) != 7 + length:
        raise CodecError(f"SAM LEN {length} does not match a frame of {len(data)} bytes")
    if xor(data[5:-1]) != data[-1]:
        raise CodecError("SAM XOR checksum mismatch")
    return data[7:-1]


@dataclass(frozen=True)
class SamCommand:
    """A request: CMD, PARA and optional data."""

    cmd: int
    para: int
    data: bytes = b""

    def encode(self) -> bytes:
        return encode_frame(bytes([self.cmd, self.para]) + self.data)

    @classmethod
    def decode(cls, frame: bytes) -> SamCommand:
        body = decode_frame(frame)
        if len(body) < 2:
            raise CodecError("SAM command without CMD and PARA")
        return cls(body[0], body[1], body[2:])

    @property
    def op(self) -> tuple[int, int]:
        return self.cmd, self.para


@dataclass(frozen=True)
class SamResponse:
    """A response: SW1, SW2, SW3 and data; SW3 carries the result (§4.4)."""

    sw3: int
    data: bytes = b""
    sw1: int = 0
    sw2: int = 0

    def encode(self) -> bytes:
        return encode_frame(bytes([self.sw1, self.sw2, self.sw3]) + self.data)

    @classmethod
    def decode(cls, frame: bytes) -> SamResponse:
        body = decode_frame(frame)
        if len(body) < 3:
            raise CodecError("SAM response without SW1 SW2 SW3")
        return cls(body[2], body[3:], body[0], body[1])

    @property
    def sw3_name(self) -> str:
        try:
            return Sw3(self.sw3).name.lower()
        except ValueError:
            return f"sw3_{self.sw3:02x}"


def command(op: tuple[int, int]) -> bytes:
    """The frame of a parameterless command, e.g. `command(FIND)` is V-SAM-1."""
    return SamCommand(*op).encode()


class SamStreamDecoder:
    """Hunts for the preamble, waits for LEN + 2 more bytes, checks CHK; on a defect rescans one byte on.

    It returns whole, checked frames (bytes), which `SamCommand.decode` or `SamResponse.decode` then
    read; it never raises, whatever arrives.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while True:
            frame, need_more = self._next()
            if frame is not None:
                frames.append(frame)
            elif need_more:
                return frames

    def _next(self) -> tuple[bytes | None, bool]:
        start = self._buf.find(PREAMBLE)
        if start < 0:
            keep = _partial_preamble(self._buf)
            del self._buf[: len(self._buf) - keep]
            return None, True
        del self._buf[:start]
        if len(self._buf) < 7:
            return None, True
        (length,) = struct.unpack_from(">H", self._buf, 5)
        if not 1 <= length <= MAX_LEN:
            return self._skip("LEN out of range")
        if len(self._buf) < 7 + length:
            return None, True
        candidate = bytes(self._buf[: 7 + length])
        try:
            decode_frame(candidate)
        except CodecError as exc:
            return self._skip(exc.message)
        del self._buf[: 7 + length]
        return candidate, False

    def _skip(self, why: str) -> tuple[None, bool]:
        log.debug("sam: dropping candidate frame: %s", why)
        self.dropped += 1
        del self._buf[:1]
        return None, False

    def clear(self) -> None:
        self._buf.clear()


def _partial_preamble(buf: bytearray) -> int:
    """How many trailing bytes could be the start of a preamble split across reads."""
    for size in range(min(len(buf), len(PREAMBLE) - 1), 0, -1):
        if bytes(buf[-size:]) == PREAMBLE[:size]:
            return size
    return 0


# ---- read response (§4.5) ---------------------------------------------------------------------


def encode_read_data(text: bytes, photo: bytes) -> bytes:
    """The data after SW of a read response: text length, photo length (both BE), text, photo."""
    return struct.pack(">HH", len(text), len(photo)) + text + photo


def decode_read_data(data: bytes) -> tuple[bytes, bytes]:
    """(text, photo) from the data of a read response; a trailing fingerprint block is ignored."""
    if len(data) < 4:
        raise CodecError("SAM read data shorter than its two length fields")
    text_len, photo_len = struct.unpack_from(">HH", data, 0)
    if len(data) < 4 + text_len + photo_len:
        raise CodecError(f"SAM read data of {len(data)} bytes is shorter than its lengths say")
    return data[4 : 4 + text_len], data[4 + text_len : 4 + text_len + photo_len]


#: Text fields (name, size in bytes), in wire order (§4.5); the rest of the 256 bytes is reserved.
TEXT_FIELDS: tuple[tuple[str, int], ...] = (
    ("name", 30), ("gender", 2), ("nation", 4), ("birth", 16), ("address", 70), ("id_number", 36),
    ("authority", 30), ("valid_from", 16), ("valid_to", 16),
)  # fmt: skip
RESERVED_LEN = TEXT_LEN - sum(size for _, size in TEXT_FIELDS)
GENDERS = {"1": "male", "2": "female"}


@dataclass(frozen=True)
class Identity:
    """The text fields of a card, as stored (gender "1"/"2", nation "01"…, dates YYYYMMDD).

    Personal data: never log an Identity or put it in an exception message.
    """

    name: str
    gender: str
    nation: str
    birth: str
    address: str
    id_number: str
    authority: str
    valid_from: str
    valid_to: str

    def __repr__(self) -> str:  # keeps personal data out of tracebacks and log lines
        return "Identity(<redacted>)"

    def encode(self) -> bytes:
        """The 256-byte UCS-2LE text block, each field padded with spaces."""
        out = bytearray()
        for name, size in TEXT_FIELDS:
            out += _ucs2_field(getattr(self, name), size, name)
        out += (" " * (RESERVED_LEN // 2)).encode("utf-16-le")
        return bytes(out)

    @classmethod
    def decode(cls, text: bytes) -> Identity:
        if len(text) != TEXT_LEN:
            raise CodecError(f"SAM text block of {len(text)} bytes, expected {TEXT_LEN}")
        values: dict[str, str] = {}
        pos = 0
        for name, size in TEXT_FIELDS:
            try:
                values[name] = text[pos : pos + size].decode("utf-16-le").rstrip(" \x00")
            except UnicodeDecodeError:
                raise CodecError(f"SAM text field {name} is not UCS-2") from None
            pos += size
        return cls(**values)

    def as_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _ucs2_field(value: str, size: int, name: str) -> bytes:
    if any(ord(ch) > 0xFFFF for ch in value):
        raise CodecError(f"SAM text field {name} has a character outside UCS-2")
    data = value.encode("utf-16-le")
    if len(data) > size:
        raise CodecError(f"SAM text field {name} is longer than {size} bytes")
    return data + " ".encode("utf-16-le") * ((size - len(data)) // 2)


# ---- GB 11643 citizen identity number ---------------------------------------------------------

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def gb11643_check_digit(first17: str) -> str:
    """The 18th character of an ID number: ISO 7064 MOD 11-2 over the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need exactly 17 digits")
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def is_valid_id_number(value: str) -> bool:
    """True when `value` is 17 digits followed by the right check character (digit or X)."""
    if len(value) != 18:
        return False
    try:
        return gb11643_check_digit(value[:17]) == value[17].upper()
    except ValueError:
        return False

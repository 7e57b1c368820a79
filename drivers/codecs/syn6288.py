"""SYN6288 serial TTS chip frames (devices.md §8.4): speak, stop, status query; vectors V-SYN-1..3.

Frame: `FD LEN_hi LEN_lo CMD [PARAM text…] XOR`, LEN counting every byte after itself (so text + 3
for speak, 2 for the bare commands), XOR over every byte before it, FD included. Pure codec, no I/O.

Chip replies are single bytes and not in devices.md. Assumption (SYN6288 datasheet as commonly
published): 0x41 frame received, 0x45 frame error, 0x4E busy (speaking), 0x4F idle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from drivers.errors import BadArguments, CodecError

log = logging.getLogger(__name__)

HEAD = 0xFD
SPEAK, STOP, PAUSE, RESUME, STATUS = 0x01, 0x02, 0x03, 0x04, 0x21
ENCODINGS = {"gb2312": 0, "gbk": 1, "big5": 2}
REPLY_OK, REPLY_ERROR, REPLY_BUSY, REPLY_IDLE = 0x41, 0x45, 0x4E, 0x4F
MAX_TEXT = 200  # bytes of text per frame (chip buffer)


def xor(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


def _frame(body: bytes) -> bytes:
    head = bytes([HEAD]) + (len(body) + 1).to_bytes(2, "big") + body
    return head + bytes([xor(head)])


def speak(text: str, encoding: str = "gbk", music: int = 0) -> bytes:
    """CMD 0x01 with PARAM = encoding + 16 × background music; text may start with markup like [v8]."""
    if encoding not in ENCODINGS or not 0 <= music <= 15:
        raise BadArguments(f"encoding must be one of {sorted(ENCODINGS)} and music 0..15")
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise BadArguments(f"text is not encodable in {encoding}: {exc}") from None
    if not data or len(data) > MAX_TEXT:
        raise BadArguments(f"text of {len(data)} bytes must be 1..{MAX_TEXT}")
    return _frame(bytes([SPEAK, ENCODINGS[encoding] + 16 * music]) + data)


def stop() -> bytes:
    return _frame(bytes([STOP]))


def status_query() -> bytes:
    return _frame(bytes([STATUS]))


@dataclass(frozen=True)
class Syn6288Frame:
    """A decoded frame; `param` and `text` only for speak."""

    cmd: int
    param: int | None = None
    data: bytes = b""

    @property
    def encoding(self) -> str:
        names = {v: k for k, v in ENCODINGS.items()}
        return names.get((self.param or 0) & 0x0F, "gbk")

    @property
    def music(self) -> int:
        return (self.param or 0) >> 4

    @property
    def text(self) -> str:
        return self.data.decode(self.encoding, errors="replace")


def decode_frame(frame: bytes) -> Syn6288Frame:
    """One complete frame; CodecError on a wrong head, length or XOR."""
    if len(frame) < 5 or frame[0] != HEAD:
        raise CodecError("not a SYN6288 frame")
    length = int.from_bytes(frame[1:3], "big")
    if length != len(frame) - 3:
        raise CodecError(f"length {length} does not match {len(frame) - 3} bytes")
    if xor(frame[:-1]) != frame[-1]:
        raise CodecError("XOR mismatch")
    cmd = frame[3]
    if cmd == SPEAK:
        if len(frame) < 7:
            raise CodecError("speak frame without text")
        return Syn6288Frame(cmd, frame[4], frame[5:-1])
    return Syn6288Frame(cmd, None, frame[4:-1])


class Syn6288StreamDecoder:
    """Cuts frames from arbitrary fragments; garbage before FD is skipped, a bad frame yields CodecError.

    `feed` returns frames and CodecErrors in arrival order, so a device can answer 0x45 to a bad one.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Syn6288Frame | CodecError]:
        self._buf += data
        out: list[Syn6288Frame | CodecError] = []
        while True:
            start = self._buf.find(bytes([HEAD]))
            if start < 0:
                self._buf.clear()
                return out
            del self._buf[:start]
            if len(self._buf) < 3:
                return out
            total = 3 + int.from_bytes(self._buf[1:3], "big")
            if not 5 <= total <= MAX_TEXT + 6:
                del self._buf[:1]
                out.append(CodecError(f"implausible frame length {total}"))
                continue
            if len(self._buf) < total:
                return out
            frame = bytes(self._buf[:total])
            del self._buf[:total]
            try:
                out.append(decode_frame(frame))
            except CodecError as exc:
                out.append(exc)

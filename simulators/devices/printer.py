"""ESC/POS ticket printer simulator with its own decoder (devices.md §2.6); it never uses python-escpos.

It parses every byte of the project's command subset, keeps each job (ESC @ … cut) as a
`PrintedTicket`, and answers DLE EOT 1–4 and GS r 1 from its state exactly as in the table of §2.6.
When the printer cannot print (paper out, cover open, error), print data is discarded and the job is
marked failed, as a real printer stops.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: DLE EOT 1..4 and GS r 1 replies per state (devices.md §2.6).
STATUS_TABLE: dict[str, tuple[int, int, int, int, int]] = {
    "ready": (0x12, 0x12, 0x12, 0x12, 0x00),
    "near_end": (0x12, 0x12, 0x12, 0x1E, 0x00),
    "paper_out": (0x1A, 0x32, 0x12, 0x72, 0x0F),
    "paper_out_variant": (0x1A, 0x32, 0x12, 0x7E, 0x0F),
    "cover_open": (0x1A, 0x16, 0x12, 0x12, 0x00),
    "cutter_error": (0x1A, 0x52, 0x1A, 0x12, 0x00),
    "head_hot": (0x1A, 0x52, 0x52, 0x12, 0x00),
}
PRINTING_STATES = {"ready", "near_end"}


class EscposProtocolError(Exception):
    """Strict mode: a byte sequence outside the project's ESC/POS subset."""


@dataclass
class PrintedTicket:
    """One job as the printer decoded it."""

    lines: list[str] = field(default_factory=list)
    qr_payloads: list[str] = field(default_factory=list)
    cut: bool = False
    failed: bool = False
    images: int = 0
    byte_count: int = 0

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# Fixed-length commands: (prefix) -> total length in bytes.
_FIXED: dict[bytes, int] = {
    b"\x1b@": 2, b"\x1ba": 3, b"\x1b!": 3, b"\x1bE": 3, b"\x1b3": 3, b"\x1b2": 2, b"\x1bd": 3,
    b"\x1bJ": 3, b"\x1bi": 2, b"\x1bm": 2, b"\x1bt": 3, b"\x1c&": 2, b"\x1c.": 2, b"\x1d!": 3,
    b"\x1dr": 3, b"\x10\x04": 3, b"\x12T": 2,
}  # fmt: skip


class PrinterSimulator:
    """A kiosk printer: `receive(bytes) -> reply bytes`; control with `set_state`, read `jobs`."""

    def __init__(self, profile: dict[str, Any], *, strict: bool = False) -> None:
        self.profile = profile
        self.encoding = str(profile.get("encoding", "gbk"))
        self.strict = strict
        self.state = "ready"
        self.jobs: list[PrintedTicket] = []
        self.unknown: list[bytes] = []
        self._buf = bytearray()
        self._job: PrintedTicket | None = None
        self._chinese = False
        self._line = bytearray()
        self._line_text = ""
        self._qr_store: bytes | None = None
        self._fail_after: int | None = None
        self._fail_state = "paper_out"
        self._cond = threading.Condition()
        self._waited = 0

    # ---- control ------------------------------------------------------------------------------

    def set_state(self, state: str) -> None:
        if state not in STATUS_TABLE:
            raise ValueError(f"unknown printer state {state!r}")
        with self._cond:
            self.state = state
            log.info("printer sim: state %s", state)

    def fail_after_bytes(self, count: int, state: str = "paper_out") -> None:
        """Switch to `state` after `count` more bytes of print data (paper running out mid-ticket)."""
        with self._cond:
            self._fail_after, self._fail_state = count, state

    def wait_for_job(self, timeout: float) -> PrintedTicket | None:
        """The next finished job not yet returned by this method, or None after `timeout`."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.jobs) > self._waited, timeout):
                return None
            self._waited += 1
            return self.jobs[self._waited - 1]

    # ---- wire ---------------------------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        with self._cond:
            out = bytearray()
            for chunk in self._split_for_failure(data):
                self._buf += chunk
                out += self._parse()
            return bytes(out)

    def _split_for_failure(self, data: bytes) -> list[bytes]:
        """Cut `data` where an armed failure strikes, so the bytes after it meet the failed state."""
        if self._fail_after is None or len(data) < self._fail_after:
            if self._fail_after is not None:
                self._fail_after -= len(data)
            return [data]
        head, tail = data[: self._fail_after], data[self._fail_after :]
        self._fail_after = 0
        return [head, tail]

    def _parse(self) -> bytes:
        out = bytearray()
        while self._buf:
            used, reply = self._command()
            if used == 0:
                break
            if self._job is not None and self._buf[:2] != b"\x10\x04":
                self._job.byte_count += used
            del self._buf[:used]
            out += reply
        self._apply_pending_failure()
        return bytes(out)

    def _apply_pending_failure(self) -> None:
        if self._fail_after == 0:
            self._fail_after = None
            self.set_state(self._fail_state)
            if self._job is not None:
                self._job.failed = True

    # ---- decoder ------------------------------------------------------------------------------

    def _command(self) -> tuple[int, bytes]:
        """(bytes consumed, reply) for the command at the buffer start; (0, b"") if incomplete."""
        buf = self._buf
        first = buf[0]
        if first >= 0x20:
            return self._text_run(), b""
        if first == 0x0A:
            self._end_line()
            return 1, b""
        if first == 0x0D:
            return 1, b""
        if first == 0x1D and len(buf) >= 2 and buf[1] in (0x28, 0x76, 0x56, 0x6B):
            return self._gs_variable()
        if len(buf) < 2:
            return 0, b""
        size = _FIXED.get(bytes(buf[:2]))
        if size is None:
            return self._unknown(1), b""
        if len(buf) < size:
            return 0, b""
        return size, self._fixed(bytes(buf[:size]))

    def _text_run(self) -> int:
        end = 0
        while end < len(self._buf) and self._buf[end] >= 0x20:
            end += 1
        self._line += self._buf[:end]
        return end

    def _fixed(self, cmd: bytes) -> bytes:
        prefix = cmd[:2]
        if prefix == b"\x10\x04":
            return self._realtime_status(cmd[2])
        if prefix == b"\x1dr":
            return bytes([STATUS_TABLE[self.state][4]]) if cmd[2] in (1, 49) else b"\x00"
        if prefix == b"\x1b@":
            self._start_job()
        elif prefix in (b"\x1c&", b"\x1c."):
            self._flush_segment()
            self._chinese = prefix == b"\x1c&"
        elif prefix in (b"\x1bi", b"\x1bm"):
            self._cut()
        return b""

    def _realtime_status(self, n: int) -> bytes:
        if n not in (1, 2, 3, 4):
            self._unknown(0)
            return b""
        return bytes([STATUS_TABLE[self.state][n - 1]])

    def _gs_variable(self) -> tuple[int, bytes]:
        buf = self._buf
        kind = buf[1]
        if kind == 0x56:  # GS V m [n]
            if len(buf) < 3:
                return 0, b""
            size = 4 if buf[2] in (0x41, 0x42) else 3
            if len(buf) < size:
                return 0, b""
            self._cut()
            return size, b""
        if kind == 0x28:  # GS ( k pL pH cn fn data
            if len(buf) < 5:
                return 0, b""
            size = 5 + buf[3] + 256 * buf[4]
            if len(buf) < size:
                return 0, b""
            self._gs_paren(bytes(buf[:size]))
            return size, b""
        if kind == 0x76:  # GS v 0 m xL xH yL yH data
            if len(buf) < 8:
                return 0, b""
            size = 8 + (buf[4] + 256 * buf[5]) * (buf[6] + 256 * buf[7])
            if len(buf) < size:
                return 0, b""
            if self._job is not None and self._can_print():
                self._job.images += 1
            return size, b""
        return self._barcode()

    def _barcode(self) -> tuple[int, bytes]:
        buf = self._buf  # GS k m n d1..dn (m 65..73)
        if len(buf) < 4:
            return 0, b""
        size = 4 + buf[3]
        return (size if len(buf) >= size else 0), b""

    def _gs_paren(self, cmd: bytes) -> None:
        if cmd[2] != 0x6B or cmd[5] != 0x31:
            self._unknown(0)
            return
        fn = cmd[6]
        if fn == 0x50 and len(cmd) >= 8:
            self._qr_store = cmd[8:]
        elif fn == 0x51:
            if self._qr_store is None or self._job is None:
                return
            if self._can_print():
                self._job.qr_payloads.append(self._qr_store.decode("utf-8", errors="replace"))
            else:
                self._job.failed = True
        elif fn not in (0x41, 0x43, 0x45):
            self._unknown(0)

    def _unknown(self, size: int) -> int:
        sample = bytes(self._buf[:8])
        self.unknown.append(sample)
        log.warning("printer sim: unknown bytes %s", sample.hex(" "))
        if self.strict:
            del self._buf[: max(size, 1)]
            raise EscposProtocolError(f"unknown ESC/POS bytes {sample.hex(' ')}")
        return max(size, 1)

    # ---- jobs ---------------------------------------------------------------------------------

    def _can_print(self) -> bool:
        return self.state in PRINTING_STATES

    def _start_job(self) -> None:
        if self._job is not None and (self._job.lines or self._job.qr_payloads):
            self._finish_job()
        self._job = PrintedTicket(failed=not self._can_print())
        self._chinese = False
        self._qr_store = None
        self._line.clear()
        self._line_text = ""

    def _flush_segment(self) -> None:
        encoding = self.encoding if self._chinese else "ascii"
        self._line_text += bytes(self._line).decode(encoding, errors="replace")
        self._line.clear()

    def _end_line(self) -> None:
        self._flush_segment()
        if self._job is None:
            self._job = PrintedTicket(failed=not self._can_print())
        if self._can_print():
            self._job.lines.append(self._line_text)
        else:
            self._job.failed = True
        self._line_text = ""

    def _cut(self) -> None:
        if self._job is None:
            return
        self._job.cut = self._can_print()
        if not self._can_print():
            self._job.failed = True
        self._finish_job()

    def _finish_job(self) -> None:
        job, self._job = self._job, None
        if job is None:
            return
        self.jobs.append(job)
        log.info("printer sim: job %s: %r", "failed" if job.failed else "printed", job.text)
        self._cond.notify_all()

"""ESC/POS ticket printer simulator with its own decoder (devices.md §2.6); it never uses python-escpos.

It parses every byte of the project's command subset, keeps each job (ESC @ … cut) as a
`PrintedTicket`, and answers DLE EOT 1–4 and GS r 1 from its state exactly as in the table of §2.6.
When the printer cannot print (paper out, cover open, error), print data is discarded and the job is
marked failed, as a real printer stops.

Each job can be drawn as the paper would look (`render_png`, or every job into `render_dir`): text
lines at their magnification in a CJK font when the system has one, and the QR code drawn from the
stored payload at the module size the job asked for, so an independent decoder can read it back.
Printing takes paper length ÷ `speed_mm_s`; with `simulate_print_time` a job counts as finished only
after that time, as a real ticket appears only when the head is done.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import qrcode
from PIL import Image, ImageDraw, ImageFont

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
    line_heights: list[int] = field(default_factory=list)  # GS ! height multiplier of each line
    qr_module_sizes: list[int] = field(default_factory=list)
    qr_error_levels: list[str] = field(default_factory=list)
    print_time_s: float = 0.0
    png_path: Path | None = None

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

    def __init__(self, profile: dict[str, Any], *, strict: bool = False, render_dir: str | Path | None = None,
                 simulate_print_time: bool = False) -> None:  # fmt: skip
        self.profile = profile
        self.render_dir = Path(render_dir) if render_dir is not None else None
        self.simulate_print_time = simulate_print_time
        self._height = 1
        self._qr_module = 3
        self._qr_level = "M"
        self._rendered = 0
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
        elif prefix == b"\x1d!":
            self._height = (cmd[2] & 0x0F) + 1
        elif prefix == b"\x1b!":
            self._height = 2 if cmd[2] & 0x10 else 1
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
                self._job.qr_module_sizes.append(self._qr_module)
                self._job.qr_error_levels.append(self._qr_level)
            else:
                self._job.failed = True
        elif fn == 0x43 and len(cmd) >= 8:
            self._qr_module = max(1, min(16, cmd[7]))
        elif fn == 0x45 and len(cmd) >= 8:
            self._qr_level = _QR_LEVELS.get(cmd[7], "M")
        elif fn != 0x41:
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
        self._height, self._qr_module, self._qr_level = 1, 3, "M"
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
            self._job.line_heights.append(self._height)
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
        job.print_time_s = self.print_time_s(job)
        if self.render_dir is not None:
            self._rendered += 1
            job.png_path = self.render_png(job, self.render_dir / f"job-{self._rendered:04d}.png")
        if self.simulate_print_time and not job.failed and job.print_time_s > 0:
            timer = threading.Timer(job.print_time_s, self._complete, (job,))
            timer.daemon = True
            timer.start()
        else:
            self._complete(job)

    def _complete(self, job: PrintedTicket) -> None:
        with self._cond:
            self.jobs.append(job)
            log.info("printer sim: job %s, %d lines", "failed" if job.failed else "printed", len(job.lines))
            self._cond.notify_all()

    # ---- paper --------------------------------------------------------------------------------

    @property
    def dots_per_mm(self) -> float:
        """203 dpi heads print 8 dots per mm; the profile may say otherwise."""
        return float(self.profile.get("dots_per_mm", 8))

    def print_time_s(self, job: PrintedTicket) -> float:
        """Paper length ÷ the profile's `speed_mm_s` (devices.md §2.6; default 90 mm/s)."""
        length_mm = _layout_height(job) / self.dots_per_mm
        return length_mm / float(self.profile.get("speed_mm_s", 90))

    def render_png(self, job: PrintedTicket, path: str | Path) -> Path:
        """Draw `job` as printed paper, `dots` pixels wide, and save it as a PNG at `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        width = int(self.profile.get("dots", 384))
        image = Image.new("L", (width, _layout_height(job)), 255)
        draw = ImageDraw.Draw(image)
        y = _MARGIN
        for text, height in zip(job.lines, job.line_heights, strict=False):
            font = _font(_LINE_DOTS * height)
            box = draw.textbbox((0, 0), text, font=font)
            draw.text(((width - (box[2] - box[0])) // 2, y), text, font=font, fill=0)
            y += _line_pitch(height)
        for qr in _qr_images(job):
            image.paste(qr, ((width - qr.width) // 2, y))
            y += qr.height
        image.save(path, format="PNG")
        return path


# ---- drawing helpers ----------------------------------------------------------------------------

_QR_LEVELS = {48: "L", 49: "M", 50: "Q", 51: "H", 0: "L", 1: "M", 2: "Q", 3: "H"}
_QR_CONSTANTS = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
                 "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}  # fmt: skip
_LINE_DOTS = 24  # 24×24 Chinese font of kiosk printers
_MARGIN = 16
_FEED = 120  # feed to the cutter
_QUIET_MODULES = 4


def _line_pitch(height: int) -> int:
    return max(30, _LINE_DOTS * height + 6)  # ESC 2 default spacing is 30 dots


def _qr_code(payload: str, module: int, level: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=_QR_CONSTANTS[level], box_size=module, border=_QUIET_MODULES)
    code.add_data(payload)
    code.make(fit=True)
    return code


def _qr_images(job: PrintedTicket) -> list[Image.Image]:
    images = []
    for payload, module, level in zip(job.qr_payloads, job.qr_module_sizes, job.qr_error_levels, strict=False):
        image = _qr_code(payload, module, level).make_image(fill_color="black", back_color="white")
        images.append(image.get_image().convert("L"))
    return images


def _layout_height(job: PrintedTicket) -> int:
    """Paper used in dots: margin, every line at its pitch, every QR with its quiet zone, the feed."""
    height = _MARGIN + sum(_line_pitch(h) for h in job.line_heights)
    for payload, module, level in zip(job.qr_payloads, job.qr_module_sizes, job.qr_error_levels, strict=False):
        modules = _qr_code(payload, module, level).modules_count + 2 * _QUIET_MODULES
        height += modules * module
    return height + _FEED


_KNOWN_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """A font with Chinese glyphs (fontconfig's list for :lang=zh, then known Debian paths), or None."""
    listed = ""
    if shutil.which("fc-list"):
        try:
            listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=5,
                                    check=False).stdout  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            listed = ""
    candidates = [line.split(":")[0].strip() for line in listed.splitlines() if line.strip()]
    for path in [*sorted(candidates), *_KNOWN_CJK_FONTS]:
        if Path(path).is_file():
            return path
    log.warning("printer sim: no CJK font installed (apt-get install fonts-wqy-microhei); Chinese renders as boxes")
    return None


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = cjk_font_path()
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)

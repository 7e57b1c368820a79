"""The bytes of a queue ticket (devices.md §2.2–§2.3), built with python-escpos's in-memory `Dummy`.

Only commands of the project's ESC/POS subset are emitted, so the printer simulator, which has its own
decoder, can check every byte. Chinese text goes out in the profile's encoding after FS &; a character
the encoding cannot represent prints as "□" instead of failing the whole ticket.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from escpos.printer import Dummy

from drivers.codecs.text import encode_with_box
from drivers.errors import BadArguments, CodecError

INIT = b"\x1b\x40"
CHINESE_ON = b"\x1c\x26"
ALIGN_CENTRE = b"\x1b\x61\x01"
BOLD_ON, BOLD_OFF = b"\x1b\x45\x01", b"\x1b\x45\x00"
LF = b"\x0a"


def _hall_timezone() -> tzinfo:
    """Asia/Shanghai; China has had no DST since 1991, so UTC+8 is exact when tzdata is missing."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Shanghai")
    except (ImportError, KeyError, OSError):
        return timezone(timedelta(hours=8))


HALL_TZ = _hall_timezone()


@dataclass(frozen=True)
class TicketContent:
    """What a ticket shows; field names are those of the bus command `print_ticket`."""

    hall_name: str
    ticket_no: str
    matter: str
    ahead: int
    issued_at: int
    qr: str
    notice: str = ""

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> TicketContent:
        """Take the fields the bytes need from a plain dict; BadArguments names the first bad one."""
        try:
            content = cls(
                hall_name=str(args["hall_name"]),
                ticket_no=str(args["ticket_no"]),
                matter=str(args["matter"]),
                ahead=int(args["ahead"]),
                issued_at=int(args["issued_at"]),
                qr=str(args["qr"]),
                notice=str(args.get("notice", "")),
            )
        except KeyError as exc:
            raise BadArguments(f"print_ticket: missing {exc.args[0]}") from None
        except (TypeError, ValueError) as exc:
            raise BadArguments(f"print_ticket: {exc}") from None
        content.validate()
        return content

    def validate(self) -> None:
        if not self.ticket_no or not self.qr:
            raise BadArguments("print_ticket: ticket_no and qr must not be empty")
        if self.ahead < 0 or self.issued_at < 0:
            raise BadArguments("print_ticket: ahead and issued_at must not be negative")
        if len(self.qr.encode("utf-8")) > 7089:
            raise BadArguments("print_ticket: qr payload longer than a QR code holds")


def encode_text(text: str, encoding: str) -> bytes:
    """Encode for the printer; characters outside `encoding` become "□" (devices.md §2.3)."""
    return encode_with_box(text, encoding)


def issue_time_text(issued_at_ms: int) -> str:
    """Hall local time to the minute, e.g. 2025-01-15 09:31, from bus time (UTC milliseconds)."""
    try:
        moment = datetime.fromtimestamp(issued_at_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadArguments(f"print_ticket: issued_at {issued_at_ms} is not a time in UTC milliseconds") from None
    return moment.astimezone(HALL_TZ).strftime("%Y-%m-%d %H:%M")


def _size(width: int, height: int) -> bytes:
    """GS ! n: high nibble width − 1, low nibble height − 1."""
    return bytes([0x1D, 0x21, ((width - 1) << 4) | (height - 1)])


def _line(printer: Dummy, text: str, encoding: str) -> None:
    printer._raw(encode_text(text, encoding) + LF)


def raster_image(image: bytes | Any, max_width_px: int = 384, threshold: int = 128) -> bytes:
    """GS v 0 (`1D 76 30 00 xL xH yL yH` + rows) for an image: PNG/JPEG bytes or a Pillow image.

    The image is flattened onto white, converted to grey and thresholded: a pixel darker than
    `threshold` prints (bit = 1). Rows take ceil(width / 8) bytes, most significant bit leftmost;
    an image wider than `max_width_px` is scaled down to it.
    """
    from PIL import Image, UnidentifiedImageError

    img: Image.Image
    if isinstance(image, bytes | bytearray):
        try:
            opened = Image.open(io.BytesIO(image))
            opened.load()
            img = opened
        except (UnidentifiedImageError, OSError) as exc:
            raise CodecError(f"logo is not a readable image: {exc}") from None
    else:
        img = image
    if img.mode in ("RGBA", "LA", "P"):
        rgba = img.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)
        img = flat
    grey = img.convert("L")
    if grey.width > max_width_px:
        height = max(1, round(grey.height * max_width_px / grey.width))
        grey = grey.resize((max_width_px, height))
    width, height = grey.size
    if not (width > 0 and 0 < height <= 0xFFFF):
        raise CodecError(f"logo size {width}x{height} cannot be printed")
    row_bytes = (width + 7) // 8
    pixels = grey.load()
    assert pixels is not None
    data = bytearray(row_bytes * height)
    for y in range(height):
        for x in range(width):
            value = pixels[x, y]
            if isinstance(value, int | float) and value < threshold:
                data[y * row_bytes + x // 8] |= 0x80 >> (x % 8)
    header = bytes([0x1D, 0x76, 0x30, 0x00, row_bytes & 0xFF, row_bytes >> 8, height & 0xFF, height >> 8])
    return header + bytes(data)


def load_logo(profile: dict[str, Any]) -> bytes | None:
    """The image file named by the profile key `logo_png`, or None."""
    path = profile.get("logo_png")
    if not path:
        return None
    try:
        with open(str(path), "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise CodecError(f"logo_png {path!r} cannot be read: {exc}") from None


def build_ticket(ticket: TicketContent, profile: dict[str, Any], logo: bytes | None = None) -> bytes:
    """One complete job: init, Chinese mode, [logo], header, big number, details, QR, feed and cut.

    `logo` (PNG or other image bytes) overrides the profile's `logo_png`; without either no logo is printed.
    """
    encoding = str(profile.get("encoding", "gbk"))
    number_mag = int(profile.get("number_magnification", 4))
    logo_bytes = logo if logo is not None else load_logo(profile)
    printer = Dummy()
    printer._raw(INIT + CHINESE_ON + ALIGN_CENTRE)
    if logo_bytes:
        printer._raw(raster_image(logo_bytes, int(profile.get("dots", 384))) + LF)
    printer._raw(BOLD_ON + _size(2, 2))
    _line(printer, ticket.hall_name, encoding)
    printer._raw(_size(number_mag, number_mag))
    _line(printer, ticket.ticket_no, encoding)
    printer._raw(_size(1, 1) + BOLD_OFF)
    _line(printer, ticket.matter, encoding)
    _line(printer, f"前面还有 {ticket.ahead} 人等候", encoding)
    _line(printer, issue_time_text(ticket.issued_at), encoding)
    if ticket.notice:
        _line(printer, ticket.notice, encoding)
    printer.qr(ticket.qr, native=True, size=int(profile.get("qr_size", 6)))
    printer._raw(LF)
    printer.cut(mode="PART")
    return bytes(printer.output)

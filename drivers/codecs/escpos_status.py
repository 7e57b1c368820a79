"""Decoding of ESC/POS real-time status replies (DLE EOT 1–4), devices.md §2.4–§2.5.

Pure functions, no I/O. A reply that is missing (None) or is not a status byte makes every field
derived from it "unknown": python-escpos reports "paper adequate" when nothing came back, and a silent
printer must never look healthy.
"""

from __future__ import annotations

from typing import Any

UNKNOWN = "unknown"

#: The DLE EOT n requests, n = 1 printer, 2 offline cause, 3 error cause, 4 paper sensor.
STATUS_REQUESTS: dict[int, bytes] = {n: bytes([0x10, 0x04, n]) for n in (1, 2, 3, 4)}


def is_status_byte(value: int, *, allow_bit7: bool = False) -> bool:
    """Bit 0 is 0 and bits 1 and 4 are 1 in every reply; bit 7 only where the profile allows it."""
    if value & 0x13 != 0x12:
        return False
    return allow_bit7 or not value & 0x80


def _valid(value: int | None, allow_bit7: bool = False) -> int | None:
    if value is None or not is_status_byte(value, allow_bit7=allow_bit7):
        return None
    return value


def _paper(n2: int | None, n4: int | None) -> str:
    """Either bit of a pair counts (vendors set one or both); any known "out" wins over unknowns."""
    if (n4 is not None and n4 & 0x60) or (n2 is not None and n2 & 0x20):
        return "out"
    if n2 is None or n4 is None:
        return UNKNOWN
    return "near_end" if n4 & 0x0C else "ok"


def _error(n2: int | None, n3: int | None) -> str | None:
    if n2 is None:
        return UNKNOWN
    if not n2 & 0x40:
        return None
    if n3 is None:
        return UNKNOWN
    for bit, name in ((0x08, "cutter"), (0x20, "unrecoverable"), (0x40, "head")):
        if n3 & bit:
            return name
    return UNKNOWN


def decode_status(
    n1: int | None,
    n2: int | None,
    n3: int | None,
    n4: int | None,
    *,
    paper_not_taken_bit: bool = False,
) -> dict[str, Any]:
    """Map the four replies to {paper, cover, online, error}; None means "no reply"."""
    v1 = _valid(n1, allow_bit7=paper_not_taken_bit)
    v2, v3, v4 = _valid(n2), _valid(n3), _valid(n4)
    return {
        "paper": _paper(v2, v4),
        "cover": UNKNOWN if v2 is None else ("open" if v2 & 0x04 else "closed"),
        "online": UNKNOWN if v1 is None else not v1 & 0x08,
        "error": _error(v2, v3),
    }

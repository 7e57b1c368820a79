"""Explicit text encoding for devices: a character the profile's encoding lacks becomes "□".

A citizen's rare name character must not stop a ticket or a screen line (devices.md §2.3), and "□"
exists in GB2312, GBK and GB18030 alike.
"""

from __future__ import annotations

import codecs

REPLACEMENT = "□"
ERROR_HANDLER = "hall_box"


def _replace_with_box(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return REPLACEMENT * (exc.end - exc.start), exc.end


codecs.register_error(ERROR_HANDLER, _replace_with_box)


def encode_with_box(text: str, encoding: str) -> bytes:
    """Encode `text`; unrepresentable characters become "□" (never raises for GB encodings)."""
    return text.encode(encoding, errors=ERROR_HANDLER)

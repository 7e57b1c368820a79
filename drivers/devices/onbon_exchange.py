"""The acknowledged-frame exchange both Onbon screen drivers use (BX-5K serial, 5th/6th gen LAN).

Showing a text twice is harmless, so a frame is sent again on silence or on a NACK that a retry can
cure (controller busy, CRC error); any other NACK is final. Silence after the last try is a timeout,
never "shown".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from drivers.errors import DeviceRejected, TransportTimeout
from drivers.transports.base import Transport

log = logging.getLogger(__name__)

RETRY_ERRORS = frozenset({3, 5})  # controller busy, CRC error: the frame may go through on the next try


class OnbonReply(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def error(self) -> int: ...

    @property
    def error_name(self) -> str: ...


def send_until_acked(
    device_id: str,
    transport: Transport,
    frame: bytes,
    attempts: int,
    fresh_decoder: Callable[[], None],
    await_reply: Callable[[], OnbonReply | None] | None,
) -> None:
    """Write `frame` until an ACK; `await_reply` None means the frame asked for no reply."""
    for attempt in range(attempts):
        transport.discard_input()
        fresh_decoder()
        transport.write(frame)
        if await_reply is None:
            return
        reply = await_reply()
        if reply is not None and reply.ok:
            return
        if reply is not None and reply.error not in RETRY_ERRORS:
            raise DeviceRejected(f"{device_id}: NACK {reply.error_name}", code=reply.error_name)
        outcome = "no reply" if reply is None else f"NACK {reply.error_name}"
        log.info("%s: %s (attempt %d of %d)", device_id, outcome, attempt + 1, attempts)
    raise TransportTimeout(f"{device_id}: no ACK after {attempts} attempts", retryable=True, executed=True)

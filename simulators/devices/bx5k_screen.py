"""Onbon BX-5K controller simulator (devices.md §3.11–§3.12).

Parses PHY0, unescapes, checks CRC and data length, and answers ACK or NACK by the rules of §3.11 in
their order: not addressed (silence) → CRC failure (NACK 5) → response flag 0x02 (silence) → longer than
1024 bytes on the wire (NACK 4) → ACK. Keeps the decoded text and effect of every area.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.codecs import bx5k
from drivers.errors import CodecError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShownArea:
    """What one dynamic area shows."""

    area_id: int
    text: str
    display_mode: int
    stay: int
    speed: int
    record: bx5k.Bx5kArea


class Bx5kScreenSimulator:
    """A BX-5K strip; `receive(bytes) -> reply bytes`; read `shown_text()`, `history`, `areas`."""

    def __init__(self, profile: dict[str, Any], address: int = 1) -> None:
        self.profile = profile
        self.address = address
        self.device_type = int(profile.get("device_type", 0x51))
        self.areas: dict[int, ShownArea] = {}
        self.history: list[str] = []
        self.requests: list[tuple[int, int]] = []
        self.nacks: list[int] = []
        self._decoder = bx5k.Bx5kStreamDecoder()
        self._cond = threading.Condition()

    # ---- observation --------------------------------------------------------------------------

    def shown_text(self, area_id: int = 0) -> str:
        with self._cond:
            area = self.areas.get(area_id)
            return area.text if area else ""

    def wait_for_text(self, predicate: Callable[[str], bool], timeout: float, area_id: int = 0) -> str | None:
        """The area text once `predicate` holds for it, or None after `timeout`."""
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(self.shown_text(area_id)), timeout)
            return self.shown_text(area_id) if ok else None

    # ---- wire ---------------------------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        with self._cond:
            return b"".join(self._answer(raw) for raw in self._decoder.feed(data))

    def _answer(self, raw: bx5k.RawFrame) -> bytes:
        try:
            phy1 = raw.phy1()
        except CodecError:
            log.info("bx5k sim: bad escape, frame ignored")
            return b""
        if len(phy1) < 2:
            return b""
        (dst,) = struct.unpack_from("<H", phy1)
        broadcast = dst in (bx5k.BROADCAST_TIMING, bx5k.BROADCAST_SETTINGS)
        if dst != self.address and not broadcast:
            return b""
        try:
            frame = bx5k.decode_phy1(phy1)
            request = bx5k.Bx5kRequest.decode(frame.data)
        except CodecError as exc:
            log.info("bx5k sim: %s", exc.message)
            return b"" if broadcast else self._nack(5)
        silent = broadcast or request.response == bx5k.RESPONSE_NONE
        if raw.wire_length > bx5k.MAX_FRAME_ON_WIRE:
            return b"" if silent else self._nack(4)
        error = self._execute(request)
        if silent:
            return b""
        return self._nack(error) if error else bx5k.reply_frame(self.address, bx5k.Bx5kReply(True), self.device_type)

    def _nack(self, error: int) -> bytes:
        self.nacks.append(error)
        return bx5k.reply_frame(self.address, bx5k.Bx5kReply(False, error), self.device_type)

    # ---- commands -----------------------------------------------------------------------------

    def _execute(self, request: bx5k.Bx5kRequest) -> int:
        """Act on a request; the Onbon error code (0 = done)."""
        command = (request.group, request.cmd)
        self.requests.append(command)
        if command in (bx5k.PING, bx5k.QUERY_STATUS):
            return 0
        if command == bx5k.CLEAR_SCREEN:
            self.areas.clear()
            self._changed("")
            return 0
        if command == bx5k.DYNAMIC_AREA:
            return self._dynamic_area(request.payload)
        return 1 if request.group not in (0xA1, 0xA2, 0xA3) else 2

    def _dynamic_area(self, payload: bytes) -> int:
        try:
            update = bx5k.DynamicAreaUpdate.decode(payload)
        except CodecError as exc:
            log.info("bx5k sim: bad dynamic area: %s", exc.message)
            return 18
        for area_id in update.delete:
            self.areas.pop(area_id, None)
        for area in update.areas:
            self.areas[area.area_id] = ShownArea(area.area_id, area.shown_text, area.display_mode, area.stay,
                                                 area.speed, area)  # fmt: skip
        self._changed(self.shown_text(0))
        return 0

    def _changed(self, text: str) -> None:
        self.history.append(text)
        log.info("bx5k sim %d: shows %r", self.address, text)
        self._cond.notify_all()

"""Onbon 5th/6th-generation LAN controller simulator (devices.md §3.14, rules of §3.11 adapted).

Answers in this order: not addressed to this screen nor the wildcard 0xFFFE (silence) → bad frame or
CRC (NACK 5) → RtnReq 0x00 (silence) → longer than the project limit on the wire (NACK 4) → the command
(NACK 1 unknown group, 2 unknown command, 18 bad area data) → ACK. Keeps every area's decoded text.
"""

from __future__ import annotations

import logging
import struct
import threading
from typing import Any

from drivers.codecs import onbon5g
from drivers.errors import CodecError

log = logging.getLogger(__name__)


class Onbon5gScreenSimulator:
    """`receive(bytes) -> reply bytes`; read `areas`, `areas_text()`, `brightness`, `requests`, `nacks`."""

    def __init__(self, profile: dict[str, Any], address: int = 1) -> None:
        self.profile = profile
        self.address = address
        self.device_type = int(profile.get("device_type", 0x0166))
        self.areas: dict[int, onbon5g.Onbon5gArea] = {}
        self.brightness = 15
        self.requests: list[tuple[int, int]] = []
        self.nacks: list[int] = []
        self._decoder = onbon5g.Onbon5gStreamDecoder()
        self._lock = threading.Lock()

    def areas_text(self) -> dict[int, str]:
        """Area id -> shown text, in area order."""
        with self._lock:
            return {area_id: self.areas[area_id].text for area_id in sorted(self.areas)}

    def receive(self, data: bytes) -> bytes:
        with self._lock:
            return b"".join(self._answer(raw) for raw in self._decoder.feed(data))

    def _answer(self, raw: onbon5g.RawFrame) -> bytes:
        try:
            phy1 = raw.phy1()
        except CodecError:
            return b""
        if len(phy1) < 2:
            return b""
        (dst,) = struct.unpack_from("<H", phy1)
        if dst not in (self.address, onbon5g.ANY_ADDRESS):
            return b""
        try:
            request = onbon5g.Onbon5gRequest.decode(onbon5g.decode_phy1(phy1).data)
        except CodecError as exc:
            log.info("onbon5g sim: %s", exc.message)
            return self._reply(5)
        if request.rtn == onbon5g.RTN_NONE:
            self._execute(request)
            return b""
        if raw.wire_length > onbon5g.MAX_FRAME_ON_WIRE:
            return self._reply(4)
        return self._reply(self._execute(request))

    def _reply(self, error: int) -> bytes:
        if error:
            self.nacks.append(error)
        reply = onbon5g.Onbon5gReply(error == 0, error)
        return onbon5g.reply_frame(self.address, reply, self.device_type)

    def _execute(self, request: onbon5g.Onbon5gRequest) -> int:
        """Act on a request; the Onbon error code (0 = done)."""
        command = (request.group, request.cmd)
        self.requests.append(command)
        try:
            if command == onbon5g.PING:
                return 0
            if command == onbon5g.UPDATE_AREAS:
                for area in onbon5g.decode_update(request.payload):
                    self.areas[area.area_id] = area
                log.info("onbon5g sim %d: %s", self.address, {i: a.text for i, a in self.areas.items()})
                return 0
            if command == onbon5g.DELETE_AREAS:
                ids = onbon5g.decode_delete(request.payload)
                for area_id in list(self.areas) if ids is None else ids:
                    self.areas.pop(area_id, None)
                return 0
            if command == onbon5g.BRIGHTNESS:
                levels = onbon5g.decode_brightness(request.payload)[1]
                self.brightness = levels[0]
                return 0
        except CodecError as exc:
            log.info("onbon5g sim: bad command data: %s", exc.message)
            return 18
        return 1 if request.group not in (0xA2, 0xA7) else 2

"""Window (or hall) LED screen with an Onbon BX-5K controller (devices.md §3).

Showing the same text twice is harmless, so a missing reply or a CRC NACK is retried a few times;
any other NACK is the controller refusing and is reported with the Onbon error name.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from drivers.codecs import bx5k
from drivers.codecs.text import encode_with_box
from drivers.devices.base import Device, DeviceSpec
from drivers.devices.onbon_exchange import send_until_acked
from drivers.errors import BadArguments, CodecError
from drivers.transports.base import Transport

log = logging.getLogger(__name__)

_BROADCASTS = {bx5k.BROADCAST_TIMING, bx5k.BROADCAST_SETTINGS}


class Bx5kScreen(Device):
    """`kind="window_screen"`, `protocol="onbon-bx5k"`; commands show_text and clear."""

    kind = "window_screen"
    protocol = "onbon-bx5k"

    def __init__(self, spec: DeviceSpec, transport: Transport, profile: dict[str, Any]) -> None:
        super().__init__(spec, transport, profile)
        self.last_text = ""
        self._decoder = bx5k.Bx5kStreamDecoder()

    @property
    def timeout_s(self) -> float:
        return float(self.profile.get("timeout_s", 0.5))

    @property
    def wants_reply(self) -> bool:
        return self.spec.address not in _BROADCASTS

    def probe(self) -> dict[str, Any]:
        self._send(bx5k.ping(self.spec.address, response=self.wants_reply))
        return {"online": True, "text": self.last_text}

    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "show_text":
            return self._show_text(args)
        if name == "clear":
            return self._clear(args)
        raise BadArguments(f"screen has no command {name!r}", code="unknown_command")

    def build_show_text(self, args: dict[str, Any]) -> bytes:
        """The A3 06 frame for `args`; BadArguments if it would not fit the controller's buffer."""
        text = str(args.get("text", ""))
        area = self.area_for(text, int(args.get("area", 0)), str(args.get("effect", "static")),
                             float(args.get("stay_s", 5.0)))  # fmt: skip
        frame = bx5k.dynamic_area_frame(self.spec.address, [area], response=self.wants_reply)
        if len(frame) > bx5k.MAX_FRAME_ON_WIRE:
            raise BadArguments(f"text gives a frame of {len(frame)} bytes, more than {bx5k.MAX_FRAME_ON_WIRE}")
        return frame

    def area_for(self, text: str, area_id: int, effect: str, stay_s: float) -> bx5k.Bx5kArea:
        """One area covering the whole strip, in the profile's geometry, font and encoding."""
        if effect not in bx5k.DISPLAY_MODES:
            raise BadArguments(f"unknown effect {effect!r}")
        if not 0 <= area_id <= 31:
            raise BadArguments("area must be 0..31")
        profile = self.profile
        encoding_code = "1" if profile.get("encoding", "gb2312") == "gbk" else "0"
        escape = bx5k.font_escape("O", encoding_code, str(profile.get("font", "0")),
                                  str(profile.get("font_size_code", "0")))  # fmt: skip
        body = encode_with_box(text, "gbk" if encoding_code == "1" else "gb2312")
        return bx5k.Bx5kArea(
            x=int(profile.get("x_units", 0)), y=int(profile.get("y_px", 0)),
            width=int(profile.get("width_px", 64)) // 8, height=int(profile.get("height_px", 16)),
            area_id=area_id, text=escape + body, run_mode=int(profile.get("run_mode", 0)),
            display_mode=bx5k.DISPLAY_MODES[effect], speed=int(profile.get("speed", 4)),
            stay=max(0, min(255, round(stay_s * 2))),
        )  # fmt: skip

    def _show_text(self, args: dict[str, Any]) -> dict[str, Any]:
        if not str(args.get("text", "")):
            raise BadArguments("show_text: text must not be empty")
        self._send(self.build_show_text(args))
        self.last_text = str(args["text"])
        return {"text": self.last_text}

    def _clear(self, args: dict[str, Any]) -> dict[str, Any]:
        area = args.get("area")
        if area is None:
            self._send(bx5k.clear_screen(self.spec.address, response=self.wants_reply))
        else:
            self._send(bx5k.dynamic_area_frame(self.spec.address, [], delete=[int(area)],
                                               response=self.wants_reply))  # fmt: skip
        self.last_text = ""
        return {"area": area}

    def _send(self, frame: bytes) -> None:
        """Write and wait for the ACK (drivers.devices.onbon_exchange)."""
        attempts = int(self.profile.get("retries", 2)) + 1
        await_reply = self._await_reply if self.wants_reply else None
        send_until_acked(self.spec.device_id, self.transport, frame, attempts, self._fresh_decoder, await_reply)

    def _fresh_decoder(self) -> None:
        self._decoder = bx5k.Bx5kStreamDecoder()

    def _await_reply(self) -> bx5k.Bx5kReply | None:
        deadline = time.monotonic() + self.timeout_s
        while (left := deadline - time.monotonic()) > 0:
            for raw in self._decoder.feed(self.transport.read(256, left)):
                reply = self._parse_reply(raw)
                if reply is not None:
                    return reply
        return None

    def _parse_reply(self, raw: bx5k.RawFrame) -> bx5k.Bx5kReply | None:
        try:
            frame = raw.frame()
            if frame.dst != bx5k.HOST_ADDRESS or frame.src != self.spec.address:
                return None
            return bx5k.Bx5kReply.decode(frame.data)
        except CodecError as exc:
            log.debug("%s: bad reply frame: %s", self.spec.device_id, exc.message)
            return None

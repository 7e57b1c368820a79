"""Hall (comprehensive) LED screen on a LAN with an Onbon 5th/6th-generation controller (devices.md §3.14).

`show_calls` lays the hall's situation out into dynamic areas sent in one A7 00 frame: a title row, the
last N calls ("A001 → 5号窗口"), the waiting counts and a scrolling notice. Redrawing the same areas is
harmless, so silence or a CRC/busy NACK is retried; any other NACK is the controller refusing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from drivers.codecs import bx5k, onbon5g
from drivers.codecs.text import encode_with_box
from drivers.devices.base import Device, DeviceSpec
from drivers.devices.onbon_exchange import send_until_acked
from drivers.errors import BadArguments, CodecError
from drivers.transports.base import Transport

log = logging.getLogger(__name__)



class Onbon5gScreen(Device):
    """`kind="hall_screen"`, `protocol="onbon-5g"`; show_calls, show_text, clear, set_brightness."""

    kind = "hall_screen"
    protocol = "onbon-5g"

    def __init__(self, spec: DeviceSpec, transport: Transport, profile: dict[str, Any]) -> None:
        super().__init__(spec, transport, profile)
        self.areas_text: dict[int, str] = {}
        self.brightness: int | None = None
        self._decoder = onbon5g.Onbon5gStreamDecoder()

    @property
    def timeout_s(self) -> float:
        return float(self.profile.get("timeout_s", 1.0))

    def probe(self) -> dict[str, Any]:
        self._send(onbon5g.ping(self.spec.address))
        return {"online": True, "areas": len(self.areas_text), "brightness": self.brightness}

    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        handlers = {"show_calls": self._show_calls, "show_text": self._show_text, "clear": self._clear,
                    "set_brightness": self._set_brightness}  # fmt: skip
        handler = handlers.get(name)
        if handler is None:
            raise BadArguments(f"hall screen has no command {name!r}", code="unknown_command")
        return handler(args)

    # ---- layout -------------------------------------------------------------------------------

    def layout_calls(self, args: dict[str, Any]) -> list[tuple[str, str]]:
        """(text, effect) per area, top to bottom: title, N call rows, waiting counts, notice."""
        rows = int(self.profile.get("call_rows", 4))
        calls = list(args.get("calls") or [])[-rows:]
        lines = [(str(self.profile.get("title", "")), "static")]
        for i in range(rows):
            call = calls[len(calls) - 1 - i] if i < len(calls) else None  # newest on top
            lines.append((f"{call['ticket_no']} → {call['window_no']}号窗口" if call else "", "static"))
        waiting = args.get("waiting") or {}
        lines.append(("  ".join(f"{cat} 等候{int(n)}人" for cat, n in waiting.items()), "static"))
        lines.append((str(args.get("notice", "")), "scroll_left"))
        return lines

    def area(self, area_id: int, row: int, rows: int, text: str, effect: str,
             stay_s: float = 5.0) -> onbon5g.Onbon5gArea:  # fmt: skip
        """One full-width area on `row` of `rows` rows (rows=1: the whole screen), text as GB2312/GBK."""
        if effect not in onbon5g.DISPLAY_MODES:
            raise BadArguments(f"unknown effect {effect!r}")
        profile = self.profile
        width, height = int(profile.get("width_px", 256)), int(profile.get("height_px", 128))
        row_h = height if rows == 1 else int(profile.get("row_height_px", 16))
        encoding = "gbk" if profile.get("encoding", "gb2312") == "gbk" else "gb2312"
        escape = bx5k.font_escape("O", "1" if encoding == "gbk" else "0", str(profile.get("font", "0")),
                                  str(profile.get("font_size_code", "0")))  # fmt: skip
        return onbon5g.Onbon5gArea(
            area_id, 0, row * row_h, width, row_h, escape + encode_with_box(text, encoding),
            display_mode=onbon5g.DISPLAY_MODES[effect], speed=int(profile.get("speed", 4)),
            stay_10ms=max(0, min(0xFFFF, round(stay_s * 100))),
        )  # fmt: skip

    def build_show_calls(self, args: dict[str, Any]) -> tuple[bytes, dict[int, str]]:
        lines = self.layout_calls(args)
        if len(lines) > int(self.profile.get("max_areas", 4)):
            raise BadArguments(f"{len(lines)} areas exceed the controller's {self.profile.get('max_areas', 4)}")
        rows_fit = int(self.profile.get("height_px", 128)) // int(self.profile.get("row_height_px", 16))
        if len(lines) > rows_fit:
            raise BadArguments(f"{len(lines)} rows do not fit {rows_fit} rows of the screen")
        areas = [self.area(i, i, len(lines), text, effect) for i, (text, effect) in enumerate(lines)]
        return self._checked(onbon5g.update_areas(self.spec.address, areas)), {i: t for i, (t, _) in enumerate(lines)}

    def _checked(self, frame: bytes) -> bytes:
        if len(frame) > onbon5g.MAX_FRAME_ON_WIRE:
            raise BadArguments(f"frame of {len(frame)} bytes exceeds {onbon5g.MAX_FRAME_ON_WIRE}")
        return frame

    # ---- commands -----------------------------------------------------------------------------

    def _show_calls(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            frame, texts = self.build_show_calls(args)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadArguments(f"show_calls: bad arguments: {exc}") from None
        self._send(frame)
        self.areas_text = texts
        return {"areas": len(texts)}

    def _show_text(self, args: dict[str, Any]) -> dict[str, Any]:
        text, area_id = str(args.get("text", "")), int(args.get("area", 0))
        if not text:
            raise BadArguments("show_text: text must not be empty")
        if not 0 <= area_id < int(self.profile.get("max_areas", 4)):
            raise BadArguments("area out of range")
        area = self.area(area_id, 0, 1, text, str(args.get("effect", "static")), float(args.get("stay_s", 5.0)))
        self._send(self._checked(onbon5g.update_areas(self.spec.address, [area])))
        self.areas_text[area_id] = text
        return {"text": text, "area": area_id}

    def _clear(self, args: dict[str, Any]) -> dict[str, Any]:
        area = args.get("area")
        self._send(onbon5g.delete_areas(self.spec.address, None if area is None else [int(area)]))
        if area is None:
            self.areas_text.clear()
        else:
            self.areas_text.pop(int(area), None)
        return {"area": area}

    def _set_brightness(self, args: dict[str, Any]) -> dict[str, Any]:
        level = int(args.get("level", -1))
        if not 0 <= level <= 15:
            raise BadArguments("brightness level must be 0..15")
        self._send(onbon5g.brightness(self.spec.address, level))
        self.brightness = level
        return {"level": level}

    # ---- exchange -----------------------------------------------------------------------------

    def _send(self, frame: bytes) -> None:
        """Write and wait for the ACK (drivers.devices.onbon_exchange)."""
        attempts = int(self.profile.get("retries", 2)) + 1
        send_until_acked(self.spec.device_id, self.transport, frame, attempts, self._fresh_decoder, self._await_reply)

    def _fresh_decoder(self) -> None:
        self._decoder = onbon5g.Onbon5gStreamDecoder()

    def _await_reply(self) -> onbon5g.Onbon5gReply | None:
        deadline = time.monotonic() + self.timeout_s
        while (left := deadline - time.monotonic()) > 0:
            for raw in self._decoder.feed(self.transport.read(4096, left)):
                try:
                    frame = onbon5g.decode_raw(raw)
                    if frame.dst == onbon5g.HOST_ADDRESS:
                        return onbon5g.Onbon5gReply.decode(frame.data)
                except CodecError as exc:
                    log.debug("%s: bad reply frame: %s", self.spec.device_id, exc.message)
        return None

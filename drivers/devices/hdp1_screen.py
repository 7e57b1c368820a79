"""Window and hall screens over HDP/1 (devices.md §5.10): area text, clear, brightness, power.

Used by screen boards without an Onbon controller; the area fields map one to one onto BX-5K areas.
Every area covers the whole screen unless the profile gives `area_geometry` {"<area>": [x, y, w, h]}.
"""

from __future__ import annotations

import logging
from typing import Any

from drivers.codecs import hdp1
from drivers.devices.hdp1_caller import _int_arg
from drivers.devices.hdp1_master import Hdp1Device
from drivers.errors import BadArguments

log = logging.getLogger(__name__)

ALL_AREAS = 0xFF


class Hdp1Screen(Hdp1Device):
    """`kind="window_screen"` or `"hall_screen"`: show_text, clear, set_brightness (and power, content)."""

    kind = "window_screen"

    @property
    def area_count(self) -> int:
        return int(self.profile.get("areas", 1))

    def probe(self) -> dict[str, Any]:
        screen = hdp1.ScreenStatus.decode(self.get_status().data)
        return {"online": True, "width": screen.width, "height": screen.height, "brightness": screen.brightness,
                "areas": screen.areas}  # fmt: skip

    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = {
            "show_text": self._show_text,
            "clear": self._clear,
            "set_brightness": self._set_brightness,
            "power": self._power,
        }.get(name)
        if handler is None:
            raise BadArguments(f"screen has no command {name!r}", code="unknown_command")
        return handler(args)

    def _area(self, args: dict[str, Any]) -> int:
        area = _int_arg(args, "area", 0, 0xFE)
        if area >= self.area_count:
            raise BadArguments(f"area must be 0..{self.area_count - 1}")
        return area

    def build_area_text(self, args: dict[str, Any]) -> hdp1.SetAreaText:
        text = str(args.get("text", ""))
        if not text:
            raise BadArguments("show_text: text must not be empty")
        area = self._area(args)
        effect = str(args.get("effect", "static"))
        if effect not in hdp1.SCREEN_EFFECTS:
            raise BadArguments(f"unknown effect {effect!r}")
        try:
            stay = max(0, min(255, round(float(args.get("stay_s", 5.0)) * 2)))
        except (TypeError, ValueError):
            raise BadArguments("stay_s must be a number") from None
        profile = self.profile
        width, height = int(profile.get("width_px", 64)), int(profile.get("height_px", 16))
        geometry = profile.get("area_geometry", {}).get(str(area), [0, 0, width, height])
        x, y, w, h = (int(v) for v in geometry)
        return hdp1.SetAreaText(
            area=area, text=text, x=x, y=y, w=w, h=h, effect=hdp1.SCREEN_EFFECTS[effect],
            speed=int(profile.get("speed", 4)), stay=stay, colour=int(profile.get("colour", 1)),
            font_px=int(profile.get("font_px", 16)), align=int(profile.get("align", 0)),
            timeout_s=_int_arg(args, "timeout_s", 0, 0xFFFF),
        )  # fmt: skip

    def _show_text(self, args: dict[str, Any]) -> dict[str, Any]:
        payload = self.encode(self.build_area_text(args))
        if len(payload) > hdp1.MAX_PAYLOAD:
            raise BadArguments(f"show_text: payload of {len(payload)} bytes exceeds {hdp1.MAX_PAYLOAD}")
        self.request(hdp1.Cmd.SET_AREA_TEXT, payload)
        return {"area": payload[0]}

    def _clear(self, args: dict[str, Any]) -> dict[str, Any]:
        area = ALL_AREAS if args.get("area") is None else self._area(args)
        self.request(hdp1.Cmd.CLEAR, hdp1.AreaArg(area).encode())
        return {"area": None if area == ALL_AREAS else area}

    def _set_brightness(self, args: dict[str, Any]) -> dict[str, Any]:
        if "level" not in args:
            raise BadArguments("set_brightness: level is required")
        level = _int_arg(args, "level", 0, 15)
        self.request(hdp1.Cmd.SET_BRIGHTNESS, hdp1.ByteArg(level).encode())
        return {"level": level}

    def _power(self, args: dict[str, Any]) -> dict[str, Any]:
        on = bool(args.get("on", True))
        self.request(hdp1.Cmd.POWER, hdp1.ByteArg(int(on)).encode())
        return {"on": on}

    def get_content(self, area: int = 0) -> dict[str, Any]:
        """GET_CONTENT (for test assertions and diagnostics): effect, colour and text of one area."""
        reply = self.request(hdp1.Cmd.GET_CONTENT, hdp1.AreaArg(area).encode())
        content = hdp1.AreaContent.decode(reply, self.master.encoding)
        effects = {code: name for name, code in hdp1.SCREEN_EFFECTS.items()}
        return {"effect": effects.get(content.effect, content.effect), "colour": content.colour,
                "text": content.text}  # fmt: skip


class Hdp1HallScreen(Hdp1Screen):
    kind = "hall_screen"

"""HDP/1 screen simulator (devices.md §5.10, dev_type 0x20 window / 0x21 hall): keeps each area's text."""

from __future__ import annotations

from typing import Any

from drivers.codecs import hdp1
from simulators.devices.hdp1_device import Hdp1DeviceSimulator, Hdp1Refused


class Hdp1ScreenSimulator(Hdp1DeviceSimulator):
    """State: `areas` (area -> SetAreaText), `brightness`, `power`, `history`; `shown_text(area)`."""

    caps = 0x02  # GET_CONTENT supported

    def __init__(self, profile: dict[str, Any], address: int | None = None, *, serial: str = "SIMSCRN1",
                 hall: bool = False) -> None:  # fmt: skip
        super().__init__(profile, address, serial=serial)
        self.dev_type = hdp1.DevType.HALL_SCREEN if hall else hdp1.DevType.WINDOW_SCREEN
        self.width = int(profile.get("width_px", 64))
        self.height = int(profile.get("height_px", 16))
        self.colours = int(profile.get("colours", 1))
        if self.colours > 1:
            self.caps |= 0x01
        self.area_count = int(profile.get("areas", 1))
        self.brightness = int(profile.get("brightness", 15))
        self.power = True
        self.areas: dict[int, hdp1.SetAreaText] = {}
        self.history: list[tuple[int, str]] = []  # (area, text); "" for a clear
        self._handlers.update({
            hdp1.Cmd.SET_AREA_TEXT: self._set_area_text,
            hdp1.Cmd.CLEAR: self._clear,
            hdp1.Cmd.SET_BRIGHTNESS: self._set_brightness,
            hdp1.Cmd.POWER: self._power,
            hdp1.Cmd.GET_CONTENT: self._get_content,
        })  # fmt: skip

    def shown_text(self, area: int = 0) -> str:
        with self._cond:
            shown = self.areas.get(area)
            return shown.text if shown is not None else ""

    def type_status(self) -> bytes:
        return hdp1.ScreenStatus(self.width, self.height, self.colours, self.brightness, self.area_count).encode()

    def soft_reset(self) -> None:
        self.areas.clear()

    def _check_area(self, area: int) -> None:
        if area >= self.area_count:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)

    def _set_area_text(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        area = hdp1.SetAreaText.decode(frame.payload, frame.encoding)
        self._check_area(area.area)
        if not 1 <= area.effect <= 6 or area.speed > 24 or area.font_px not in (16, 24, 32):
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        if area.x + area.w > self.width or area.y + area.h > self.height:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        self.areas[area.area] = area
        self.history.append((area.area, area.text))
        return hdp1.Status.OK, b""

    def _clear(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        area = hdp1.AreaArg.decode(frame.payload).area
        if area == 0xFF:
            self.areas.clear()
        else:
            self._check_area(area)
            self.areas.pop(area, None)
        self.history.append((area, ""))
        return hdp1.Status.OK, b""

    def _set_brightness(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        level = hdp1.ByteArg.decode(frame.payload).value
        if level > 15:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        self.brightness = level
        return hdp1.Status.OK, b""

    def _power(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        self.power = bool(hdp1.ByteArg.decode(frame.payload).value)
        return hdp1.Status.OK, b""

    def _get_content(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        area = hdp1.AreaArg.decode(frame.payload).area
        self._check_area(area)
        shown = self.areas.get(area)
        content = hdp1.AreaContent(shown.effect, shown.colour, shown.text) if shown else hdp1.AreaContent(0, 0, "")
        return hdp1.Status.OK, content.encode(frame.encoding)

"""HDP/1 caller keypad simulator (devices.md §5.9): a display, a lamp and keys a test can press."""

from __future__ import annotations

from typing import Any

from drivers.codecs import hdp1
from simulators.devices.hdp1_device import Hdp1DeviceSimulator, Hdp1Refused


class CallerSimulator(Hdp1DeviceSimulator):
    """State: `number`, `blink`, `waiting`, `info_text`, `lamp`, `beeps`; control: `press()`."""

    dev_type = hdp1.DevType.CALLER
    caps = 0x0F

    def __init__(self, profile: dict[str, Any], address: int | None = None, *, serial: str = "SIMCALL1") -> None:
        super().__init__(profile, address, serial=serial)
        self.number = ""
        self.blink = 0
        self.waiting = 0
        self.info_text = ""
        self.lamp = 0
        self.beeps: list[int] = []
        self.shown: list[str] = []
        self._handlers.update({
            hdp1.Cmd.SHOW_NUMBER: self._show_number,
            hdp1.Cmd.SHOW_INFO: self._show_info,
            hdp1.Cmd.SET_LAMP: self._set_lamp,
        })  # fmt: skip

    def press(self, key_name: str, arg: int = 0, long: bool = False) -> int:
        """Queue a KEY event for `key_name` (e.g. "call_next", "digit_3"); returns its dev_evt_seq."""
        code = hdp1.CALLER_KEY_CODES[key_name] | (hdp1.LONG_PRESS if long else 0)
        return self.queue_event(hdp1.EventCode.KEY, hdp1.KeyData(code, arg).encode())

    def type_status(self) -> bytes:
        return hdp1.CallerStatus(self.lamp, self.number).encode()

    def soft_reset(self) -> None:
        self.number, self.blink, self.info_text, self.waiting, self.lamp = "", 0, "", 0, 0

    def _show_number(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        show = hdp1.ShowNumber.decode(frame.payload, frame.encoding)
        if len(show.text) > 8:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        self.number, self.blink = show.text, show.blink
        self.shown.append(show.text)
        return hdp1.Status.OK, b""

    def _show_info(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        info = hdp1.ShowInfo.decode(frame.payload, frame.encoding)
        self.waiting, self.info_text = info.waiting, info.text
        return hdp1.Status.OK, b""

    def _set_lamp(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        lamp = hdp1.SetLamp.decode(frame.payload)
        if lamp.lamp > 6:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        self.lamp = lamp.lamp
        if lamp.beep_ms:
            self.beeps.append(lamp.beep_ms)
        return hdp1.Status.OK, b""

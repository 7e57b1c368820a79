"""Caller keypad over HDP/1 (devices.md §5.9): shows the called number, reports key presses."""

from __future__ import annotations

import logging
from typing import Any

from drivers.codecs import hdp1
from drivers.devices.base import DeviceEvent
from drivers.devices.hdp1_master import Hdp1Device
from drivers.errors import BadArguments

log = logging.getLogger(__name__)


def _int_arg(args: dict[str, Any], name: str, default: int, high: int) -> int:
    try:
        value = int(args.get(name, default))
    except (TypeError, ValueError):
        raise BadArguments(f"{name} must be an integer") from None
    if not 0 <= value <= high:
        raise BadArguments(f"{name} must be 0..{high}")
    return value


class Hdp1Caller(Hdp1Device):
    """`kind="caller"`: commands show_number {text, blink}, show_info {waiting, text}; key events."""

    kind = "caller"

    def probe(self) -> dict[str, Any]:
        status = self.get_status()
        caller = hdp1.CallerStatus.decode(status.data, self.master.encoding)
        return {"online": True, "lamp": caller.lamp, "text": caller.text}

    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "show_number":
            return self._show_number(args)
        if name == "show_info":
            return self._show_info(args)
        raise BadArguments(f"caller has no command {name!r}", code="unknown_command")

    def _show_number(self, args: dict[str, Any]) -> dict[str, Any]:
        text = str(args.get("text", ""))
        if len(text) > 8:
            raise BadArguments("show_number: text longer than 8 characters")
        blink = _int_arg(args, "blink", 0, 255)
        self.request(hdp1.Cmd.SHOW_NUMBER, self.encode(hdp1.ShowNumber(text, blink)))
        return {"text": text}

    def _show_info(self, args: dict[str, Any]) -> dict[str, Any]:
        waiting = _int_arg(args, "waiting", 0, 0xFFFF)
        text = str(args.get("text", ""))
        self.request(hdp1.Cmd.SHOW_INFO, self.encode(hdp1.ShowInfo(waiting, text)))
        return {"waiting": waiting}

    def convert_event(self, event: hdp1.Event) -> DeviceEvent | None:
        if event.code != hdp1.EventCode.KEY:
            return None
        key = hdp1.KeyData.decode(event.data)
        code = key.key & ~hdp1.LONG_PRESS
        name = hdp1.CALLER_KEYS.get(code, f"key_{code:02x}")
        data = {"key": name, "arg": key.arg, "long": bool(key.key & hdp1.LONG_PRESS)}
        return DeviceEvent("key", data, event.dev_evt_seq)

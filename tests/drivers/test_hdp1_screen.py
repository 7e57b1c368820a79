"""HDP/1 screen driver against the screen simulator over a pty (devices.md §5.10)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from drivers.codecs import hdp1
from drivers.devices.hdp1_screen import Hdp1HallScreen, Hdp1Screen
from drivers.errors import BadArguments, DeviceRejected
from drivers.registry import DEVICE_CLASSES
from simulators.devices.hdp1_screen import Hdp1ScreenSimulator

Rig = Callable[..., Any]


def test_registered_and_payload_layout() -> None:
    assert DEVICE_CLASSES[("window_screen", "hdp1")] is Hdp1Screen
    assert DEVICE_CLASSES[("hall_screen", "hdp1")] is Hdp1HallScreen
    payload = hdp1.SetAreaText(1, "A1", 0, 16, 128, 16, effect=3, speed=4, stay=10, colour=1, font_px=16).encode()
    assert payload == bytes.fromhex("01 0000 1000 8000 1000 03 04 0a 01 10 00 0000 0200 4131")
    assert hdp1.SetAreaText.decode(payload).text == "A1"
    assert hdp1.AreaContent.decode(bytes.fromhex("03 01 0400 d5d4 c8fd")).text == "赵三"


@pytest.mark.parametrize("kind", ["window_screen", "hall_screen"])
def test_screen_text_content_clear_brightness(rig: Rig, kind: str) -> None:
    device, sim, _ = rig(kind, "hdp1", "hdp1-screen",
                         lambda p: Hdp1ScreenSimulator(p, 0x20, hall=kind == "hall_screen"), 0x20)  # fmt: skip
    info = device.get_info()
    assert info.dev_type == (0x21 if kind == "hall_screen" else 0x20) and info.caps & 0x02
    assert device.probe() == {"online": True, "width": 128, "height": 32, "brightness": 15, "areas": 2}
    device.execute("show_text", {"text": "A001请到5号窗口", "area": 0, "effect": "move_left", "stay_s": 5})
    device.execute("show_text", {"text": "等候 12 人", "area": 1})
    assert sim.shown_text(0) == "A001请到5号窗口" and sim.shown_text(1) == "等候 12 人"
    assert (sim.areas[1].y, sim.areas[1].h, sim.areas[0].stay) == (16, 16, 10)
    assert device.get_content(0) == {"effect": "move_left", "colour": 1, "text": "A001请到5号窗口"}
    assert device.get_content(1) == {"effect": "static", "colour": 1, "text": "等候 12 人"}
    device.execute("clear", {"area": 0})
    assert device.get_content(0)["text"] == "" and sim.shown_text(1) == "等候 12 人"
    device.execute("clear", {})
    assert sim.areas == {}
    device.execute("set_brightness", {"level": 7})
    assert sim.brightness == 7 and device.probe()["brightness"] == 7
    device.execute("power", {"on": False})
    assert sim.power is False


def test_screen_bad_args_and_refusals(rig: Rig) -> None:
    device, sim, link = rig("window_screen", "hdp1", "hdp1-screen", lambda p: Hdp1ScreenSimulator(p, 0x20), 0x20)
    with pytest.raises(BadArguments):
        device.execute("show_text", {"text": "A001", "area": 5})
    with pytest.raises(BadArguments):
        device.execute("set_brightness", {"level": 16})
    with pytest.raises(BadArguments):
        device.execute("show_text", {"text": "A001", "effect": "spin"})
    with pytest.raises(DeviceRejected) as info:
        device.get_content(9)
    assert info.value.code == "bad_param"
    link.faults.drop_replies = 1  # a lost reply: the retry is answered from the cache
    device.execute("show_text", {"text": "B002"})
    assert sim.history == [(0, "B002")]

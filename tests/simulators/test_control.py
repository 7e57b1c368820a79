"""The simulator control surface: the same actions from Python and from the MQTT `sim` topic."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
import pytest

from drivers.registry import load_profile
from simulators.attach import attach_pty
from simulators.broker import MosquittoBroker
from simulators.control import ControlError, ControlListener, apply_control
from simulators.devices.hdp1_caller import CallerSimulator
from simulators.devices.printer import PrinterSimulator


def test_printer_states_and_link_faults_apply() -> None:
    printer = PrinterSimulator(load_profile("kp628e-58"))
    link = attach_pty(printer)
    try:
        apply_control(printer, link, {"action": "paper_out"})
        assert printer.state == "paper_out"
        apply_control(printer, link, {"action": "slow", "delay_s": 0.5})
        assert link.faults.delay_s == 0.5
        apply_control(printer, link, {"action": "unplug"})
        assert link.faults.unplugged
        apply_control(printer, link, {"action": "replug"})
        assert not link.faults.unplugged
    finally:
        link.close()


@pytest.mark.parametrize(
    "message",
    [{"action": "explode"}, {"action": "slow", "delay_s": "x"}, {"action": "set_state", "state": "on_fire"}],
)
def test_bad_control_messages_change_nothing(message: dict) -> None:
    printer = PrinterSimulator(load_profile("kp628e-58"))
    link = attach_pty(printer)
    try:
        with pytest.raises(ControlError):
            apply_control(printer, link, message)
        assert printer.state == "ready" and link.faults.delay_s == 0
    finally:
        link.close()


def test_printer_state_on_a_caller_is_refused() -> None:
    caller = CallerSimulator(load_profile("hdp1-caller"))
    link = attach_pty(caller)
    try:
        with pytest.raises(ControlError, match="ticket printers"):
            apply_control(caller, link, {"action": "paper_out"})
    finally:
        link.close()


def test_control_over_the_sim_topic(broker: MosquittoBroker) -> None:
    printer = PrinterSimulator(load_profile("kp628e-58"))
    link = attach_pty(printer)
    listener = ControlListener("h1", {"p1": printer}, {"p1": link}, "127.0.0.1", broker.port).start()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="harness-test")
    try:
        assert listener.ready.wait(5)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        client.publish("hall/v1/h1/sim/p1/control", b"{not json", qos=1).wait_for_publish(5)
        body = json.dumps({"v": 1, "ts": 1, "action": "cover_open"})
        client.publish("hall/v1/h1/sim/p1/control", body, qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while printer.state != "cover_open" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert printer.state == "cover_open"
        assert listener.applied == [("p1", "printer cover_open")]
        assert len(listener.refused) == 1
    finally:
        client.loop_stop()
        client.disconnect()
        listener.stop()
        link.close()

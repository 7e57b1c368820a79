"""The simulators' control surface: one function for the Python API and the MQTT `sim` topic.

bus.md §1: `hall/v1/<hall>/sim/<device>/control`, published only by the simulator harness, never
retained. A control message is `{"v":1,"ts":…,"action":…, …}`; the actions are those a maintainer
needs to make a device misbehave: paper out, cover open, unplug, replug, slow, garble, fragment.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from hallbus.errors import TopicError
from hallbus.topics import PREFIX, TopicKind, parse_topic
from simulators.attach import Link
from simulators.devices.hdp1_evaluator import EvaluatorSimulator
from simulators.devices.printer import PrinterSimulator

log = logging.getLogger(__name__)

PRINTER_STATES = ("ready", "near_end", "paper_out", "cover_open", "cutter_error", "head_hot")


class ControlError(ValueError):
    """A control message that names no known action or carries bad values."""


def apply_control(sim: object, link: Link, message: dict[str, Any]) -> str:
    """Apply one control message to a simulator and its link; returns what was done, for the log."""
    action = message.get("action")
    handlers: dict[str, Callable[[], str]] = {
        "unplug": lambda: _link(link, "unplug"),
        "replug": lambda: _link(link, "replug"),
        "slow": lambda: _faults(link, delay_s=_number(message, "delay_s", 0.0, 10.0)),
        "garble": lambda: _faults(link, garble_next=True),
        "fragment": lambda: _faults(link, fragment=bool(message.get("on", True))),
        "drop_replies": lambda: _faults(link, drop_replies=int(_number(message, "count", 0, 1000))),
        "clean": lambda: _faults(link, delay_s=0.0, fragment=False, garble_next=False, drop_replies=0),
        "set_state": lambda: _printer_state(sim, str(message.get("state", ""))),
        "paper_out": lambda: _printer_state(sim, "paper_out"),
        "paper_near_end": lambda: _printer_state(sim, "near_end"),
        "cover_open": lambda: _printer_state(sim, "cover_open"),
        "ready": lambda: _printer_state(sim, "ready"),
        "rating_timeout": lambda: _evaluator_timeout(sim),
    }
    handler = handlers.get(str(action))
    if handler is None:
        raise ControlError(f"unknown control action {action!r}; one of {sorted(handlers)}")
    return handler()


def _number(message: dict[str, Any], key: str, low: float, high: float) -> float:
    value = message.get(key)
    if not isinstance(value, int | float) or not low <= value <= high:
        raise ControlError(f"{key} must be a number from {low} to {high}, not {value!r}")
    return float(value)


def _link(link: Link, what: str) -> str:
    getattr(link, what)()
    return what


def _faults(link: Link, **changes: Any) -> str:
    for key, value in changes.items():
        setattr(link.faults, key, value)
    return f"faults {changes}"


def _printer_state(sim: object, state: str) -> str:
    if not isinstance(sim, PrinterSimulator):
        raise ControlError("printer states apply to ticket printers only")
    if state not in PRINTER_STATES:
        raise ControlError(f"unknown printer state {state!r}; one of {PRINTER_STATES}")
    sim.set_state(state)
    return f"printer {state}"


def _evaluator_timeout(sim: object) -> str:
    if not isinstance(sim, EvaluatorSimulator):
        raise ControlError("rating_timeout applies to evaluators only")
    sim.expire_now()
    return "rating timed out"


class ControlListener:
    """Subscribes to a hall's `sim/+/control` and applies each message to the named simulator."""

    def __init__(
        self,
        hall: str,
        sims: dict[str, object],
        links: dict[str, Link],
        host: str,
        port: int,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.hall = hall
        self.sims = sims
        self.links = links
        self.applied: list[tuple[str, str]] = []
        self.refused: list[tuple[str, str]] = []
        self.ready = threading.Event()
        client_id = credentials[0] if credentials else f"{hall}.sim-harness"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if credentials is not None:
            self.client.username_pw_set(*credentials)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect_async(host, port)

    def start(self) -> ControlListener:
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, props: Any) -> None:
        client.subscribe(f"{PREFIX}/{self.hall}/sim/+/control", qos=1)
        self.ready.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            device = self._device_of(message.topic)
            if message.retain:
                raise ControlError("control messages are never retained")
            body = json.loads(message.payload)
            if not isinstance(body, dict) or body.get("v") != 1:
                raise ControlError("payload must be a JSON object with v=1")
            done = apply_control(self.sims[device], self.links[device], body)
        except (ControlError, TopicError, ValueError, KeyError) as exc:
            log.warning("hall %s: refused sim control on %s: %s", self.hall, message.topic, exc)
            self.refused.append((message.topic, str(exc)))
            return
        log.info("hall %s device %s: %s", self.hall, device, done)
        self.applied.append((device, done))

    def _device_of(self, topic: str) -> str:
        parsed = parse_topic(topic)
        if parsed.kind is not TopicKind.SIM_CONTROL or parsed.device not in self.sims:
            raise ControlError(f"no simulated device behind {topic}")
        return parsed.device

"""A whole hall on real parts: Mosquitto, `hallctl server`, `hallctl edge`, simulators on ptys."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from hall_server.brokerauth import mosquitto_auth_conf, write_broker_auth
from hall_server.topology import TopologyIn
from simulators.broker import MosquittoBroker
from simulators.city import HallPlan, topology
from simulators.hall import SimulatedHall
from simulators.processes import EdgeProcess, ServerProcess


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Stack:
    broker: MosquittoBroker
    server: ServerProcess
    hall: SimulatedHall
    edge: EdgeProcess
    plan: HallPlan
    workdir: Path

    @property
    def hall_id(self) -> str:
        return self.plan.hall_id

    def restart_edge(self) -> None:
        self.edge = EdgeProcess(self.workdir, json.loads(self.edge.config_path.read_text())).start()

    def devices(self) -> list[dict[str, Any]]:
        return list(self.server.get(f"/api/halls/{self.hall_id}/devices"))

    def all_online(self) -> bool:
        devices = self.devices()
        return len(devices) == len(self.plan.devices) and all(d["availability"] == "online" for d in devices)

    def ratings(self) -> list[dict[str, Any]]:
        return list(self.server.get(f"/api/halls/{self.hall_id}/ratings"))

    def issue(self, matter: str = "E001") -> dict[str, Any]:
        response = self.server.post(f"/api/halls/{self.hall_id}/tickets", {"matter": matter})
        assert response.status_code == 201, response.text
        return dict(response.json())


def _build_stack(broker: MosquittoBroker, tmp_path: Path, database_url: str, auth: Path | None) -> Iterator[Stack]:
    """Broker, server, simulated hall and edge; with `auth`, every party logs in with its generated account."""
    plan = HallPlan("cc-city", "长春市政务服务中心", windows=2)
    env = {"HALL_MQTT_PASSWORD_FILE": str(auth / "credentials" / "hall-server.password")} if auth else None
    server = ServerProcess(tmp_path, database_url, broker.url, env=env).start()
    hall = SimulatedHall(plan, seed=7)
    edge: EdgeProcess | None = None
    try:
        server.put("/api/topology", topology([plan])).raise_for_status()
        harness = None
        if auth is not None:
            harness = ("sim-harness", (auth / "credentials" / "sim-harness.password").read_text().strip())
        hall.listen_for_control("127.0.0.1", broker.port, harness).ready.wait(5)
        config = hall.edge_config(broker.url, tmp_path / "edge-state")
        if auth is not None:
            config["mqtt_password_file"] = str(auth / "credentials" / f"{plan.hall_id}.{plan.edge}.password")
        edge = EdgeProcess(tmp_path, config).start()
        s = Stack(broker, server, hall, edge, plan, tmp_path)
        wait_until(s.all_online, 30, "every device online")
        yield s
        edge = s.edge
    finally:
        if edge is not None:
            edge.stop()
        server.close()
        hall.close()


@pytest.fixture
def stack(broker: MosquittoBroker, tmp_path: Path, database_url: str) -> Iterator[Stack]:
    yield from _build_stack(broker, tmp_path, database_url, None)


@pytest.fixture
def secure_stack(tmp_path: Path, sqlite_url: str) -> Iterator[Stack]:
    """The same hall on a broker that allows no anonymous client and enforces the generated ACL."""
    auth = tmp_path / "auth"
    write_broker_auth(TopologyIn.model_validate(topology([HallPlan("cc-city", "长春市政务服务中心", windows=2)])), auth)
    broker = MosquittoBroker(workdir=tmp_path / "broker", anonymous=False, extra_conf=mosquitto_auth_conf(auth))
    broker.start()
    try:
        yield from _build_stack(broker, tmp_path, sqlite_url, auth)
    finally:
        broker.stop()


class BusSpy:
    """A plain MQTT client on the test's side of the wire: publishes raw commands, records results."""

    def __init__(self, broker: MosquittoBroker, subscribe: str) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"spy-{time.monotonic_ns()}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        for topic in subscribe.split(","):
            self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        time.sleep(0.3)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with contextlib.suppress(ValueError):
            self.messages.append((message.topic, json.loads(message.payload)))

    def publish(self, topic: str, payload: dict[str, Any], retain: bool = False) -> None:
        self.client.publish(topic, json.dumps(payload), qos=1, retain=retain).wait_for_publish(5)

    def results_for(self, cmd_id: str) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if m.get("cmd_id") == cmd_id and "status" in m]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

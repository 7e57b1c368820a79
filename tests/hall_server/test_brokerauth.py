"""Broker accounts and ACL generated from the topology, enforced by a real Mosquitto (bus.md §9)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from hall_server.brokerauth import accounts_for, mosquitto_auth_conf, write_broker_auth
from hall_server.topology import TopologyIn
from simulators.broker import MosquittoBroker
from simulators.city import plan_halls, topology

HALL_A, HALL_B = "cc-city", "cc-nanguan"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[MosquittoBroker, dict[str, str]]]:
    doc = TopologyIn.model_validate(topology(plan_halls(2, 2)))
    accounts = write_broker_auth(doc, tmp_path / "auth")
    broker = MosquittoBroker(
        workdir=tmp_path / "broker", anonymous=False, extra_conf=mosquitto_auth_conf(tmp_path / "auth")
    ).start()
    try:
        yield broker, {a.username: a.password for a in accounts}
    finally:
        broker.stop()


class Client:
    def __init__(self, broker: MosquittoBroker, username: str, password: str | None) -> None:
        self.received: list[str] = []
        self.refused: list[str] = []
        self.connected = False
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=username)
        if password is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        deadline = time.monotonic() + 5
        while not (self.connected or self.refused) and time.monotonic() < deadline:
            time.sleep(0.02)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object) -> None:
        if getattr(rc, "is_failure", False):
            self.refused.append(str(rc))
        else:
            self.connected = True

    def subscribe(self, *topics: str) -> None:
        for topic in topics:
            self.client.subscribe(topic, qos=1)
        time.sleep(0.3)

    def publish(self, topic: str) -> None:
        self.client.publish(topic, b'{"v":1}', qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _wait_for(client: Client, topic: str) -> None:
    deadline = time.monotonic() + 5
    while topic not in client.received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert topic in client.received, f"the permitted message on {topic} never arrived"


def test_acl_is_a_whitelist_shaped_by_the_topology() -> None:
    doc = TopologyIn.model_validate(topology(plan_halls(2, 2)))
    by_name = {a.username: a for a in accounts_for(doc)}
    edge_a = by_name[f"{HALL_A}.edge1"]
    assert f"topic write hall/v1/{HALL_A}/dev/w01-eval/event" in edge_a.acl
    assert not any(HALL_B in line for line in edge_a.acl), "an edge's ACL never names another hall"
    assert not any("/cmd/" in line and line.startswith("topic write") for line in edge_a.acl)
    assert all("server/status" not in line or line.startswith("topic read") for line in edge_a.acl)
    server = by_name["hall-server"]
    assert f"topic write hall/v1/{HALL_A}/dev/+/cmd/+" in server.acl


def test_passwords_survive_regeneration(tmp_path: Path) -> None:
    doc = TopologyIn.model_validate(topology(plan_halls(1, 1)))
    first = {a.username: a.password for a in write_broker_auth(doc, tmp_path)}
    again = {a.username: a.password for a in write_broker_auth(doc, tmp_path)}
    assert first == again
    assert (tmp_path / "credentials" / f"{HALL_A}.edge1.password").stat().st_mode & 0o077 == 0


def test_an_edge_of_hall_a_cannot_speak_for_hall_b(secured: tuple[MosquittoBroker, dict[str, str]]) -> None:
    broker, passwords = secured
    server = Client(broker, "hall-server", passwords["hall-server"])
    edge_a = Client(broker, f"{HALL_A}.edge1", passwords[f"{HALL_A}.edge1"])
    try:
        assert server.connected and edge_a.connected
        server.subscribe(f"hall/v1/{HALL_A}/#", f"hall/v1/{HALL_B}/#")
        forged = [
            f"hall/v1/{HALL_B}/dev/w01-eval/event",  # a rating for another hall
            f"hall/v1/{HALL_A}/dev/w01-screen/cmd/show_text",  # a command: only the server sends those
            f"hall/v1/{HALL_A}/server/status",  # the server's liveness
            f"hall/v1/{HALL_A}/edge/edge2/status",  # another edge's status
        ]
        for topic in forged:
            edge_a.publish(topic)
        own = f"hall/v1/{HALL_A}/dev/w01-eval/event"
        edge_a.publish(own)
        _wait_for(server, own)
        time.sleep(0.3)
        assert [t for t in server.received if t in forged] == []
    finally:
        server.close()
        edge_a.close()


def test_an_edge_cannot_listen_to_another_halls_commands(secured: tuple[MosquittoBroker, dict[str, str]]) -> None:
    broker, passwords = secured
    server = Client(broker, "hall-server", passwords["hall-server"])
    edge_a = Client(broker, f"{HALL_A}.edge1", passwords[f"{HALL_A}.edge1"])
    try:
        edge_a.subscribe(f"hall/v1/{HALL_B}/dev/w01-eval/cmd/+", f"hall/v1/{HALL_A}/dev/w01-eval/cmd/+")
        server.publish(f"hall/v1/{HALL_B}/dev/w01-eval/cmd/request_rating")
        own = f"hall/v1/{HALL_A}/dev/w01-eval/cmd/request_rating"
        server.publish(own)
        _wait_for(edge_a, own)
        time.sleep(0.3)
        assert edge_a.received == [own]
    finally:
        server.close()
        edge_a.close()


@pytest.mark.parametrize("password", [None, "wrong"])
def test_anonymous_and_wrong_passwords_are_refused(
    secured: tuple[MosquittoBroker, dict[str, str]], password: str | None
) -> None:
    broker, _ = secured
    client = Client(broker, f"{HALL_A}.edge1", password)
    try:
        assert client.refused and not client.connected
    finally:
        client.close()

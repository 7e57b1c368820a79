"""The bus bridge against a real Mosquitto, with a raw paho client in the test playing the edge on the wire."""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from hall_server.app import create_app
from hall_server.settings import Settings
from hallbus import Command, Event, Result, ServerStatus, decode, encode, topics_for
from hallbus.catalogue import PrintTicketArgs, RequestRatingArgs

T = topics_for("h1")


class FakeEdge:
    """The edge side of bus.md on the wire: receives commands, publishes status, events and results."""

    def __init__(self, broker_url: str, edge: str = "e1") -> None:
        host, port = broker_url.removeprefix("mqtt://").split(":")
        self.edge, self.stream, self.seq = edge, str(uuid.uuid4()), 0
        self.commands: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.held: list[tuple[str, bytes, bool]] = []
        self.status: queue.Queue[ServerStatus] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{edge}-{uuid.uuid4().hex[:6]}")
        self.client.on_message = self._on_message
        self.client.connect(host, int(port))
        for topic in ("hall/v1/h1/dev/+/cmd/+", "hall/v1/h1/edge/+/cmd/+", T.server_status()):
            self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic.endswith("/server/status"):
            self.status.put(decode(ServerStatus, msg.payload))
        else:
            self.commands.put((msg.topic, msg.payload, bool(msg.retain)))

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def online(self, session: int) -> None:
        status = {"v": 1, "edge": self.edge, "state": "online", "session": session, "boot_id": "b"}
        self.publish(T.edge_status(self.edge), json.dumps(status).encode(), retain=True)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def event(self, device: str, type_: str, data: dict[str, Any], event_id: str | None = None) -> str:
        event_id = event_id or str(uuid.uuid4())
        msg = Event(edge=self.edge, stream=self.stream, seq=self.next_seq(), event_id=event_id, type=type_, data=data)
        self.publish(T.dev_event(device), encode(msg))
        return event_id

    def result(self, device: str, cmd_id: str, status: str, **extra: Any) -> None:
        msg = Result(edge=self.edge, stream=self.stream, seq=self.next_seq(), cmd_id=cmd_id, status=status, **extra)
        self.publish(T.dev_result(device), encode(msg))

    def expect_command(self, topic: str, timeout: float = 5.0) -> Command:
        """The next command on `topic` (others stay queued); asserts it was not retained."""
        for i, (got_topic, payload, retained) in enumerate(self.held):
            if got_topic == topic:
                del self.held[i]
                assert not retained, "a command must never be retained"
                return decode(Command, payload)
        while True:
            got_topic, payload, retained = self.commands.get(timeout=timeout)
            if got_topic == topic:
                assert not retained, "a command must never be retained"
                return decode(Command, payload)
            self.held.append((got_topic, payload, retained))

    def drain(self) -> list[str]:
        seen = [t for t, _, _ in self.held]
        self.held.clear()
        while not self.commands.empty():
            seen.append(self.commands.get_nowait()[0])
        return seen

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def bus_setup(broker, sqlite_url, hall_topology) -> Iterator[tuple[TestClient, FakeEdge]]:
    settings = Settings(database_url=sqlite_url, mqtt_url=broker.url, mqtt_client_id=f"hs-{uuid.uuid4().hex[:6]}")
    app = create_app(settings)
    edge = FakeEdge(broker.url)
    with TestClient(app) as client:
        client.put("/api/topology", json=hall_topology(windows=2))
        assert app.state.bridge.wait_connected(10)
        status = edge.status.get(timeout=5)
        assert status.state == "online" and status.session >= 1
        edge.online(session=1)
        yield client, edge
    edge.close()


def _wait(wait_until, fn, timeout: float = 5.0) -> Any:
    return wait_until(fn, timeout=timeout)


def test_issue_publishes_print_ticket_and_result_completes_it(bus_setup, wait_until):
    client, edge = bus_setup
    ticket = client.post("/api/halls/h1/tickets", json={"matter": "biz_license"}).json()
    cmd = edge.expect_command(T.dev_cmd("p1", "print_ticket"))
    assert cmd.cmd_id == ticket["print_cmd_id"]
    args = PrintTicketArgs.model_validate(cmd.args)
    assert args.ticket_no == "A001" and args.qr == ticket["qr"] and args.hall_name == "长春市政务服务中心"
    edge.result("p1", cmd.cmd_id, "ok")
    _wait(wait_until, lambda: client.get(f"/api/tickets/{ticket['id']}").json()["print_status"] == "printed")
    assert client.get(f"/api/commands/{cmd.cmd_id}").json()["status"] == "ok"

    second = client.post("/api/halls/h1/tickets", json={"matter": "biz_license"}).json()
    cmd2 = edge.expect_command(T.dev_cmd("p1", "print_ticket"))
    edge.result("p1", cmd2.cmd_id, "error", error={"code": "paper_out", "message": "", "retryable": False})
    edge.result("p1", cmd2.cmd_id, "ok")  # a second result for one command is ignored
    _wait(wait_until, lambda: client.get(f"/api/tickets/{second['id']}").json()["print_status"] == "failed")
    assert client.get(f"/api/commands/{cmd2.cmd_id}").json()["result"]["error"]["code"] == "paper_out"


def _serve_and_finish(client: TestClient, edge: FakeEdge, window: str) -> int:
    """Issue a ticket, call it to `window`, finish it, and return the rating id the evaluator was asked for."""
    client.post("/api/halls/h1/tickets", json={"matter": "biz_license"})
    client.post(f"/api/halls/h1/windows/{window}/call-next")
    body = client.post(f"/api/halls/h1/windows/{window}/finish")
    assert body.status_code == 200, body.text
    cmd = edge.expect_command(T.dev_cmd(f"{window}-eval", "request_rating"))
    return RequestRatingArgs.model_validate(cmd.args).rating_id


def test_rating_is_stored_exactly_once(bus_setup, wait_until):
    client, edge = bus_setup
    rating_id = _serve_and_finish(client, edge, "w1")
    first = edge.event("w1-eval", "rating", {"rating_id": rating_id, "level": 5})
    edge.publish(
        T.dev_event("w1-eval"),
        encode(
            Event(
                edge="e1",
                stream=edge.stream,
                seq=edge.seq,
                event_id=first,
                type="rating",
                data={"rating_id": rating_id, "level": 5},
            )
        ),
    )
    edge.event("w1-eval", "rating", {"rating_id": rating_id, "level": 1})  # same rating id, new event id
    marker = _serve_and_finish(client, edge, "w2")  # a later message proves the earlier ones were applied
    edge.event("w2-eval", "rating", {"rating_id": marker, "level": 4})
    ratings = _wait(wait_until, lambda: (r := client.get("/api/halls/h1/ratings").json()) and len(r) == 2 and r)
    mine = [r for r in ratings if r["rating_id"] == rating_id]
    assert len(mine) == 1 and mine[0]["level"] == 5 and mine[0]["window"] == "w1"
    assert mine[0]["clerk"] == {"staff_id": "s1", "name": "clerk1"} and mine[0]["matter"] == "biz_license"
    assert client.get("/api/halls/h1/stats").json()["ratings"] == 2


def test_rating_for_unknown_id_or_from_wrong_device_changes_nothing(bus_setup, wait_until):
    client, edge = bus_setup
    rating_id = _serve_and_finish(client, edge, "w1")
    edge.event("w1-eval", "rating", {"rating_id": rating_id + 1000, "level": 1})  # never issued
    edge.event("w2-eval", "rating", {"rating_id": rating_id, "level": 1})  # not the evaluator asked
    edge.event("w1-caller", "rating", {"rating_id": rating_id, "level": 1})  # not an evaluator at all
    edge.event("w1-eval", "rating_timeout", {"rating_id": rating_id + 1000})
    marker = _serve_and_finish(client, edge, "w2")
    edge.event("w2-eval", "rating_timeout", {"rating_id": marker})
    _wait(wait_until, lambda: any(r["status"] == "timeout" for r in client.get("/api/halls/h1/rating-requests").json()))
    assert client.get("/api/halls/h1/ratings").json() == []
    requests = {r["rating_id"]: r["status"] for r in client.get("/api/halls/h1/rating-requests").json()}
    assert requests == {rating_id: "pending", marker: "timeout"}
    edge.event("w2-eval", "rating", {"rating_id": marker, "level": 5})  # after a timeout: nobody rated
    edge.event("w1-eval", "rating", {"rating_id": rating_id, "level": 3})  # the right device, at last
    _wait(wait_until, lambda: len(client.get("/api/halls/h1/ratings").json()) == 1)
    assert [(r["rating_id"], r["level"]) for r in client.get("/api/halls/h1/ratings").json()] == [(rating_id, 3)]


def test_bad_payloads_change_nothing_and_the_server_keeps_working(bus_setup, wait_until):
    client, edge = bus_setup
    rating_id = _serve_and_finish(client, edge, "w1")
    topic = T.dev_event("w1-eval")
    good = {
        "v": 1,
        "ts": 1,
        "edge": "e1",
        "stream": edge.stream,
        "event_id": "x1",
        "type": "rating",
        "data": {"rating_id": rating_id, "level": 2},
    }
    edge.publish(topic, b"{not json")
    edge.publish(topic, b"\xff\xfe")
    edge.publish(topic, json.dumps({**good, "v": 2, "seq": edge.next_seq()}).encode())
    edge.publish(topic, json.dumps([1, 2]).encode())
    edge.publish(topic, json.dumps({**good, "seq": 0}).encode())
    edge.publish(
        topic, json.dumps({**good, "seq": edge.next_seq(), "data": {"rating_id": rating_id, "level": 9}}).encode()
    )
    edge.publish(T.edge_status("e1"), b'{"v":1,"state":"online"}')
    before = client.get("/api/halls/h1/stats").json()
    assert client.get("/api/halls/h1/ratings").json() == []
    edge.event("w1-eval", "rating", {"rating_id": rating_id, "level": 4})
    _wait(wait_until, lambda: len(client.get("/api/halls/h1/ratings").json()) == 1)
    assert [r["level"] for r in client.get("/api/halls/h1/ratings").json()] == [4]
    assert client.get("/api/halls/h1/stats").json() == {**before, "ratings": 1}


def test_caller_key_call_next_calls_a_ticket_to_that_window(bus_setup, wait_until):
    client, edge = bus_setup
    ticket = client.post("/api/halls/h1/tickets", json={"matter": "social_card"}).json()
    edge.event("w2-caller", "key", {"key": "call_next"})
    called = _wait(
        wait_until, lambda: (t := client.get(f"/api/tickets/{ticket['id']}").json())["state"] == "called" and t
    )
    assert called["window"] == "w2"
    shown = edge.expect_command(T.dev_cmd("w2-screen", "show_text"))
    assert shown.args["text"] == "B001请到2号窗口"
    assert edge.expect_command(T.dev_cmd("w2-caller", "show_number")).args["text"] == "B001"
    edge.event("w2-caller", "key", {"key": "call_next"})  # still holding B001: refused, nothing changes
    edge.event("w2-caller", "key", {"key": "start"})
    _wait(wait_until, lambda: client.get(f"/api/tickets/{ticket['id']}").json()["state"] == "serving")
    hall = client.get("/api/halls/h1").json()
    assert {w["id"]: w["state"] for w in hall["windows"]} == {"w1": "offline", "w2": "serving"}


def test_edge_online_with_new_session_republishes_pending_commands(bus_setup, wait_until):
    client, edge = bus_setup
    ticket = client.post("/api/halls/h1/tickets", json={"matter": "biz_license"}).json()
    first = edge.expect_command(T.dev_cmd("p1", "print_ticket"))
    edge.online(session=1)  # the same session again: nothing to re-send
    edge.online(session=2)  # the edge reconnected: pending commands come again, same cmd_id
    again = edge.expect_command(T.dev_cmd("p1", "print_ticket"))
    assert again.cmd_id == first.cmd_id == ticket["print_cmd_id"]
    assert again.expires_at == first.expires_at
    edge.result("p1", first.cmd_id, "duplicate", original_status="ok")
    _wait(wait_until, lambda: client.get(f"/api/commands/{first.cmd_id}").json()["status"] == "ok")
    edge.online(session=3)  # nothing pending any more
    assert T.dev_cmd("p1", "print_ticket") not in edge.drain()


def test_stop_publishes_offline(broker, sqlite_url, hall_topology):
    settings = Settings(database_url=sqlite_url, mqtt_url=broker.url, mqtt_client_id="hs-stop")
    app = create_app(settings)
    with TestClient(app) as client:
        client.put("/api/topology", json=hall_topology(windows=1))
        assert app.state.bridge.wait_connected(10)
    edge = FakeEdge(broker.url)
    try:
        status = edge.status.get(timeout=5)
        assert status.state == "offline" and status.session >= 1
    finally:
        edge.close()


def test_metrics_say_how_far_behind_the_ingest_is(bus_setup, wait_until):
    """GIVEN key presses applied from the bus THEN GET /api/metrics counts them with their lag, and the
    queue is empty once they are applied."""
    client, edge = bus_setup
    before = client.get("/api/metrics").json()
    client.post("/api/halls/h1/tickets", json={"matter": "social_card"})
    edge.event("w1-caller", "key", {"key": "call_next"})
    edge.event("w2-caller", "key", {"key": "call_next"})
    after = _wait(wait_until, lambda: (m := client.get("/api/metrics").json())["ingest_lag"]["count"]
                  >= before["ingest_lag"]["count"] + 2 and m)  # fmt: skip
    lag = after["ingest_lag"]
    assert lag["p50_ms"] is not None and 0 <= lag["p50_ms"] <= lag["p95_ms"] <= lag["max_ms"] < 5000
    assert after["ingest_queue"] == 0 and after["window_s"] > 0
    assert set(after) >= {"ingest_batch", "round_late", "round_duration", "rounds_run"}

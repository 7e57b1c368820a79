"""Issue 2's journeys on real parts: ticket -> print, keypad CALL -> screen, FINISH -> rating, stored once."""

from __future__ import annotations

import sqlite3
import time
import uuid

import pytest

from hallbus.models import now_ms
from hallbus.topics import topics_for
from tests.e2e.conftest import BusSpy, Stack, wait_until

pytestmark = pytest.mark.e2e


def _call_and_finish(stack: Stack, window: str, number: str) -> int:
    """Press CALL on `window`'s keypad, see `number` on its screen, press FINISH; the rating id asked."""
    stack.hall.press(window, "call_next")
    wait_until(lambda: any(t.startswith(number) for t in stack.hall.screen_texts(window)), 10, f"{number} on screen")
    stack.hall.press(window, "finish")
    rating_id = stack.hall.wait_for_rating_request(window, timeout=10)
    assert rating_id is not None, "the evaluator was never asked for a rating"
    return rating_id


def test_ticket_call_finish_and_rating_travel_the_whole_path(stack: Stack) -> None:
    _journey(stack)


def test_the_journey_on_a_broker_enforcing_the_generated_acl(secure_stack: Stack) -> None:
    _journey(secure_stack)


def _journey(stack: Stack) -> None:
    ticket = stack.issue("E001")
    assert ticket["number"] == "A001"

    job = stack.hall.wait_for_printed(timeout=10)
    assert "A001" in job.text and "企业设立登记" in job.text and "长春市政务服务中心" in job.text
    assert job.qr_payloads == [ticket["qr"]]

    rating_id = _call_and_finish(stack, "w01", "A001")
    assert "A001" in stack.hall.screen_texts("w01")[-1] and "1号窗口" in stack.hall.screen_texts("w01")[-1]
    assert stack.hall.rate("w01", 5) == rating_id

    ratings = wait_until(stack.ratings, 10, "the rating stored")
    time.sleep(1.0)  # anything delivered twice would arrive by now
    ratings = stack.ratings()
    assert len(ratings) == 1
    rating = ratings[0]
    assert rating["rating_id"] == rating_id and rating["level"] == 5
    assert rating["window"] == "w01" and rating["clerk"]["staff_id"] == "cc-city-s01"
    assert rating["ticket_id"] == ticket["id"] and rating["ticket"] == "A001" and rating["visit"] is not None
    assert rating["matter"] == "E001"


def test_rating_survives_an_edge_killed_before_its_puback(stack: Stack) -> None:
    stack.issue("P001")
    rating_id = _call_and_finish(stack, "w01", "B001")
    stack.broker.stop()  # no PUBACK can come back now
    assert stack.hall.rate("w01", 4) == rating_id

    def rating_in_outbox() -> bool:
        with sqlite3.connect(stack.edge.db_path) as db:
            rows = db.execute("SELECT payload FROM outbox WHERE topic LIKE '%/event'").fetchall()
        return any(b'"rating"' in bytes(r[0]) for r in rows)

    wait_until(rating_in_outbox, 10, "the rating committed to the edge outbox")
    stack.edge.kill()  # SIGKILL between the key press and its PUBACK
    stack.broker.start()
    stack.restart_edge()

    wait_until(stack.ratings, 20, "the rating delivered after the restart")
    time.sleep(1.5)
    ratings = stack.ratings()
    assert [r["rating_id"] for r in ratings] == [rating_id]
    assert ratings[0]["level"] == 4


def test_redelivered_print_command_prints_one_ticket(stack: Stack) -> None:
    topics = topics_for(stack.hall_id)
    spy = BusSpy(stack.broker, topics.dev_result("kiosk1-printer"))
    try:
        command = {
            "v": 1,
            "ts": now_ms(),
            "cmd_id": str(uuid.uuid4()),
            "expires_at": now_ms() + 30_000,
            "args": {
                "hall_name": "长春市政务服务中心",
                "ticket_no": "Z901",
                "matter": "企业设立登记",
                "ahead": 0,
                "issued_at": now_ms(),
                "qr": "hall://cc-city/ticket/test",
            },
        }
        topic = topics.dev_cmd("kiosk1-printer", "print_ticket")
        cmd_id = command["cmd_id"]
        spy.publish(topic, command)
        spy.publish(topic, command)  # re-delivered while the first is still printing
        first = wait_until(lambda: spy.results_for(cmd_id), 10, "the first result")
        assert [r["status"] for r in first] == ["ok"]
        spy.publish(topic, command)  # re-delivered after it finished: answered from the table
        results = wait_until(lambda: len(spy.results_for(cmd_id)) >= 2 and spy.results_for(cmd_id), 10, "two results")
        time.sleep(0.5)
        results = spy.results_for(cmd_id)
        assert [r["status"] for r in results] == ["ok", "duplicate"]
        assert results[1]["original_status"] == "ok" and results[1]["data"] == results[0]["data"]
        assert sum("Z901" in job.text for job in stack.hall.printed()) == 1

        expired = {**command, "cmd_id": str(uuid.uuid4()), "expires_at": now_ms() - 1}
        expired["args"] = {**command["args"], "ticket_no": "Z902"}
        spy.publish(topic, expired)
        result = wait_until(lambda: spy.results_for(expired["cmd_id"]), 10, "the expired command's result")
        assert result[0]["status"] == "expired"

        # A retained command is live-delivered once (MQTT sets RETAIN=0 for existing subscribers); the danger
        # is its replay on every re-subscribe, which arrives with RETAIN=1 and must be refused.
        retained = {**command, "cmd_id": str(uuid.uuid4())}
        retained["args"] = {**command["args"], "ticket_no": "Z903"}
        spy.publish(topic, retained, retain=True)
        wait_until(lambda: spy.results_for(retained["cmd_id"]), 10, "the live delivery's result")
        stack.edge.stop()
        stack.restart_edge()
        replay = wait_until(lambda: len(spy.results_for(retained["cmd_id"])) >= 2, 20, "the replay's result")
        assert replay
        second = spy.results_for(retained["cmd_id"])[1]
        assert second["status"] == "rejected" and second["error"]["code"] == "retained_command"
        spy.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)  # delete the retained command
        time.sleep(0.5)
        assert not any("Z902" in job.text for job in stack.hall.printed())
        assert sum("Z903" in job.text for job in stack.hall.printed()) == 1
    finally:
        spy.close()


def test_broker_outage_mid_journey_loses_nothing_and_repeats_nothing(stack: Stack) -> None:
    first = stack.issue("E001")
    stack.hall.wait_for_printed(timeout=10)
    stack.broker.stop()
    second = stack.issue("E002")  # its print command waits for the broker
    stack.hall.press("w02", "call_next")  # the key event waits in the edge outbox
    time.sleep(3)
    stack.broker.start()

    wait_until(lambda: any(second["number"] in j.text for j in stack.hall.printed()), 30, "the second ticket printed")
    wait_until(lambda: any(t.startswith(first["number"]) for t in stack.hall.screen_texts("w02")), 30, "the call shown")
    time.sleep(2)
    assert sum(second["number"] in j.text for j in stack.hall.printed()) == 1
    assert sum(first["number"] in j.text for j in stack.hall.printed()) == 1
    assert sum(t.startswith(first["number"]) for t in stack.hall.screen_texts("w02")) == 1
    stats = stack.server.get(f"/api/halls/{stack.hall_id}/stats")
    assert stats["called"] == 1 and stats["double_calls"] == 0

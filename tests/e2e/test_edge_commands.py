"""The edge's command processing order (bus.md §5.3) seen from the wire: bad input changes nothing."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from hallbus.models import now_ms
from hallbus.topics import topics_for
from tests.e2e.conftest import BusSpy, Stack, wait_until

pytestmark = pytest.mark.e2e


def _command(**args: Any) -> dict[str, Any]:
    return {"v": 1, "ts": now_ms(), "cmd_id": str(uuid.uuid4()), "expires_at": now_ms() + 30_000, "args": args}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_commands_are_answered_and_change_nothing(stack: Stack) -> None:
    topics = topics_for(stack.hall_id)
    spy = BusSpy(stack.broker, f"hall/v1/{stack.hall_id}/+/+/result")
    try:
        shown_before = stack.hall.screen_texts("w01")
        too_long = _command(text="请" * 500)
        spy.publish(topics.dev_cmd("w01-screen", "show_text"), too_long)
        wrong_kind = _command(hall_name="x", ticket_no="A1", matter="m", ahead=0, issued_at=now_ms(), qr="q")
        spy.publish(topics.dev_cmd("w01-screen", "print_ticket"), wrong_kind)
        missing_expiry = {"v": 1, "ts": now_ms(), "cmd_id": str(uuid.uuid4()), "args": {"text": "A001"}}
        spy.publish(topics.dev_cmd("w01-screen", "show_text"), missing_expiry)
        spy.client.publish(topics.dev_cmd("w01-screen", "show_text"), b"\xff{not json", qos=1).wait_for_publish(5)
        spy.publish(topics.dev_cmd("w01-screen", "show_text"), {"v": 1, "args": {"text": "no id"}})

        def error_code(cmd: dict[str, Any]) -> str | None:
            results = spy.results_for(cmd["cmd_id"])
            return results[0]["error"]["code"] if results and results[0]["status"] == "rejected" else None

        assert wait_until(lambda: error_code(too_long), 10, "too long rejected") == "bad_args"
        assert wait_until(lambda: error_code(wrong_kind), 10, "wrong kind rejected") == "unknown_command"
        assert wait_until(lambda: error_code(missing_expiry), 10, "no expiry rejected") == "bad_args"

        good = _command(text="A009请到1号窗口")
        spy.publish(topics.dev_cmd("w01-screen", "show_text"), good)
        wait_until(lambda: spy.results_for(good["cmd_id"]), 10, "the good command's result")
        assert spy.results_for(good["cmd_id"])[0]["status"] == "ok"
        assert stack.hall.screen_texts("w01") == [*shown_before, "A009请到1号窗口"]
        assert stack.edge.running, "bad input must not take the edge down"
    finally:
        spy.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rebirth_republishes_inventory_and_answers_ok(stack: Stack) -> None:
    topics = topics_for(stack.hall_id)
    spy = BusSpy(stack.broker, f"hall/v1/{stack.hall_id}/#")
    try:
        time.sleep(0.3)
        spy.messages.clear()
        rebirth = _command()
        spy.publish(topics.edge_cmd(stack.plan.edge, "rebirth"), rebirth)
        wait_until(lambda: spy.results_for(rebirth["cmd_id"]), 10, "the rebirth result")
        assert spy.results_for(rebirth["cmd_id"])[0]["status"] == "ok"
        seen = {topic for topic, _ in spy.messages}
        assert topics.edge_inventory(stack.plan.edge) in seen
        assert all(topics.dev_availability(d.device_id) in seen for d in stack.plan.devices)
    finally:
        spy.close()

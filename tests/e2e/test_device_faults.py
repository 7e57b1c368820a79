"""Device faults seen through the whole stack: the edge notices, recovers by itself, loses nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from hallbus.models import now_ms
from hallbus.topics import topics_for
from tests.e2e.conftest import BusSpy, Stack, wait_until

pytestmark = pytest.mark.e2e


def _device(stack: Stack, device_id: str) -> dict:
    return next(d for d in stack.devices() if d["id"] == device_id)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_unplugged_screen_goes_offline_and_comes_back_by_itself(stack: Stack) -> None:
    stack.hall.link("w01-screen").unplug()
    wait_until(lambda: _device(stack, "w01-screen")["availability"] == "offline", 30, "the screen offline")
    assert _device(stack, "w01-screen")["available"] is False
    stack.hall.link("w01-screen").replug()
    wait_until(lambda: _device(stack, "w01-screen")["availability"] == "online", 30, "the screen online again")

    stack.issue("E001")
    stack.hall.press("w01", "call_next")
    shown = lambda: any(t.startswith("A001") for t in stack.hall.screen_texts("w01"))  # noqa: E731
    wait_until(shown, 10, "a call shown after replug")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rating_pressed_during_a_link_outage_is_delivered_once(stack: Stack) -> None:
    stack.issue("E001")
    stack.hall.press("w01", "call_next")
    wait_until(lambda: stack.hall.screen_texts("w01"), 10, "the call")
    stack.hall.press("w01", "finish")
    rating_id = stack.hall.wait_for_rating_request("w01", timeout=10)
    assert rating_id is not None
    link = stack.hall.link("w01-eval")
    link.unplug()
    assert stack.hall.rate("w01", 3) == rating_id  # kept in the evaluator's event queue
    time.sleep(2)
    assert stack.ratings() == []
    link.replug()
    wait_until(stack.ratings, 30, "the rating after the link returned")
    time.sleep(1)
    assert [(r["rating_id"], r["level"]) for r in stack.ratings()] == [(rating_id, 3)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_paper_out_during_a_print_fails_the_job_visibly(stack: Stack) -> None:
    stack.hall.printer.fail_after_bytes(40)
    ticket = stack.issue("P001")

    def print_status() -> str:
        return str(stack.server.get(f"/api/tickets/{ticket['id']}")["print_status"])

    wait_until(lambda: print_status() == "failed", 15, "the print reported failed")
    result = stack.server.get(f"/api/tickets/{ticket['id']}")["print"]
    assert result["error"]["code"] == "paper_out"
    assert stack.hall.printed() == [], "a failed job is not a printed ticket"
    wait_until(lambda: _device(stack, "kiosk1-printer")["state"].get("paper") == "out", 15, "paper out in state")
    # the ticket itself stays valid: the citizen keeps the number shown on the kiosk screen
    assert stack.server.get(f"/api/tickets/{ticket['id']}")["state"] == "waiting"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_paper_out_from_the_sim_topic_shows_in_hallctl_devices(stack: Stack) -> None:
    topic = topics_for(stack.hall_id).sim_control("kiosk1-printer")
    spy = BusSpy(stack.broker, topic)
    try:
        spy.publish(topic, {"v": 1, "ts": now_ms(), "action": "paper_out"})
    finally:
        spy.close()
    wait_until(lambda: _device(stack, "kiosk1-printer")["state"].get("paper") == "out", 15, "paper out on the server")
    shown = subprocess.run(
        [sys.executable, "-m", "hallctl", "devices", "--hall", stack.hall_id, "--server-url", stack.server.url],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    printer_row = next(line for line in shown.stdout.splitlines() if "kiosk1-printer" in line)
    assert "paper=out" in printer_row and "online" in printer_row
    assert json.dumps(stack.hall.control.refused if stack.hall.control else []) == "[]"

"""Priority classes, bookings, recall limit, hold, transfer, pause/resume, login/logout, keypad keys, rounds."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from hall_server.app import create_app
from hall_server.context import HallContext
from hall_server.dispatch import run_round
from hall_server.errors import ConflictError, InvalidError
from hall_server.settings import Settings
from hall_server.tickets import IssueRequest, check_in, create_booking, issue_ticket
from hall_server.windows import ActionParams, key_params, perform


def _act(ctx: HallContext, at: str, action: str, **params: Any) -> dict[str, Any]:
    with ctx.transaction() as session:
        return perform(ctx, session, "h1", at, action, "test", ActionParams(**params))


def _called(ctx: HallContext, window: str) -> str | None:
    ticket = _act(ctx, window, "call-next")["ticket"]
    return ticket["number"] if ticket else None


def test_priority_classes_then_fifo(make_ctx, sqlite_url, hall_topology):
    """GIVEN normal, green and booked tickets issued in a mixed order WHEN one window calls them
    THEN green first, then booked, then normal, each class first-in first-out."""
    ctx = make_ctx(sqlite_url, hall_topology(windows=1))
    with ctx.transaction() as session:
        create_booking(session, "h1", "bk-1", "biz_license", slot_at=0)
    numbers = [
        issue_ticket(ctx, "h1", IssueRequest("biz_license"))[0]["number"],  # A001 normal
        issue_ticket(ctx, "h1", IssueRequest("biz_license", priority="green"))[0]["number"],  # A002 green
        issue_ticket(ctx, "h1", IssueRequest("biz_license"))[0]["number"],  # A003 normal
    ]
    booked, created = check_in(ctx, "h1", "bk-1", at_ms=60_000)  # on time: 1 min after the slot
    assert created and booked["priority"] == "booked" and booked["booking_on_time"]
    assert check_in(ctx, "h1", "bk-1", at_ms=60_000)[0]["id"] == booked["id"]  # idempotent
    green2 = issue_ticket(ctx, "h1", IssueRequest("biz_license", priority="green"))[0]["number"]
    order = []
    for _ in range(5):
        order.append(_called(ctx, "w1"))
        _act(ctx, "w1", "finish")
    assert order == [numbers[1], green2, booked["number"], numbers[0], numbers[2]]


def test_late_check_in_is_a_normal_ticket(make_ctx, sqlite_url, hall_topology):
    ctx = make_ctx(sqlite_url, hall_topology(windows=1))
    with ctx.transaction() as session:
        create_booking(session, "h1", "bk-2", "social_card", slot_at=0)
        with pytest.raises(ConflictError):
            create_booking(session, "h1", "bk-2", "social_card", slot_at=5)
    view, _ = check_in(ctx, "h1", "bk-2", at_ms=3 * 3600 * 1000)
    assert view["priority"] == "normal" and view["booking"] == "bk-2"


def test_recall_limit_makes_no_show(make_ctx, sqlite_url, hall_topology):
    """GIVEN recall_limit 3 WHEN recall is pressed 4 times THEN 3 announcements, and the 4th makes it no_show."""
    ctx = make_ctx(sqlite_url, hall_topology(windows=1))
    issue_ticket(ctx, "h1", IssueRequest("biz_license"))
    _called(ctx, "w1")
    for n in (1, 2, 3):
        assert _act(ctx, "w1", "recall")["ticket"]["recalls"] == n
    last = _act(ctx, "w1", "recall")
    assert last["ticket"]["state"] == "no_show" and last["window"]["state"] == "idle"


def test_hold_returns_with_priority_after_its_timeout(make_ctx, sqlite_url, hall_topology):
    """GIVEN a serving ticket put on hold for 60 s and two tickets waiting WHEN the hold ends
    THEN the held ticket is back at the head of the queue, ahead of the earlier tickets."""
    ctx = make_ctx(sqlite_url, hall_topology(windows=1))
    first = issue_ticket(ctx, "h1", IssueRequest("biz_license"))[0]
    _called(ctx, "w1")
    _act(ctx, "w1", "start")
    held = _act(ctx, "w1", "hold", seconds=60)
    assert held["ticket"]["state"] == "held" and held["window"]["state"] == "idle"
    assert ("h1", held["ticket"]["held_until"]) in ctx.rounds.requested  # type: ignore[attr-defined]
    issue_ticket(ctx, "h1", IssueRequest("biz_license"))
    issue_ticket(ctx, "h1", IssueRequest("biz_license"))
    outcome = run_round(ctx, "h1", now=held["ticket"]["held_until"] - 1)
    assert outcome.assignments == [] and outcome.next_hold_at == held["ticket"]["held_until"]
    run_round(ctx, "h1", now=held["ticket"]["held_until"])  # the scheduler's wake-up at the hold's end
    assert _called(ctx, "w1") == first["number"]


def test_transfer_to_category_and_to_window(make_ctx, sqlite_url, hall_topology):
    """GIVEN an enterprise window, a citizen window and an all-subject window
    WHEN w1 transfers its ticket to category citizen THEN it heads the citizen queue (w2 gets it before
    an earlier citizen ticket); WHEN w2 transfers it to window w3 THEN only w3 gets it."""
    ctx = make_ctx(sqlite_url, hall_topology(windows=3, categories={1: ["enterprise"], 2: ["citizen"]}))
    ticket = issue_ticket(ctx, "h1", IssueRequest("biz_license"))[0]
    assert _called(ctx, "w1") == ticket["number"]
    citizen = issue_ticket(ctx, "h1", IssueRequest("social_card"))[0]
    with pytest.raises(InvalidError):
        _act(ctx, "w1", "transfer", category="nonexistent")
    moved = _act(ctx, "w1", "transfer", category="citizen")
    assert moved["ticket"]["state"] == "waiting" and moved["ticket"]["category"] == "citizen"
    assert moved["window"]["state"] == "idle"
    assert _called(ctx, "w2") == ticket["number"]
    moved = _act(ctx, "w2", "transfer", window="w3")
    assert moved["ticket"]["target_window"] == "w3"
    assert _called(ctx, "w2") == citizen["number"]  # w2 does not get the ticket addressed to w3
    assert _called(ctx, "w3") == ticket["number"]


def test_pause_resume_login_logout(make_ctx, sqlite_url, hall_topology):
    ctx = make_ctx(sqlite_url, hall_topology(windows=1))
    assert _act(ctx, "w1", "logout")["window"]["state"] == "offline"
    with pytest.raises(InvalidError):
        _act(ctx, "w1", "login")
    logged = _act(ctx, "w1", "login", staff_id="s9", name="王芳")["window"]
    assert logged["state"] == "idle" and logged["clerk"] == {"staff_id": "s9", "name": "王芳"}
    _act(ctx, "w1", "call-next")
    paused = _act(ctx, "w1", "pause", reason="lunch")["window"]
    assert paused["state"] == "paused" and paused["pause_reason"] == "lunch"
    ticket = issue_ticket(ctx, "h1", IssueRequest("biz_license"))[0]
    assert ticket["state"] == "waiting"  # a paused window takes nothing
    resumed = _act(ctx, "w1", "resume")  # it was ready when paused: ready again, and it takes the ticket
    assert resumed["ticket"]["number"] == ticket["number"]
    with pytest.raises(ConflictError):
        _act(ctx, "w1", "logout")
    _act(ctx, "w1", "finish")
    assert _act(ctx, "w1", "pause")["window"]["pause_reason"] is None
    assert _act(ctx, "w1", "resume")["window"]["state"] == "idle"


def test_keypad_arguments(make_ctx, sqlite_url, hall_topology):
    topo = hall_topology(windows=2)
    topo["halls"][0]["staff"] = [{"staff_id": "s1", "name": "李明"}, {"staff_id": "s2", "name": "张伟"}]
    ctx = make_ctx(sqlite_url, topo)
    with ctx.db.read() as session:
        assert key_params(session, "h1", "transfer", 2) == ActionParams(window="w2")
        assert key_params(session, "h1", "login", 1) == ActionParams(staff_id="s2", name="张伟")
        with pytest.raises(Exception, match="no staff entry"):
            key_params(session, "h1", "login", 5)


def test_rounds_run_from_the_scheduler_without_polling(sqlite_url, hall_topology, wait_until):
    """GIVEN a server with 50 ms rounds WHEN two windows press and a ticket is issued THEN a round,
    woken by those events, calls it; the API answers call-next with no ticket (the round decides later)."""
    settings = Settings(database_url=sqlite_url, dispatch_round_ms=50)
    with TestClient(create_app(settings)) as client:
        client.put("/api/topology", json=hall_topology(windows=2))
        assert client.post("/api/halls/h1/windows/w1/call-next").json()["ticket"] is None
        assert client.post("/api/halls/h1/windows/w2/call-next").json()["ticket"] is None
        ticket = client.post("/api/halls/h1/tickets", json={"matter": "biz_license"}).json()
        assert ticket["state"] == "waiting" and "predicted_wait_s" in ticket
        called = wait_until(lambda: client.get(f"/api/tickets/{ticket['id']}").json()["window"])
        assert called in ("w1", "w2")
        window = client.get(f"/api/halls/h1/windows/{called}").json()
        assert window["current_ticket_id"] == ticket["id"] and window["state"] == "called"
        [draw] = client.get("/api/halls/h1/audit", params={"action": "dispatch"}).json()
        assert draw["details"]["candidates"] == ["w1", "w2"] and draw["details"]["round"] == 1
        fair = client.get("/api/halls/h1/audit/fairness").json()
        assert fair["by_k"]["2"]["draws"] == 1
        held = client.post(f"/api/halls/h1/windows/{called}/hold", json={"seconds": 1}).json()
        assert held["ticket"]["state"] == "held"
        back = wait_until(lambda: client.get(f"/api/tickets/{ticket['id']}").json()["state"] == "called", timeout=10)
        assert back
        assert client.post("/api/halls/h1/windows/w1/transfer", json={"bogus": 1}).status_code == 422


def test_recovery_sweep_asks_only_where_a_round_could_call_someone(make_ctx, sqlite_url, hall_topology):
    """GIVEN rounds on and a window ready with nobody waiting THEN the recovery sweep leaves the hall alone
    (an idle hall costs it nothing); WHEN a ticket waits too (a wake-up lost) THEN it asks for a round."""
    from hall_server.rounds import RoundScheduler

    ctx = make_ctx(sqlite_url, hall_topology(windows=2))
    ctx.settings = Settings(database_url=sqlite_url, dispatch_round_ms=300)
    _act(ctx, "w1", "call-next")  # ready, nothing to call
    sweeper = RoundScheduler(ctx)  # not started: only its sweep is used
    sweeper._recover()
    assert sweeper._scheduled == {}
    issue_ticket(ctx, "h1", IssueRequest("biz_license"))
    sweeper._recover()
    assert list(sweeper._scheduled) == ["h1"]

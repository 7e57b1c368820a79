"""Fairness of the draw: uniform, no serial pattern, always inside the idle eligible set, and no timing edge.

GIVEN/WHEN/THEN in each docstring. Statistical tests use fixed bounds chosen so that a correct
dispatcher fails them with probability about 1e-3 (chi-square) or below 1e-5 (the timing bound).
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hall_server import audit
from hall_server.context import HallContext
from hall_server.dispatch import Candidate, Waiting, eligible, plan_round, run_round
from hall_server.fairness import chi2_sf, chi_square_independence, chi_square_uniform
from hall_server.models import Ticket, Window
from hall_server.tickets import IssueRequest, issue_ticket
from hall_server.topology import TopologyIn, apply
from hall_server.windows import perform

WINDOWS = [Candidate(f"w{i:02d}", ("all",)) for i in range(10)]
P_MIN = 0.001


def _rounds(ctx: HallContext, ms: int = 300) -> HallContext:
    ctx.settings = ctx.settings.model_copy(update={"dispatch_round_ms": ms})
    return ctx


def _act(ctx: HallContext, hall: str, window: str, action: str) -> dict[str, Any]:
    with ctx.transaction() as session:
        return perform(ctx, session, hall, window, action, actor="test")


def test_chi_square_sf_matches_tables():
    """GIVEN textbook critical values THEN the survival function returns their tail probabilities."""
    assert math.isclose(chi2_sf(3.841459, 1), 0.05, rel_tol=1e-5)
    assert math.isclose(chi2_sf(27.877, 9), 0.001, rel_tol=1e-3)
    assert math.isclose(chi2_sf(123.225, 99), 0.05, rel_tol=1e-4)
    assert math.isclose(chi2_sf(2.0, 2), math.exp(-1), rel_tol=1e-12)


def test_twenty_thousand_draws_over_ten_ready_windows_are_uniform():
    """GIVEN 10 ready all-subject windows WHEN the planner the server uses picks a window 20,000 times
    THEN the counts pass chi-square (p > 0.001), and consecutive picks show no serial pattern."""
    rng = secrets.SystemRandom()
    picks = [plan_round(rng, WINDOWS, [Waiting(1, "enterprise")])[0].window_id for _ in range(20_000)]
    counts = Counter(picks)
    _, df, p = chi_square_uniform([counts[w.id] for w in WINDOWS])
    assert df == 9 and p > P_MIN, counts
    index = {w.id: i for i, w in enumerate(WINDOWS)}
    table = [[0] * 10 for _ in range(10)]
    for a, b in itertools.pairwise(picks):
        table[index[a]][index[b]] += 1
    _, df, p = chi_square_independence(table)
    assert df == 81 and p > P_MIN
    # and against the uniform 1/100 for every pair (uniform and independent at once)
    _, df, p = chi_square_uniform([c for row in table for c in row])
    assert df == 99 and p > P_MIN


def test_chi_square_catches_a_window_favoured_by_twenty_percent():
    """GIVEN a biased chooser (one window 1.2x as likely) THEN the same test rejects it (the test has teeth)."""
    rng = secrets.SystemRandom()
    weights = [1.2] + [1.0] * 9
    counts = Counter(rng.choices(range(10), weights=weights, k=20_000))
    _, _, p = chi_square_uniform([counts[i] for i in range(10)])
    assert p < 0.05  # power is well above 0.99 at this size


def test_round_is_a_uniform_matching_of_head_tickets():
    """GIVEN 3 ready windows and 3 waiting tickets WHEN a round runs 6,000 times
    THEN all 6 ways to match them appear equally often."""
    rng = secrets.SystemRandom()
    ready = WINDOWS[:3]
    waiting = [Waiting(i, "enterprise") for i in range(3)]
    counts = Counter(tuple(d.window_id for d in plan_round(rng, ready, waiting)) for _ in range(6_000))
    assert len(counts) == 6
    _, _, p = chi_square_uniform(list(counts.values()))
    assert p > P_MIN


def test_end_to_end_draws_through_the_database_are_uniform(make_ctx, sqlite_url, hall_topology):
    """GIVEN 5 ready windows in a hall with rounds WHEN 600 tickets are dispatched one per round
    THEN the audited draws are uniform over the windows and each audit entry names its candidates and draw."""
    ctx = _rounds(make_ctx(sqlite_url, hall_topology(windows=5)))
    for i in range(1, 6):
        _act(ctx, "h1", f"w{i}", "call-next")
    now = 10_000_000
    for _ in range(600):
        issue_ticket(ctx, "h1", IssueRequest("biz_license"))
        now += 1000
        outcome = run_round(ctx, "h1", now=now)
        [made] = outcome.assignments
        assert made.candidates == ("w1", "w2", "w3", "w4", "w5")
        _act(ctx, "h1", made.window_id, "skip")
        _act(ctx, "h1", made.window_id, "call-next")
    with ctx.db.read() as session:
        entries = [e.details for e in audit.entries(session, "h1", "dispatch", limit=1000)]
    assert len(entries) == 600
    assert all(e["candidates"][e["draw"]] == e["window"] and e["k"] == 5 and e["rng"] for e in entries)
    assert len({e["round"] for e in entries}) == 600
    counts = Counter(e["window"] for e in entries)
    _, _, p = chi_square_uniform([counts[f"w{i}"] for i in range(1, 6)])
    assert p > P_MIN, counts


# --- property: the chosen window is always in the current idle eligible set ----------------------------

CATEGORY_SETS = [["all"], ["enterprise"], ["citizen"], ["enterprise", "citizen"]]
MATTER_CATEGORY = {"biz_license": "enterprise", "social_card": "citizen"}

_press = st.tuples(st.just("press"), st.integers(0, 4))
_issue = st.tuples(st.just("issue"), st.sampled_from(sorted(MATTER_CATEGORY)))
op_strategy = st.one_of(
    _press,
    _issue,
    _press,
    _issue,
    st.tuples(st.just("pause"), st.integers(0, 4)),
    st.tuples(st.just("resume"), st.integers(0, 4)),
    st.tuples(st.just("release"), st.integers(0, 4)),
    st.tuples(st.just("round"), st.just(0)),
)


class _Hall:
    counter = 0
    dispatches = 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cats=st.lists(st.sampled_from(range(len(CATEGORY_SETS))), min_size=1, max_size=5),
    ops=st.lists(op_strategy, min_size=12, max_size=40),
    round_ms=st.sampled_from([0, 300]),
)
def test_chosen_window_is_always_idle_and_eligible(make_ctx, sqlite_url, hall_topology, cats, ops, round_ms):
    """GIVEN any mix of window categories WHEN presses, issues, pauses, resumes, finishes and rounds happen
    in any order THEN every dispatch picks a window that was ready, idle and eligible at that moment, its
    candidate set is exactly those windows, and no window ever holds two tickets."""
    ctx = _shared_ctx(make_ctx, sqlite_url)
    ctx.settings = ctx.settings.model_copy(update={"dispatch_round_ms": round_ms})
    _Hall.counter += 1
    hall = f"p{_Hall.counter}"
    topo = hall_topology(hall=hall, windows=len(cats), categories={i + 1: CATEGORY_SETS[c] for i, c in enumerate(cats)})
    with ctx.transaction() as session:
        apply(session, TopologyIn.model_validate(topo), "test")
    with ctx.db.read() as session:
        last = session.scalar(select(func.max(audit.AuditEntry.id))) or 0
    now = 1_000_000
    script = [("press", i) for i in range(len(cats))] + list(ops) + [("round", 0)]
    for op, arg in script:
        with ctx.db.read() as session:
            ready = {
                w.id: list(w.categories)
                for w in session.scalars(select(Window).where(Window.hall_id == hall))
                if w.state == "ready" and w.current_ticket_id is None
            }
            windows = {w.id: w for w in session.scalars(select(Window).where(Window.hall_id == hall))}
        allowed = dict(ready)
        window_id = f"w{arg % len(cats) + 1}" if isinstance(arg, int) else ""
        try:
            if op == "issue":
                issue_ticket(ctx, hall, IssueRequest(str(arg)))
            elif op == "round":
                now += 1000
                run_round(ctx, hall, now=now)
            elif op == "release":
                w = windows[window_id]
                if w.current_ticket_id is not None:
                    _act(ctx, hall, window_id, "finish")
            else:
                if op in ("press", "resume"):
                    allowed[window_id] = list(windows[window_id].categories)
                _act(ctx, hall, window_id, {"press": "call-next", "pause": "pause", "resume": "resume"}[op])
        except Exception as exc:  # a refused action (409) changes nothing
            assert getattr(exc, "status_code", None) == 409, exc
        with ctx.db.read() as session:
            new = list(reversed(audit.entries(session, hall, "dispatch", limit=100)))
            new = [e for e in new if e.id > last]
            taken: set[str] = set()
            for entry in new:
                d = entry.details
                expected = sorted(w for w, c in allowed.items() if w not in taken and eligible(c, d["category"]))
                assert d["candidates"] == expected, (op, d, allowed)
                assert d["window"] in expected and d["candidates"][d["draw"]] == d["window"]
                taken.add(d["window"])
                _Hall.dispatches += 1
                last = entry.id
            per_window = session.execute(
                select(Ticket.window_id, func.count(Ticket.id))
                .where(Ticket.hall_id == hall, Ticket.state.in_(("called", "serving")))
                .group_by(Ticket.window_id)
            ).all()
            assert all(n == 1 for _, n in per_window)


_SHARED: dict[str, HallContext] = {}


def _shared_ctx(make_ctx, url: str) -> HallContext:
    """One migrated database for all Hypothesis examples (each example gets its own hall)."""
    if url not in _SHARED:
        _SHARED[url] = make_ctx(url, None)
    return _SHARED[url]


# --- timing attack ----------------------------------------------------------------------------------------


def _reset(ctx: HallContext, hall: str, ready: list[str]) -> None:
    """Test harness: close every ticket, make the `ready` windows ready and all others idle (one transaction)."""
    with ctx.transaction() as session:
        for ticket in session.scalars(select(Ticket).where(Ticket.hall_id == hall, Ticket.state != "done")):
            ticket.state = "done"
        for window in session.scalars(select(Window).where(Window.hall_id == hall)):
            window.current_ticket_id = None
            window.state = "ready" if window.id in ready else "idle"
            window.ready_at = 1 if window.id in ready else None


def test_timing_attack_gains_nothing(make_ctx, sqlite_url, hall_topology):
    """GIVEN 4 windows, one of them an attacker who presses CALL the instant a desirable ticket is issued,
    ahead of 3 racing windows (already ready, or pressing just after the attacker)
    WHEN 600 such tickets are dispatched in rounds
    THEN the attacker gets about 1/4 of them: within 4.5 standard deviations of 150 (P(fail) < 1e-5)."""
    ctx = _rounds(make_ctx(sqlite_url, hall_topology(windows=4)))
    attacker, others = "w4", ["w1", "w2", "w3"]
    trials, wins, now = 600, 0, 10_000_000
    for trial in range(trials):
        already_ready = trial % 2 == 0
        _reset(ctx, "h1", others if already_ready else [])
        issue_ticket(ctx, "h1", IssueRequest("biz_license"))  # the desirable one, alone in the queue
        _act(ctx, "h1", attacker, "call-next")  # the best possible moment: right after the issue
        assert _act(ctx, "h1", attacker, "call-next")["ticket"] is None  # pressing again changes nothing
        if not already_ready:
            for w in others:  # the others race, pressing just after the attacker
                _act(ctx, "h1", w, "call-next")
        now += 1000
        [made] = run_round(ctx, "h1", now=now).assignments
        assert made.candidates == ("w1", "w2", "w3", "w4")
        wins += made.window_id == attacker
    expected = trials / 4
    sd = math.sqrt(trials * 0.25 * 0.75)
    assert abs(wins - expected) <= 4.5 * sd, (wins, expected, sd)


def test_timing_attack_wins_every_time_without_rounds(make_ctx, sqlite_url, hall_topology):
    """GIVEN immediate dispatch (round 0 ms) WHEN the attacker presses right after the issue, before the others
    THEN the attacker always gets the ticket: the threat the rounds remove is real."""
    ctx = _rounds(make_ctx(sqlite_url, hall_topology(windows=4)), ms=0)
    for _ in range(20):
        _reset(ctx, "h1", [])
        issue_ticket(ctx, "h1", IssueRequest("biz_license"))
        assert _act(ctx, "h1", "w4", "call-next")["ticket"] is not None
        for w in ("w1", "w2", "w3"):
            assert _act(ctx, "h1", w, "call-next")["ticket"] is None

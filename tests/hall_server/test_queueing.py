"""Erlang C against known values, the fallback, /waits, nearby-hall recommendation, and `hallctl plan`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from hall_server import queueing
from hall_server.app import create_app
from hall_server.cli import app as cli_app
from hall_server.models import Ticket
from hall_server.settings import Settings


def test_erlang_c_known_values():
    """GIVEN c=2, λ=1, μ=1 THEN P(wait)=1/3 and Wq=1/3; GIVEN c=1 (M/M/1) THEN P(wait)=ρ and Wq=ρ/(μ-λ)."""
    assert math.isclose(queueing.erlang_c(2, 1.0), 1 / 3, rel_tol=1e-12)
    assert math.isclose(queueing.mean_wait(2, 1.0, 1.0), 1 / 3, rel_tol=1e-12)
    assert math.isclose(queueing.erlang_c(1, 0.5), 0.5, rel_tol=1e-12)
    assert math.isclose(queueing.mean_wait(1, 0.5, 1.0), 1.0, rel_tol=1e-12)
    assert math.isclose(queueing.erlang_b(2, 1.0), 0.2, rel_tol=1e-12)
    # textbook call-centre case: a = 10 erlangs, c = 11 -> P(wait) ≈ 0.6821
    assert math.isclose(queueing.erlang_c(11, 10.0), 0.6821, abs_tol=5e-4)
    # stable for a city-sized group where factorials would overflow
    big = queueing.erlang_c(400, 380.0)
    assert 0 < big < 1
    assert queueing.erlang_c(3, 3.0) == 1.0 and math.isinf(queueing.mean_wait(3, 3.0, 1.0))


def test_wait_percentiles():
    """GIVEN c=2, λ=1, μ=1 THEN P(W > t) = e^{-t}/3, so the 95th percentile is ln(20/3)."""
    assert math.isclose(queueing.wait_tail(2, 1.0, 1.0, 1.0), math.exp(-1) / 3, rel_tol=1e-12)
    assert math.isclose(queueing.wait_percentile(2, 1.0, 1.0, 0.95), math.log(20 / 3), rel_tol=1e-12)
    assert queueing.wait_percentile(2, 1.0, 1.0, 0.5) == 0.0  # two in three do not wait at all
    # 157 arrivals/h at 6 min service (a city centre's peak hour) needs about 20 windows for p95 <= 3 min
    c = queueing.windows_needed(157 / 3600, 1 / 360, 180.0)
    assert (
        queueing.wait_percentile(c, 157 / 3600, 1 / 360, 0.95)
        <= 180
        < queueing.wait_percentile(c - 1, 157 / 3600, 1 / 360, 0.95)
    )
    assert 18 <= c <= 22


def test_fallback():
    assert queueing.fallback_wait(10, 300.0, 5) == 600.0
    assert queueing.fallback_wait(3, 300.0, 0) == 900.0


def _topology(hall_topology) -> dict:
    near = hall_topology(hall="h1", windows=1)
    near["halls"][0].update({"lat": 43.8868, "lon": 125.3245, "district": "朝阳区"})
    close = hall_topology(hall="h2", windows=4)["halls"][0]
    close.update({"lat": 43.9000, "lon": 125.3300, "name": "朝阳区政务服务中心", "district": "朝阳区"})
    far = hall_topology(hall="h3", windows=4)["halls"][0]
    far.update({"lat": 44.5000, "lon": 126.0000, "name": "榆树市政务服务中心"})
    branch = hall_topology(hall="h4", windows=1, categories={1: ["citizen"]})["halls"][0]
    branch.update({"name": "社保分厅"})
    near["halls"] += [close, far, branch]
    return near


def test_state_wait_counts_the_departures_a_ticket_waits_for():
    """A free window takes the ticket at once; behind n tickets at c busy windows it waits n+1 departures."""
    mu = 1 / 300
    assert queueing.state_wait(ahead=0, idle=1, c=2, mu=mu) == 0.0
    assert queueing.state_wait(ahead=1, idle=2, c=2, mu=mu) == 0.0
    assert queueing.state_wait(ahead=0, idle=0, c=2, mu=mu) == pytest.approx(150.0)
    assert queueing.state_wait(ahead=3, idle=0, c=2, mu=mu) == pytest.approx(600.0)
    assert queueing.state_wait(ahead=3, idle=1, c=2, mu=mu) == pytest.approx(450.0)
    assert queueing.state_wait(ahead=3, idle=0, c=0, mu=mu) == pytest.approx(1200.0)  # no open window: one


def test_waits_and_recommendation(sqlite_url, hall_topology):
    """GIVEN a 1-window hall with 12 waiting enterprise tickets and a 4-window hall 1.6 km away with none
    WHEN another ticket is issued THEN its predicted wait is long (fallback), and the response suggests h2;
    /matters/{code}/halls lists the halls taking the matter nearest first, without the citizen-only branch."""
    with TestClient(create_app(Settings(database_url=sqlite_url, default_service_s=300))) as client:
        assert client.put("/api/topology", json=_topology(hall_topology)).status_code == 200
        assert client.get("/api/halls/h1").json()["location"]["district"] == "朝阳区"
        for _ in range(12):
            client.post("/api/halls/h1/tickets", json={"matter": "biz_license"})
        ticket = client.post("/api/halls/h1/tickets", json={"matter": "biz_license"}).json()
        assert ticket["wait_method"] == "fallback"
        assert ticket["predicted_wait_s"] == pytest.approx(12 * 300.0)  # 12 ahead x 5 min / 1 window
        alt = ticket["alternative"]
        assert alt["hall"] == "h2" and alt["predicted_wait_s"] == 0.0 and 1.0 < alt["distance_km"] < 2.0
        waits = client.get("/api/halls/h1/waits").json()["categories"]
        assert waits["enterprise"]["waiting"] == 13 and waits["enterprise"]["method"] == "fallback"
        assert waits["enterprise"]["open_windows"] == 0 and waits["enterprise"]["predicted_wait_s"] == 13 * 300.0
        assert set(waits) == {"enterprise", "citizen"}
        halls = client.get("/api/matters/biz_license/halls", params={"near": "h1"}).json()
        assert [h["hall"] for h in halls] == ["h1", "h2", "h3"]
        assert halls[0]["distance_km"] == 0.0 and halls[2]["distance_km"] > 50
        assert [h["hall"] for h in client.get("/api/matters/social_card/halls").json()] == ["h1", "h2", "h3", "h4"]
        assert client.get("/api/matters/nope/halls").status_code == 404
        assert client.get("/api/halls/h9/waits").status_code == 404


def test_erlang_c_method_from_observed_rates(sqlite_url, hall_topology):
    """GIVEN 15 arrivals over the last 58 minutes, 10 of them served in 5 min each, at 2 open windows
    THEN /waits uses Erlang C with λ ≈ 15.5/h, μ = 12/h (ρ ≈ 0.65): at least the Erlang C mean wait."""
    # history is rewritten below, behind the server's back: read the rates fresh every time
    settings = Settings(database_url=sqlite_url, default_service_s=300, rates_cache_s=0)
    with TestClient(create_app(settings)) as client:
        client.put("/api/topology", json=hall_topology(windows=2))
        ids = [client.post("/api/halls/h1/tickets", json={"matter": "biz_license"}).json()["id"] for _ in range(15)]
        ctx = client.app.state.ctx  # type: ignore[attr-defined]
        with ctx.transaction() as session:  # backdate: one arrival every 4 minutes, the first 10 served in 5 min
            for i, ticket_id in enumerate(ids):
                issued = ctx_now() - (58 - 4 * i) * 60_000
                values: dict = {"issued_at": issued, "queue_at": issued}
                if i < 10:
                    values.update(state="done", called_at=issued, finished_at=issued + 300_000)
                session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))
        client.post("/api/halls/h1/windows/w1/call-next")  # opens w1 (and calls a ticket)
        client.post("/api/halls/h1/windows/w2/login", json={"staff_id": "s2", "name": "n"})
        w = client.get("/api/halls/h1/waits").json()["categories"]["enterprise"]
        assert w["method"] == "erlang_c" and w["open_windows"] == 2
        assert w["arrival_rate_per_h"] == pytest.approx(15 * 60 / 58, rel=0.02)
        assert w["mean_service_s"] == 300.0
        lam, mu = w["arrival_rate_per_h"] / 3600, 1 / 300
        assert w["predicted_wait_s"] >= queueing.mean_wait(2, lam, mu) - 0.1
        assert w["steady_wait_s"] == pytest.approx(queueing.mean_wait(2, lam, mu), abs=0.1)
        # a new ticket's own estimate is conditional on what it finds: 4 ahead (+ itself), both windows busy
        ticket = client.post("/api/halls/h1/tickets", json={"matter": "biz_license"}).json()
        assert ticket["wait_method"] == "erlang_c"
        assert ticket["predicted_wait_s"] == pytest.approx((w["queue"] + 1) * 300 / 2, abs=1)


def ctx_now() -> int:
    from hallbus.models import now_ms

    return now_ms()


def test_plan_command(tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(cli_app, ["plan", "--arrivals-per-hour", "157", "--mean-service-min", "6", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)["halls"]
    assert 18 <= row["windows"] <= 22 and row["p95_wait_s"] <= 180
    csv_file = tmp_path / "arrivals.csv"
    csv_file.write_text("hall,arrivals_per_hour,mean_service_min\ncity,157,6\ncommunity,12,\n", encoding="utf-8")
    result = runner.invoke(cli_app, ["plan", str(csv_file), "--json"])
    rows = {r["hall"]: r for r in json.loads(result.output)["halls"]}
    assert rows["community"]["windows"] >= 2 and rows["community"]["mean_service_min"] == 6.0
    json_file = tmp_path / "arrivals.json"
    json_file.write_text(json.dumps({"a": 30, "b": 0}), encoding="utf-8")
    result = runner.invoke(cli_app, ["plan", str(json_file)])
    assert result.exit_code == 0 and "Windows needed" in result.output
    assert runner.invoke(cli_app, ["plan"]).exit_code != 0

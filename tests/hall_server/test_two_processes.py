"""Two real server processes on one PostgreSQL database: 50 windows, 5,000 tickets, no invariant broken.

Verified from the database, not from the responses: every number once, every ticket called once to one
window, no window with two overlapping calls, one audited draw per ticket.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from hall_server.models import AuditEntry, Ticket, VisitPeriod, Window
from hall_server.stats import double_calls
from simulators.broker import free_port

pytestmark = pytest.mark.pg

WINDOWS = 50
TICKETS = int(os.environ.get("HALL_TEST_TICKETS", "5000"))
ISSUERS = 10
ROUND_MS = 20


def _start(url: str, workdir: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (workdir / f"{name}.log").open("wb")
    env = {**os.environ, "HALL_DISPATCH_ROUND_MS": str(ROUND_MS), "HALL_SWEEP_INTERVAL_S": "5"}
    cmd = [sys.executable, "-m", "hall_server.cli", "server", "--port", str(port), "--database-url", url]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    return proc, f"http://127.0.0.1:{port}"


def _wait_healthy(proc: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base} not healthy")


@pytest.fixture
def two_servers(pg_url: str, tmp_path: Path) -> Iterator[list[str]]:
    started = [_start(pg_url, tmp_path, f"server{i}") for i in range(2)]
    try:
        for proc, base in started:
            _wait_healthy(proc, base)
        yield [base for _, base in started]
    finally:
        for proc, _ in started:
            proc.terminate()
        for proc, _ in started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.timeout(1200)
def test_two_server_processes_50_windows_5000_tickets(two_servers, pg_url, hall_topology):
    """GIVEN two server processes (rounds of 20 ms) sharing one PostgreSQL database and a hall of 50 windows
    WHEN 10 kiosks issue 5,000 tickets through both while 50 clerks press CALL and FINISH through both
    THEN the database shows 5,000 distinct numbers, each ticket called exactly once to one window, one
    audited draw per ticket, no window with two tickets at once, and nothing left in a window."""
    base = two_servers[0]
    assert httpx.put(f"{base}/api/topology", json=hall_topology(windows=WINDOWS), timeout=30).status_code == 200
    finished = threading.Semaphore(0)
    done_count = [0]
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    head_start = threading.Event()  # clerks begin once a fifth of the tickets wait, then both run together
    issued = [0]

    def issuer(i: int) -> None:
        with httpx.Client(base_url=two_servers[i % 2], timeout=60) as client:
            for _ in range(TICKETS // ISSUERS):
                r = client.post("/api/halls/h1/tickets", json={"matter": "biz_license"})
                if r.status_code != 201:
                    errors.append(f"issue {r.status_code} {r.text}")
                with lock:
                    issued[0] += 1
                    if issued[0] >= TICKETS // 5:
                        head_start.set()

    def clerk(i: int) -> None:
        window = f"w{i + 1}"
        head_start.wait(timeout=240)
        with httpx.Client(base_url=two_servers[i % 2], timeout=60) as client:
            while not stop.is_set():
                r = client.post(f"/api/halls/h1/windows/{window}/call-next")
                if r.status_code != 200:
                    errors.append(f"call-next {r.status_code} {r.text}")
                    return
                holding = r.json()["ticket"] is not None
                pause = 0.03
                while not holding and not stop.is_set():
                    time.sleep(pause)
                    pause = min(pause * 1.5, 0.5)  # an idle clerk looks less often (the queue may be empty)
                    holding = client.get(f"/api/halls/h1/windows/{window}").json()["current_ticket_id"] is not None
                if not holding:
                    return
                r = client.post(f"/api/halls/h1/windows/{window}/finish")
                if r.status_code != 200:
                    errors.append(f"finish {r.status_code} {r.text}")
                    return
                with lock:
                    done_count[0] += 1
                    if done_count[0] == TICKETS:
                        stop.set()
                finished.release()

    with ThreadPoolExecutor(max_workers=WINDOWS + ISSUERS) as pool:
        clerks = [pool.submit(clerk, i) for i in range(WINDOWS)]
        issuers = [pool.submit(issuer, i) for i in range(ISSUERS)]
        for f in issuers:
            f.result()
        stop.wait(timeout=280)
        stop.set()
        for f in clerks:
            f.result()
    assert not errors, errors[:5]
    assert done_count[0] == TICKETS

    engine = create_engine(pg_url)
    try:
        with Session(engine) as session:
            assert session.scalar(select(func.count(Ticket.id))) == TICKETS
            assert session.scalar(select(func.count(func.distinct(Ticket.number)))) == TICKETS
            assert set(session.scalars(select(Ticket.state).distinct())) == {"done"}
            called = session.execute(
                select(VisitPeriod.visit_id, func.count(VisitPeriod.id))
                .where(VisitPeriod.state == "called")
                .group_by(VisitPeriod.visit_id)
            ).all()
            assert len(called) == TICKETS and {n for _, n in called} == {1}
            draws = session.scalars(select(AuditEntry.details).where(AuditEntry.action == "dispatch")).all()
            assert len(draws) == TICKETS
            assert len({d["ticket_id"] for d in draws}) == TICKETS
            assert all(d["window"] in d["candidates"] for d in draws)
            assert double_calls(session, "h1") == 0
            assert session.scalar(select(func.count()).where(Window.current_ticket_id.is_not(None))) == 0
            per_window = dict(
                session.execute(select(Ticket.window_id, func.count(Ticket.id)).group_by(Ticket.window_id)).all()
            )
            assert len(per_window) == WINDOWS  # every window served
    finally:
        engine.dispose()

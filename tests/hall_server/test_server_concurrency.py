"""Many clerks pressing call-next at once, against two server instances sharing one database.

Two apps with their own engines and pools stand in for two server processes: their only common
ground is the database, so the hall lock, the conditional UPDATEs and the unique index must hold.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from hall_server.settings import Settings


def test_twenty_concurrent_call_next_from_ten_windows(database_url, live_server, hall_topology):
    """GIVEN 5 waiting tickets and 10 windows WHEN each window presses call-next twice at once
    THEN each ticket is called exactly once, to one window, and no window holds two tickets."""
    servers = [live_server(Settings(database_url=database_url)) for _ in range(2)]
    base = servers[0].url
    assert httpx.put(f"{base}/api/topology", json=hall_topology(windows=10)).status_code == 200
    issued = [httpx.post(f"{base}/api/halls/h1/tickets", json={"matter": "biz_license"}).json() for _ in range(5)]
    assert [t["state"] for t in issued] == ["waiting"] * 5

    presses = [(f"w{1 + i % 10}", servers[i % 2].url) for i in range(20)]
    barrier = threading.Barrier(len(presses))

    def press(job: tuple[str, str]) -> httpx.Response:
        window, url = job
        with httpx.Client(base_url=url, timeout=30) as client:
            barrier.wait()
            return client.post(f"/api/halls/h1/windows/{window}/call-next")

    with ThreadPoolExecutor(max_workers=len(presses)) as pool:
        responses = list(pool.map(press, presses))

    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses if r.status_code >= 500]
    tickets = httpx.get(f"{base}/api/halls/h1/tickets").json()
    assert [t["state"] for t in tickets] == ["called"] * 5
    holders = [t["window"] for t in tickets]
    assert len(set(holders)) == 5, holders
    hall = httpx.get(f"{base}/api/halls/h1").json()
    held = [w["current_ticket_id"] for w in hall["windows"] if w["current_ticket_id"] is not None]
    assert sorted(held) == sorted(t["id"] for t in tickets)
    assert {w["state"] for w in hall["windows"] if w["current_ticket_id"]} == {"called"}
    assert {w["state"] for w in hall["windows"] if not w["current_ticket_id"]} == {"ready"}
    draws = httpx.get(f"{base}/api/halls/h1/audit", params={"action": "dispatch"}).json()
    assert Counter(d["details"]["ticket"] for d in draws) == {t["number"]: 1 for t in tickets}
    stats = httpx.get(f"{base}/api/halls/h1/stats").json()
    assert stats["double_calls"] == 0 and stats["called"] == 5 and stats["waiting"] == 0
    for r in responses:  # a 409 only ever means "this window already holds a ticket"
        if r.status_code == 409:
            assert "finish or skip" in r.json()["detail"]

"""The in-process publish/subscribe: a committed change of a hall reaches that hall's subscribers and
the city stream, a rolled back one reaches nobody, and publishing from another thread is safe."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hall_server import live
from hall_server.app import create_app
from hall_server.models import Device
from hall_server.settings import Settings
from simulators.city import plan_halls, topology


def test_hub_delivers_from_another_thread_to_the_right_subscribers() -> None:
    async def run() -> tuple[dict, dict, bool]:
        hub = live.Hub()
        _, mine = hub.subscribe("a")
        _, city = hub.subscribe(live.ALL_HALLS)
        _, other = hub.subscribe("b")
        t = threading.Thread(target=hub.publish, args=("a", {"tickets"}))
        t.start()
        t.join()
        got = await asyncio.wait_for(mine.get(), 1)
        got_city = await asyncio.wait_for(city.get(), 1)
        await asyncio.sleep(0.05)
        return got, got_city, other.empty()

    got, got_city, other_empty = asyncio.run(run())
    assert got["hall"] == "a" and got["kinds"] == ["tickets"] and got_city == got and other_empty


def test_committed_changes_are_published_per_hall_and_rollbacks_are_not(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'hall.db'}", auth="off"))
    with TestClient(app) as client:
        client.put("/api/topology", json=topology(plan_halls(2))).raise_for_status()
        seen: list[tuple[str, set[str]]] = []
        hub: live.Hub = app.state.live
        hub.publish = lambda hall, kinds: seen.append((hall, set(kinds)))  # type: ignore[method-assign]

        client.post("/api/halls/cc-city/tickets", json={"matter": "E001"}).raise_for_status()
        assert ("cc-city", {"tickets", "commands"}) in [(h, k & {"tickets", "commands"}) for h, k in seen]
        assert all(h == "cc-city" for h, _ in seen)

        seen.clear()
        ctx = app.state.ctx
        with pytest.raises(RuntimeError), ctx.transaction() as session:
            session.get(Device, ("cc-nanguan", "kiosk1-printer")).state = {"paper": "out"}
            session.flush()
            raise RuntimeError("rolled back")
        assert seen == []

        with ctx.transaction() as session:
            session.get(Device, ("cc-nanguan", "kiosk1-printer")).state = {"paper": "out"}
        assert seen == [("cc-nanguan", {"devices"})]
        overview = client.get("/api/halls/cc-nanguan/overview").json()
        assert {"device": "kiosk1-printer", "kind": "ticket_printer", "alarm": "paper_out"} in overview["alarms"]


def test_stats_report_as_csv(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'hall.db'}", auth="off"))
    with TestClient(app) as client:
        client.put("/api/topology", json=topology(plan_halls(2))).raise_for_status()
        client.post("/api/halls/cc-city/tickets", json={"matter": "P001"}).raise_for_status()
        report = client.get("/api/stats/report").json()
        assert report["total"]["tickets"] == 1 and len(report["by_day"]) == 7
        csv = client.get("/api/stats/report", params={"format": "csv", "group": "hall"})
        assert csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.lstrip("\ufeff").splitlines()
        assert lines[0].startswith("hall,hall_name,tickets") and lines[1].startswith("cc-city,长春市政务服务中心,1,")
        assert client.get("/api/stats/report", params={"from": "2025-02-01", "to": "2025-01-01"}).status_code == 422
        matters = client.get("/api/matters").json()
        assert {m["subject"] for m in matters} == {"enterprise", "personal"}
        for path in ("/", "/kiosk/cc-city", "/clerk", "/halls/cc-city", "/display/cc-city", "/city", "/stats"):
            page = client.get(path)
            assert page.status_code == 200 and "<html" in page.text and "http" not in page.text.split("<body")[0]

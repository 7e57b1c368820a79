"""The city topology data file (simulators/data/city.json), its loader, and the `sim://` attachment."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from drivers.devices.base import DeviceSpec
from drivers.registry import open_device
from hall_server.topology import TopologyIn
from simulators import simport
from simulators.city import CENTRES, CITY_MATTERS, MATTERS, SERVER_DEVICE_KINDS, load_city, plan_halls, topology
from simulators.devices.hdp1_caller import CallerSimulator
from simulators.hall import build_simulator
from simulators.processes import ServerProcess

ID = re.compile(r"^[a-z0-9_-]{1,64}$")


def test_the_city_has_16_centres_and_179_community_centres() -> None:
    """GIVEN the data file WHEN loaded THEN 195 halls: the 16 centres of domain.md and 179 community centres."""
    plans = load_city()
    kinds = Counter(p.kind for p in plans)
    assert kinds == {"centre": 16, "community": 179}
    assert {(p.hall_id, p.name) for p in plans if p.kind == "centre"} == set(CENTRES)
    assert all(p.name.endswith("公共服务中心") for p in plans if p.kind == "community")
    assert len({p.hall_id for p in plans}) == 195
    assert all(ID.match(p.hall_id) for p in plans)


def test_about_1000_windows_and_7000_devices_with_unique_ids() -> None:
    plans = load_city()
    windows = sum(p.windows for p in plans)
    devices = sum(len(p.devices) for p in plans)
    assert 950 <= windows <= 1100
    assert 6500 <= devices <= 7500
    for p in plans:
        ids = [d.device_id for d in p.devices]
        assert len(ids) == len(set(ids)), p.hall_id
        assert all(ID.match(i) for i in ids)
        for w in p.window_ids():  # every window has its screen, caller keypad and evaluator
            assert {f"{w}-screen", f"{w}-caller", f"{w}-eval"} <= set(ids), (p.hall_id, w)
        assert any(d.kind == "ticket_printer" for d in p.devices)
        assert any(d.kind == "hall_screen" for d in p.devices)


def test_halls_are_in_changchun_with_categories_the_catalogue_knows() -> None:
    plans = load_city()
    categories = {m["category"] for m in CITY_MATTERS}
    for p in plans:
        assert p.lat is not None and p.lon is not None
        assert 43.3 < p.lat < 45.2 and 124.8 < p.lon < 127.2, p.hall_id
        assert p.district and 0.3 <= p.demand <= 2.0
        assert all(set(c) <= categories for c in p.categories.values())
    branch = {c for p in plans for cats in p.categories.values() for c in cats}
    assert branch == {"social_security", "medical_insurance", "vehicles"}
    assert all(not p.categories for p in plans if p.kind == "community")


def test_load_city_with_a_limit_mixes_both_kinds() -> None:
    assert [p.kind for p in load_city(4)] == ["centre", "community", "centre", "community"]


def test_the_demo_topology_is_unchanged() -> None:
    body = topology(plan_halls(2))
    assert body["matters"] == MATTERS
    assert set(body["halls"][0]) == {"id", "name", "windows", "devices"}
    assert body["halls"][0]["windows"][0]["clerk"]["staff_id"] == "cc-city-s01"


def test_city_topology_validates_and_lists_only_server_kinds() -> None:
    body = topology(load_city())
    doc = TopologyIn.model_validate(body)
    assert len(doc.halls) == 195
    kinds = {d.kind for h in doc.halls for d in h.devices}
    assert kinds <= SERVER_DEVICE_KINDS, "only kinds the server's topology knows"
    assert kinds >= {"ticket_printer", "window_screen", "caller", "evaluator", "hall_screen"}
    assert all(h.lat is not None and h.district for h in doc.halls)


def test_the_real_server_accepts_the_city(tmp_path: Path) -> None:
    """GIVEN `hallctl server` WHEN the whole city is PUT THEN it counts 195 halls and keeps locations."""
    server = ServerProcess(tmp_path, f"sqlite:///{tmp_path / 'hall.db'}", None).start()
    try:
        response = server.http.put("/api/topology", json=topology(load_city()), timeout=120)
        assert response.status_code == 200, response.text
        counts = response.json()
        assert counts["halls"] == 195
        assert counts["windows"] == sum(p.windows for p in load_city())
        hall = server.get("/api/halls/cm-nanguan-yongji")
        assert hall["location"]["district"] == "南关区" and hall["location"]["lat"] is not None
        assert len(server.get("/api/halls")) == 195
    finally:
        server.close()


def test_a_driver_opens_a_simulator_at_a_sim_url() -> None:
    """GIVEN a caller simulator registered at sim:// WHEN the HDP/1 driver polls it THEN it sees the key."""
    simport.install()
    plan = load_city(1)[0]
    device = next(d for d in plan.devices if d.kind == "caller")
    sim = build_simulator(device)
    assert isinstance(sim, CallerSimulator)
    url = simport.url_for("t-hall", device.device_id)
    simport.register(url, sim)
    try:
        driver = open_device(DeviceSpec(device.device_id, "caller", "hdp1", url, "hdp1-caller", address=0x10))
        driver.open()
        assert driver.probe()
        sim.press("call_next")
        events = driver.poll_events()
        assert [e.data.get("key") for e in events] == ["call_next"]
        driver.close()
    finally:
        simport.unregister(url)

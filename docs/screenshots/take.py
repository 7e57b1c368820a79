"""Take the screenshots of the web pages in docs/screenshots/ from a real stack with realistic activity.

    .venv/bin/python docs/screenshots/take.py [--out docs/screenshots]

Starts Mosquitto, `hallctl server`, one simulated hall with its `hallctl edge` (cc-city, 6 windows) and
five more halls in the topology (tickets only), lets citizens take tickets and clerks call, serve and
get rated for a while, then opens each page in headless Chromium (/usr/bin/chromium) and saves a PNG.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from simulators.broker import MosquittoBroker  # noqa: E402
from simulators.city import CLERK_NAMES, MATTERS, HallPlan, plan_halls, topology  # noqa: E402
from simulators.hall import SimulatedHall  # noqa: E402
from simulators.processes import EdgeProcess, ServerProcess  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def activity(server: ServerProcess, hall: SimulatedHall, plan: HallPlan, others: list[str], rng: random.Random) -> None:
    """Tickets in every hall; in the simulated hall clerks call, serve and get rated over the keypads."""
    for hall_id in others:
        for _ in range(rng.randrange(2, 14)):
            server.post(f"/api/halls/{hall_id}/tickets", {"matter": rng.choice(MATTERS)["code"]})
        for w in range(1, rng.randrange(2, 5)):
            server.post(
                f"/api/halls/{hall_id}/windows/w{w:02d}/login", {"staff_id": f"{hall_id}-s{w:02d}", "name": "张伟"}
            )
    for i, window in enumerate(plan.window_ids()):
        server.post(
            f"/api/halls/{plan.hall_id}/windows/{window}/login",
            {"staff_id": f"{plan.hall_id}-s{i + 1:02d}", "name": CLERK_NAMES[i % len(CLERK_NAMES)]},
        )
    for _ in range(14):
        server.post(f"/api/halls/{plan.hall_id}/tickets", {"matter": rng.choice(MATTERS)["code"]})
    levels = [5, 4, 5, 2, 5]
    for i, window in enumerate(plan.window_ids()[:5]):
        hall.press(window, "call_next")
        time.sleep(0.6)
        hall.press(window, "finish")
        rid = hall.wait_for_rating_request(window, timeout=10)
        if rid is not None:
            hall.rate(window, levels[i])
    for _ in range(8):
        server.post(f"/api/halls/{plan.hall_id}/tickets", {"matter": rng.choice(MATTERS)["code"]})
    for window in plan.window_ids()[:4]:
        hall.press(window, "call_next")
        time.sleep(0.5)
    hall.press(plan.window_ids()[0], "start")
    server.post(f"/api/halls/{plan.hall_id}/windows/w06/pause", {"reason": "meeting"})
    hall.printer.set_state("near_end")


def shoot(base: str, out: Path, hall_id: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(
            viewport={"width": 1440, "height": 900}, device_scale_factor=1, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = ctx.new_page()

        def snap(name: str, url: str, ready: str, full: bool = False, size: tuple[int, int] | None = None) -> None:
            if size:
                page.set_viewport_size({"width": size[0], "height": size[1]})
            page.goto(base + url)
            page.wait_for_selector(ready)
            page.wait_for_timeout(900)
            page.screenshot(path=str(out / f"{name}.png"), full_page=full)
            print("saved", out / f"{name}.png")

        snap("kiosk", f"/kiosk/{hall_id}", "#btn-enterprise", size=(1280, 1024))
        page.click("#btn-enterprise")
        page.click("[data-matter=E001]")
        page.wait_for_selector("[data-testid=ticket-number]:not(:empty)")
        page.wait_for_timeout(2500)
        page.screenshot(path=str(out / "kiosk-ticket.png"))
        print("saved kiosk-ticket")
        page.set_viewport_size({"width": 1440, "height": 900})
        page.goto(base + "/clerk")
        page.evaluate(
            "s => localStorage.setItem('hall.clerk', JSON.stringify(s))",
            {"hall": hall_id, "window": "w01", "staff_id": f"{hall_id}-s01", "name": "王芳"},
        )
        snap("clerk", "/clerk", "[data-testid=current-number]:not(:empty)")
        snap("dashboard", f"/halls/{hall_id}", "#windows .win", full=True)
        snap("display", f"/display/{hall_id}", "[data-testid=now-number]:not(:empty)", size=(1600, 900))
        snap("city", "/city", "#rows tr", size=(1440, 900))
        snap("stats", "/stats", "#kpi-tickets", full=True)
        page.goto(base + "/")
        page.evaluate("() => localStorage.setItem('hall.lang', 'en')")
        snap("dashboard-en", f"/halls/{hall_id}", "#windows .win", size=(1440, 900))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2018)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = MosquittoBroker(workdir=work / "broker").start()
        plan = HallPlan("cc-city", "长春市政务服务中心", windows=6)
        others = plan_halls(6)[1:]
        doc = topology([plan, *others])
        for h in doc["halls"][1:]:
            h["devices"] = []  # only the first hall has simulated devices
        server = ServerProcess(work, f"sqlite:///{work / 'hall.db'}", broker.url).start()
        hall = SimulatedHall(plan, seed=7)
        edge = None
        try:
            server.put("/api/topology", doc).raise_for_status()
            hall.listen_for_control("127.0.0.1", broker.port).ready.wait(5)
            edge = EdgeProcess(work, hall.edge_config(broker.url, work / "edge-state")).start()
            _wait(
                lambda: all(d["availability"] == "online" for d in server.get(f"/api/halls/{plan.hall_id}/devices")),
                60,
                "devices online",
            )
            activity(server, hall, plan, [h.hall_id for h in others], rng)
            _wait(
                lambda: any(
                    d["state"].get("paper") == "near_end" for d in server.get(f"/api/halls/{plan.hall_id}/devices")
                ),
                20,
                "paper near end",
            )
            shoot(server.url, args.out, plan.hall_id)
        finally:
            if edge is not None:
                edge.stop()
            server.close()
            hall.close()
            broker.stop()


if __name__ == "__main__":
    main()

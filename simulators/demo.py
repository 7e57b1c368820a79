"""`hallctl demo`: a simulated morning in a few service centres, through the whole real stack.

Citizens take tickets over the server's HTTP API (as the kiosk page does), clerks press CALL and
FINISH on simulated caller keypads, citizens press simulated evaluators. Everything between those
presses and the screens, printers and rating store is the real server, broker and edge agents.
The demo judges the run by what the devices showed, not by what the server says about itself.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import shutil
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from simulators.broker import AmqttBroker, MosquittoBroker, start_embedded_broker
from simulators.city import MATTERS, HallPlan, plan_halls, topology
from simulators.hall import SimulatedHall
from simulators.processes import EdgeProcess, ServerProcess

log = logging.getLogger(__name__)
NUMBER = re.compile(r"^([A-Z]\d{3,4})")


@dataclass
class DemoOptions:
    halls: int = 3
    windows: int = 4
    minutes: float = 60.0
    speed: float = 120.0
    mean_service_min: float = 6.0
    utilisation: float = 0.85
    rating_probability: float = 0.92
    workdir: Path = Path("var/demo")
    mqtt_url: str | None = None
    json_path: Path | None = None
    seed: int | None = None


@dataclass
class Summary:
    halls: int
    simulated_minutes: float
    speed: float
    tickets_issued: int = 0
    tickets_printed: int = 0
    called: int = 0
    served: int = 0
    ratings: int = 0
    not_rated: int = 0
    double_calls: int = 0
    lost_ratings: int = 0
    invented_ratings: int = 0
    wait_p50_s: float = 0.0
    wait_p95_s: float = 0.0
    duration_s: float = 0.0
    server_double_calls: int = 0
    printed_tickets_dir: str = ""
    broker: str = ""


@dataclass
class HallTally:
    """What one hall's devices and citizens saw."""

    issued: dict[str, float] = field(default_factory=dict)  # ticket number -> real time of issue
    called: dict[str, set[str]] = field(default_factory=dict)  # ticket number -> windows that showed it
    waits_s: list[float] = field(default_factory=list)
    served: int = 0
    rated: set[int] = field(default_factory=set)
    not_rated: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class CityDemo:
    def __init__(self, options: DemoOptions, console: Console | None = None) -> None:
        self.opt = options
        self.console = console or Console()
        self.rng = random.Random(options.seed)
        self.plans: list[HallPlan] = plan_halls(options.halls, options.windows)
        self.tally = {p.hall_id: HallTally() for p in self.plans}
        self.halls: dict[str, SimulatedHall] = {}
        self.edges: list[EdgeProcess] = []
        self.server: ServerProcess | None = None
        self.broker: MosquittoBroker | AmqttBroker | None = None
        self.stop_issuing = threading.Event()
        self.stop_calling = threading.Event()
        self.start_time = 0.0

    # -- time ------------------------------------------------------------------------------------
    def real_seconds(self, simulated_minutes: float) -> float:
        return simulated_minutes * 60.0 / self.opt.speed

    # -- set-up ------------------------------------------------------------------------------------
    def setup(self) -> None:
        work = self.opt.workdir
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        mqtt_url = self.opt.mqtt_url
        if mqtt_url is None:
            self.broker = start_embedded_broker(workdir=work / "broker")
            mqtt_url = self.broker.url
        self.mqtt_url = mqtt_url
        self.console.log(f"broker {mqtt_url} ({type(self.broker).__name__ if self.broker else 'external'})")
        self.server = ServerProcess(work, f"sqlite:///{work / 'hall.db'}", mqtt_url).start()
        self.console.log(f"hall server {self.server.url}")
        self.server.put("/api/topology", topology(self.plans)).raise_for_status()
        for plan in self.plans:
            hall = SimulatedHall(plan, seed=self.rng.randrange(1 << 30))
            self.halls[plan.hall_id] = hall
            config = hall.edge_config(mqtt_url, work / "edge-state")
            self.edges.append(EdgeProcess(work, config).start())
        self._wait_devices_online(timeout=60)

    def _wait_devices_online(self, timeout: float) -> None:
        assert self.server is not None
        deadline = time.monotonic() + timeout
        expected = sum(len(p.devices) for p in self.plans)
        online = 0
        while time.monotonic() < deadline:
            online = sum(
                1
                for p in self.plans
                for d in self.server.get(f"/api/halls/{p.hall_id}/devices")
                if d.get("availability") == "online"
            )
            if online == expected:
                self.console.log(f"all {expected} devices online")
                return
            time.sleep(0.25)
        raise RuntimeError(f"only {online} of {expected} devices came online; see {self.opt.workdir / 'logs'}")

    # -- citizens ------------------------------------------------------------------------------------
    def arrivals(self, plan: HallPlan) -> None:
        """Poisson arrivals sized to keep the windows busy at the chosen utilisation."""
        assert self.server is not None
        per_min = plan.windows * self.opt.utilisation / self.opt.mean_service_min
        tally = self.tally[plan.hall_id]
        while not self.stop_issuing.wait(self.real_seconds(self.rng.expovariate(per_min))):
            matter = self.rng.choice(MATTERS)["code"]
            response = self.server.post(f"/api/halls/{plan.hall_id}/tickets", {"matter": matter})
            with tally.lock:
                if response.status_code == 201:
                    tally.issued[response.json()["number"]] = time.monotonic()
                else:
                    tally.errors += 1
                    log.warning("hall %s: ticket refused: %s", plan.hall_id, response.text)

    # -- clerks --------------------------------------------------------------------------------------
    def clerk(self, plan: HallPlan, window: str) -> None:
        hall = self.halls[plan.hall_id]
        tally = self.tally[plan.hall_id]
        while not self.stop_calling.is_set():
            seen = hall.screen_texts(window)
            hall.press(window, "call_next")
            number = self._wait_for_call(hall, window, len(seen))
            if number is None:
                continue
            self._record_call(tally, number, window)
            service = self.rng.lognormvariate(math.log(self.opt.mean_service_min) - 0.125, 0.5)
            time.sleep(self.real_seconds(service))
            hall.press(window, "finish")
            with tally.lock:
                tally.served += 1
            self._citizen_rates(hall, tally, window)

    def _wait_for_call(self, hall: SimulatedHall, window: str, shown_before: int) -> str | None:
        while not self.stop_calling.is_set():
            texts = hall.screen_texts(window)
            for text in texts[shown_before:]:
                match = NUMBER.match(text)
                if match:
                    return match.group(1)
            time.sleep(0.02)
        return None

    def _record_call(self, tally: HallTally, number: str, window: str) -> None:
        with tally.lock:
            windows = tally.called.setdefault(number, set())
            first = not windows
            windows.add(window)
            issued = tally.issued.get(number)
            if first and issued is not None:
                tally.waits_s.append((time.monotonic() - issued) * self.opt.speed)

    def _citizen_rates(self, hall: SimulatedHall, tally: HallTally, window: str) -> None:
        rating_id = hall.wait_for_rating_request(window, timeout=5.0)
        if rating_id is None:
            log.warning("hall %s window %s: no rating request after finish", hall.plan.hall_id, window)
            return
        if self.rng.random() > self.opt.rating_probability:
            with tally.lock:
                tally.not_rated += 1
            return  # the citizen walks away: the request times out, nobody rated
        time.sleep(self.real_seconds(self.rng.uniform(0.05, 0.3)))
        level = self.rng.choices([5, 4, 3, 2, 1], weights=[80, 14, 4, 1.5, 0.5])[0]
        if hall.rate(window, level) == rating_id:
            with tally.lock:
                tally.rated.add(rating_id)

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> Summary:
        self.start_time = time.monotonic()
        try:
            self.setup()
            self._simulate()
            return self._summarise()
        finally:
            self.teardown()

    def _simulate(self) -> None:
        threads = [threading.Thread(target=self.arrivals, args=(p,), daemon=True) for p in self.plans]
        threads += [
            threading.Thread(target=self.clerk, args=(p, w), daemon=True) for p in self.plans for w in p.window_ids()
        ]
        for t in threads:
            t.start()
        end = time.monotonic() + self.real_seconds(self.opt.minutes)
        with Live(self._table(end), console=self.console, refresh_per_second=4, transient=False) as live:
            while time.monotonic() < end:
                time.sleep(0.25)
                live.update(self._table(end))
            self.stop_issuing.set()
            self.stop_calling.set()
            for t in threads:
                t.join(timeout=self.real_seconds(self.opt.mean_service_min * 4) + 5)
            self._settle(live, end)

    def _settle(self, live: Live, end: float) -> None:
        """Give the outboxes time to deliver every rating pressed; anything missing is lost."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if all(self._settled(p.hall_id) for p in self.plans):
                break
            time.sleep(0.25)
            live.update(self._table(end))
        live.update(self._table(end))

    def _settled(self, hall_id: str) -> bool:
        tally = self.tally[hall_id]
        printed = self.halls[hall_id].printed_count() >= len(tally.issued)
        return printed and self._stored_rating_ids(hall_id) >= tally.rated

    def _stored_rating_ids(self, hall_id: str) -> set[int]:
        assert self.server is not None
        return {int(r["rating_id"]) for r in self.server.get(f"/api/halls/{hall_id}/ratings")}

    def _table(self, end: float) -> Table:
        left = max(0.0, end - time.monotonic())
        simulated = self.opt.minutes - left * self.opt.speed / 60
        table = Table(title=f"模拟上午 · simulated morning  {simulated:5.1f} / {self.opt.minutes:.0f} min")
        for column in ("大厅 hall", "取号 issued", "打印 printed", "叫号 called", "办结 served", "评价 rated"):
            table.add_column(column, justify="right")
        for plan in self.plans:
            t = self.tally[plan.hall_id]
            with t.lock:
                row = [len(t.issued), self.halls[plan.hall_id].printed_count(), len(t.called), t.served, len(t.rated)]
            table.add_row(plan.name, *(str(v) for v in row))
        return table

    def _summarise(self) -> Summary:
        assert self.server is not None
        s = Summary(halls=len(self.plans), simulated_minutes=self.opt.minutes, speed=self.opt.speed)
        waits: list[float] = []
        for plan in self.plans:
            t = self.tally[plan.hall_id]
            hall = self.halls[plan.hall_id]
            stored = self._stored_rating_ids(plan.hall_id)
            stats = self.server.get(f"/api/halls/{plan.hall_id}/stats")
            s.tickets_issued += len(t.issued)
            s.tickets_printed += hall.printed_count()
            s.called += len(t.called)
            s.served += t.served
            s.ratings += len(stored)
            s.not_rated += t.not_rated
            s.double_calls += sum(1 for windows in t.called.values() if len(windows) > 1)
            s.lost_ratings += len(t.rated - stored)
            s.invented_ratings += len(stored - t.rated)
            s.server_double_calls += int(stats.get("double_calls", 0))
            waits += t.waits_s
        if waits:
            s.wait_p50_s = round(statistics.median(waits), 1)
            s.wait_p95_s = round(_percentile(waits, 95), 1)
        s.printed_tickets_dir = str(self._save_printed_tickets())
        s.duration_s = round(time.monotonic() - self.start_time, 1)
        s.broker = getattr(self, "mqtt_url", "")
        return s

    def _save_printed_tickets(self) -> Path:
        root = self.opt.workdir / "tickets"
        for hall_id, hall in self.halls.items():
            hall.save_printed(root / hall_id)
        return root

    def teardown(self) -> None:
        for edge in self.edges:
            edge.stop()
        if self.server is not None:
            self.server.close()
        for hall in self.halls.values():
            hall.close()
        if self.broker is not None:
            self.broker.stop()


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def print_summary(summary: Summary, console: Console) -> None:
    table = Table(title="演示结果 · demo summary")
    table.add_column("指标 figure")
    table.add_column("值 value", justify="right")
    for key, value in asdict(summary).items():
        style = "bold red" if key in ("double_calls", "lost_ratings", "invented_ratings") and value else ""
        table.add_row(key, str(value), style=style)
    console.print(table)


def write_json(summary: Summary, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(summary), ensure_ascii=False, indent=2), encoding="utf-8")


def run_demo(options: DemoOptions) -> Summary:
    console = Console()
    summary = CityDemo(options, console).run()
    print_summary(summary, console)
    if options.json_path is not None:
        write_json(summary, options.json_path)
    return summary



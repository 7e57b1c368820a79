"""One host process of the city twin: simulators, real edge agents and the people of a share of the halls.

    python -m simulators.twin_host <spec.json>

The host registers every simulator of its halls at a `sim://<hall>/<device>` URL (simulators/simport.py),
installs the pyserial handler, and runs one real `EdgeAgent` per hall in this process: each agent opens its
devices through the drivers' `SerialTransport` exactly as it would open ttys, speaks MQTT to Mosquitto with
its own paho client, and keeps its outbox in its own SQLite file. Per hall this costs one paho socket and
three SQLite descriptors, so 50 halls stay far below paho's select() limit (performance.md trap 4); there is
no pty, no simulator thread and no polling per simulator.

Citizens (one arrival thread per hall) take tickets over the server's HTTP API; clerks (one thread per
window) press keys on the caller simulators and watch their window screens; citizens press evaluators. The
host writes what it saw to `<dir>/result.json` and stops when the spec's end time has passed.

Protocol with the launcher (simulators/twin.py), all through files in the host's directory: the launcher
writes `spec.json`; the host writes `ready` once its edges run; the launcher writes `go.json` (the shared
start time) once the server sees every device online; the host writes `result.json` and exits.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import re
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from drivers.registry import load_profile
from simulators import simport
from simulators.city import CITY_MATTERS, HallPlan, load_city
from simulators.devices.bx5k_screen import Bx5kScreenSimulator
from simulators.devices.hdp1_caller import CallerSimulator
from simulators.devices.hdp1_evaluator import EvaluatorSimulator, NoRatingPending
from simulators.devices.id_reader import SamReaderSimulator
from simulators.devices.printer import PrinterSimulator
from simulators.devices.syn6288 import Syn6288Simulator

log = logging.getLogger(__name__)
NUMBER = re.compile(r"^([A-Z]{1,3}\d{3,4})")

#: relative arrival intensity by hour of the day (a morning peak, lunch dip, smaller afternoon peak)
HOURLY_PROFILE = {8: 0.9, 9: 1.45, 10: 1.35, 11: 1.0, 12: 0.55, 13: 0.85, 14: 1.1, 15: 1.0, 16: 0.75, 17: 0.45}
#: mean service minutes by matter category (lognormal, sigma 0.5): the mix averages about 6 minutes
SERVICE_MEAN_MIN = {"enterprise": 8.0, "personal": 5.0, "social_security": 6.0, "medical_insurance": 5.0,
                    "vehicles": 7.0}  # fmt: skip


def hourly_factor(hour: float) -> float:
    return HOURLY_PROFILE.get(int(hour) % 24, 0.3)


def mean_factor(start_hour: float, hours: float) -> float:
    """The profile's mean over the run (sampled every simulated minute), to scale arrivals to a utilisation."""
    steps = max(1, int(hours * 60))
    return sum(hourly_factor(start_hour + i / 60) for i in range(steps)) / steps


@dataclass
class HostSpec:
    index: int
    halls: list[str]
    server_url: str
    mqtt_url: str
    workdir: str
    speed: float
    hours: float
    start_hour: float = 8.5
    utilisation: float = 0.7
    seed: int = 1
    probe_interval_s: float = 30.0
    caller_poll_s: float = 0.25
    evaluator_poll_s: float = 0.5
    #: pooled device threads per hall's edge (edge/pool.py): a thread per device does not fit a city
    worker_threads: int = 2
    rating_probability: float = 0.9
    no_show_probability: float = 0.02
    pause_probability: float = 0.04
    mean_patience_min: float = 45.0
    balk_wait_min: float = 40.0
    log_level: str = "WARNING"
    #: scheduling niceness of the host: the hosts play the world, the server is what is measured. Linux
    #: shares CPU per thread, so five hosts of hundreds of threads left the one server process 0.4 of a
    #: core on two (measured in the whole-city run) and its lag, not the city, made the waits.
    nice: int = 10


@dataclass
class Visit:
    """One ticket as the citizens and clerks of the twin lived it; times are real `time.time()`."""

    hall: str
    number: str
    matter: str
    category: str
    issued_at: float
    predicted_wait_s: float | None
    wait_method: str | None
    leaves_at: float | None = None  # the citizen is gone from then on (balked, reneged or never came back)
    reason: str | None = None
    called_at: float | None = None
    window: str | None = None
    windows: list[str] = field(default_factory=list)
    outcome: str | None = None  # served | no_show
    service_s: float | None = None  # simulated seconds
    rating: int | None = None


@dataclass
class WindowTally:
    busy_s: float = 0.0  # simulated seconds called -> finished
    paused_s: float = 0.0
    served: int = 0
    skipped: int = 0
    pauses: int = 0


def build_simulator(kind: str, profile_name: str, address: int, seed: int) -> Any:
    profile = load_profile(profile_name)
    if kind == "ticket_printer":
        return PrinterSimulator(profile)
    if kind in ("window_screen", "hall_screen"):
        return Bx5kScreenSimulator(profile, address=address)
    if kind == "caller":
        return CallerSimulator(profile, address=address)
    if kind == "evaluator":
        return EvaluatorSimulator(profile, address=address)
    if kind == "id_reader":
        return SamReaderSimulator(profile, seed=seed, card=False)
    if kind == "voice":
        return Syn6288Simulator(profile)
    raise ValueError(f"no simulator for device kind {kind!r}")


def edge_config(plan: HallPlan, spec: HostSpec, state_dir: Path) -> dict[str, Any]:
    polls = {"caller": spec.caller_poll_s, "evaluator": spec.evaluator_poll_s}
    return {
        "hall": plan.hall_id,
        "edge": plan.edge,
        "mqtt_url": spec.mqtt_url,
        "state_dir": str(state_dir),
        "probe_interval_s": spec.probe_interval_s,
        "idle_wait_max_s": spec.probe_interval_s,
        "worker_threads": spec.worker_threads,
        "devices": [
            {
                "device_id": d.device_id,
                "kind": d.kind,
                "protocol": d.protocol,
                "url": simport.url_for(plan.hall_id, d.device_id),
                "profile": d.profile,
                "address": d.address,
                **({"poll_interval_s": polls[d.kind]} if d.kind in polls else {}),
            }
            for d in plan.devices
        ],
    }


class TwinHall:
    """One hall in this host: its simulators, its edge agent, its citizens and clerks."""

    def __init__(self, host: TwinHost, plan: HallPlan, seed: int) -> None:
        from edge.agent import EdgeAgent
        from edge.config import EdgeConfig

        self.host = host
        self.plan = plan
        self.spec = host.spec
        self.rng = random.Random(seed)
        self.sims: dict[str, Any] = {}
        self.endpoints: dict[str, simport.Endpoint] = {}
        for n, d in enumerate(plan.devices):
            sim = build_simulator(d.kind, d.profile, d.address, seed + n)
            self.sims[d.device_id] = sim
            self.endpoints[d.device_id] = simport.register(simport.url_for(plan.hall_id, d.device_id), sim)
        config = EdgeConfig.model_validate(edge_config(plan, self.spec, Path(self.spec.workdir) / "edge-state"))
        self.agent = EdgeAgent(config)
        self.visits: dict[str, Visit] = {}
        self.shown: dict[str, set[str]] = {}  # number -> windows whose screen showed it as a new call
        self.windows = {w: WindowTally() for w in plan.window_ids()}
        self.balked = 0
        self.refused = 0
        self.rating_outcomes: dict[str, int] = {}
        self.lock = threading.Lock()
        categories = {c for cats in plan.categories.values() for c in cats}
        self.matters = self._matter_mix(categories)

    def _matter_mix(self, branch_categories: set[str]) -> list[tuple[dict[str, str], float]]:
        """Which matters citizens bring here, with weights: enterprises go to service centres."""
        mix: list[tuple[dict[str, str], float]] = []
        for m in CITY_MATTERS:
            cat = m["category"]
            if cat == "enterprise":
                weight = 0.35 if self.plan.kind == "centre" else 0.0
            elif cat == "personal":
                weight = 0.45 if self.plan.kind == "centre" else 0.8
            elif cat in branch_categories:
                weight = 0.4
            else:
                weight = 0.1 if self.plan.kind == "community" and cat != "vehicles" else 0.0
            if weight > 0:
                mix.append((m, weight))
        return mix

    # -- the clock ------------------------------------------------------------------------------------
    def sim_hour(self, now: float) -> float:
        return self.spec.start_hour + (now - self.host.t0) * self.spec.speed / 3600

    def real(self, sim_seconds: float) -> float:
        return sim_seconds / self.spec.speed

    # -- citizens --------------------------------------------------------------------------------------
    def arrivals(self) -> None:
        """Poisson arrivals, thinned by the hour-of-day profile, scaled to the target utilisation."""
        spec = self.spec
        mean_service_s = (
            60 * sum(SERVICE_MEAN_MIN[m["category"]] * w for m, w in self.matters) / sum(w for _, w in self.matters)
        )
        base_per_s = self.plan.demand * self.plan.windows * spec.utilisation / mean_service_s
        base_per_s /= mean_factor(spec.start_hour, spec.hours)
        peak = base_per_s * max(HOURLY_PROFILE.values())
        while not self.host.stop_issuing.is_set():
            gap = self.rng.expovariate(peak)
            if self.host.stop_issuing.wait(self.real(gap)):
                return
            if self.rng.random() > hourly_factor(self.sim_hour(time.time())) / max(HOURLY_PROFILE.values()):
                continue  # thinning: this hour is quieter than the peak
            self._arrive()

    def _arrive(self) -> None:
        matters, weights = zip(*self.matters, strict=True)
        matter = self.rng.choices(matters, weights)[0]
        response = self._request_ticket(matter["code"])
        if response is None:
            with self.lock:
                self.refused += 1
            return
        now = time.time()
        if response.status_code not in (200, 201):
            with self.lock:
                self.refused += 1
            log.warning("hall %s: ticket refused: %s %s", self.plan.hall_id, response.status_code, response.text[:200])
            return
        body = response.json()
        predicted = body.get("predicted_wait_s")
        predicted_s = float(predicted) if isinstance(predicted, int | float) else None
        visit = Visit(
            self.plan.hall_id,
            body["number"],
            matter["code"],
            matter["category"],
            now,
            predicted_s,
            body.get("wait_method"),
        )
        spec = self.spec
        if predicted is not None and predicted * spec.speed > spec.balk_wait_min * 60 and self.rng.random() < 0.5:
            visit.leaves_at, visit.reason = now, "balked"  # saw the predicted wait and left with the ticket
        elif self.rng.random() < spec.no_show_probability:
            visit.leaves_at, visit.reason = now + self.real(self.rng.uniform(0, 600)), "no_show"
        else:
            patience = self.rng.expovariate(1 / (spec.mean_patience_min * 60))
            visit.leaves_at, visit.reason = now + self.real(max(patience, 15 * 60)), "reneged"
        with self.lock:
            self.visits[visit.number] = visit
            if visit.reason == "balked":
                self.balked += 1

    def _request_ticket(self, matter: str, attempts: int = 3) -> httpx.Response | None:
        """POST a ticket as a kiosk does: with a request id, sent again (same id) when the connection
        broke, so a retry never prints a second ticket (a kept-alive connection the server closed at
        that moment broke one request in a whole-city run)."""
        body = {"matter": matter, "request_id": uuid.uuid4().hex}
        for attempt in range(1, attempts + 1):
            try:
                return self.host.http.post(f"/api/halls/{self.plan.hall_id}/tickets", json=body)
            except httpx.TransportError as exc:
                log.warning("hall %s: ticket request failed (attempt %d): %s", self.plan.hall_id, attempt, exc)
            except httpx.HTTPError as exc:
                log.warning("hall %s: ticket request failed: %s", self.plan.hall_id, exc)
                return None
        return None

    # -- clerks ----------------------------------------------------------------------------------------
    def clerk(self, window: str) -> None:
        caller = self.sims[f"{window}-caller"]
        screen = self.sims[f"{window}-screen"]
        screen_end = self.endpoints[f"{window}-screen"]
        tally = self.windows[window]
        stop = self.host.stop_calling
        while not stop.is_set():
            if self.rng.random() < self.spec.pause_probability:
                self._pause(caller, tally)
            seen = len(screen.history)
            caller.press("call_next")
            number = self._wait_for_call(screen, screen_end, seen)
            if number is None:
                return
            self._serve(window, caller, number, tally)

    def _pause(self, caller: CallerSimulator, tally: WindowTally) -> None:
        minutes = self.rng.lognormvariate(math.log(6.0), 0.6)
        caller.press("pause")
        tally.pauses += 1
        self.host.stop_calling.wait(self.real(minutes * 60))
        tally.paused_s += minutes * 60
        caller.press("resume")

    def _wait_for_call(self, screen: Bx5kScreenSimulator, end: simport.Endpoint, seen: int) -> str | None:
        writes = end.writes
        while not self.host.stop_calling.is_set():
            writes = end.wait_writes(writes, 0.5)
            history = list(screen.history)
            for text in history[seen:]:
                match = NUMBER.match(text)
                if match:
                    return match.group(1)
            seen = len(history)
        return None

    def _serve(self, window: str, caller: CallerSimulator, number: str, tally: WindowTally) -> None:
        now = time.time()
        with self.lock:
            windows = self.shown.setdefault(number, set())
            windows.add(window)
            visit = self.visits.get(number)
            if visit is not None and visit.called_at is None:
                visit.called_at, visit.window = now, window
            if visit is not None:
                visit.windows = sorted(windows)
        gone = visit is not None and visit.leaves_at is not None and visit.leaves_at <= now
        if visit is None or gone:
            self._no_show(window, caller, visit, tally)
            return
        mean = SERVICE_MEAN_MIN.get(visit.category, 6.0) * 60
        service = self.rng.lognormvariate(math.log(mean) - 0.125, 0.5)
        if self.host.stop_calling.wait(self.real(service)):
            visit.outcome = "in_service"  # the day ended during the service: neither finished nor skipped
            return
        caller.press("finish")
        visit.outcome, visit.service_s = "served", service
        tally.served += 1
        tally.busy_s += service
        self._rate(window, visit)

    def _no_show(self, window: str, caller: CallerSimulator, visit: Visit | None, tally: WindowTally) -> None:
        """Nobody comes: the clerk recalls once, waits a little, then skips (the ticket becomes no_show)."""
        self.host.stop_calling.wait(self.real(30))
        caller.press("recall")
        self.host.stop_calling.wait(self.real(30))
        caller.press("skip")
        tally.skipped += 1
        tally.busy_s += 60
        if visit is not None:
            visit.outcome = "no_show"

    def _rate(self, window: str, visit: Visit) -> None:
        evaluator: EvaluatorSimulator = self.sims[f"{window}-eval"]
        end = self.endpoints[f"{window}-eval"]
        deadline = time.monotonic() + 3.0
        writes = end.writes
        rating_id = None
        while time.monotonic() < deadline and not self.host.stop_calling.is_set():
            rating_id = evaluator.pending_rating_id
            if rating_id is not None and rating_id not in self.host.rated_ids:
                break
            rating_id = None
            writes = end.wait_writes(writes, 0.2)
        if rating_id is None:
            if not self.host.stop_calling.is_set():
                self._count("no_request")
            return
        if self.rng.random() > self.spec.rating_probability:
            self.host.rated_ids.add(rating_id)  # handled: the next citizen waits for a request of their own
            self._count("declined")
            return
        self.host.stop_calling.wait(self.real(self.rng.uniform(3, 15)))
        level = self.rng.choices([5, 4, 3, 2, 1], weights=[82, 13, 3, 1.5, 0.5])[0]
        try:
            if evaluator.rate(level) == rating_id:
                visit.rating = level
                self.host.rated_ids.add(rating_id)
                self._count("rated")
            else:
                self._count("replaced")
        except NoRatingPending:
            self._count("expired")

    def _count(self, outcome: str) -> None:
        with self.lock:
            self.rating_outcomes[outcome] = self.rating_outcomes.get(outcome, 0) + 1

    # -- results ---------------------------------------------------------------------------------------
    def result(self) -> dict[str, Any]:
        with self.lock:
            return {
                "hall": self.plan.hall_id,
                "name": self.plan.name,
                "kind": self.plan.kind,
                "windows": self.plan.windows,
                "devices": len(self.plan.devices),
                "balked": self.balked,
                "refused": self.refused,
                "rating_outcomes": dict(self.rating_outcomes),
                "double_calls": sum(1 for ws in self.shown.values() if len(ws) > 1),
                "printed": sum(len(s.jobs) for s in self.sims.values() if isinstance(s, PrinterSimulator)),
                "window_tally": {w: asdict(t) for w, t in self.windows.items()},
                "visits": [asdict(v) for v in self.visits.values()],
            }


class TwinHost:
    def __init__(self, spec: HostSpec) -> None:
        self.spec = spec
        self.dir = Path(spec.workdir) / "hosts" / f"{spec.index:02d}"
        self.t0 = 0.0
        self.stop_issuing = threading.Event()
        self.stop_calling = threading.Event()
        self.rated_ids: set[int] = set()
        token = os.environ.get("HALL_API_TOKEN", "")
        self.http = httpx.Client(
            base_url=spec.server_url,
            headers={"Authorization": f"Bearer {token}"} if token else None,
            timeout=60.0,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )
        plans = {p.hall_id: p for p in load_city()}
        simport.install()
        rng = random.Random(spec.seed * 1000 + spec.index)
        self.halls = [TwinHall(self, plans[h], rng.randrange(1 << 30)) for h in spec.halls]

    def run(self) -> None:
        for hall in self.halls:
            hall.agent.start()
        (self.dir / "ready").write_text("ready\n")
        go = self.dir / "go.json"
        while not go.exists():
            time.sleep(0.2)
        self.t0 = float(json.loads(go.read_text())["t0"])
        end = self.t0 + self.spec.hours * 3600 / self.spec.speed
        threads = [threading.Thread(target=h.arrivals, daemon=True, name=f"citizens-{h.plan.hall_id}")
                   for h in self.halls]  # fmt: skip
        threads += [threading.Thread(target=h.clerk, args=(w,), daemon=True, name=f"clerk-{h.plan.hall_id}-{w}")
                    for h in self.halls for w in h.plan.window_ids()]  # fmt: skip
        time.sleep(max(0.0, self.t0 - time.time()))
        for t in threads:
            t.start()
        time.sleep(max(0.0, end - time.time()))
        self.stop_issuing.set()
        self.stop_calling.set()
        for t in threads:
            t.join(timeout=5)
        time.sleep(float(json.loads(go.read_text()).get("settle_s", 5.0)))  # let outboxes deliver the last ratings
        result = {"index": self.spec.index, "t0": self.t0, "end": end, "halls": [h.result() for h in self.halls]}
        tmp = self.dir / "result.json.tmp"
        tmp.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.dir / "result.json")

    def close(self) -> None:
        for hall in self.halls:
            hall.agent.stop()
        self.http.close()


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    spec = HostSpec(**json.loads(Path(args[0]).read_text(encoding="utf-8")))
    host_dir = Path(spec.workdir) / "hosts" / f"{spec.index:02d}"
    logging.basicConfig(
        filename=host_dir / "host.log",
        level=getattr(logging, spec.log_level.upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    if spec.nice:
        os.nice(spec.nice)
    host = TwinHost(spec)
    try:
        host.run()
    finally:
        host.close()


if __name__ == "__main__":
    main()

"""`hallctl simulate`: a digital twin of the city, on the real server, real edge agents and Mosquitto.

Processes (performance.md: the load, the traps):

- Mosquitto (a child; never amqtt: it does not scale to a city);
- `hallctl server` (one process, SQLite by default or `--database-url`);
- `--hosts` host processes (`python -m simulators.twin_host`), each holding a share of the halls, balanced
  by device count: every simulator of those halls attached in-process at a `sim://` URL, one real
  `EdgeAgent` per hall (one paho client each), and that share's citizens and clerks. A host holds about
  5 descriptors per hall, so even 100 halls in one host stay far below paho's select() limit;
- this launcher, which starts them, waits until the server sees every device online, gives all hosts one
  start time, collects what they saw and asks the server for its own figures (stats, ratings).

The simulated clock runs at `--speed` simulated seconds per real second from `--start-hour` (08:30).
Arrivals are Poisson, thinned by an hour-of-day profile with a morning peak and scaled so windows are busy
`--utilisation` of the day on average; service times are lognormal by matter (mean about 6 min); clerks
pause now and then; citizens balk at long predicted waits, renege after their patience runs out or do not
come back, and a clerk who calls someone who is gone recalls once and skips.

The report (`report.md`, `report.json`, PNG charts) gives waits p50/p95 per hall and for the city,
utilisation, satisfaction, double calls (must be 0), and the mean absolute error of the server's predicted
wait (`predicted_wait_s` at issue, scaled by the speed) against the realised wait.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simulators.broker import MosquittoBroker
from simulators.city import HallPlan, load_city, topology
from simulators.processes import ServerProcess
from simulators.twin_host import HostSpec

log = logging.getLogger(__name__)


@dataclass
class TwinOptions:
    halls: int | None = None  # None: all 195
    hall_ids: list[str] | None = None  # these halls instead (tests pick small ones)
    hours: float = 8.0
    speed: float = 60.0
    report: Path = Path("var/twin/report")
    workdir: Path = Path("var/twin")
    hosts: int = 0  # 0: one per ~40 halls, at least 1, at most 6
    database_url: str | None = None
    mqtt_url: str | None = None  # an external Mosquitto; default: start one
    start_hour: float = 8.5
    utilisation: float = 0.7
    seed: int = 2018
    probe_interval_s: float = 30.0
    caller_poll_s: float = 0.25
    evaluator_poll_s: float = 0.5
    online_timeout_s: float = 600.0
    settle_s: float = 5.0
    charts: bool = True


@dataclass
class TwinResult:
    report_dir: str
    halls: int
    windows: int
    devices: int
    hosts: int
    simulated_hours: float
    speed: float
    duration_s: float = 0.0
    setup_s: float = 0.0
    run_s: float = 0.0
    tickets_issued: int = 0
    called: int = 0
    served: int = 0
    no_show: int = 0
    balked: int = 0
    refused: int = 0
    left_waiting: int = 0
    wait_p50_s: float | None = None
    wait_p95_s: float | None = None
    utilisation: float | None = None
    satisfaction: float | None = None
    ratings_pressed: int = 0
    ratings_stored: int = 0
    double_calls: int = 0
    server_double_calls: int = 0
    predicted_mae_s: float | None = None
    predicted_mae_s_util_le_09: float | None = None
    predicted_samples: int = 0
    #: how far behind the server fell (GET /api/metrics, polled during the run; real milliseconds)
    server_ingest_lag_p95_ms: float | None = None
    server_round_late_p95_ms: float | None = None
    server_ingest_queue_max: int = 0
    server_cores: float | None = None
    server_kept_up: bool | None = None
    per_hall: list[dict[str, Any]] = field(default_factory=list)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def split_hosts(plans: list[HallPlan], hosts: int) -> list[list[HallPlan]]:
    """Halls into `hosts` groups of about equal device count (largest first, into the lightest group)."""
    groups: list[list[HallPlan]] = [[] for _ in range(hosts)]
    weights = [0] * hosts
    for plan in sorted(plans, key=lambda p: -len(p.devices)):
        i = weights.index(min(weights))
        groups[i].append(plan)
        weights[i] += len(plan.devices)
    return [g for g in groups if g]


class ServerLag:
    """Watches the server's own lags during the run, so the report can say whether the waits measure the
    city or a server that fell behind it (hall_server/metrics.py)."""

    EVERY_S = 5.0

    def __init__(self) -> None:
        self.ingest_p95: list[float] = []
        self.round_p95: list[float] = []
        self.queue_max = 0
        self._cpu0 = self._t0 = self._next = 0.0
        self.cores: float | None = None

    def start(self, server: ServerProcess) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = server.cpu_seconds()
        window_s = float(server.get("/api/metrics")["window_s"])  # how many seconds the server's figures cover
        self._next = self._t0 + max(self.EVERY_S, window_s)

    def poll(self, server: ServerProcess, force: bool = False) -> None:
        """Read the server's lags; not before one metrics window into the day, whose figures still hold
        the devices' births (applied before the start: the set-up's lag, not the city's)."""
        if time.monotonic() < self._next and not force:
            return
        self._next = time.monotonic() + self.EVERY_S
        try:
            m = server.get("/api/metrics")
        except Exception as exc:  # a busy server answering late is itself a finding, not a failure
            log.warning("server metrics unavailable: %s", exc)
            return
        for key, into in (("ingest_lag", self.ingest_p95), ("round_late", self.round_p95)):
            if m[key]["p95_ms"] is not None:
                into.append(float(m[key]["p95_ms"]))
        self.queue_max = max(self.queue_max, int(m.get("ingest_queue", 0)))
        self.cores = (server.cpu_seconds() - self._cpu0) / max(1e-3, time.monotonic() - self._t0)

    def into(self, r: TwinResult, speed: float) -> None:
        """The worst p95 seen; the server kept up if it never fell a simulated minute behind."""
        r.server_ingest_lag_p95_ms = max(self.ingest_p95, default=None)
        r.server_round_late_p95_ms = max(self.round_p95, default=None)
        r.server_ingest_queue_max = self.queue_max
        r.server_cores = round(self.cores, 2) if self.cores is not None else None
        worst = max(r.server_ingest_lag_p95_ms or 0.0, r.server_round_late_p95_ms or 0.0)
        r.server_kept_up = worst * speed / 1000 <= 60 if self.ingest_p95 else None


class CityTwin:
    def __init__(self, options: TwinOptions) -> None:
        self.opt = options
        self.plans = load_city(options.halls)
        if options.hall_ids:
            wanted = set(options.hall_ids)
            self.plans = [p for p in load_city() if p.hall_id in wanted]
            if len(self.plans) != len(wanted):
                raise ValueError(f"unknown hall ids: {sorted(wanted - {p.hall_id for p in self.plans})}")
        hosts = options.hosts or min(6, max(1, math.ceil(len(self.plans) / 40)))
        self.groups = split_hosts(self.plans, hosts)
        self.broker: MosquittoBroker | None = None
        self.server: ServerProcess | None = None
        self.procs: list[subprocess.Popen[bytes]] = []
        self.host_dirs: list[Path] = []
        self.lag = ServerLag()

    def run(self) -> TwinResult:
        started = time.monotonic()
        try:
            self._setup()
            setup_done = time.monotonic()
            results = self._simulate()
            result = self._summarise(results)
            self.lag.into(result, self.opt.speed)
            result.setup_s = round(setup_done - started, 1)
            result.run_s = round(time.monotonic() - setup_done, 1)
            result.duration_s = round(time.monotonic() - started, 1)
            write_report(result, results, self.opt)
            return result
        finally:
            self._teardown()

    # -- set-up ---------------------------------------------------------------------------------------
    def _setup(self) -> None:
        work = self.opt.workdir
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        mqtt_url = self.opt.mqtt_url
        if mqtt_url is None:
            self.broker = MosquittoBroker(workdir=work / "broker").start()
            mqtt_url = self.broker.url
        self.mqtt_url = mqtt_url
        speed = self.opt.speed
        env = {  # the server's real-time windows, scaled to the simulated clock
            "HALL_ARRIVAL_WINDOW_S": str(max(60, int(3600 / speed))),
            "HALL_DEFAULT_SERVICE_S": str(max(0.01, 360.0 / speed)),
            "HALL_ALTERNATIVE_MIN_SAVING_S": str(600.0 / speed),
            "HALL_ALTERNATIVE_CACHE_S": str(60.0 / speed),  # one simulated minute
            "HALL_RATES_CACHE_S": str(60.0 / speed),
            "HALL_LOG_LEVEL": "WARNING",
        }
        database_url = self.opt.database_url or f"sqlite:///{work / 'hall.db'}"
        self.server = ServerProcess(work, database_url, mqtt_url, env=env).start()
        self._put_topology()
        for i, group in enumerate(self.groups):
            host_dir = work / "hosts" / f"{i:02d}"
            host_dir.mkdir(parents=True)
            spec = HostSpec(
                index=i, halls=[p.hall_id for p in group], server_url=self.server.url, mqtt_url=mqtt_url,
                workdir=str(work), speed=speed, hours=self.opt.hours, start_hour=self.opt.start_hour,
                utilisation=self.opt.utilisation, seed=self.opt.seed, probe_interval_s=self.opt.probe_interval_s,
                caller_poll_s=self.opt.caller_poll_s, evaluator_poll_s=self.opt.evaluator_poll_s,
            )  # fmt: skip
            (host_dir / "spec.json").write_text(json.dumps(asdict(spec)), encoding="utf-8")
            out = open(host_dir / "stdout.log", "ab")  # noqa: SIM115 - the child owns it until it exits
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "simulators.twin_host", str(host_dir / "spec.json")],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    # the API token travels in the environment, never in a file the spec is written to
                    env={**os.environ, "HALL_API_TOKEN": self.server.admin_token},
                )
            )
            self.host_dirs.append(host_dir)
        self._wait_ready()

    def _put_topology(self) -> None:
        assert self.server is not None
        http = self.server.http
        response = http.put("/api/topology", json=topology(self.plans), timeout=300)
        if response.status_code == 422:
            log.warning("server refused hall locations; sending the topology without lat/lon/district")
            response = http.put("/api/topology", json=topology(self.plans, location=False), timeout=300)
        response.raise_for_status()

    def _wait_ready(self) -> None:
        assert self.server is not None
        deadline = time.monotonic() + self.opt.online_timeout_s
        expected = sum(len(p.devices) for p in self.plans)
        online = 0
        while time.monotonic() < deadline:
            self._check_hosts()
            if all((d / "ready").exists() for d in self.host_dirs):
                online = sum(
                    1
                    for p in self.plans
                    for d in self.server.get(f"/api/halls/{p.hall_id}/devices")
                    if d.get("availability") == "online"
                )
                if online >= expected:
                    log.info("all %d devices online", expected)
                    # the day starts once the births are applied: a day behind a queue of thousands of
                    # messages would measure the backlog, not the city
                    self.server.wait_drained(max(0.0, deadline - time.monotonic()))
                    return
            time.sleep(1.0)
        raise RuntimeError(f"only {online} of {expected} devices came online; see {self.opt.workdir}")

    def _check_hosts(self) -> None:
        for proc, d in zip(self.procs, self.host_dirs, strict=True):
            if proc.poll() is not None and not (d / "result.json").exists():
                raise RuntimeError(f"twin host {d.name} exited with {proc.returncode}; see {d / 'host.log'}")

    # -- the run --------------------------------------------------------------------------------------
    def _simulate(self) -> list[dict[str, Any]]:
        t0 = time.time() + 1.0
        for d in self.host_dirs:
            (d / "go.json").write_text(json.dumps({"t0": t0, "settle_s": self.opt.settle_s}))
        end = t0 + self.opt.hours * 3600 / self.opt.speed
        deadline = end + self.opt.settle_s + 120 + 60 * len(self.plans) / 50
        assert self.server is not None
        self.lag.start(self.server)
        final_polled = False
        while time.monotonic() < deadline + time.monotonic() - time.time():
            if all((d / "result.json").exists() for d in self.host_dirs):
                break
            self._check_hosts()
            if time.time() < end:
                self.lag.poll(self.server)
            elif not final_polled:  # the day's last window, also for days shorter than one window
                self.lag.poll(self.server, force=True)
                final_polled = True
            time.sleep(0.5)
        results = []
        for d in self.host_dirs:
            path = d / "result.json"
            if not path.exists():
                raise RuntimeError(f"twin host {d.name} wrote no result; see {d / 'host.log'}")
            results += json.loads(path.read_text(encoding="utf-8"))["halls"]
        return results

    def _summarise(self, halls: list[dict[str, Any]]) -> TwinResult:
        assert self.server is not None
        opt = self.opt
        r = TwinResult(
            report_dir=str(opt.report), halls=len(self.plans), windows=sum(p.windows for p in self.plans),
            devices=sum(len(p.devices) for p in self.plans), hosts=len(self.groups), simulated_hours=opt.hours,
            speed=opt.speed,
        )  # fmt: skip
        all_waits: list[float] = []
        errors: list[float] = []
        errors_ok: list[float] = []
        busy = open_s = 0.0
        levels: list[int] = []
        for hall in halls:
            stats = self.server.get(f"/api/halls/{hall['hall']}/stats")
            stored = self.server.get(f"/api/halls/{hall['hall']}/ratings")
            visits = hall["visits"]
            waits = [(v["called_at"] - v["issued_at"]) * opt.speed for v in visits if v["outcome"] == "served"]
            tally = hall["window_tally"].values()
            hall_busy = sum(t["busy_s"] for t in tally)
            hall_open = len(hall["window_tally"]) * opt.hours * 3600 - sum(t["paused_s"] for t in tally)
            util = hall_busy / hall_open if hall_open > 0 else 0.0
            pred = [
                abs(v["predicted_wait_s"] * opt.speed - (v["called_at"] - v["issued_at"]) * opt.speed)
                for v in visits
                if v["outcome"] == "served" and v["predicted_wait_s"] is not None
            ]
            pressed = [v["rating"] for v in visits if v["rating"] is not None]
            levels += pressed
            errors += pred
            if util <= 0.9:
                errors_ok += pred
            all_waits += waits
            busy += hall_busy
            open_s += hall_open
            r.tickets_issued += len(visits)
            r.called += sum(1 for v in visits if v["called_at"] is not None)
            r.served += sum(1 for v in visits if v["outcome"] == "served")
            r.no_show += sum(1 for v in visits if v["outcome"] == "no_show")
            r.left_waiting += sum(1 for v in visits if v["called_at"] is None)
            r.balked += hall["balked"]
            r.refused += hall["refused"]
            r.double_calls += hall["double_calls"]
            r.server_double_calls += int(stats.get("double_calls", 0))
            # a key pressed for a request other than the one the citizen expected is still a rating pressed
            pressed_n = len(pressed) + int(hall["rating_outcomes"].get("replaced", 0))
            r.ratings_pressed += pressed_n
            r.ratings_stored += len(stored)
            r.per_hall.append({
                "hall": hall["hall"], "name": hall["name"], "kind": hall["kind"], "windows": hall["windows"],
                "devices": hall["devices"], "issued": len(visits),
                "served": sum(1 for v in visits if v["outcome"] == "served"),
                "no_show": sum(1 for v in visits if v["outcome"] == "no_show"),
                "wait_p50_s": round(statistics.median(waits), 1) if waits else None,
                "wait_p95_s": round(percentile(waits, 95), 1) if waits else None,
                "utilisation": round(util, 3), "mae_s": round(statistics.fmean(pred), 1) if pred else None,
                "double_calls": hall["double_calls"], "server_double_calls": int(stats.get("double_calls", 0)),
                "ratings_pressed": pressed_n,
                "ratings_stored": len(stored),
            })  # fmt: skip
        if all_waits:
            r.wait_p50_s = round(statistics.median(all_waits), 1)
            r.wait_p95_s = round(percentile(all_waits, 95), 1)
        r.utilisation = round(busy / open_s, 3) if open_s else None
        r.satisfaction = round(sum(1 for x in levels if x >= 4) / len(levels), 4) if levels else None
        r.predicted_samples = len(errors)
        r.predicted_mae_s = round(statistics.fmean(errors), 1) if errors else None
        r.predicted_mae_s_util_le_09 = round(statistics.fmean(errors_ok), 1) if errors_ok else None
        return r

    def _teardown(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self.server is not None:
            self.server.close()
        if self.broker is not None:
            self.broker.stop()


def write_report(result: TwinResult, halls: list[dict[str, Any]], opt: TwinOptions) -> None:
    out = opt.report
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(asdict(result), ensure_ascii=False, indent=1), encoding="utf-8")
    charts = _charts(halls, result, opt) if opt.charts else []
    (out / "report.md").write_text(_markdown(result, charts), encoding="utf-8")


def _fmt_min(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def _fmt_ms(ms: float | None) -> str:
    return "–" if ms is None else f"{ms:.0f} ms"


def _kept_up(r: TwinResult) -> str:
    if r.server_kept_up is None:
        return "The server's lag was not measured."
    if r.server_kept_up:
        return "**The server kept up** (never a simulated minute behind): the waits are the city's."
    return (
        "**The server fell behind the city** (more than a simulated minute at times): the waits include "
        "the server's lag, so they overstate the city's; run slower (`--speed`) or fewer halls for the city's own."
    )


def _markdown(r: TwinResult, charts: list[str]) -> str:
    lines = [
        "# City twin report",
        "",
        f"{r.halls} halls, {r.windows} windows, {r.devices} simulated devices on {r.hosts} host processes; "
        f"{r.simulated_hours:g} simulated hours at speed {r.speed:g}; took {r.duration_s:.0f} s "
        f"(set-up {r.setup_s:.0f} s, run {r.run_s:.0f} s).",
        "",
        "| Figure | Value |",
        "| --- | --- |",
        f"| Tickets issued | {r.tickets_issued} |",
        f"| Called / served / no-show (skipped) | {r.called} / {r.served} / {r.no_show} |",
        f"| Left waiting at the end | {r.left_waiting} |",
        f"| Balked (left at the predicted wait) | {r.balked} |",
        f"| Ticket requests refused or failed | {r.refused} |",
        f"| **City wait p50 / p95** | **{_fmt_min(r.wait_p50_s)} / {_fmt_min(r.wait_p95_s)}** |",
        f"| Utilisation (busy / open window time) | {r.utilisation} |",
        f"| Satisfaction (满意 or 非常满意 among ratings pressed) | {r.satisfaction} |",
        f"| Ratings pressed / stored by the server | {r.ratings_pressed} / {r.ratings_stored} |",
        f"| **Double calls** (screens / server stats) | **{r.double_calls} / {r.server_double_calls}** |",
        f"| Predicted wait MAE, all halls ({r.predicted_samples} tickets) | {_fmt_min(r.predicted_mae_s)} |",
        "| Predicted wait MAE, halls at utilisation <= 0.9 (target <= 2 min) | "
        f"{_fmt_min(r.predicted_mae_s_util_le_09)} |",
        f"| Server behind the city, worst p95: ingest / dispatch round (real ms) | "
        f"{_fmt_ms(r.server_ingest_lag_p95_ms)} / {_fmt_ms(r.server_round_late_p95_ms)} |",
        f"| Server CPU in the run (cores) / deepest ingest queue | {r.server_cores} / {r.server_ingest_queue_max} |",
        "",
        _kept_up(r),
        "",
    ]  # fmt: skip
    lines += [f"![{c}]({c})" for c in charts]
    header = (
        "| Hall | Kind | Windows | Issued | Served | No-show | Wait p50 | Wait p95 | Utilisation | MAE | Double calls |"
    )
    lines += ["", "## Per hall", "", header, "| --- " * 11 + "|"]
    for h in sorted(r.per_hall, key=lambda h: h["hall"]):
        lines.append(
            f"| {h['hall']} {h['name']} | {h['kind']} | {h['windows']} | {h['issued']} | {h['served']} | "
            f"{h['no_show']} | {_fmt_min(h['wait_p50_s'])} | {_fmt_min(h['wait_p95_s'])} | {h['utilisation']} | "
            f"{_fmt_min(h['mae_s'])} | {h['double_calls']}/{h['server_double_calls']} |"
        )
    return "\n".join(lines) + "\n"


def _save(plt: Any, fig: Any, path: Path) -> str:
    """Write one chart and free its figure; the file name, for the report's list of charts."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _charts(halls: list[dict[str, Any]], r: TwinResult, opt: TwinOptions) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = opt.report
    names: list[str] = []
    served = [v for h in halls for v in h["visits"] if v["outcome"] == "served"]
    waits_min = [(v["called_at"] - v["issued_at"]) * opt.speed / 60 for v in served]

    fig, ax = plt.subplots(figsize=(8, 4))
    if waits_min:
        ax.hist(waits_min, bins=60, color="#3b6ea5")
        if r.wait_p95_s is not None:
            ax.axvline(r.wait_p95_s / 60, color="#c0392b", linestyle="--", label=f"p95 {r.wait_p95_s / 60:.1f} min")
            ax.legend()
    ax.set(title="Waits, whole city", xlabel="wait (simulated minutes)", ylabel="tickets")
    names.append(_save(plt, fig, out / "waits.png"))

    fig, ax = plt.subplots(figsize=(10, 4))
    per_hall = sorted((h for h in r.per_hall if h["wait_p95_s"] is not None), key=lambda h: -h["wait_p95_s"])
    ax.bar(range(len(per_hall)), [h["wait_p95_s"] / 60 for h in per_hall],
           color=["#c0392b" if h["kind"] == "centre" else "#3b6ea5" for h in per_hall])  # fmt: skip
    ax.set(title="Wait p95 per hall (red: service centres)", xlabel="halls, worst first", ylabel="minutes")
    names.append(_save(plt, fig, out / "wait_p95_by_hall.png"))

    fig, ax = plt.subplots(figsize=(6, 6))
    pairs = [((v["called_at"] - v["issued_at"]) * opt.speed / 60, v["predicted_wait_s"] * opt.speed / 60)
             for v in served if v["predicted_wait_s"] is not None]  # fmt: skip
    if pairs:
        real, pred = zip(*pairs, strict=True)
        ax.scatter(real, pred, s=3, alpha=0.3)
        top = max(max(real), max(pred), 1)
        ax.plot([0, top], [0, top], color="#999", linewidth=1)
    ax.set(title="Predicted against realised wait", xlabel="realised (min)", ylabel="predicted at issue (min)")
    names.append(_save(plt, fig, out / "predicted_vs_realised.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    t0 = min((v["issued_at"] for h in halls for v in h["visits"]), default=0.0)
    hours = [opt.start_hour + (v["issued_at"] - t0) * opt.speed / 3600 for h in halls for v in h["visits"]]
    if hours:
        ax.hist(hours, bins=max(1, int(opt.hours * 4)), color="#27ae60")
    ax.set(title="Arrivals by hour of day", xlabel="hour", ylabel="tickets per 15 min")
    names.append(_save(plt, fig, out / "arrivals.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.hist([h["utilisation"] for h in r.per_hall], bins=20, color="#8e44ad")
    ax.set(title="Utilisation per hall", xlabel="busy / open window time", ylabel="halls")
    names.append(_save(plt, fig, out / "utilisation.png"))
    return names


def run_twin(options: TwinOptions) -> TwinResult:
    return CityTwin(options).run()

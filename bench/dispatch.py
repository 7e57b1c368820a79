"""Dispatch benchmarks (a script, not a test), following docs/performance.md and the design's rules.

    .venv/bin/python bench/dispatch.py [--reps 5] [--samples 400] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

1. Throughput per server process: one hall of 10 全科 windows; a client thread per window runs
   issue -> call-next (dispatch) -> finish over HTTP. Reported as tickets issued + dispatched per second,
   with GET /api/health per second measured right before as the baseline (same server, same run), on
   SQLite and on PostgreSQL (a database created and dropped here).
2. Latency keypad CALL -> window screen frame: one hall, simulators attached in-process at `sim://` URLs,
   a real EdgeAgent in this process, the real server and Mosquitto. t0 = the simulator's key press, t1 =
   the moment the window-screen simulator received its frame. Baseline, interleaved in the same run: the
   bare two-hop round trip paho -> Mosquitto -> paho -> Mosquitto -> paho with TCP_NODELAY on both sides.

Each repetition interleaves measurement and baseline; the medians over repetitions are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hallbus.connection import set_nodelay
from simulators import simport
from simulators.broker import MosquittoBroker
from simulators.city import HallPlan, topology
from simulators.processes import ServerProcess
from simulators.twin_host import build_simulator

WINDOWS = 10


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * p / 100))]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": pct(values, 50), "p99": pct(values, 99), "max": max(values)}


STAGES = ("press_to_event_on_bus", "event_to_command_on_bus", "command_to_frame")


def stage_summary(stages: list[tuple[float, float, float]]) -> dict[str, dict[str, float]]:
    """p50/p99 of each stage: the edge (poll, outbox, publish), the server (ingest, dispatch, commit,
    publish) and the edge again (command, processed-command commit, driver, serial write)."""
    if not stages:
        return {}
    return {name: summary([s[i] for s in stages]) for i, name in enumerate(STAGES)}


# -- 1. throughput ------------------------------------------------------------------------------------
def health_rate(http: httpx.Client, seconds: float = 1.5) -> float:
    n, end = 0, time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < end:
        http.get("/api/health").raise_for_status()
        n += 1
    return n / (time.monotonic() - start)


def ticket_rate(server: ServerProcess, hall: str, per_window: int) -> float:
    """Tickets issued and dispatched per second: each window's thread issues, calls next and finishes."""

    def window_loop(w: str) -> int:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for _ in range(per_window):
                http.post(f"/api/halls/{hall}/tickets", json={"matter": "P001"}).raise_for_status()
                r = http.post(f"/api/halls/{hall}/windows/{w}/call-next")
                r.raise_for_status()
                if r.json().get("ticket"):
                    http.post(f"/api/halls/{hall}/windows/{w}/finish").raise_for_status()
        return per_window

    windows = [f"w{n:02d}" for n in range(1, WINDOWS + 1)]
    start = time.monotonic()
    with ThreadPoolExecutor(len(windows)) as pool:
        done = sum(pool.map(window_loop, windows))
    return done / (time.monotonic() - start)


def throughput(work: Path, database_url: str, name: str, reps: int, per_window: int) -> dict[str, Any]:
    env = {"HALL_LOG_LEVEL": "WARNING", "HALL_DISPATCH_ROUND_MS": "0"}
    server = ServerProcess(work / name, database_url, None, env=env).start()
    try:
        server.put("/api/topology", topology([HallPlan("bench", "压测大厅", WINDOWS)])).raise_for_status()
        for w in range(1, WINDOWS + 1):
            server.post(f"/api/halls/bench/windows/w{w:02d}/login", {"staff_id": f"s{w}", "name": "测试"})
        ticket_rate(server, "bench", 5)  # warm-up
        rows = []
        for _ in range(reps):
            base = health_rate(server.http)
            rate = ticket_rate(server, "bench", per_window)
            rows.append({"health_per_s": base, "tickets_per_s": rate, "ratio": rate / base})
        return {
            "database": name,
            "reps": rows,
            "tickets_per_s_median": statistics.median(r["tickets_per_s"] for r in rows),
            "health_per_s_median": statistics.median(r["health_per_s"] for r in rows),
            "ratio_median": statistics.median(r["ratio"] for r in rows),
        }
    finally:
        server.close()


# -- 2. latency ---------------------------------------------------------------------------------------
class BrokerRoundTrip:
    """paho A -> Mosquitto -> paho B (echo) -> Mosquitto -> paho A, QoS 1, TCP_NODELAY on every socket."""

    def __init__(self, port: int) -> None:
        self.topic = f"bench/{uuid.uuid4().hex[:8]}"
        self.got = threading.Event()
        self.a = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{self.topic}-a")
        self.b = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{self.topic}-b")
        ready = threading.Barrier(3)

        def on_connect_a(c: mqtt.Client, *args: Any) -> None:
            set_nodelay(c)
            c.subscribe(f"{self.topic}/pong", qos=1)

        def on_connect_b(c: mqtt.Client, *args: Any) -> None:
            set_nodelay(c)
            c.subscribe(f"{self.topic}/ping", qos=1)

        self.a.on_connect = on_connect_a
        self.b.on_connect = on_connect_b
        self.a.on_subscribe = lambda *args: ready.wait()
        self.b.on_subscribe = lambda *args: ready.wait()
        self.b.on_message = lambda c, u, m: c.publish(f"{self.topic}/pong", m.payload, qos=1)
        self.a.on_message = lambda c, u, m: self.got.set()
        for c in (self.a, self.b):
            c.connect("127.0.0.1", port)
            c.loop_start()
        ready.wait(timeout=10)

    def sample(self) -> float:
        self.got.clear()
        t0 = time.perf_counter_ns()
        self.a.publish(f"{self.topic}/ping", b"x" * 200, qos=1)
        if not self.got.wait(5):
            raise TimeoutError("broker round trip lost")
        return (time.perf_counter_ns() - t0) / 1e6

    def close(self) -> None:
        for c in (self.a, self.b):
            c.disconnect()
            c.loop_stop()


class BusSniffer:
    """Breaks press -> screen into stages by watching the bus: when the CALL key event of a window and
    then the show_text command for its screen pass through the broker (monotonic time, this process)."""

    def __init__(self, port: int, hall: str) -> None:
        self.hall = hall
        self._lock = threading.Lock()
        self._armed: dict[str, list[int | None]] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sniffer-{uuid.uuid4().hex[:8]}")
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *a: (set_nodelay(c), c.subscribe(
            [(f"hall/v1/{hall}/dev/+/event", 1), (f"hall/v1/{hall}/dev/+/cmd/show_text", 1)]))  # fmt: skip
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        subscribed.wait(10)

    def arm(self, window: str) -> None:
        with self._lock:
            self._armed[window] = [None, None]

    def seen(self, window: str) -> tuple[int, int] | None:
        with self._lock:
            times = self._armed.pop(window, [None, None])
        return (times[0], times[1]) if times[0] is not None and times[1] is not None else None

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic_ns()
        device = message.topic.split("/")[4]
        window, _, role = device.partition("-")
        with self._lock:
            times = self._armed.get(window)
            if times is None:
                return
            if role == "caller" and times[0] is None and b'"call_next"' in message.payload:
                times[0] = now
            elif role == "screen" and times[0] is not None and times[1] is None:
                times[1] = now

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class PressToScreen:
    """One hall on the real server and a real EdgeAgent in this process; simulators at sim:// URLs.

    `server` is a running server whose topology already holds `plan` (bench/devices.py); without it a
    server of its own is started with that one hall.
    """

    def __init__(
        self,
        work: Path,
        broker: MosquittoBroker,
        caller_poll_s: float,
        round_ms: int,
        server: ServerProcess | None = None,
        plan: HallPlan | None = None,
    ) -> None:
        from edge.agent import EdgeAgent
        from edge.config import EdgeConfig

        simport.install()
        self.plan = plan or HallPlan("bench", "压测大厅", WINDOWS)
        self.owns_server = server is None
        if server is None:
            env = {"HALL_LOG_LEVEL": "WARNING", "HALL_DISPATCH_ROUND_MS": str(round_ms)}
            server = ServerProcess(work / "latency", f"sqlite:///{work / 'latency.db'}", broker.url, env=env).start()
            server.put("/api/topology", topology([self.plan])).raise_for_status()
        self.server = server
        hall = self.plan.hall_id
        self.sims: dict[str, Any] = {}
        self.ends: dict[str, simport.Endpoint] = {}
        devices = []
        for d in self.plan.devices:
            url = simport.url_for(hall, d.device_id)
            self.sims[d.device_id] = build_simulator(d.kind, d.profile, d.address, 1)
            self.ends[d.device_id] = simport.register(url, self.sims[d.device_id])
            extra = {"poll_interval_s": caller_poll_s} if d.kind == "caller" else {}
            devices.append({"device_id": d.device_id, "kind": d.kind, "protocol": d.protocol, "url": url,
                            "profile": d.profile, "address": d.address, **extra})  # fmt: skip
        config = EdgeConfig.model_validate({"hall": hall, "edge": self.plan.edge, "mqtt_url": broker.url,
                                            "state_dir": str(work / "edge"), "probe_interval_s": 30.0,
                                            "devices": devices})  # fmt: skip
        self.agent = EdgeAgent(config)
        self.agent.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            devs = self.server.get(f"/api/halls/{hall}/devices")
            if all(d["availability"] == "online" for d in devs):
                break
            time.sleep(0.2)
        self.frames: dict[str, int] = {}
        for w in self.plan.window_ids():
            self.ends[f"{w}-screen"].on_write = lambda ns, data, w=w: self.frames.setdefault(w, ns)
        self.next_window = 0
        self.sniffer = BusSniffer(broker.port, hall)
        self.stages: list[tuple[float, float, float]] = []  # press -> event, event -> command, command -> frame

    def issue(self, n: int) -> None:
        for _ in range(n):
            self.server.post(f"/api/halls/{self.plan.hall_id}/tickets", {"matter": "P001"}).raise_for_status()

    def sample(self) -> float:
        w = self.plan.window_ids()[self.next_window % self.plan.windows]
        self.next_window += 1
        caller = self.sims[f"{w}-caller"]
        self.frames.pop(w, None)
        t0 = time.monotonic_ns()
        self.sniffer.arm(w)
        caller.press("call_next")
        deadline = time.monotonic() + 5
        while w not in self.frames:
            if time.monotonic() > deadline:
                raise TimeoutError(f"window {w}: no screen frame within 5 s")
            time.sleep(0.0002)
        t1 = self.frames[w]
        caller.press("finish")
        seen = self.sniffer.seen(w)
        if seen is not None:
            t_event, t_command = seen
            self.stages.append(((t_event - t0) / 1e6, (t_command - t_event) / 1e6, (t1 - t_command) / 1e6))
        return (t1 - t0) / 1e6

    def settle(self) -> None:
        time.sleep(0.5)  # the last finishes reach the server before the next round

    def close(self) -> None:
        self.sniffer.close()
        self.agent.stop()
        if self.owns_server:
            self.server.close()


def latency(work: Path, reps: int, samples: int, caller_poll_s: float, round_ms: int) -> dict[str, Any]:
    broker = MosquittoBroker(workdir=work / "broker").start()
    press = rtt = None
    try:
        rtt = BrokerRoundTrip(broker.port)
        press = PressToScreen(work, broker, caller_poll_s, round_ms)
        for _ in range(50):  # warm-up
            rtt.sample()
        press.issue(20)
        for _ in range(20):
            press.sample()
        press.settle()
        rows, all_press, all_rtt = [], [], []
        for _ in range(reps):
            press.issue(samples)
            p, b = [], []
            for _ in range(samples):  # interleaved: one press, one bare round trip
                p.append(press.sample())
                b.append(rtt.sample())
            press.settle()
            all_press += p
            all_rtt += b
            sp, sb = summary(p), summary(b)
            rows.append(
                {"press": sp, "broker": sb, "ratio_p50": sp["p50"] / sb["p50"], "ratio_p99": sp["p99"] / sb["p99"]}
            )
        return {
            "caller_poll_s": caller_poll_s,
            "dispatch_round_ms": round_ms,
            "reps": rows,
            "press_all": summary(all_press),
            "stages": stage_summary(press.stages),
            "broker_all": summary(all_rtt),
            "ratio_p50_median": statistics.median(r["ratio_p50"] for r in rows),
            "ratio_p99_median": statistics.median(r["ratio_p99"] for r in rows),
        }
    finally:
        if press is not None:
            press.close()
        if rtt is not None:
            rtt.close()
        broker.stop()


def make_pg(admin_url: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    name = f"hall_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--samples", type=int, default=400, help="latency samples per repetition")
    parser.add_argument("--tickets", type=int, default=30, help="tickets per window per throughput repetition")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--caller-poll", type=float, default=0.01, help="HDP/1 caller poll interval, seconds")
    parser.add_argument("--round-ms", type=int, default=0, help="server dispatch round (HALL_DISPATCH_ROUND_MS)")
    parser.add_argument("--skip", choices=["throughput", "latency"], action="append", default=[])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out: dict[str, Any] = {"machine": f"{platform.node()} {os.cpu_count()} cores {platform.platform()}"}
    with tempfile.TemporaryDirectory(prefix="hall-bench-") as tmp:
        work = Path(tmp)
        if "throughput" not in args.skip:
            out["sqlite"] = throughput(work, f"sqlite:///{work / 'tp.db'}", "sqlite", args.reps, args.tickets)
            print(json.dumps(out["sqlite"], indent=1), flush=True)
            if args.pg:
                pg_url, drop = make_pg(args.pg)
                try:
                    out["postgresql"] = throughput(work, pg_url, "postgresql", args.reps, args.tickets)
                finally:
                    drop()
                print(json.dumps(out["postgresql"], indent=1), flush=True)
        if "latency" not in args.skip:
            out["latency"] = latency(work, args.reps, args.samples, args.caller_poll, args.round_ms)
            print(json.dumps({k: v for k, v in out["latency"].items() if k != "reps"}, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

"""How many devices one hall server process holds before keypad press -> screen p99 exceeds 100 ms.

    .venv/bin/python bench/devices.py [--ladder 500,1000,2000,4000,7000,10000,14000] [--reps 5] \
        [--samples 100] [--json out.json]

A script, not a test (docs/performance.md, the design's performance.md "Devices per machine"). For each
step of the ladder, on a fresh `hallctl server` process (SQLite) and one Mosquitto:

- the load: `bench/swarm.py`, a child process playing the edges of enough city halls (cloned past the
  city's 195) to reach the step's device count, at the design's peak demand per device (10 tickets/s
  for 7,000 devices; `--load` scales it): tickets over HTTP, CALL presses, screens, voice, ratings,
  every command answered;
- the probe: one more hall of 10 windows with a real `EdgeAgent` in this process and simulators at
  `sim://` URLs; t0 = the caller simulator's key press, t1 = the window-screen simulator receiving
  its frame (as in bench/dispatch.py part 2);
- the baseline, interleaved sample by sample: the bare paho -> Mosquitto -> paho -> Mosquitto -> paho
  round trip (TCP_NODELAY on every socket).

Each step reports press -> screen p50/p99/max over all its samples (`--reps` blocks of `--samples`),
the broker round trip, their ratios (median over blocks), the server process's CPU in cores with the
swarm alone (the devices' cost) and with the probe pressing too, the server's own lags (GET
/api/metrics) and what the swarm did. The ladder stops after the first step whose p99 exceeds
`--limit-ms` (100).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dispatch import BrokerRoundTrip, PressToScreen, stage_summary, summary
from simulators.broker import MosquittoBroker
from simulators.city import HallPlan, load_city, topology
from simulators.processes import ServerProcess

PEAK_TICKETS_PER_DEVICE_S = 10 / 7000  # the design peak: 10 tickets/s for the city's ~7,000 devices
UTILISATION = 0.7
PROBE = HallPlan("probe", "探针大厅", 10)


def swarm_plans(devices: int) -> list[HallPlan]:
    """City halls, cloned with a suffix past the city's 195, until they hold at least `devices`."""
    city, plans, total, n = load_city(), [], 0, 0
    while total < devices:
        base = city[n % len(city)]
        copy = n // len(city)
        hall_id = base.hall_id if copy == 0 else f"{base.hall_id}-{copy}"
        plans.append(dataclasses.replace(base, hall_id=hall_id, devices=list(base.devices)))
        total += len(base.devices)
        n += 1
    return plans


class SwarmProcess:
    def __init__(self, work: Path, plans: list[HallPlan], broker: MosquittoBroker, server: ServerProcess, load: float):
        windows = sum(p.windows for p in plans)
        devices = sum(len(p.devices) for p in plans)
        self.tickets_per_s = devices * PEAK_TICKETS_PER_DEVICE_S * load
        spec = {
            "mqtt_port": broker.port,
            "server_url": server.url,
            "token": server.admin_token,
            "tickets_per_s": self.tickets_per_s,
            "service_mean_s": UTILISATION * windows / self.tickets_per_s,
            "halls": [
                {"hall_id": p.hall_id, "edge": p.edge, "devices": [[d.device_id, d.kind, d.window] for d in p.devices]}
                for p in plans
            ],
        }
        path = work / "swarm.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        script = Path(__file__).resolve().parent / "swarm.py"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"swarm did not start: {line!r}")
        self.devices = int(line.split()[1])

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def stop(self) -> dict[str, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        line = self.proc.stdout.readline()
        self.proc.wait(timeout=60)
        return json.loads(line) if line.strip() else {}


def step(
    work: Path, broker: MosquittoBroker, rtt: BrokerRoundTrip, devices: int, args: argparse.Namespace
) -> dict[str, Any]:
    plans = swarm_plans(devices - len(PROBE.devices))
    env = {"HALL_LOG_LEVEL": "WARNING", "HALL_DISPATCH_ROUND_MS": str(args.round_ms)}
    server = ServerProcess(work / "server", f"sqlite:///{work / 'hall.db'}", broker.url, env=env).start()
    swarm = probe = None
    try:
        server.put("/api/topology", topology([PROBE, *plans])).raise_for_status()
        swarm = SwarmProcess(work, plans, broker, server, args.load)
        probe = PressToScreen(work, broker, args.caller_poll, args.round_ms, server=server, plan=PROBE)
        absorbed_s = server.wait_drained(180.0)
        swarm.go()
        time.sleep(2.0)  # the first CALL presses of every window settle
        cpu_w, t_w = server.cpu_seconds(), time.monotonic()
        time.sleep(args.warmup)  # the swarm alone: what the devices cost the server, without the probe
        swarm_cores = (server.cpu_seconds() - cpu_w) / (time.monotonic() - t_w)
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        blocks, every_press, every_rtt = [], [], []
        for _ in range(args.reps):
            probe.issue(args.samples)
            presses, trips = [], []
            for _ in range(args.samples):
                presses.append(probe.sample())
                trips.append(rtt.sample())
                time.sleep(args.gap)
            probe.settle()
            every_press += presses
            every_rtt += trips
            p, b = summary(presses), summary(trips)
            blocks.append({"ratio_p50": p["p50"] / b["p50"], "ratio_p99": p["p99"] / b["p99"]})
        cores = (server.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        metrics = server.get("/api/metrics")
    finally:
        counts = swarm.stop() if swarm is not None else {}
        if probe is not None:
            probe.close()
        server.close()
    return {
        "devices": swarm.devices + len(PROBE.devices) if swarm else devices,
        "halls": len(plans) + 1,
        "tickets_per_s_asked": round(swarm.tickets_per_s, 2) if swarm else None,
        "births_absorbed_s": round(absorbed_s, 1),
        "server_cores_swarm_only": round(swarm_cores, 3),
        "server_cores_with_probe": round(cores, 3),
        "press": summary(every_press),
        "stages": stage_summary(probe.stages) if probe else {},
        "broker": summary(every_rtt),
        "ratio_p50_median": statistics.median(b["ratio_p50"] for b in blocks),
        "ratio_p99_median": statistics.median(b["ratio_p99"] for b in blocks),
        "server_metrics": metrics,
        "swarm": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ladder", default="500,1000,2000,4000,7000,10000,14000", help="device counts to try")
    parser.add_argument("--reps", type=int, default=5, help="blocks per step (each a median for the ratios)")
    parser.add_argument("--samples", type=int, default=100, help="press samples per block")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of load before measuring")
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between probe samples")
    parser.add_argument("--load", type=float, default=1.0, help="x the design peak demand per device")
    parser.add_argument("--limit-ms", type=float, default=100.0)
    parser.add_argument("--caller-poll", type=float, default=0.01, help="probe's HDP/1 caller poll interval, s")
    parser.add_argument("--round-ms", type=int, default=0, help="server dispatch round (HALL_DISPATCH_ROUND_MS)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out: dict[str, Any] = {"machine": f"{platform.node()} {os.cpu_count()} cores {platform.platform()}", "steps": []}
    held = None
    with tempfile.TemporaryDirectory(prefix="hall-bench-devices-") as tmp:
        broker = MosquittoBroker(workdir=Path(tmp) / "broker").start()
        rtt = BrokerRoundTrip(broker.port)
        try:
            for n, devices in enumerate(int(x) for x in args.ladder.split(",")):
                row = step(Path(tmp) / f"step{n}", broker, rtt, devices, args)
                out["steps"].append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "server_metrics"}), flush=True)
                if row["press"]["p99"] > args.limit_ms:
                    break
                held = row["devices"]
        finally:
            rtt.close()
            broker.stop()
    out["held_devices"] = held
    print(json.dumps({"held_devices_within_limit": held, "limit_ms": args.limit_ms}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Many devices on a few pooled threads keep the per-device rules: commands in order, events polled."""

from __future__ import annotations

import threading
import time
from typing import Any

from drivers.devices.base import Device, DeviceEvent, DeviceSpec
from drivers.registry import load_profile, open_device
from drivers.transports.memory import memory_pair
from edge.config import DeviceConfig, EdgeConfig
from edge.pool import DevicePool
from edge.worker import DeviceWorker, QueuedCommand
from simulators.attach import attach_memory
from simulators.devices.hdp1_caller import CallerSimulator


class Sink:
    """Collects what workers report, as the agent would publish it."""

    def __init__(self) -> None:
        self.results: list[tuple[str, str, str]] = []
        self.events: list[tuple[str, DeviceEvent]] = []
        self.lock = threading.Lock()

    def command_finished(self, device: str, cmd: QueuedCommand, status: str, data: Any, error: Any) -> None:
        with self.lock:
            self.results.append((device, cmd.cmd_id, status))

    def device_events(self, device: str, events: list[DeviceEvent]) -> int:
        with self.lock:
            self.events += [(device, e) for e in events]
        return max(e.source_seq or 0 for e in events)

    def availability_changed(self, device: str) -> None:
        pass

    def state_changed(self, device: str) -> None:
        pass


def test_fifty_callers_on_two_threads(tmp_path: Any) -> None:
    profile = load_profile("hdp1-caller")
    sims: dict[str, CallerSimulator] = {}
    links = []
    transports = {}
    configs = []
    for n in range(50):
        device_id = f"c{n:02d}"
        host, device_end = memory_pair()
        sims[device_id] = CallerSimulator(profile, address=0x10)
        links.append(attach_memory(sims[device_id], device_end))
        transports[device_id] = host
        configs.append(DeviceConfig(device_id=device_id, kind="caller", protocol="hdp1", url="loop://",
                                    profile="hdp1-caller", address=0x10, poll_interval_s=0.05))  # fmt: skip

    def factory(spec: DeviceSpec) -> Device:
        return open_device(spec, transports[spec.device_id])

    edge = EdgeConfig(hall="h1", devices=configs, worker_threads=2, probe_interval_s=5)
    sink = Sink()
    workers = [DeviceWorker(c, edge, sink, factory) for c in configs]
    pool = DevicePool(workers, threads=2)
    for worker in workers:
        worker.start()
    pool.start()
    try:
        far = time.time_ns() // 1_000_000 + 60_000
        for worker in workers:
            for k in range(3):
                worker.submit(QueuedCommand(f"{worker.device_id}-{k}", "show_number", {"text": f"A00{k}"}, far))
        sims["c07"].press("call_next")
        deadline = time.monotonic() + 20
        while (len(sink.results) < 150 or not sink.events) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(sink.results) == 150 and all(status == "ok" for _, _, status in sink.results)
        for worker in workers:
            mine = [cmd for device, cmd, _ in sink.results if device == worker.device_id]
            assert mine == [f"{worker.device_id}-{k}" for k in range(3)], "commands of one device run in order"
            assert sims[worker.device_id].number == "A002", "the last command is what the keypad shows"
        assert [(d, e.type, e.data["key"]) for d, e in sink.events] == [("c07", "key", "call_next")]
        worker_threads = [t.name for t in threading.enumerate() if t.name.startswith(("dev-", "devpool-"))]
        assert sorted(worker_threads) == ["devpool-0", "devpool-1"], "the pool, not a thread per device"
    finally:
        pool.stop()
        for worker in workers:
            worker.stop()
        for link in links:
            link.close()

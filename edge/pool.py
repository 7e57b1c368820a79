"""A few threads that run many device workers: for hosts that carry thousands of (simulated) devices.

A real hall has at most ~150 devices and each worker keeps a thread of its own. A city simulation puts
thousands of devices in one process, and a thread per device then thrashes two cores (measured: ~1,300
threads per process, sys time three times user time, paho's network threads starved). The pool keeps
the per-device rules: one step of a worker at a time, so its commands still run one by one in arrival
order, while different devices proceed in parallel on the pool's threads.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time

from edge.worker import DeviceWorker

log = logging.getLogger(__name__)


class DevicePool:
    def __init__(self, workers: list[DeviceWorker], threads: int) -> None:
        self.workers = workers
        self._heap: list[tuple[float, int, DeviceWorker]] = []
        self._current: dict[str, int] = {}  # device id -> the only heap entry that counts
        self._running: set[str] = set()
        self._woken: set[str] = set()
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stop = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"devpool-{n}", daemon=True) for n in range(max(1, threads))
        ]
        for worker in workers:
            worker.wake = self.wake

    def start(self) -> None:
        with self._cond:
            for worker in self.workers:
                self._schedule(worker, 0.0)
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    def wake(self, worker: DeviceWorker) -> None:
        """A command arrived: run the worker now, or again as soon as its current step ends."""
        with self._cond:
            if worker.device_id in self._running:
                self._woken.add(worker.device_id)
            else:
                self._schedule(worker, 0.0)
            self._cond.notify()

    def _schedule(self, worker: DeviceWorker, due: float) -> None:
        order = next(self._order)
        self._current[worker.device_id] = order
        heapq.heappush(self._heap, (due, order, worker))

    def _next(self) -> DeviceWorker | None:
        """Pop the earliest due worker, waiting until it is due; None when stopping."""
        with self._cond:
            while not self._stop:
                if not self._heap:
                    self._cond.wait(1.0)
                    continue
                due, order, worker = self._heap[0]
                if self._current.get(worker.device_id) != order:
                    heapq.heappop(self._heap)  # superseded by a later wake
                    continue
                delay = due - time.monotonic()
                if delay > 0:
                    self._cond.wait(min(delay, 1.0))
                    continue
                heapq.heappop(self._heap)
                self._running.add(worker.device_id)
                return worker
        return None

    def _serve(self) -> None:
        while (worker := self._next()) is not None:
            try:
                next_due = worker.step()
            except Exception:  # a bug in one device's step must not take the pool's thread with it
                log.exception("device %s: step failed", worker.device_id)
                next_due = time.monotonic() + 1.0
            with self._cond:
                self._running.discard(worker.device_id)
                if worker.device_id in self._woken:
                    self._woken.discard(worker.device_id)
                    next_due = 0.0
                if next_due != math.inf:
                    self._schedule(worker, next_due)
                self._cond.notify()

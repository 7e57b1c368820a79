"""One worker thread per device: commands one at a time in arrival order, event polls, status probes.

The worker owns the device's availability: consecutive link failures mark it offline and it is
reopened with exponential back-off and jitter; the first success marks it online again. A device that
does not answer is never reported ok (devices.md, rules for every driver).
"""

from __future__ import annotations

import logging
import math
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.devices.base import Device, DeviceEvent, DeviceSpec
from drivers.errors import BadArguments, DriverError, TransportError
from edge.config import DeviceConfig, EdgeConfig

log = logging.getLogger(__name__)

DeviceFactory = Callable[[DeviceSpec], Device]


@dataclass(frozen=True)
class QueuedCommand:
    cmd_id: str
    name: str
    args: dict[str, Any]
    expires_at: int


class WorkerSink(Protocol):
    """What a worker reports to the agent."""

    def command_finished(
        self, device: str, cmd: QueuedCommand, status: str, data: dict[str, Any], error: dict[str, Any] | None
    ) -> None: ...

    def device_events(self, device: str, events: list[DeviceEvent]) -> int: ...

    def availability_changed(self, device: str) -> None:
        """The worker's `availability`/`reason` changed; the sink reads them when it publishes."""

    def state_changed(self, device: str) -> None:
        """The worker's `state` changed; the sink reads it when it publishes."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def error_info(exc: DriverError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "retryable": exc.retryable}


class DeviceWorker:
    def __init__(
        self, config: DeviceConfig, edge: EdgeConfig, sink: WorkerSink, factory: DeviceFactory
    ) -> None:
        self.config = config
        self.edge = edge
        self.sink = sink
        self.factory = factory
        self.device_id = config.device_id
        self.commands: queue.Queue[QueuedCommand | None] = queue.Queue()
        self.availability = "unknown"
        self.reason = "starting"
        self.state: dict[str, Any] = {}
        self.device: Device | None = None
        self.failures = 0
        self.backoff_s = edge.reconnect_min_s
        self.next_open = 0.0
        self.next_probe = 0.0
        self.next_poll = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: set by a DevicePool that runs this worker's steps; None: the worker has a thread of its own
        self.wake: Callable[[DeviceWorker], None] | None = None

    # -- control from the agent ---------------------------------------------------------------
    def start(self) -> None:
        """Start a thread of its own, unless a DevicePool runs this worker."""
        if self.wake is None:
            self._thread = threading.Thread(target=self._run, name=f"dev-{self.device_id}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.commands.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.device is not None:
            self.device.close()

    def submit(self, cmd: QueuedCommand) -> None:
        self.commands.put(cmd)
        if self.wake is not None:
            self.wake(self)

    @property
    def caps(self) -> list[str]:
        return self.device.caps if self.device is not None else []

    # -- the loop ---------------------------------------------------------------------------------
    def step(self) -> float:
        """Do everything due now without blocking on the queue; return when work is next due (monotonic).

        Commands run first, one at a time in arrival order; then polls and probes that are due.
        """
        if self.device is None and time.monotonic() >= self.next_open:
            self._open()
        while not self._stop.is_set():
            try:
                cmd = self.commands.get_nowait()
            except queue.Empty:
                break
            if cmd is None:
                return math.inf
            self._execute(cmd)
        if self._stop.is_set():
            return math.inf
        self._periodic()
        return time.monotonic() + self._idle_wait()

    def _run(self) -> None:
        """The worker's own thread: steps, sleeping on the command queue until the next due time."""
        while not self._stop.is_set():
            next_due = self.step()
            try:
                cmd = self.commands.get(timeout=max(0.0, min(next_due - time.monotonic(), 60.0)))
            except queue.Empty:
                continue
            if cmd is None or self._stop.is_set():
                return
            self._execute(cmd)

    def _poll_interval(self) -> float:
        """The configured poll interval for a device that has events; 0 for one that has none."""
        if self.device is None or self.device.poll_interval_s <= 0:
            return 0.0
        return self.config.poll_interval_s or self.device.poll_interval_s

    def _idle_wait(self) -> float:
        now = time.monotonic()
        due = [self.next_probe]
        if self.device is None:
            due.append(self.next_open)
        elif self._poll_interval() > 0:
            due.append(self.next_poll)
        return max(0.0, min(min(due) - now, self.edge.idle_wait_max_s))

    def _periodic(self) -> None:
        if self.device is None:
            return
        now = time.monotonic()
        interval = self._poll_interval()
        if interval > 0 and now >= self.next_poll:
            self.next_poll = now + interval
            self._guard(self._poll)
        if self.device is not None and now >= self.next_probe:
            self.next_probe = now + self.edge.probe_interval_s
            self._guard(self._probe)

    # -- opening, failures and availability -------------------------------------------------------
    def _open(self) -> None:
        try:
            device = self.factory(self.config.spec())
            device.open()
        except DriverError as exc:
            self._link_failed(f"open failed: {exc.message}", exc.code)
            return
        self.device = device
        self.next_probe = 0.0
        log.info("device %s opened on %s", self.device_id, self.config.url)

    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except TransportError as exc:
            self._link_failed(exc.message, exc.code)
        except DriverError as exc:
            log.warning("device %s: %s (%s)", self.device_id, exc.message, exc.code)

    def _link_ok(self) -> None:
        self.failures = 0
        self.backoff_s = self.edge.reconnect_min_s
        self._set_availability("online", "")

    def _link_failed(self, message: str, code: str) -> None:
        self.failures += 1
        log.warning("device %s: link failure %d: %s", self.device_id, self.failures, message)
        if self.failures < self.edge.failures_before_offline and self.device is not None:
            return
        reason = "no_reply" if code == "timeout" else code
        self._set_availability("offline", reason)
        self._set_state({key: "unknown" for key in self.state} or {"online": "unknown"})
        if self.device is not None:
            self.device.close()
            self.device = None
        jitter = 1 + secrets.randbelow(250) / 1000
        self.next_open = time.monotonic() + self.backoff_s * jitter
        self.backoff_s = min(self.backoff_s * 2, self.edge.reconnect_max_s)

    def _set_availability(self, state: str, reason: str) -> None:
        if (state, reason) == (self.availability, self.reason):
            return
        self.availability, self.reason = state, reason
        log.info("device %s is %s %s", self.device_id, state, reason)
        self.sink.availability_changed(self.device_id)

    def _set_state(self, fields: dict[str, Any]) -> None:
        if fields != self.state:
            self.state = dict(fields)
            self.sink.state_changed(self.device_id)

    # -- work -------------------------------------------------------------------------------------
    def _probe(self) -> None:
        assert self.device is not None
        fields = self.device.probe()
        self._link_ok()
        self._set_state(fields)

    def _poll(self) -> None:
        assert self.device is not None
        events = self.device.poll_events()
        self._link_ok()
        if not events:
            return
        mark = self.sink.device_events(self.device_id, events)
        if mark >= 0:
            self.device.ack_events(mark)

    def _execute(self, cmd: QueuedCommand) -> None:
        if _now_ms() > cmd.expires_at:
            self.sink.command_finished(self.device_id, cmd, "expired", {}, None)
            return
        if self.device is None:
            err = {"code": "device_offline", "message": f"{self.device_id} is offline", "retryable": True}
            self.sink.command_finished(self.device_id, cmd, "error", {}, err)
            return
        try:
            data = self.device.execute(cmd.name, cmd.args)
        except TransportError as exc:
            self.sink.command_finished(self.device_id, cmd, "error", {}, error_info(exc))
            self._link_failed(exc.message, exc.code)
            return
        except BadArguments as exc:
            self.sink.command_finished(self.device_id, cmd, "rejected", {}, error_info(exc))
            return
        except DriverError as exc:
            self.sink.command_finished(self.device_id, cmd, "error", {}, error_info(exc))
            return
        except Exception as exc:  # a driver bug must cost one command, not the device's worker thread
            log.exception("device %s: driver failed on %s %s", self.device_id, cmd.name, cmd.cmd_id)
            err = {"code": "outcome_unknown", "message": f"driver error: {type(exc).__name__}", "retryable": False}
            self.sink.command_finished(self.device_id, cmd, "error", {}, err)
            return
        self._link_ok()
        self.sink.command_finished(self.device_id, cmd, "ok", data, None)
        self.next_probe = 0.0  # a command may have changed what the device shows or holds

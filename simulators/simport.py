"""`sim://<hall>/<device>`: a simulator attached in-process, opened by the driver as a pyserial URL.

devices.md §1: a simulator attaches three ways, the third being a `sim://` serial URL. The driver's
`SerialTransport` calls `serial.serial_for_url("sim://...")` exactly as for a pty path; pyserial finds the
handler in `simulators.serial_handlers.protocol_sim` once `install()` has added that package to
`serial.protocol_handler_packages`. Only a process that hosts simulators calls `install()` (the city
twin's host processes, the benches): the edge never imports `simulators`.

A write is handed to the simulator's `receive` in the writer's thread and the reply is buffered for the
next read: no thread, no file descriptor and no polling per device, which is what lets thousands of
devices share a process (performance.md traps 4 and the thread budget). Faults are not modelled here;
use a pty or memory link for fault tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import serial


class Simulator(Protocol):
    def receive(self, data: bytes) -> bytes: ...


class Endpoint:
    """One attached simulator: its reply buffer, and a count of writes others can wait on."""

    def __init__(self, url: str, sim: Simulator) -> None:
        self.url = url
        self.sim = sim
        self.buffer = bytearray()
        self.cond = threading.Condition()
        self.writes = 0
        self.last_write_ns = 0
        self.unplugged = False
        #: called after each write with (time.monotonic_ns() at receipt, bytes written), in the writer's thread
        self.on_write: Callable[[int, bytes], None] | None = None

    def write(self, data: bytes) -> None:
        with self.cond:
            if self.unplugged:
                return
            reply = self.sim.receive(data)
            self.last_write_ns = time.monotonic_ns()
            self.writes += 1
            if reply:
                self.buffer += reply
            self.cond.notify_all()
        hook = self.on_write
        if hook is not None:
            hook(self.last_write_ns, data)

    def read(self, size: int, timeout: float | None) -> bytes:
        with self.cond:
            if not self.buffer and timeout != 0:
                self.cond.wait_for(lambda: bool(self.buffer), timeout)
            data = bytes(self.buffer[:size])
            del self.buffer[:size]
            return data

    def wait_writes(self, more_than: int, timeout: float) -> int:
        """Wait until more than `more_than` writes arrived; the write count (may be unchanged on timeout)."""
        with self.cond:
            self.cond.wait_for(lambda: self.writes > more_than, timeout)
            return self.writes


_REGISTRY: dict[str, Endpoint] = {}
_LOCK = threading.Lock()


def url_for(hall: str, device: str) -> str:
    return f"sim://{hall}/{device}"


def register(url: str, sim: Simulator) -> Endpoint:
    """Make `sim` reachable at `url` (sim://hall/device); replaces an earlier registration."""
    endpoint = Endpoint(url, sim)
    with _LOCK:
        _REGISTRY[url] = endpoint
    return endpoint


def unregister(url: str) -> None:
    with _LOCK:
        _REGISTRY.pop(url, None)


def lookup(url: str) -> Endpoint | None:
    with _LOCK:
        return _REGISTRY.get(url)


def install() -> None:
    """Let pyserial open `sim://` URLs in this process (idempotent)."""
    package = "simulators.serial_handlers"
    if package not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(package)

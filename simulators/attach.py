"""Attach a simulator to a link: an in-memory transport end or a real pseudo-terminal.

A simulator only turns received bytes into reply bytes (`receive`). The link owns the thread that
reads, and a fault layer between the two that can fragment, delay, drop or garble replies, or
"unplug" the device so it neither hears nor answers anything until it is "replugged".
"""

from __future__ import annotations

import contextlib
import logging
import os
import pty
import select
import threading
import time
import tty
from dataclasses import dataclass
from typing import Protocol

from drivers.transports.base import Transport

log = logging.getLogger(__name__)


class Simulator(Protocol):
    """Anything that answers bytes with bytes, in arrival order."""

    def receive(self, data: bytes) -> bytes: ...


@dataclass
class Faults:
    """Link faults, changed by tests at any time.

    fragment: feed received bytes one at a time and write replies one byte per write.
    delay_s: wait before writing each reply.
    drop_replies: lose the next N replies (the device did act).
    garble_next: flip bit 0 of one byte in the middle of the next reply.
    unplugged: hear nothing and answer nothing.
    """

    fragment: bool = False
    delay_s: float = 0.0
    drop_replies: int = 0
    garble_next: bool = False
    unplugged: bool = False
    byte_gap_s: float = 0.001


class Link:
    """Reader thread + fault layer; subclasses provide `_read_input` and `_write_output`."""

    def __init__(self, sim: Simulator, faults: Faults | None = None, name: str = "sim") -> None:
        self.sim = sim
        self.faults = faults or Faults()
        self.name = name
        self.failures: list[BaseException] = []
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-link", daemon=True)

    def start(self) -> Link:
        self._thread.start()
        return self

    def unplug(self) -> None:
        self.faults.unplugged = True

    def replug(self) -> None:
        self.faults.unplugged = False

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._read_input(0.05)
            except OSError as exc:
                if not self._stop.is_set():
                    log.debug("%s: link read ended: %s", self.name, exc)
                return
            if data and not self.faults.unplugged:
                self._handle(data)

    def _handle(self, data: bytes) -> None:
        self.received += len(data)
        pieces = [data[i : i + 1] for i in range(len(data))] if self.faults.fragment else [data]
        for piece in pieces:
            try:
                reply = self.sim.receive(piece)
            except Exception as exc:  # a simulator bug or strict-mode violation: keep it for the test
                log.exception("%s: simulator failed", self.name)
                self.failures.append(exc)
                continue
            if reply:
                self._send(reply)

    def _send(self, reply: bytes) -> None:
        faults = self.faults
        if faults.unplugged:
            return
        if faults.drop_replies > 0:
            faults.drop_replies -= 1
            log.debug("%s: dropped a reply of %d bytes", self.name, len(reply))
            return
        if faults.garble_next:
            faults.garble_next = False
            buf = bytearray(reply)
            buf[len(buf) // 2] ^= 0x01
            reply = bytes(buf)
        if faults.delay_s:
            time.sleep(faults.delay_s)
        if faults.fragment:
            for i in range(len(reply)):
                self._write_output(reply[i : i + 1])
                time.sleep(faults.byte_gap_s)
        else:
            self._write_output(reply)

    def _read_input(self, timeout: float) -> bytes:
        raise NotImplementedError

    def _write_output(self, data: bytes) -> None:
        raise NotImplementedError


class MemoryLink(Link):
    """A simulator on the device end of `drivers.transports.memory.memory_pair()`."""

    def __init__(self, sim: Simulator, end: Transport, faults: Faults | None = None, name: str = "sim") -> None:
        super().__init__(sim, faults, name)
        self.end = end

    def _read_input(self, timeout: float) -> bytes:
        return self.end.read(4096, timeout)

    def _write_output(self, data: bytes) -> None:
        self.end.write(data)


class PtyLink(Link):
    """A simulator behind a pseudo-terminal; a driver opens `path` with pyserial like a real port."""

    def __init__(self, sim: Simulator, faults: Faults | None = None, name: str = "sim") -> None:
        super().__init__(sim, faults, name)
        self.master_fd, self.slave_fd = pty.openpty()
        tty.setraw(self.slave_fd)  # no echo, no line discipline: bytes pass unchanged
        self.path = os.ttyname(self.slave_fd)
        self._closed = False

    def _read_input(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master_fd], [], [], timeout)
        if not ready:
            return b""
        return os.read(self.master_fd, 4096)

    def _write_output(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.master_fd, view)
            view = view[written:]

    def close(self) -> None:
        super().close()
        if not self._closed:
            self._closed = True
            for fd in (self.master_fd, self.slave_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)


def attach_memory(sim: Simulator, end: Transport, faults: Faults | None = None, name: str = "sim") -> MemoryLink:
    """Run `sim` on a memory transport end (the device end of `memory_pair()`); call close() after."""
    link = MemoryLink(sim, end, faults, name)
    link.start()
    return link


def attach_pty(sim: Simulator, faults: Faults | None = None, name: str = "sim") -> PtyLink:
    """Run `sim` behind a new pseudo-terminal; open `link.path` with pyserial; call close() after."""
    link = PtyLink(sim, faults, name)
    link.start()
    return link

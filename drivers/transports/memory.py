"""An in-process byte pair with a manipulator hook on writes (style.md: the pymodbus null modem).

`memory_pair()` returns two connected Transport ends. Whatever one end writes, the other reads, after
the writer's manipulator has had its say: it may split a write into single bytes or chunks, delay it,
drop it or garble one byte. It is the cheapest way to test framing under fragmentation and noise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from drivers.errors import TransportError
from drivers.transports.base import Transport

log = logging.getLogger(__name__)

#: Receives one write, returns the chunks to deliver (empty: the write is lost). It may sleep to delay.
Manipulator = Callable[[bytes], Iterable[bytes]]


def split_bytes(data: bytes) -> list[bytes]:
    """Deliver every byte on its own, the worst fragmentation a reader can meet."""
    return [data[i : i + 1] for i in range(len(data))]


def chunks(size: int) -> Manipulator:
    """Deliver writes in pieces of `size` bytes."""

    def manipulate(data: bytes) -> list[bytes]:
        return [data[i : i + size] for i in range(0, len(data), size)]

    return manipulate


def delay(seconds: float) -> Manipulator:
    """Hold every write back for `seconds` (a slow device or a long cable)."""

    def manipulate(data: bytes) -> list[bytes]:
        time.sleep(seconds)
        return [data]

    return manipulate


def drop(data: bytes) -> list[bytes]:
    """Lose every write (a cut wire that the writer cannot notice)."""
    return []


def garble(index: int = 0, mask: int = 0x01) -> Manipulator:
    """XOR byte `index` (counted over all writes) with `mask`, once: a single bit error."""
    state = {"seen": 0, "done": False}

    def manipulate(data: bytes) -> list[bytes]:
        start = state["seen"]
        state["seen"] += len(data)
        if state["done"] or not start <= index < start + len(data):
            return [data]
        state["done"] = True
        buf = bytearray(data)
        buf[index - start] ^= mask
        return [bytes(buf)]

    return manipulate


def chain(*manipulators: Manipulator) -> Manipulator:
    """Apply manipulators one after another to every chunk the previous one produced."""

    def manipulate(data: bytes) -> list[bytes]:
        pieces = [data]
        for manipulator in manipulators:
            pieces = [out for piece in pieces for out in manipulator(piece)]
        return pieces

    return manipulate


class _Inbox:
    """Bytes waiting to be read by one end, with a condition so readers can block with a timeout."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.cond = threading.Condition()

    def put(self, data: bytes) -> None:
        with self.cond:
            self.buffer += data
            self.cond.notify_all()

    def take(self, size: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    return b""
                self.cond.wait(left)
            data = bytes(self.buffer[:size])
            del self.buffer[:size]
            return data

    def clear(self) -> None:
        with self.cond:
            self.buffer.clear()


class MemoryTransport(Transport):
    """One end of an in-memory byte pair; `manipulator` acts on what this end writes."""

    def __init__(self, name: str, inbox: _Inbox, manipulator: Manipulator | None = None) -> None:
        self.name = name
        self.manipulator = manipulator
        self._inbox = inbox
        self._peer_inbox: _Inbox | None = None
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        self._open = True

    def close(self) -> None:
        self._open = False

    def write(self, data: bytes) -> None:
        if not self._open or self._peer_inbox is None:
            raise TransportError(f"{self.name}: memory transport is not open")
        pieces = self.manipulator(data) if self.manipulator else [data]
        for piece in pieces:
            if piece:
                self._peer_inbox.put(piece)

    def read(self, size: int, timeout: float) -> bytes:
        if not self._open:
            raise TransportError(f"{self.name}: memory transport is not open")
        return self._inbox.take(size, timeout)

    def discard_input(self) -> None:
        self._inbox.clear()


def memory_pair(
    host_manipulator: Manipulator | None = None,
    device_manipulator: Manipulator | None = None,
) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected ends (host, device); both start open so a simulator can attach at once."""
    host_inbox, device_inbox = _Inbox(), _Inbox()
    host = MemoryTransport("host", host_inbox, host_manipulator)
    device = MemoryTransport("device", device_inbox, device_manipulator)
    host._peer_inbox = device_inbox
    device._peer_inbox = host_inbox
    host.open()
    device.open()
    return host, device

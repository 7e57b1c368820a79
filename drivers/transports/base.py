"""A transport is a pipe of bytes with timeouts; it knows nothing of the data (style.md, pymodbus)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from drivers.errors import TransportTimeout


class Transport(ABC):
    """Open, close, write and read bytes. Every read and write has a timeout."""

    @abstractmethod
    def open(self) -> None:
        """Open the link; raises TransportError if the device is not there."""

    @abstractmethod
    def close(self) -> None:
        """Close the link; never raises."""

    @property
    @abstractmethod
    def is_open(self) -> bool: ...

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Write all of `data` or raise TransportTimeout / TransportError."""

    @abstractmethod
    def read(self, size: int, timeout: float) -> bytes:
        """Return 1..size bytes as soon as any arrive, or b'' when `timeout` seconds pass."""

    @abstractmethod
    def discard_input(self) -> None:
        """Drop bytes already received (before a request whose reply must not mix with old data)."""

    def read_exactly(self, size: int, timeout: float) -> bytes:
        """Read exactly `size` bytes within `timeout` in total, or raise TransportTimeout."""
        deadline = time.monotonic() + timeout
        chunks = bytearray()
        while len(chunks) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportTimeout(f"read {len(chunks)} of {size} bytes in {timeout:.3f} s")
            chunks += self.read(size - len(chunks), left)
        return bytes(chunks)

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

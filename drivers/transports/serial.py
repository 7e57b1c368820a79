"""A serial port (or any pyserial URL: a pty path, socket://, loop://) as a Transport.

pyserial waits forever unless told otherwise, so every read and every write here has an explicit
timeout (style.md: avoid a serial port without a write timeout).
"""

from __future__ import annotations

import logging
from typing import Any

import serial

from drivers.errors import TransportError, TransportTimeout
from drivers.transports.base import Transport

log = logging.getLogger(__name__)


class SerialTransport(Transport):
    """8N1 serial link opened with `serial.serial_for_url`, so tests can use a pty slave path."""

    def __init__(
        self,
        url: str,
        baudrate: int = 9600,
        *,
        write_timeout: float = 2.0,
        device_id: str = "",
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.write_timeout = write_timeout
        self.device_id = device_id or url
        self._port: Any = None

    @property
    def is_open(self) -> bool:
        return self._port is not None and bool(self._port.is_open)

    def open(self) -> None:
        """Open the port; a missing device becomes TransportError (bus code device_offline)."""
        if self.is_open:
            return
        try:
            port = serial.serial_for_url(self.url, do_not_open=True)
            port.baudrate = self.baudrate
            port.bytesize = serial.EIGHTBITS
            port.parity = serial.PARITY_NONE
            port.stopbits = serial.STOPBITS_ONE
            port.timeout = 0
            port.write_timeout = self.write_timeout
            port.open()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"{self.device_id}: cannot open {self.url}: {exc}") from exc
        self._port = port
        log.debug("%s: opened %s at %d bit/s", self.device_id, self.url, self.baudrate)

    def close(self) -> None:
        port, self._port = self._port, None
        if port is None:
            return
        try:
            port.close()
        except (serial.SerialException, OSError) as exc:
            log.debug("%s: close failed: %s", self.device_id, exc)

    def _require_port(self) -> Any:
        if not self.is_open:
            raise TransportError(f"{self.device_id}: port {self.url} is not open")
        return self._port

    def write(self, data: bytes) -> None:
        port = self._require_port()
        try:
            written = port.write(data)
        except serial.SerialTimeoutException as exc:
            raise TransportTimeout(f"{self.device_id}: write timed out", executed=True) from exc
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.device_id}: write failed: {exc}") from exc
        if written is not None and written != len(data):
            raise TransportTimeout(f"{self.device_id}: wrote {written} of {len(data)} bytes", executed=True)

    def read(self, size: int, timeout: float) -> bytes:
        """Wait up to `timeout` for the first byte, then take whatever else is already buffered."""
        port = self._require_port()
        try:
            port.timeout = max(timeout, 0.0)
            first = bytes(port.read(1))
            if not first or size <= 1:
                return first
            port.timeout = 0
            waiting = min(int(port.in_waiting), size - 1)
            rest = bytes(port.read(waiting)) if waiting else b""
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.device_id}: read failed: {exc}") from exc
        return first + rest

    def discard_input(self) -> None:
        port = self._require_port()
        try:
            port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.device_id}: flush failed: {exc}") from exc

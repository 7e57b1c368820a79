"""pyserial's handler for `sim://<hall>/<device>` (found through `serial.protocol_handler_packages`)."""

from __future__ import annotations

from typing import Any

from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from simulators import simport


class Serial(SerialBase):  # type: ignore[misc]
    """A serial port whose other end is a simulator registered in `simulators.simport`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.endpoint: simport.Endpoint | None = None
        super().__init__(*args, **kwargs)

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        endpoint = simport.lookup(str(self._port))
        if endpoint is None:
            raise SerialException(f"no simulator attached at {self._port}")
        self.endpoint = endpoint
        self.is_open = True

    def close(self) -> None:
        self.is_open = False
        self.endpoint = None

    def _reconfigure_port(self) -> None:
        """Baud rate and framing mean nothing in memory."""

    def _require(self) -> simport.Endpoint:
        if not self.is_open or self.endpoint is None:
            raise PortNotOpenError()
        return self.endpoint

    @property
    def in_waiting(self) -> int:
        endpoint = self._require()
        with endpoint.cond:
            return len(endpoint.buffer)

    def read(self, size: int = 1) -> bytes:
        return self._require().read(size, self._timeout)

    def write(self, data: bytes) -> int:
        payload = bytes(data)
        self._require().write(payload)
        return len(payload)

    def reset_input_buffer(self) -> None:
        endpoint = self._require()
        with endpoint.cond:
            endpoint.buffer.clear()

    def reset_output_buffer(self) -> None:
        self._require()

    def flush(self) -> None:
        self._require()

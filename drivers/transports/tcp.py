"""A TCP socket as a Transport: LAN screen controllers (Onbon TCP 5005), evaluators on TCP, raw 9100.

Every step has its own timeout (connect, write, read), Nagle is off so a short request leaves at once,
and `read` returns whatever arrived, so callers reassemble replies split across segments the same way
they do on a serial line (Transport.read contract).
"""

from __future__ import annotations

import logging
import select
import socket
from urllib.parse import urlsplit

from drivers.errors import TransportError, TransportTimeout
from drivers.transports.base import Transport

log = logging.getLogger(__name__)


def parse_tcp_url(url: str, default_port: int) -> tuple[str, int]:
    """`tcp://host:port`, `socket://host:port` or `host:port` -> (host, port)."""
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    if parts.scheme not in ("tcp", "socket") or not parts.hostname:
        raise TransportError(f"not a TCP address: {url!r}")
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise TransportError(f"bad port in {url!r}") from exc
    return parts.hostname, port


class TcpTransport(Transport):
    """A TCP client connection; a peer that closes becomes TransportError, silence TransportTimeout."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: float = 2.0,
        write_timeout: float = 2.0,
        device_id: str = "",
    ) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.write_timeout = write_timeout
        self.device_id = device_id or f"{host}:{port}"
        self._sock: socket.socket | None = None

    @classmethod
    def from_url(cls, url: str, default_port: int = 5005, **kwargs: float | str) -> TcpTransport:
        host, port = parse_tcp_url(url, default_port)
        return cls(host, port, **kwargs)  # type: ignore[arg-type]

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        """Connect within `connect_timeout`; refused or unreachable is TransportError (device_offline)."""
        if self._sock is not None:
            return
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except TimeoutError as exc:
            raise TransportTimeout(f"{self.device_id}: connect timed out", retryable=True) from exc
        except OSError as exc:
            raise TransportError(f"{self.device_id}: cannot connect: {exc}", retryable=True) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        log.debug("%s: connected", self.device_id)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        try:
            sock.close()
        except OSError as exc:
            log.debug("%s: close failed: %s", self.device_id, exc)

    def _require(self) -> socket.socket:
        if self._sock is None:
            raise TransportError(f"{self.device_id}: not connected")
        return self._sock

    def write(self, data: bytes) -> None:
        sock = self._require()
        sock.settimeout(self.write_timeout)
        try:
            sock.sendall(data)
        except TimeoutError as exc:
            raise TransportTimeout(f"{self.device_id}: write timed out", executed=True) from exc
        except OSError as exc:
            self.close()
            raise TransportError(f"{self.device_id}: write failed: {exc}") from exc

    def read(self, size: int, timeout: float) -> bytes:
        """Wait up to `timeout` for data; b'' on silence; a closed peer is TransportError."""
        sock = self._require()
        try:
            ready, _, _ = select.select([sock], [], [], max(timeout, 0.0))
            if not ready:
                return b""
            sock.settimeout(0)
            data = sock.recv(size)
        except BlockingIOError:
            return b""
        except OSError as exc:
            self.close()
            raise TransportError(f"{self.device_id}: read failed: {exc}") from exc
        if not data:
            self.close()
            raise TransportError(f"{self.device_id}: connection closed by the device")
        return data

    def discard_input(self) -> None:
        sock = self._require()
        while True:
            try:
                ready, _, _ = select.select([sock], [], [], 0)
                if not ready:
                    return
                sock.settimeout(0)
                if not sock.recv(4096):
                    self.close()
                    raise TransportError(f"{self.device_id}: connection closed by the device")
            except BlockingIOError:
                return
            except OSError as exc:
                self.close()
                raise TransportError(f"{self.device_id}: flush failed: {exc}") from exc

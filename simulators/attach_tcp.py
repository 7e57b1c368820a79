"""Attach a simulator to a TCP port on 127.0.0.1, as a LAN device (Onbon 5G on 5005, raw 9100) would be.

One client at a time, like the controllers themselves. The fault layer is the one of `attach.Link`
(fragment, delay, drop replies, garble, unplug/replug); `disconnect()` additionally drops the current
connection, as a cable pulled mid-session does, and `refuse` makes new connections fail.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import time

from simulators.attach import Faults, Link, Simulator

log = logging.getLogger(__name__)


class TcpLink(Link):
    """Listening socket + one accepted client; `host`, `port` and `url` tell the driver where to connect."""

    def __init__(self, sim: Simulator, faults: Faults | None = None, name: str = "sim", port: int = 0) -> None:
        super().__init__(sim, faults, name)
        self._server = socket.create_server(("127.0.0.1", port))
        self.host, self.port = self._server.getsockname()[:2]
        self.url = f"tcp://{self.host}:{self.port}"
        self._client: socket.socket | None = None
        self.connections = 0
        self.refuse = False

    def wait_connected(self, count: int = 1, timeout: float = 2.0) -> bool:
        """True once `count` connections were accepted (a driver's connect returns before the accept)."""
        deadline = time.monotonic() + timeout
        while self.connections < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def disconnect(self) -> None:
        """Close the current connection from the device side (the driver sees the peer close)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()

    def _accept(self, timeout: float) -> None:
        ready, _, _ = select.select([self._server], [], [], timeout)
        if not ready:
            return
        client, peer = self._server.accept()
        if self.refuse:
            client.close()
            return
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = client
        self.connections += 1
        log.debug("%s: client %s connected", self.name, peer)

    def _read_input(self, timeout: float) -> bytes:
        client = self._client
        if client is None:
            self._accept(timeout)
            return b""
        try:
            ready, _, _ = select.select([client], [], [], timeout)
            data = client.recv(4096) if ready else None
        except OSError:
            data = b""
        if data == b"":
            log.debug("%s: client left", self.name)
            self.disconnect()
        return data or b""

    def _write_output(self, data: bytes) -> None:
        client = self._client
        if client is None:
            return
        try:
            client.sendall(data)
        except OSError as exc:
            log.debug("%s: reply lost: %s", self.name, exc)
            self.disconnect()

    def close(self) -> None:
        super().close()
        self.disconnect()
        with contextlib.suppress(OSError):
            self._server.close()


def attach_tcp(sim: Simulator, faults: Faults | None = None, name: str = "sim", port: int = 0) -> TcpLink:
    """Run `sim` behind a TCP port on 127.0.0.1 (a free one unless `port` is given); close() after."""
    link = TcpLink(sim, faults, name, port)
    link.start()
    return link

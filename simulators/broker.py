"""Start an MQTT broker for the demo and the tests: Mosquitto when installed, amqtt otherwise.

The broker listens on a free loopback port and can be stopped and started again on the same port
with the same persistence directory, so tests can take the broker away in the middle of a journey.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

SHARED_CONF = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "mosquitto.conf"
FALLBACK_SETTINGS = (
    "set_tcp_nodelay true\nmax_queued_messages 1000000\nmax_queued_bytes 0\npersistence true\n"
    "autosave_interval 5\n"
)


class BrokerError(RuntimeError):
    """The broker could not be started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def mosquitto_binary() -> str | None:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


class MosquittoBroker:
    """A Mosquitto child process with the project's settings on a loopback port."""

    def __init__(
        self, port: int | None = None, workdir: Path | None = None, extra_conf: str = "", anonymous: bool = True
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise BrokerError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        self.binary = binary
        self.port = port or free_port()
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="hall-mosquitto-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.extra_conf = extra_conf
        self.anonymous = anonymous
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf_path = self.workdir / "mosquitto.conf"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_conf(self) -> None:
        shared = SHARED_CONF.read_text() if SHARED_CONF.exists() else FALLBACK_SETTINGS
        # Started by root, Mosquitto drops to the `mosquitto` user and then cannot write its persistence
        # file in a root-only folder: every session would be lost at a restart. Stay the invoking user.
        user = "user root\n" if os.geteuid() == 0 else ""
        self.conf_path.write_text(
            f"{shared}\nlistener {self.port} 127.0.0.1\nallow_anonymous {str(self.anonymous).lower()}\n{user}"
            f"persistence_location {self.workdir}/\n{self.extra_conf}\n"
        )

    def start(self) -> MosquittoBroker:
        self._write_conf()
        log_file = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - lives as long as the child
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf_path)], stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            wait_for_port(self.port)
        except BrokerError:
            self.stop()
            raise BrokerError(f"mosquitto did not start; see {self.workdir / 'mosquitto.log'}") from None
        log.info("mosquitto started on port %d (pid %d)", self.port, self.proc.pid)
        return self

    def stop(self) -> None:
        """Stop gracefully (SIGTERM) so persistence is written, then wait."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None
        log.info("mosquitto on port %d stopped", self.port)

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AmqttBroker:
    """amqtt in a thread of this process: fine for a demo of a few halls (performance.md trap 3)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._thread: threading.Thread | None = None
        self._loop: object | None = None
        self._broker: object | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> AmqttBroker:
        self._thread = threading.Thread(target=self._run, name="amqtt", daemon=True)
        self._thread.start()
        self._started.wait(15)
        if self._error is not None:
            raise BrokerError(f"amqtt did not start: {self._error}")
        wait_for_port(self.port)
        return self

    def _run(self) -> None:
        import asyncio

        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start() in the caller's thread
            self._error = exc
            self._started.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        import asyncio

        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        broker = Broker(config)
        await broker.start()
        self._stop_requested = asyncio.Event()
        self._started.set()
        await self._stop_requested.wait()
        await broker.shutdown()

    def stop(self) -> None:
        loop = self._loop
        event = getattr(self, "_stop_requested", None)
        if loop is None or event is None or self._thread is None:
            return
        loop.call_soon_threadsafe(event.set)  # type: ignore[attr-defined]
        self._thread.join(timeout=10)


def start_embedded_broker(prefer_mosquitto: bool = True, workdir: Path | None = None) -> MosquittoBroker | AmqttBroker:
    """The demo's broker: a Mosquitto child if the binary exists, otherwise amqtt in-process.

    HALL_EMBEDDED_BROKER=amqtt forces the fallback (to try what a machine without Mosquitto runs).
    """
    if os.environ.get("HALL_EMBEDDED_BROKER", "").lower() == "amqtt":
        prefer_mosquitto = False
    if prefer_mosquitto and mosquitto_binary():
        return MosquittoBroker(workdir=workdir).start()
    log.warning("using amqtt in-process as the broker (fine for a few halls only; install mosquitto for more)")
    return AmqttBroker().start()

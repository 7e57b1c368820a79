"""Start the real hall server and real edge agents as child processes, the way an operator would.

The simulators never import `hall_server` or `edge`: they run `hallctl server` and `hallctl edge`
and talk to the server over its HTTP API like any other client.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from simulators.broker import free_port

log = logging.getLogger(__name__)


class ProcessError(RuntimeError):
    """A child process did not start or answer in time."""


def _spawn(args: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = open(log_path, "ab")  # noqa: SIM115 - the child owns it until it exits
    child_env = {**os.environ, "HALL_LOG_LEVEL": os.environ.get("HALL_LOG_LEVEL", "INFO"), **(env or {})}
    child_env.setdefault("COLUMNS", "200")
    return subprocess.Popen(
        [sys.executable, "-m", "hallctl", *args], stdout=out, stderr=subprocess.STDOUT, env=child_env
    )


def _terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class ServerProcess:
    """`hallctl server` on a free loopback port, with its HTTP client."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        mqtt_url: str | None,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.env = env or {}
        self.database_url = database_url
        self.mqtt_url = mqtt_url
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "logs" / "server.log"
        self.http = httpx.Client(base_url=self.url, timeout=10.0)
        self.admin_token = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        args = ["server", "--host", "127.0.0.1", "--port", str(self.port), "--database-url", self.database_url]
        if self.mqtt_url:
            args += ["--mqtt-url", self.mqtt_url]
        env = {
            "HALL_PRINCIPALS_FILE": str(self.workdir / "principals.json"),
            "HALL_ADMIN_TOKEN_FILE": str(self.workdir / "admin.token"),
            **self.env,
        }
        self.proc = _spawn(args, self.log_path, env)
        self._wait_healthy(timeout)
        self._use_admin_token()
        return self

    def _use_admin_token(self) -> None:
        """Act as the bootstrap admin the server created (its token file is readable by us only)."""
        token_file = Path(self.env.get("HALL_ADMIN_TOKEN_FILE", self.workdir / "admin.token"))
        if token_file.exists():
            self.admin_token = token_file.read_text(encoding="utf-8").strip()
            self.http.headers["Authorization"] = f"Bearer {self.admin_token}"

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ProcessError(f"hall server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if self.http.get("/api/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise ProcessError(f"hall server not healthy after {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        _terminate(self.proc)
        self.proc = None

    def wait_drained(self, timeout: float) -> float:
        """Wait until the server has applied what the bus delivered (its ingest queue empty three reads
        in a row), e.g. the devices' births before a measured day starts; returns the seconds taken."""
        start = time.monotonic()
        quiet = 0
        while time.monotonic() - start < timeout and quiet < 3:
            quiet = quiet + 1 if self.get("/api/metrics").get("ingest_queue", 0) == 0 else 0
            time.sleep(0.5)
        return time.monotonic() - start

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far (Linux /proc); 0 when it is not running."""
        if self.proc is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.stop()
        self.http.close()

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params or None)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(path, json=body or {})

    def put(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.put(path, json=body)


class EdgeProcess:
    """`hallctl edge` for one hall, configured from a JSON file written here."""

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.hall = str(config["hall"])
        self.config_path = workdir / "edges" / f"{self.hall}.json"
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
        self.log_path = workdir / "logs" / f"edge-{self.hall}.log"
        self.db_path = Path(config["state_dir"]) / f"{self.hall}.{config.get('edge', 'edge')}.sqlite3"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> EdgeProcess:
        self.proc = _spawn(["edge", "--config", str(self.config_path)], self.log_path)
        return self

    def kill(self) -> None:
        """SIGKILL: the edge gets no chance to finish anything."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=5)
            self.proc = None

    def stop(self) -> None:
        _terminate(self.proc)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

"""The edge's typed configuration: which hall, which broker, which devices. Read once, passed down."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drivers.devices.base import DeviceSpec
from hallbus.connection import broker_address
from hallbus.topics import check_id


class DeviceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: str
    kind: str
    protocol: str
    url: str
    profile: str
    address: int = 1
    model: str = ""
    enabled: bool = True
    #: seconds between event polls, overriding the driver's default (HDP/1: 0.1 s); a city of thousands of
    #: keypads on one machine polls less often (performance.md). None: the driver's own interval.
    poll_interval_s: float | None = Field(default=None, gt=0, le=60)

    _id_ok = field_validator("device_id")(lambda v: check_id(v, "device id"))

    def spec(self) -> DeviceSpec:
        return DeviceSpec(
            device_id=self.device_id,
            kind=self.kind,
            protocol=self.protocol,
            url=self.url,
            profile=self.profile,
            address=self.address,
            model=self.model,
        )


class EdgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hall: str
    edge: str = "edge"
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    #: bus.md §9: the edge's own account; the password lives in a file only the edge's user can read
    mqtt_username: str | None = None
    mqtt_password_file: Path | None = None
    state_dir: Path = Path("var/edge")
    keepalive_s: int = Field(default=30, ge=5, le=600)
    outbox_max_bytes: int = Field(default=64 * 1024 * 1024, ge=64 * 1024)
    processed_keep_s: int = Field(default=24 * 3600, ge=60)
    failures_before_offline: int = Field(default=3, ge=1, le=100)
    probe_interval_s: float = Field(default=2.0, gt=0)
    reconnect_min_s: float = Field(default=0.2, gt=0)
    reconnect_max_s: float = Field(default=8.0, gt=0)
    #: longest a device worker sleeps when nothing is due (it wakes earlier for a command, poll or probe)
    idle_wait_max_s: float = Field(default=1.0, gt=0, le=60)
    #: None: a thread per device (a real hall). N: N pooled threads run every device (edge/pool.py).
    worker_threads: int | None = Field(default=None, ge=1, le=256)
    devices: list[DeviceConfig] = Field(default_factory=list)

    _hall_ok = field_validator("hall")(lambda v: check_id(v, "hall id"))
    _edge_ok = field_validator("edge")(lambda v: check_id(v, "edge id"))

    @property
    def client_id(self) -> str:
        """bus.md §9: username = client id = <hall_id>.<edge_id>."""
        return f"{self.hall}.{self.edge}"

    def broker_credentials(self) -> tuple[str, str] | None:
        """(username, password) when a password file is configured; the username defaults to the client id."""
        if self.mqtt_password_file is None:
            return None
        password = Path(self.mqtt_password_file).read_text(encoding="utf-8").strip()
        return self.mqtt_username or self.client_id, password

    def broker_address(self) -> tuple[str, int]:
        return broker_address(self.mqtt_url)

    @property
    def db_path(self) -> Path:
        return self.state_dir / f"{self.hall}.{self.edge}.sqlite3"


def load_config(path: Path) -> EdgeConfig:
    """Read an edge configuration file (JSON)."""
    return EdgeConfig.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))

"""Typed configuration of the hall server, read once from the environment (prefix ``HALL_``).

Everything tunable lives here so the services receive plain values and never read the
environment themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hall_server.integrity_settings import IntegritySettings

DEFAULT_COMMAND_TTL_S: dict[str, float] = {
    "print_ticket": 30.0,
    "show_text": 30.0,
    "show_number": 30.0,
    "request_rating": 60.0,
    "rebirth": 30.0,
}


class Settings(BaseSettings):
    """Server settings; `HALL_DATABASE_URL`, `HALL_MQTT_URL`, ... override the defaults."""

    model_config = SettingsConfigDict(env_prefix="HALL_", extra="ignore")

    database_url: str = "sqlite:///./var/hall.db"
    #: "required": every call but public reads needs a bearer token (hall_server/auth.py); "off" makes
    #: every caller an anonymous admin, for tests of the domain alone
    auth: Literal["required", "off"] = "required"
    #: principals with SHA-256 of their tokens; created with a bootstrap admin on first start
    principals_file: Path = Path("var/principals.json")
    admin_token_file: Path = Path("var/admin.token")
    mqtt_url: str | None = None
    mqtt_client_id: str = "hall-server"
    #: bus.md §9: the server's broker account (username = client id); the password is read from a file
    mqtt_password_file: Path | None = None
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=600)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    command_ttl_s: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_COMMAND_TTL_S))
    default_command_ttl_s: float = 30.0
    rating_timeout_s: int = Field(default=30, ge=1, le=3600)
    sweep_interval_s: float = Field(default=1.0, gt=0)
    timezone: str = "Asia/Shanghai"
    #: cases, seals, certificates, ratings export, rectification (hall_server/integrity_settings.py)
    integrity: IntegritySettings = Field(default_factory=IntegritySettings)

    # dispatch (docs/dispatch.md)
    dispatch_round_ms: int = Field(default=300, ge=0, le=10_000)  # 0: dispatch at once, inside the event
    dispatch_recovery_s: float = Field(default=30.0, ge=0)  # slow safety sweep for lost wake-ups; 0: off
    recall_limit: int = Field(default=3, ge=0, le=20)  # recalls announced; one more press makes it no_show
    hold_timeout_s: int = Field(default=300, ge=1, le=4 * 3600)
    booking_early_s: int = Field(default=1800, ge=0)  # a booked ticket is priority from slot - early ...
    booking_late_s: int = Field(default=900, ge=0)  # ... until slot + late

    # wait prediction and recommendation (hall_server/queueing.py)
    arrival_window_s: int = Field(default=3600, ge=60)  # moving window of observed arrivals
    service_samples: int = Field(default=50, ge=1)  # moving average over the last N service times
    min_samples: int = Field(default=5, ge=1)  # fewer arrivals or services: fall back
    rates_cache_s: float = Field(default=5.0, ge=0)  # observed arrival and service rates are reused this long
    default_service_s: float = Field(default=360.0, gt=0)  # before anything was served
    alternative_max_km: float = Field(default=10.0, ge=0)
    alternative_min_saving_s: float = Field(default=600.0, ge=0)
    alternative_min_saving_ratio: float = Field(default=0.5, ge=0, le=1)
    alternative_candidates: int = Field(default=5, ge=1, le=50)  # nearest halls considered
    alternative_cache_s: float = Field(default=10.0, ge=0)  # another hall's forecast is reused this long

    def ttl_for(self, command: str) -> float:
        """How long a command may wait before it must not start (bus.md §5.1)."""
        return self.command_ttl_s.get(command, self.default_command_ttl_s)

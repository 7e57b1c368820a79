"""Typed configuration of the hall server, read once from the environment (prefix ``HALL_``).

Everything tunable lives here so the services receive plain values and never read the
environment themselves.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    mqtt_url: str | None = None
    mqtt_client_id: str = "hall-server"
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=600)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    command_ttl_s: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_COMMAND_TTL_S))
    default_command_ttl_s: float = 30.0
    rating_timeout_s: int = Field(default=30, ge=1, le=3600)
    sweep_interval_s: float = Field(default=1.0, gt=0)
    timezone: str = "Asia/Shanghai"

    def ttl_for(self, command: str) -> float:
        """How long a command may wait before it must not start (bus.md §5.1)."""
        return self.command_ttl_s.get(command, self.default_command_ttl_s)

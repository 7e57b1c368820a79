"""Settings of the integrity features (cases, seals, certificates, ratings export, rectification).

`Settings.integrity` holds them, read from the environment with the same `HALL_` prefix.
`integrity(ctx)` is how services get them; a test or a tool may `configure` a context with explicit
values, which then win.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:  # settings are imported by the context itself
    from hall_server.context import HallContext

A3 = "iso_a3_297x420mm"
A4 = "iso_a4_210x297mm"
Media = Literal["iso_a3_297x420mm", "iso_a4_210x297mm"]


class IntegritySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HALL_", extra="ignore")

    #: the server's own base URL as a hall's edge reaches it (certificate `document_url`); empty: http://host:port
    public_url: str = ""
    #: working days (Mon–Fri) to close a rectification item opened by a bad rating (domain.md: 5 to 15)
    rectification_days: int = Field(default=5, ge=1, le=60)
    #: ratings export (devices.md §6): `satisfaction` = the internal level, or GB/T 39046 code (6 - level)
    export_satisfaction: Literal["level", "gbt39046"] = "level"
    #: evaluation channel code `pf` per rating source: keypad 5 (政务大厅其他终端), tablet 4 (政务大厅平板电脑)
    export_channel: dict[str, int] = Field(default_factory=lambda: {"key": 5, "touch": 4, "qr": 5})
    #: a JSON file {"<hall>/<device>": "<64 hex>"} with the seal machines' keys; unset: keys in the database
    seal_key_file: Path | None = None
    #: seconds a seal token stays valid on the machine (AUTHORIZE_JOB not_after)
    seal_token_ttl_s: int = Field(default=600, ge=30, le=24 * 3600)
    #: stamps one token allows (max_count)
    seal_max_count: int = Field(default=1, ge=1, le=16)
    #: ask the machine to check the document's QR against the token's doc_hash before stamping
    seal_verify_qr: bool = False
    #: certificate media per matter code; others get A4 (the duplicate insert)
    certificate_media: dict[str, Media] = Field(default_factory=dict)
    #: blank serials: prefix per media, then the hall and a 6-digit counter
    blank_prefix: dict[str, str] = Field(default_factory=lambda: {A3: "ZB", A4: "FB"})
    #: the hall code of case numbers (办件编号 = code + yyyymmdd + 5-digit sequence) per hall id; default 6 digits
    #: derived from the hall id
    hall_codes: dict[str, str] = Field(default_factory=dict)


_CONFIGURED: dict[int, IntegritySettings] = {}


def configure(ctx: HallContext, settings: IntegritySettings) -> None:
    _CONFIGURED[id(ctx)] = settings


def integrity(ctx: HallContext) -> IntegritySettings:
    found = _CONFIGURED.get(id(ctx))
    if found is not None:
        return found
    merged: IntegritySettings = ctx.settings.integrity
    return merged


def public_url(ctx: HallContext) -> str:
    configured = integrity(ctx).public_url.rstrip("/")
    if configured:
        return configured
    host = ctx.settings.host if ctx.settings.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{ctx.settings.port}"

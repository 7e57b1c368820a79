"""Payload models of bus.md §2, and the one way to encode and decode them.

Every payload is a JSON object of at most 64 KiB carrying `v` (schema version) and `ts` (UTC ms).
Receivers ignore unknown fields (pydantic's default `extra="ignore"`); `decode` turns every way a
payload can be wrong into a `PayloadError` with a reason fit for one log line.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hallbus.errors import PayloadError, first_error
from hallbus.topics import check_command, check_id

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024

ResultStatus = Literal["ok", "error", "rejected", "expired", "duplicate"]


def now_ms() -> int:
    """UTC milliseconds since the epoch: the only time format on the bus."""
    return time.time_ns() // 1_000_000


def new_id() -> str:
    """A UUID v4 string, the form of every `cmd_id` and `event_id`."""
    return str(uuid.uuid4())


class Envelope(BaseModel):
    """Fields every payload carries."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = 1
    ts: int = Field(default_factory=now_ms, ge=0)


class ServerStatus(Envelope):
    state: Literal["online", "offline"]
    session: int = Field(ge=0)


class EdgeStatus(Envelope):
    edge: str
    state: Literal["online", "offline"]
    session: int = Field(ge=0)
    boot_id: str | None = None

    _edge_ok = field_validator("edge")(lambda v: check_id(v, "edge id"))


class DeviceInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    device: str
    kind: str
    protocol: str
    model: str = ""
    profile: str = ""
    transport: str = ""
    caps: list[str] = Field(default_factory=list)

    _device_ok = field_validator("device")(lambda v: check_id(v, "device id"))


class Inventory(Envelope):
    edge: str
    devices: list[DeviceInfo]


class Availability(Envelope):
    edge: str
    state: Literal["online", "offline"]
    reason: str = ""


class StatePayload(Envelope):
    """A device state snapshot: the fields depend on the device kind, so extra fields are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    edge: str

    def fields(self) -> dict[str, Any]:
        """The kind-specific state fields (everything but the envelope)."""
        return {k: v for k, v in self.model_dump().items() if k not in ("v", "ts", "edge")}


class ErrorInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str
    message: str = ""
    retryable: bool = False


class Command(Envelope):
    cmd_id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    expires_at: int = Field(ge=0)
    args: dict[str, Any] = Field(default_factory=dict)

    def expired(self, at_ms: int | None = None) -> bool:
        return (now_ms() if at_ms is None else at_ms) > self.expires_at


class Result(Envelope):
    edge: str
    stream: str
    seq: int = Field(ge=1)
    cmd_id: str = Field(min_length=1, max_length=64)
    status: ResultStatus
    data: dict[str, Any] = Field(default_factory=dict)
    error: ErrorInfo | None = None
    original_status: ResultStatus | None = None


class Event(Envelope):
    edge: str
    stream: str
    seq: int = Field(ge=1)
    event_id: str = Field(min_length=1, max_length=64)
    type: str
    source_seq: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    _type_ok = field_validator("type")(check_command)


M = TypeVar("M", bound=BaseModel)


def encode(message: BaseModel) -> bytes:
    """Serialise a payload; raises PayloadError if it would exceed 64 KiB."""
    raw = message.model_dump_json(exclude_none=False).encode("utf-8")
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return raw


def decode(model: type[M], payload: bytes | bytearray | str) -> M:
    """Parse and validate a payload as `model`; every failure is a PayloadError with a reason."""
    raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise PayloadError(f"payload is a JSON {type(obj).__name__}, not an object")
    if obj.get("v") != SCHEMA_VERSION:
        raise PayloadError(f"unknown schema version v={obj.get('v')!r}")
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise first_error(exc, model.__name__, "payload") from None

"""The command, event and state catalogue: what each device kind accepts and reports.

The server validates arguments before it stores a command and the edge validates them again before
it touches a device (bus.md §5.3 step 6), both with these models, so the two can never disagree.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hallbus.errors import PayloadError, first_error

# Device kinds and protocol ids (devices.md §1).
TICKET_PRINTER = "ticket_printer"
WINDOW_SCREEN = "window_screen"
HALL_SCREEN = "hall_screen"
CALLER = "caller"
EVALUATOR = "evaluator"
VOICE = "voice"
CERT_PRINTER = "cert_printer"
ID_READER = "id_reader"
SEAL_MACHINE = "seal_machine"
STAMPER = "stamper"


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=512)


class PrintTicketArgs(Args):
    """Everything printed on a queue ticket; `qr` is the payload of the ticket's QR code."""

    hall_name: str = Field(min_length=1, max_length=64)
    ticket_no: str = Field(min_length=1, max_length=16)
    matter: str = Field(min_length=1, max_length=64)
    ahead: int = Field(ge=0, le=100_000)
    issued_at: int = Field(ge=0)
    qr: str = Field(min_length=1, max_length=256)
    notice: str = Field(default="", max_length=128)


class ShowTextArgs(Args):
    """A line of text for an LED strip or a generic screen area."""

    text: str = Field(min_length=1, max_length=128)
    area: int = Field(default=0, ge=0, le=31)
    effect: Literal["static", "move_left", "quick_type"] = "static"
    stay_s: float = Field(default=5.0, ge=0, le=120)


class ClearArgs(Args):
    area: int | None = Field(default=None, ge=0, le=31)


class ShowNumberArgs(Args):
    text: str = Field(min_length=0, max_length=8)
    blink: int = Field(default=0, ge=0, le=255)


class ShowInfoArgs(Args):
    waiting: int = Field(ge=0, le=65535)
    text: str = Field(default="", max_length=64)


class SetClerkArgs(Args):
    window_no: str = Field(min_length=1, max_length=16)
    staff_id: str = Field(min_length=1, max_length=32)
    staff_name: str = Field(min_length=1, max_length=32)
    title: str = Field(default="", max_length=32)
    photo_id: int = Field(default=0, ge=0, le=0xFFFFFFFF)


class RequestRatingArgs(Args):
    rating_id: int = Field(ge=1, le=0xFFFFFFFF)
    timeout_s: int = Field(default=30, ge=0, le=3600)
    case_no: str = Field(default="", max_length=50)
    level_mask: int = Field(default=0x1F, ge=1, le=0x1F)
    options: int = Field(default=0x01, ge=0, le=0x0F)


class WritePhotoArgs(Args):
    """A clerk photo for the evaluator (JPEG, base64); sent as PHOTO_WRITE chunks (devices.md §5.11)."""

    photo_id: int = Field(ge=1, le=0xFFFFFFFF)
    jpeg_b64: str = Field(min_length=4, max_length=400_000)


class RatingReason(Args):
    code: int = Field(ge=0, le=0xFFFF)
    label: str = Field(min_length=1, max_length=32)


class SetReasonsArgs(Args):
    """The reasons offered for one level (usually 1 and 2), SET_REASONS (devices.md §5.11)."""

    level: int = Field(ge=1, le=5)
    reasons: list[RatingReason] = Field(default_factory=list, max_length=32)


class CancelRatingArgs(Args):
    rating_id: int = Field(ge=1, le=0xFFFFFFFF)


class SetModeArgs(Args):
    mode: Literal["idle", "serving", "paused", "off_duty"]


class EmptyArgs(Args):
    pass


class CallShown(Args):
    ticket_no: str = Field(min_length=1, max_length=16)
    window_no: str = Field(min_length=1, max_length=16)


class ShowCallsArgs(Args):
    """The hall screen's picture: the last calls (oldest first), waiting counts per category, a notice."""

    calls: list[CallShown] = Field(default_factory=list, max_length=16)
    waiting: dict[str, int] = Field(default_factory=dict, max_length=16)
    notice: str = Field(default="", max_length=256)


class SetBrightnessArgs(Args):
    level: int = Field(ge=0, le=15)


class AnnounceArgs(Args):
    """Call a ticket to a window by voice; the edge's speaker queues it so calls never overlap."""

    ticket_no: str = Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9 -]+$")
    window_no: str = Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9 -]+$")
    recall: bool = False


class PrintCertificateArgs(Args):
    """A certificate on a pre-printed blank; the PDF is fetched by the edge (URL or path), never on the bus."""

    document_url: str | None = Field(default=None, max_length=512)
    document_path: str | None = Field(default=None, max_length=512)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    media: Literal["iso_a3_297x420mm", "iso_a4_210x297mm"]
    tray: str | None = Field(default=None, max_length=32)
    blank_serial: str = Field(min_length=1, max_length=32)
    credit_code: str = Field(default="", max_length=18)
    operator: str = Field(default="", max_length=32)
    copies: int = Field(default=1, ge=1, le=10)


# ---- seal machines and inline stampers (devices.md §5.12) ----
# The hall server signs authorisations with the machine's key; the edge forwards them unchanged.

HEX8 = r"^[0-9a-fA-F]{16}$"
HEX16 = r"^[0-9a-fA-F]{32}$"


class AuthorizeJobArgs(Args):
    job_id: int = Field(ge=1, le=0xFFFFFFFF)
    slot: int = Field(ge=1, le=255)
    seal_rfid: str = Field(pattern=HEX8)
    max_count: int = Field(ge=1, le=0xFFFF)
    not_after: int = Field(ge=0, le=0xFFFFFFFF)
    nonce: int = Field(ge=1, le=0xFFFFFFFF)
    doc_hash: str = Field(default="0" * 16, pattern=HEX8)
    mac: str = Field(pattern=HEX16)


class StampArgs(Args):
    job_id: int = Field(ge=1, le=0xFFFFFFFF)
    stamp_idx: int = Field(ge=1, le=0xFFFF)
    x_01mm: int = Field(default=0, ge=0, le=0xFFFF)
    y_01mm: int = Field(default=0, ge=0, le=0xFFFF)
    photo_before: bool = True
    photo_after: bool = True
    verify_qr: bool = False


class JobIdArgs(Args):
    job_id: int = Field(ge=1, le=0xFFFFFFFF)


class GetLogArgs(Args):
    from_seq: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    max: int = Field(default=32, ge=1, le=255)


class GetPhotoArgs(Args):
    photo_id: int = Field(ge=1, le=0xFFFFFFFF)


class UnlockDoorArgs(Args):
    door: Literal["paper", "safety"]
    seconds: int = Field(default=30, ge=1, le=255)
    job_id: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    nonce: int = Field(default=0, ge=0, le=0xFFFFFFFF)
    mac: str = Field(default="0" * 32, pattern=HEX16)


class LockDoorArgs(Args):
    door: Literal["paper", "safety"]


class SealSetModeArgs(Args):
    mode: Literal["normal", "maintenance", "locked_out"]
    nonce: int = Field(ge=1, le=0xFFFFFFFF)
    mac: str = Field(pattern=HEX16)


class ClearTamperArgs(Args):
    nonce: int = Field(ge=1, le=0xFFFFFFFF)
    mac: str = Field(pattern=HEX16)


_STAMPER_COMMANDS: dict[str, type[Args]] = {
    "authorize_job": AuthorizeJobArgs,
    "stamp": StampArgs,
    "end_job": JobIdArgs,
    "get_counters": EmptyArgs,
    "get_log": GetLogArgs,
    "get_photo": GetPhotoArgs,
    "seal_set_mode": SealSetModeArgs,
    "clear_tamper": ClearTamperArgs,
}


COMMANDS: dict[str, dict[str, type[Args]]] = {
    TICKET_PRINTER: {"print_ticket": PrintTicketArgs},
    WINDOW_SCREEN: {"show_text": ShowTextArgs, "clear": ClearArgs},
    HALL_SCREEN: {
        "show_text": ShowTextArgs,
        "clear": ClearArgs,
        "show_calls": ShowCallsArgs,
        "set_brightness": SetBrightnessArgs,
    },
    VOICE: {"announce": AnnounceArgs},
    CERT_PRINTER: {"print_certificate": PrintCertificateArgs},
    CALLER: {"show_number": ShowNumberArgs, "show_info": ShowInfoArgs},
    EVALUATOR: {
        "set_clerk": SetClerkArgs,
        "request_rating": RequestRatingArgs,
        "cancel_rating": CancelRatingArgs,
        "set_mode": SetModeArgs,
        "write_photo": WritePhotoArgs,
        "set_reasons": SetReasonsArgs,
    },
    ID_READER: {"read_card": EmptyArgs},
    SEAL_MACHINE: {**_STAMPER_COMMANDS, "unlock_door": UnlockDoorArgs, "lock_door": LockDoorArgs},
    STAMPER: dict(_STAMPER_COMMANDS),
}
EDGE_COMMANDS: dict[str, type[Args]] = {"rebirth": EmptyArgs}

# Longest execution time per command, added to expires_at for the server's deadline (bus.md §5.4).
EXECUTION_BUDGET_S: dict[str, float] = {"print_ticket": 20.0, "request_rating": 5.0, "stamp": 15.0, "read_card": 5.0}
DEFAULT_EXECUTION_BUDGET_S = 5.0

# Caller keypad keys (devices.md §5.9) by their bus name.
KEYS: dict[int, str] = {
    0x01: "call_next",
    0x02: "recall",
    0x03: "start",
    0x04: "finish",
    0x05: "skip",
    0x06: "pause",
    0x07: "resume",
    0x08: "transfer",
    0x09: "ask_rating",
    0x0A: "login",
    0x0B: "logout",
    **{0x10 + d: f"digit_{d}" for d in range(10)},
}
KEY_CODES: dict[str, int] = {name: code for code, name in KEYS.items()}

RATING_LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


class KeyEventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str
    arg: int = 0
    long: bool = False


class RatingEventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    rating_id: int = Field(ge=1, le=0xFFFFFFFF)
    level: int = Field(ge=1, le=5)
    source: Literal["key", "touch", "qr"] = "key"
    reasons: list[int] = Field(default_factory=list)
    text: str = Field(default="", max_length=512)


class RatingClosedData(BaseModel):
    """A rating request that ended without a rating (timeout or cancel): nobody rated."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rating_id: int = Field(ge=1, le=0xFFFFFFFF)


class StampDoneData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    job_id: int = Field(ge=0, le=0xFFFFFFFF)
    stamp_idx: int = Field(ge=1, le=0xFFFF)
    slot: int = Field(ge=0, le=255)
    seal_rfid: str
    lifetime_count_after: int = Field(ge=0)
    photo_before: int | None = None
    photo_after: int | None = None


class StampFailedData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    job_id: int = Field(ge=0, le=0xFFFFFFFF)
    stamp_idx: int = Field(ge=0, le=0xFFFF)
    reason: str
    reason_code: int = Field(ge=0, le=255)


class DoorEventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    door: str
    open: bool
    authorised: bool


class TamperEventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: str


class PhotoReadyData(BaseModel):
    """A stamp or door photo: it travels to the server over HTTP; the event carries id and SHA-256."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    photo_id: int = Field(ge=1, le=0xFFFFFFFF)
    size: int = Field(ge=0)
    kind: str
    sha256: str | None = None


class JobStateData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    job_id: int = Field(ge=0, le=0xFFFFFFFF)
    state: str


EVENTS: dict[str, type[BaseModel]] = {
    "key": KeyEventData,
    "rating": RatingEventData,
    "rating_timeout": RatingClosedData,
    "rating_cancelled": RatingClosedData,
    "stamp_done": StampDoneData,
    "stamp_failed": StampFailedData,
    "door": DoorEventData,
    "tamper": TamperEventData,
    "photo_ready": PhotoReadyData,
    "job_state": JobStateData,
}


def command_args_model(kind: str, name: str) -> type[Args]:
    """The argument model of command `name` for device kind `kind`; PayloadError if there is none."""
    try:
        return COMMANDS[kind][name]
    except KeyError:
        raise PayloadError(f"unknown command {name!r} for device kind {kind!r}") from None


def validate_args(kind: str, name: str, args: dict[str, Any]) -> Args:
    """Validate command arguments; PayloadError names the first bad field."""
    model = command_args_model(kind, name)
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        raise first_error(exc, name, "args") from None


def validate_event(event_type: str, data: dict[str, Any]) -> BaseModel:
    model = EVENTS.get(event_type)
    if model is None:
        raise PayloadError(f"unknown event type {event_type!r}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise first_error(exc, event_type, "data") from None

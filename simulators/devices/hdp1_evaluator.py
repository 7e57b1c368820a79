"""HDP/1 evaluator simulator (devices.md §5.11) with the rating rules a real one must keep.

One request pending at a time; a rating_id is final once rated; paused or off duty refuses requests;
a request that is not answered in time ends with RATING_TIMEOUT, and no level is ever made up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drivers.codecs import hdp1
from simulators.devices.hdp1_device import Hdp1DeviceSimulator, Hdp1Refused

log = logging.getLogger(__name__)


class NoRatingPending(RuntimeError):  # noqa: N818 (reads as the situation, like KeyError)
    """`rate()` was called while no request is pending (nothing to rate, or already rated)."""


@dataclass
class PendingRequest:
    request: hdp1.RequestRating
    deadline: float | None  # time.monotonic() value, None = no timeout


class EvaluatorSimulator(Hdp1DeviceSimulator):
    """State: `mode`, `clerk`, `pending_rating_id`, `rated`, `messages`; control: `rate()`, `press_key()`."""

    dev_type = hdp1.DevType.EVALUATOR
    caps = 0x05

    def __init__(self, profile: dict[str, Any], address: int | None = None, *, serial: str = "SIMEVAL1") -> None:
        super().__init__(profile, address, serial=serial)
        self.mode = 0
        self.clerk: hdp1.SetClerk | None = None
        self.pending: PendingRequest | None = None
        self.rated: dict[int, int] = {}  # rating_id -> level, final
        self.closed: set[int] = set()  # timed out or cancelled
        self.requests_started: list[int] = []
        self.messages: list[str] = []
        self.photos: dict[int, bytes] = {}  # photo_id -> complete JPEG
        self._partial: dict[int, tuple[int, bytearray]] = {}  # photo_id -> (total, bytes so far)
        self.reasons: dict[int, dict[int, str]] = {}  # level -> {code: label}
        self._handlers.update({
            hdp1.Cmd.SET_CLERK: self._set_clerk,
            hdp1.Cmd.REQUEST_RATING: self._request_rating,
            hdp1.Cmd.CANCEL_RATING: self._cancel_rating,
            hdp1.Cmd.SET_MODE: self._set_mode,
            hdp1.Cmd.SHOW_MESSAGE: self._show_message,
            hdp1.Cmd.PHOTO_WRITE: self._photo_write,
            hdp1.Cmd.SET_REASONS: self._set_reasons,
        })  # fmt: skip

    # ---- control ------------------------------------------------------------------------------

    @property
    def pending_rating_id(self) -> int | None:
        with self._cond:
            self.tick()
            return self.pending.request.rating_id if self.pending else None

    def wait_for_request(self, timeout: float) -> int | None:
        """The pending rating_id once a request is pending, or None after `timeout`."""
        with self._cond:
            self._cond.wait_for(lambda: self.pending is not None, timeout)
            return self.pending.request.rating_id if self.pending else None

    def rate(self, level: int, reasons: Iterable[int] = (), text: str = "", source: str = "key") -> int:
        """The citizen rates the pending request; returns its rating_id; NoRatingPending if none."""
        with self._cond:
            self.tick()
            if self.pending is None:
                raise NoRatingPending("no rating request is pending")
            request = self.pending.request
            if not 1 <= level <= 5 or not request.level_mask & (1 << (level - 1)):
                raise ValueError(f"level {level} is not offered (mask {request.level_mask:#04x})")
            reasons = tuple(reasons)
            unknown = set(reasons) - set(self.reasons.get(level, {}))
            if unknown and level in self.reasons:
                raise ValueError(f"reason codes {sorted(unknown)} were not set for level {level}")
            data = hdp1.RatingData(request.rating_id, level, hdp1.RATING_SOURCE_CODES[source], reasons, text)
            self.queue_event(hdp1.EventCode.RATING, data.encode())
            self.rated[request.rating_id] = level
            self.pending = None
            return request.rating_id

    def press_key(self, key: int) -> int:
        """A raw keypad key (e.g. "call staff"); also what presses after a final rating produce."""
        return self.queue_event(hdp1.EventCode.EVAL_KEY, hdp1.EvalKeyData(key).encode())

    def tick(self) -> None:
        """End a pending request whose timeout has passed, with RATING_TIMEOUT."""
        pending = self.pending
        if pending is None or pending.deadline is None or time.monotonic() < pending.deadline:
            return
        self._close_pending(hdp1.EventCode.RATING_TIMEOUT)

    def expire_now(self) -> None:
        """Let the pending request's timeout pass at once (tests must not sleep for 30 s)."""
        with self._cond:
            if self.pending is not None:
                self.pending.deadline = time.monotonic()
            self.tick()

    def type_status(self) -> bytes:
        pending = self.pending.request.rating_id if self.pending else 0
        return hdp1.EvaluatorStatus(self.mode, pending, 4).encode()

    # ---- commands -----------------------------------------------------------------------------

    def _close_pending(self, code: int) -> None:
        assert self.pending is not None
        rating_id = self.pending.request.rating_id
        self.pending = None
        self.closed.add(rating_id)
        self.queue_event(code, hdp1.RatingId(rating_id).encode())

    def _request_rating(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        request = hdp1.RequestRating.decode(frame.payload, frame.encoding)
        if request.rating_id == 0 or not 1 <= request.level_mask <= 0x1F:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        if self.mode in (2, 3) or request.rating_id in self.rated or request.rating_id in self.closed:
            raise Hdp1Refused(hdp1.Status.WRONG_STATE)
        if self.pending is not None:
            if self.pending.request.rating_id == request.rating_id:
                return hdp1.Status.OK, b""  # idempotent by rating_id: no second rating
            if not request.options & hdp1.RequestRating.OPT_REPLACE:
                raise Hdp1Refused(hdp1.Status.WRONG_STATE)
            self._close_pending(hdp1.EventCode.RATING_CANCELLED)
        deadline = time.monotonic() + request.timeout_s if request.timeout_s else None
        self.pending = PendingRequest(request, deadline)
        self.requests_started.append(request.rating_id)
        self._cond.notify_all()
        return hdp1.Status.OK, b""

    def _cancel_rating(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        rating_id = hdp1.RatingId.decode(frame.payload).rating_id
        if self.pending is None or self.pending.request.rating_id != rating_id:
            raise Hdp1Refused(hdp1.Status.WRONG_STATE)
        self._close_pending(hdp1.EventCode.RATING_CANCELLED)
        return hdp1.Status.OK, b""

    def _set_clerk(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        self.clerk = hdp1.SetClerk.decode(frame.payload, frame.encoding)
        return hdp1.Status.OK, b""

    def _set_mode(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        mode = hdp1.SetMode.decode(frame.payload).mode
        if mode > 3:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        self.mode = mode
        return hdp1.Status.OK, b""

    def _photo_write(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        """Chunks must come in order from offset 0; the photo is stored once all `total` bytes came."""
        write = hdp1.PhotoWrite.decode(frame.payload)
        if write.photo_id == 0 or write.offset + len(write.chunk) > write.total:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        if write.offset == 0:
            self._partial[write.photo_id] = (write.total, bytearray())
        partial = self._partial.get(write.photo_id)
        if partial is None or partial[0] != write.total or len(partial[1]) != write.offset:
            raise Hdp1Refused(hdp1.Status.WRONG_STATE)
        partial[1].extend(write.chunk)
        if len(partial[1]) == write.total:
            self.photos[write.photo_id] = bytes(partial[1])
            del self._partial[write.photo_id]
        return hdp1.Status.OK, b""

    def _set_reasons(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        reasons = hdp1.SetReasons.decode(frame.payload, frame.encoding)
        if not 1 <= reasons.level <= 5:
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        self.reasons[reasons.level] = dict(reasons.reasons)
        return hdp1.Status.OK, b""

    def _show_message(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        self.messages.append(hdp1.ShowMessage.decode(frame.payload, frame.encoding).text)
        return hdp1.Status.OK, b""

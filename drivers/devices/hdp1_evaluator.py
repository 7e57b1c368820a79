"""Evaluator over HDP/1 (devices.md §5.11): asks the citizen for a rating and reports it.

A rating the citizen did not give never exists: the driver reports RATING, RATING_TIMEOUT and
RATING_CANCELLED exactly as the device sent them and fills nothing in.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from drivers.codecs import hdp1
from drivers.devices.base import DeviceEvent
from drivers.devices.hdp1_caller import _int_arg
from drivers.devices.hdp1_master import Hdp1Device
from drivers.errors import BadArguments

log = logging.getLogger(__name__)


class Hdp1Evaluator(Hdp1Device):
    """`kind="evaluator"`: set_clerk, request_rating, cancel_rating, set_mode; rating events."""

    kind = "evaluator"

    def probe(self) -> dict[str, Any]:
        status = self.get_status()
        evaluator = hdp1.EvaluatorStatus.decode(status.data)
        mode = hdp1.EVALUATOR_MODES[evaluator.mode] if evaluator.mode < 4 else f"mode_{evaluator.mode}"
        return {"online": True, "mode": mode, "pending_rating_id": evaluator.pending_rating_id or None}

    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = {
            "set_clerk": self._set_clerk,
            "request_rating": self._request_rating,
            "cancel_rating": self._cancel_rating,
            "set_mode": self._set_mode,
            "write_photo": self._write_photo,
            "set_reasons": self._set_reasons,
        }.get(name)
        if handler is None:
            raise BadArguments(f"evaluator has no command {name!r}", code="unknown_command")
        return handler(args)

    def _set_clerk(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            payload = hdp1.SetClerk(str(args["window_no"]), str(args["staff_id"]), str(args["staff_name"]),
                                    str(args.get("title", "")), _int_arg(args, "photo_id", 0, 0xFFFFFFFF))  # fmt: skip
        except KeyError as exc:
            raise BadArguments(f"set_clerk: missing {exc.args[0]}") from None
        self.request(hdp1.Cmd.SET_CLERK, self.encode(payload))
        return {}

    def _request_rating(self, args: dict[str, Any]) -> dict[str, Any]:
        rating_id = _rating_id(args)
        payload = hdp1.RequestRating(
            rating_id=rating_id,
            timeout_s=_int_arg(args, "timeout_s", 30, 0xFFFF),
            level_mask=_int_arg(args, "level_mask", 0x1F, 0x1F),
            case_no=str(args.get("case_no", "")),
            options=_int_arg(args, "options", 0x01, 0xFF),
        )
        self.request(hdp1.Cmd.REQUEST_RATING, self.encode(payload))
        return {"rating_id": rating_id}

    def _cancel_rating(self, args: dict[str, Any]) -> dict[str, Any]:
        rating_id = _rating_id(args)
        self.request(hdp1.Cmd.CANCEL_RATING, hdp1.RatingId(rating_id).encode())
        return {"rating_id": rating_id}

    def _set_mode(self, args: dict[str, Any]) -> dict[str, Any]:
        mode = args.get("mode")
        if mode not in hdp1.EVALUATOR_MODES:
            raise BadArguments(f"set_mode: mode must be one of {', '.join(hdp1.EVALUATOR_MODES)}")
        self.request(hdp1.Cmd.SET_MODE, hdp1.SetMode(hdp1.EVALUATOR_MODES.index(mode)).encode())
        return {"mode": mode}

    def _write_photo(self, args: dict[str, Any]) -> dict[str, Any]:
        """Send a clerk photo as PHOTO_WRITE chunks of at most 900 bytes, in order."""
        photo_id = _int_arg(args, "photo_id", 0, 0xFFFFFFFF)
        if photo_id == 0:
            raise BadArguments("write_photo: photo_id must not be 0")
        try:
            jpeg = base64.b64decode(str(args["jpeg_b64"]), validate=True)
        except KeyError:
            raise BadArguments("write_photo: missing jpeg_b64") from None
        except (binascii.Error, ValueError):
            raise BadArguments("write_photo: jpeg_b64 is not base64") from None
        if not jpeg:
            raise BadArguments("write_photo: empty photo")
        chunks = hdp1.photo_chunks(photo_id, jpeg)
        for chunk in chunks:
            self.request(hdp1.Cmd.PHOTO_WRITE, chunk.encode())
        return {"photo_id": photo_id, "bytes": len(jpeg), "chunks": len(chunks)}

    def _set_reasons(self, args: dict[str, Any]) -> dict[str, Any]:
        level = _int_arg(args, "level", 0, 5)
        if not 1 <= level <= 5:
            raise BadArguments("set_reasons: level must be 1–5")
        raw = args.get("reasons", [])
        if not isinstance(raw, list):
            raise BadArguments("set_reasons: reasons must be a list")
        reasons = []
        for item in raw:
            if not isinstance(item, dict) or "code" not in item:
                raise BadArguments("set_reasons: each reason needs code and label")
            reasons.append((_int_arg(item, "code", 0, 0xFFFF), str(item.get("label", ""))))
        self.request(hdp1.Cmd.SET_REASONS, self.encode(hdp1.SetReasons(level, tuple(reasons))))
        return {"level": level, "count": len(reasons)}

    def convert_event(self, event: hdp1.Event) -> DeviceEvent | None:
        seq = event.dev_evt_seq
        if event.code == hdp1.EventCode.RATING:
            rating = hdp1.RatingData.decode(event.data, self.master.encoding)
            data = {
                "rating_id": rating.rating_id,
                "level": rating.level,
                "source": hdp1.RATING_SOURCES.get(rating.source, "key"),
                "reasons": list(rating.reasons),
                "text": rating.text,
            }
            return DeviceEvent("rating", data, seq)
        if event.code in (hdp1.EventCode.RATING_TIMEOUT, hdp1.EventCode.RATING_CANCELLED):
            kind = "rating_timeout" if event.code == hdp1.EventCode.RATING_TIMEOUT else "rating_cancelled"
            return DeviceEvent(kind, {"rating_id": hdp1.RatingId.decode(event.data).rating_id}, seq)
        if event.code == hdp1.EventCode.EVAL_KEY:
            return DeviceEvent("eval_key", {"key": hdp1.EvalKeyData.decode(event.data).key}, seq)
        return None


def _rating_id(args: dict[str, Any]) -> int:
    if "rating_id" not in args:
        raise BadArguments("rating_id is required")
    value = _int_arg(args, "rating_id", 0, 0xFFFFFFFF)
    if value == 0:
        raise BadArguments("rating_id must not be 0")
    return value

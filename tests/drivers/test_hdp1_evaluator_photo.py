"""Evaluator clerk photo (PHOTO_WRITE chunks) and reasons (SET_REASONS) over a pty (devices.md §5.11)."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

import pytest

from drivers.codecs import hdp1
from drivers.errors import BadArguments
from simulators.devices.hdp1_evaluator import EvaluatorSimulator

Rig = Callable[..., Any]


def evaluator(rig: Rig) -> Any:
    return rig("evaluator", "hdp1", "hdp1-evaluator", lambda p: EvaluatorSimulator(p, 0x31), 0x31)


def test_photo_chunks_layout() -> None:
    chunks = hdp1.photo_chunks(7, bytes(range(256)) * 8)  # 2048 bytes -> 900 + 900 + 248
    assert [(c.offset, len(c.chunk), c.total) for c in chunks] == [(0, 900, 2048), (900, 900, 2048), (1800, 248, 2048)]
    encoded = chunks[1].encode()
    assert encoded[:12] == bytes.fromhex("07000000 00080000 84030000")
    assert hdp1.PhotoWrite.decode(encoded) == chunks[1]
    reasons = hdp1.SetReasons(1, ((501, "态度差"), (502, "等候久")))
    assert hdp1.SetReasons.decode(reasons.encode()) == reasons


def test_clerk_photo_reasons_and_rating(rig: Rig) -> None:
    device, sim, _ = evaluator(rig)
    jpeg = b"\xff\xd8\xff\xe0" + os.urandom(2500) + b"\xff\xd9"
    result = device.execute("write_photo", {"photo_id": 9001, "jpeg_b64": base64.b64encode(jpeg).decode()})
    assert result == {"photo_id": 9001, "bytes": len(jpeg), "chunks": 3}
    assert sim.photos[9001] == jpeg
    assert sim.executed.count(hdp1.Cmd.PHOTO_WRITE) == 3
    device.execute("set_clerk", {"window_no": "5", "staff_id": "S01", "staff_name": "王芳", "photo_id": 9001})
    assert sim.clerk is not None and sim.clerk.photo_id == 9001
    device.execute("set_reasons", {"level": 1, "reasons": [{"code": 501, "label": "态度差"},
                                                           {"code": 502, "label": "等候时间长"}]})  # fmt: skip
    device.execute("set_reasons", {"level": 2, "reasons": [{"code": 601, "label": "解释不清"}]})
    assert sim.reasons == {1: {501: "态度差", 502: "等候时间长"}, 2: {601: "解释不清"}}
    device.execute("request_rating", {"rating_id": 31, "options": 0x03})
    assert sim.wait_for_request(5) == 31
    with pytest.raises(ValueError):
        sim.rate(1, reasons=[601])  # 601 is a level-2 reason
    sim.rate(1, reasons=[501, 502], source="touch")
    events = device.poll_events()
    assert [(e.type, e.data) for e in events] == [
        ("rating", {"rating_id": 31, "level": 1, "source": "touch", "reasons": [501, 502], "text": ""})
    ]


def test_write_photo_bad_args(rig: Rig) -> None:
    device, sim, _ = evaluator(rig)
    with pytest.raises(BadArguments):
        device.execute("write_photo", {"photo_id": 1, "jpeg_b64": "not base64!"})
    with pytest.raises(BadArguments):
        device.execute("write_photo", {"photo_id": 0, "jpeg_b64": "AAAA"})
    with pytest.raises(BadArguments):
        device.execute("set_reasons", {"level": 6, "reasons": []})
    assert sim.photos == {}

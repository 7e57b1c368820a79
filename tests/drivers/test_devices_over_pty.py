"""Each driver against its simulator through pyserial on a pty slave (devices.md rules for drivers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from drivers.errors import BadArguments, DeviceRejected, DriverError, TransportTimeout
from simulators.devices.bx5k_screen import Bx5kScreenSimulator
from simulators.devices.hdp1_caller import CallerSimulator
from simulators.devices.hdp1_evaluator import EvaluatorSimulator, NoRatingPending
from simulators.devices.printer import PrinterSimulator

Rig = Callable[..., Any]  # the `rig` fixture of conftest.py

TICKET = {
    "hall_name": "杭州市民之家",
    "ticket_no": "B012",
    "matter": "不动产登记",
    "ahead": 7,
    "issued_at": 1736904665000,
    "qr": "https://hall.example/t/B012?h=1",
    "notice": "请留意叫号",
}


def test_print_ticket(rig: Rig) -> None:
    device, sim, _ = rig("ticket_printer", "escpos", "kp628e-58", lambda p: PrinterSimulator(p, strict=True))
    assert device.probe() == {"paper": "ok", "cover": "closed", "online": True, "error": None}
    result = device.execute("print_ticket", TICKET)
    assert result["paper"] == "ok" and result["bytes"] > 100
    job = sim.wait_for_job(5)
    assert job is not None and job.cut and not job.failed
    for part in ("杭州市民之家", "B012", "不动产登记", "前面还有 7 人等候", "2025-01-15 09:31", "请留意叫号"):
        assert part in job.text
    assert job.qr_payloads == [TICKET["qr"]]


def test_paper_out_before_printing(rig: Rig) -> None:
    device, sim, _ = rig("ticket_printer", "escpos", "kp628e-58", lambda p: PrinterSimulator(p, strict=True))
    sim.set_state("paper_out")
    assert device.probe()["paper"] == "out"
    with pytest.raises(DeviceRejected) as info:
        device.execute("print_ticket", TICKET)
    assert info.value.code == "paper_out" and not info.value.executed
    assert sim.jobs == []


@pytest.mark.parametrize(("state", "code"), [("cover_open", "cover_open"), ("cutter_error", "device_error")])
def test_other_refusals(rig: Rig, state: str, code: str) -> None:
    device, sim, _ = rig("ticket_printer", "escpos", "kp628e-58", lambda p: PrinterSimulator(p, strict=True))
    sim.set_state(state)
    with pytest.raises(DeviceRejected) as info:
        device.execute("print_ticket", TICKET)
    assert info.value.code == code
    assert sim.jobs == []


def test_paper_out_during_print(rig: Rig) -> None:
    device, sim, _ = rig("ticket_printer", "escpos", "kp628e-58", lambda p: PrinterSimulator(p, strict=True))
    sim.fail_after_bytes(40)
    with pytest.raises(DriverError) as info:
        device.execute("print_ticket", TICKET)
    assert info.value.code == "paper_out" and info.value.executed
    job = sim.wait_for_job(5)
    assert job is not None and job.failed and job.qr_payloads == []


def test_printer_unplug_and_replug(rig: Rig) -> None:
    device, sim, link = rig("ticket_printer", "escpos", "kp628e-58", lambda p: PrinterSimulator(p),
                            status_timeout_s=0.2)  # fmt: skip
    link.unplug()
    with pytest.raises(TransportTimeout):
        device.probe()
    with pytest.raises(TransportTimeout):
        device.execute("print_ticket", TICKET)
    link.replug()
    assert device.probe()["paper"] == "ok"
    device.execute("print_ticket", TICKET)
    job = sim.wait_for_job(5)
    assert job is not None and job.qr_payloads == [TICKET["qr"]]


def screen(rig: Rig, address: int = 1) -> Any:
    return rig("window_screen", "onbon-bx5k", "bx5k1-64x16", lambda p: Bx5kScreenSimulator(p, address),
               address)  # fmt: skip


def test_screen_show_text_and_clear(rig: Rig) -> None:
    device, sim, _ = screen(rig)
    assert device.probe() == {"online": True, "text": ""}
    device.execute("show_text", {"text": "A001请到5号窗口", "area": 0, "effect": "move_left", "stay_s": 5})
    assert sim.shown_text() == "A001请到5号窗口"
    assert sim.areas[0].display_mode == 3 and sim.areas[0].stay == 10
    assert device.probe() == {"online": True, "text": "A001请到5号窗口"}
    device.execute("clear", {})
    assert sim.shown_text() == ""
    assert sim.history == ["A001请到5号窗口", ""]


def test_screen_retries_after_garbled_reply_and_timeout(rig: Rig) -> None:
    device, sim, link = screen(rig, address=0x5A)  # address 0x5A exercises escaping on the wire
    link.faults.garble_next = True
    device.execute("show_text", {"text": "B002请到3号窗口"})
    link.faults.drop_replies = 1
    device.execute("show_text", {"text": "B003请到3号窗口"})
    assert sim.shown_text() == "B003请到3号窗口"


def test_screen_unplug_replug_and_bad_args(rig: Rig) -> None:
    device, sim, link = screen(rig)
    link.unplug()
    with pytest.raises(TransportTimeout):
        device.execute("show_text", {"text": "A001"})
    link.replug()
    device.execute("show_text", {"text": "A001"})
    assert sim.shown_text() == "A001"
    with pytest.raises(BadArguments):
        device.execute("show_text", {"text": "长" * 600})


def test_caller_keys_and_acks(rig: Rig) -> None:
    device, sim, _ = rig("caller", "hdp1", "hdp1-caller", lambda p: CallerSimulator(p, 0x10), 0x10)
    device.execute("show_number", {"text": "A001", "blink": 3})
    device.execute("show_info", {"waiting": 12, "text": "等候 12 人"})
    assert (sim.number, sim.blink, sim.waiting, sim.info_text) == ("A001", 3, 12, "等候 12 人")
    assert device.probe() == {"online": True, "lamp": 0, "text": "A001"}
    seq1 = sim.press("call_next")
    seq2 = sim.press("digit_3", long=True)
    events = device.poll_events()
    assert [(e.type, e.data, e.source_seq) for e in events] == [
        ("key", {"key": "call_next", "arg": 0, "long": False}, seq1),
        ("key", {"key": "digit_3", "arg": 0, "long": True}, seq2),
    ]
    assert [e.source_seq for e in device.poll_events()] == [seq1, seq2]  # not acked: sent again
    device.ack_events(seq1)
    assert [e.source_seq for e in device.poll_events()] == [seq2]
    device.ack_events(seq2)
    assert device.poll_events() == []


def test_caller_unplug_replug(rig: Rig) -> None:
    device, sim, link = rig("caller", "hdp1", "hdp1-caller", lambda p: CallerSimulator(p, 0x10), 0x10)
    link.unplug()
    with pytest.raises(TransportTimeout):
        device.poll_events()
    link.replug()
    sim.press("finish")
    assert [e.data["key"] for e in device.poll_events()] == ["finish"]


def evaluator(rig: Rig) -> Any:
    return rig("evaluator", "hdp1", "hdp1-evaluator", lambda p: EvaluatorSimulator(p, 0x31), 0x31)


def test_evaluator_rating(rig: Rig) -> None:
    device, sim, _ = evaluator(rig)
    device.execute("set_clerk", {"window_no": "5", "staff_id": "S01", "staff_name": "王芳", "title": "综合窗口"})
    assert sim.clerk is not None and sim.clerk.staff_name == "王芳"
    device.execute("set_mode", {"mode": "serving"})
    device.execute("request_rating", {"rating_id": 74565, "timeout_s": 30, "case_no": "330100202501150001"})
    assert device.probe() == {"online": True, "mode": "serving", "pending_rating_id": 74565}
    assert sim.wait_for_request(5) == 74565
    assert sim.rate(5) == 74565
    with pytest.raises(NoRatingPending):
        sim.rate(1)
    events = device.poll_events()
    assert [(e.type, e.data) for e in events] == [
        ("rating", {"rating_id": 74565, "level": 5, "source": "key", "reasons": [], "text": ""})
    ]
    device.ack_events(events[-1].source_seq or 0)
    with pytest.raises(DeviceRejected) as info:  # final once rated: no second rating for the same id
        device.execute("request_rating", {"rating_id": 74565})
    assert info.value.code == "wrong_state"
    assert device.poll_events() == []


def test_evaluator_timeout_cancel_and_paused(rig: Rig) -> None:
    device, sim, _ = evaluator(rig)
    device.execute("request_rating", {"rating_id": 11, "timeout_s": 30})
    with pytest.raises(DeviceRejected):  # one pending request at a time
        device.execute("request_rating", {"rating_id": 12})
    sim.expire_now()
    device.execute("request_rating", {"rating_id": 13})
    device.execute("cancel_rating", {"rating_id": 13})
    assert [(e.type, e.data) for e in device.poll_events()] == [
        ("rating_timeout", {"rating_id": 11}),
        ("rating_cancelled", {"rating_id": 13}),
    ]
    device.execute("set_mode", {"mode": "paused"})
    with pytest.raises(DeviceRejected) as info:
        device.execute("request_rating", {"rating_id": 14})
    assert info.value.code == "wrong_state"


def test_evaluator_retry_is_answered_from_cache(rig: Rig) -> None:
    """Two replies lost: the retries carry the same SEQ, so the request is executed once."""
    device, sim, link = evaluator(rig)
    link.faults.drop_replies = 2
    device.execute("request_rating", {"rating_id": 21, "timeout_s": 30})
    assert sim.requests_started == [21]
    assert sim.executed.count(0x32) == 1
    assert sim.pending_rating_id == 21

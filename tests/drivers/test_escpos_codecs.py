"""ESC/POS status decoding (devices.md §2.5) and ticket bytes."""

from __future__ import annotations

import pytest

from drivers.codecs.escpos_status import decode_status
from drivers.codecs.escpos_ticket import TicketContent, build_ticket, issue_time_text
from drivers.errors import BadArguments
from drivers.registry import load_profile

# State -> (DLE EOT 1..4) from the simulator table of §2.6, and what the driver must make of it.
TABLE = {
    "ready": ((0x12, 0x12, 0x12, 0x12), {"paper": "ok", "cover": "closed", "online": True, "error": None}),
    "near_end": ((0x12, 0x12, 0x12, 0x1E), {"paper": "near_end", "cover": "closed", "online": True, "error": None}),
    "paper_out": ((0x1A, 0x32, 0x12, 0x72), {"paper": "out", "cover": "closed", "online": False, "error": None}),
    "paper_out_7e": ((0x1A, 0x32, 0x12, 0x7E), {"paper": "out", "cover": "closed", "online": False, "error": None}),
    "cover_open": ((0x1A, 0x16, 0x12, 0x12), {"paper": "ok", "cover": "open", "online": False, "error": None}),
    "cutter": ((0x1A, 0x52, 0x1A, 0x12), {"paper": "ok", "cover": "closed", "online": False, "error": "cutter"}),
    "head": ((0x1A, 0x52, 0x52, 0x12), {"paper": "ok", "cover": "closed", "online": False, "error": "head"}),
}


@pytest.mark.parametrize("state", TABLE)
def test_status_table(state: str) -> None:
    replies, expected = TABLE[state]
    assert decode_status(*replies) == expected


def test_missing_or_foreign_replies_are_unknown() -> None:
    assert decode_status(None, None, None, None) == {
        "paper": "unknown", "cover": "unknown", "online": "unknown", "error": "unknown"}  # fmt: skip
    # 0x13 has bit 0 set, 0x00 lacks bits 1 and 4: neither is a status byte.
    assert decode_status(0x13, 0x00, 0x12, 0x12)["cover"] == "unknown"
    assert decode_status(0x13, 0x12, 0x12, 0x12)["online"] == "unknown"
    assert decode_status(0x92, 0x12, 0x12, 0x12)["online"] == "unknown"
    assert decode_status(0x92, 0x12, 0x12, 0x12, paper_not_taken_bit=True)["online"] is True


def ticket(**over: object) -> TicketContent:
    fields: dict[str, object] = dict(hall_name="市民服务中心", ticket_no="A001", matter="户籍办理", ahead=3,
                                     issued_at=1736904665000, qr="https://hall.example/t/A001", notice="")  # fmt: skip
    fields.update(over)
    return TicketContent.from_args(fields)


def test_ticket_bytes_structure() -> None:
    job = build_ticket(ticket(), load_profile("kp628e-58"))
    assert job.startswith(b"\x1b\x40\x1c\x26")
    assert "市民服务中心".encode("gbk") in job
    assert "前面还有 3 人等候".encode("gbk") in job
    assert b"2025-01-15 09:31" in job
    assert b"\x1d\x28\x6b\x1e\x00\x31\x50\x30https://hall.example/t/A001" in job
    assert job.endswith(b"\x1d\x56\x01")


def test_issue_time_is_shanghai() -> None:
    assert issue_time_text(1736904665000) == "2025-01-15 09:31"


def test_unencodable_character_becomes_box() -> None:
    gbk = build_ticket(ticket(notice="𠮷先生"), {"encoding": "gbk"})
    assert "□先生".encode("gbk") in gbk
    gb18030 = build_ticket(ticket(notice="𠮷先生"), {"encoding": "gb18030"})
    assert "𠮷先生".encode("gb18030") in gb18030


def test_bad_ticket_args() -> None:
    with pytest.raises(BadArguments):
        TicketContent.from_args({"hall_name": "x"})
    with pytest.raises(BadArguments):
        ticket(ahead="many")

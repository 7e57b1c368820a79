"""Every published vector of devices.md for ESC/POS, BX-5K and HDP/1, in both directions."""

from __future__ import annotations

import pytest
from escpos.printer import Dummy

from drivers.codecs import bx5k, hdp1
from drivers.codecs.crc import crc16_arc, crc16_modbus


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_crc_check_values() -> None:
    assert crc16_arc(b"123456789") == 0xBB3D
    assert crc16_modbus(b"123456789") == 0x4B37


def test_v_esc_1_qr_store() -> None:
    """GIVEN python-escpos Dummy WHEN storing "A001" natively THEN the store bytes are V-ESC-1."""
    printer = Dummy()
    printer.qr("A001", native=True, size=6)
    assert h("1D 28 6B 07 00 31 50 30 41 30 30 31") in printer.output


# ---- BX-5K ------------------------------------------------------------------------------------

V_BX_1 = h("A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A2 00 01 00 00 68 F8 5A")
V_BX_2 = h("A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A1 02 01 00 00 2D 40 5A")
V_BX_3 = h("A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A3 10 01 00 00 51 F8 5A")
V_BX_4 = h(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 35 00 A3 06 02 00 00 00 01 2C 00 00 00 00"
    " 0C 00 40 00 0C 00 01 0A 01 02 00 00 00 00 01 01 01 00 17 02 11 00 00 00 5C 46 4F 30 30 30 54 45 4D 50"
    " 45 52 3A 32 31 A1 E6 82 DA 5A"
)
V_BX_5 = h(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 33 00 A3 06 02 00 00 00 01 2A 00 00 00 00"
    " 18 00 40 00 0C 00 01 0A 01 02 00 00 00 00 01 01 01 00 17 02 0F 00 00 00 5C 46 4F 30 30 30 48 55 4D 3A"
    " 36 36 25 52 48 36 7A 5A"
)
V_BX_6 = h(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 39 00 A3 06 01 00 00 00 01 30 00 00 00 00"
    " 00 00 08 00 10 00 00 00 00 00 00 00 00 00 01 02 03 00 04 0A 15 00 00 00 5C 46 4F 30 30 30 41 30 30 31"
    " C7 EB B5 BD 35 BA C5 B4 B0 BF DA F3 AB 5A"
)
V_BX_7 = h(
    "A5 A5 A5 A5 A5 A5 A5 A5 5B 02 00 00 80 00 00 00 00 00 00 FE 02 39 00 A3 06 01 00 00 00 01 30 00 00 00 00"
    " 00 00 08 00 10 00 00 00 00 00 00 00 00 00 01 02 03 00 04 0A 15 00 00 00 5C 46 4F 30 30 30 41 30 30 31"
    " C7 EB B5 BD 35 BA C5 B4 B0 BF DA CD 75 5A"
)
V_BX_8 = h("A5 A5 A5 A5 A5 A5 A5 A5 00 80 01 00 00 00 00 00 00 00 51 02 09 00 00 A0 00 00 00 00 00 00 00 87 4B 5A")
V_BX_9 = h("A5 A5 A5 A5 A5 A5 A5 A5 00 80 01 00 00 00 00 00 00 00 51 02 09 00 00 A0 01 01 00 05 00 00 00 96 96 5A")


@pytest.mark.parametrize(
    ("vector", "build", "command"),
    [
        (V_BX_1, bx5k.ping, bx5k.PING),
        (V_BX_2, bx5k.query_status, bx5k.QUERY_STATUS),
        (V_BX_3, bx5k.clear_screen, bx5k.CLEAR_SCREEN),
    ],
)
def test_v_bx_1_to_3(vector: bytes, build: object, command: tuple[int, int]) -> None:
    assert callable(build)
    assert build(1) == vector
    frame = bx5k.decode_frame(vector)
    request = bx5k.Bx5kRequest.decode(frame.data)
    assert (frame.dst, frame.src, frame.device_type) == (1, 0x8000, 0xFE)
    assert (request.group, request.cmd, request.response, request.payload) == (*command, 1, b"")


def _strip_area(area_id: int = 0) -> bx5k.Bx5kArea:
    text = bx5k.font_escape() + "A001请到5号窗口".encode("gb2312")
    return bx5k.Bx5kArea(x=0, y=0, width=8, height=16, area_id=area_id, text=text, run_mode=0,
                         single_line=1, new_line=2, display_mode=3, speed=4, stay=10)  # fmt: skip


@pytest.mark.parametrize(
    ("vector", "y", "text"),
    [(V_BX_4, 12, "TEMPER:21℃"), (V_BX_5, 24, "HUM:66%RH")],
)
def test_v_bx_4_5_captured_frames(vector: bytes, y: int, text: str) -> None:
    frame = bx5k.decode_frame(vector)
    request = bx5k.Bx5kRequest.decode(frame.data)
    assert request.response == bx5k.RESPONSE_NONE
    update = bx5k.DynamicAreaUpdate.decode(request.payload)
    (area,) = update.areas
    assert (area.x, area.y, area.width, area.height, area.area_id) == (0, y, 0x40, 12, 1)
    assert (area.line_spacing, area.run_mode, area.timeout_s, area.display_mode) == (10, 1, 2, 1)
    assert (area.single_line, area.new_line, area.speed, area.stay) == (1, 1, 0x17, 2)
    assert area.shown_text == text
    rebuilt = bx5k.dynamic_area_frame(1, update.areas, response=False)
    assert rebuilt == vector


def test_v_bx_6_window_strip() -> None:
    assert bx5k.dynamic_area_frame(1, [_strip_area()]) == V_BX_6
    frame = bx5k.decode_frame(V_BX_6)
    area = bx5k.DynamicAreaUpdate.decode(bx5k.Bx5kRequest.decode(frame.data).payload).areas[0]
    assert area == _strip_area()
    assert area.shown_text == "A001请到5号窗口"


def test_v_bx_7_escaping() -> None:
    wire = bx5k.dynamic_area_frame(0x5A, [_strip_area()])
    assert wire == V_BX_7
    raw = bx5k.Bx5kStreamDecoder().feed(V_BX_7)[0]
    phy1 = raw.phy1()
    assert phy1[:4] == h("5A 00 00 80")
    assert phy1[-2:] == h("CD 75")
    assert bx5k.decode_phy1(phy1).dst == 0x5A


def test_v_bx_8_9_replies() -> None:
    assert bx5k.reply_frame(1, bx5k.Bx5kReply(True), device_type=0x51) == V_BX_8
    assert bx5k.reply_frame(1, bx5k.Bx5kReply(False, 5), device_type=0x51) == V_BX_9
    ack = bx5k.Bx5kReply.decode(bx5k.decode_frame(V_BX_8).data)
    nack = bx5k.Bx5kReply.decode(bx5k.decode_frame(V_BX_9).data)
    assert ack.ok and ack.error == 0
    assert not nack.ok and nack.error == 5 and nack.error_name == "crc_error"


# ---- HDP/1 ------------------------------------------------------------------------------------

V_HDP_1 = h("AA 55 01 31 00 07 01 01 00 00 44 F8")
V_HDP_2 = h("AA 55 01 00 31 07 02 81 02 00 00 00 A9 9E")
V_HDP_3 = h(
    "AA 55 01 31 00 08 01 32 1B 00 45 23 01 00 1E 00 1F 12 33 33 30 31 30 30 32 30 32 35 30 31 31 35 30 30"
    " 30 31 01 C9 27"
)
V_HDP_4 = h(
    "AA 55 01 00 31 09 02 81 15 00 00 01 B0 10 00 02 01 00 00 D9 0F 87 67 45 23 01 00 05 01 00 00 0A AE"
)
V_HDP_5 = h("AA 55 01 31 00 0A 01 0E 04 00 02 01 00 00 63 6D")
V_HDP_6 = h("AA 55 01 00 31 0A 02 8E 01 00 00 24 21")
V_HDP_7 = h(
    "AA 55 01 41 00 0B 01 42 2F 00 57 04 00 00 01 E0 04 01 50 12 34 56 78 02 00 E9 1D 87 67 31 00 00 00 B7"
    " 19 0A 64 2A 62 7A 00 3A 10 A7 15 D4 32 2D F9 5E 20 AB 8E 1D ED E3 2B F5 7E"
)
V_HDP_8 = h("AA 55 01 00 41 0B 02 C2 01 00 00 42 A7")


def test_v_hdp_1_2_poll() -> None:
    request = hdp1.Frame(0x31, hdp1.HOST, 7, hdp1.FLAG_ACK_REQ, hdp1.Cmd.POLL)
    assert request.encode() == V_HDP_1
    assert hdp1.decode_frame(V_HDP_1) == request
    reply = request.response(hdp1.Status.OK, hdp1.encode_events([]))
    assert reply.encode() == V_HDP_2
    decoded = hdp1.decode_frame(V_HDP_2)
    assert decoded.is_response and decoded.payload == b"\x00\x00"
    assert hdp1.decode_events(decoded.payload[1:]) == []


def test_v_hdp_3_request_rating() -> None:
    payload = hdp1.RequestRating(0x00012345, 30, 0x1F, "330100202501150001", 0x01)
    frame = hdp1.Frame(0x31, hdp1.HOST, 8, hdp1.FLAG_ACK_REQ, hdp1.Cmd.REQUEST_RATING, payload.encode())
    assert frame.encode() == V_HDP_3
    assert hdp1.RequestRating.decode(hdp1.decode_frame(V_HDP_3).payload) == payload


def test_v_hdp_4_rating_event() -> None:
    event = hdp1.Event(hdp1.EventCode.RATING, 0x102, 1736904665, hdp1.RatingData(0x12345, 5, 1).encode())
    frame = hdp1.Frame(hdp1.HOST, 0x31, 9, hdp1.FLAG_RESPONSE, 0x81, hdp1.poll_response_payload([event]))
    assert frame.encode() == V_HDP_4
    decoded = hdp1.decode_frame(V_HDP_4)
    (got,) = hdp1.decode_events(decoded.payload[1:])
    assert got == event
    rating = hdp1.RatingData.decode(got.data)
    assert (rating.rating_id, rating.level, rating.source, rating.reasons, rating.text) == (0x12345, 5, 1, (), "")


def test_v_hdp_5_6_ack_evt() -> None:
    request = hdp1.Frame(0x31, hdp1.HOST, 10, hdp1.FLAG_ACK_REQ, hdp1.Cmd.ACK_EVT, hdp1.AckEvt(0x102).encode())
    assert request.encode() == V_HDP_5
    assert hdp1.AckEvt.decode(hdp1.decode_frame(V_HDP_5).payload).last_dev_evt_seq == 0x102
    assert request.response(hdp1.Status.OK).encode() == V_HDP_6
    assert hdp1.decode_frame(V_HDP_6).payload == b"\x00"


def test_v_hdp_7_8_frame_level() -> None:
    request = hdp1.decode_frame(V_HDP_7)
    assert (request.dst, request.src, request.seq, request.cmd, len(request.payload)) == (0x41, 0, 11, 0x42, 47)
    assert request.payload[:4] == h("57 04 00 00")
    assert request.encode() == V_HDP_7
    reply = hdp1.decode_frame(V_HDP_8)
    assert (reply.src, reply.seq, reply.cmd, reply.payload) == (0x41, 11, 0xC2, b"\x00")


def test_stream_decoder_finds_vectors_in_noise() -> None:
    decoder = hdp1.StreamDecoder()
    stream = b"\xaa\x00\xaa" + V_HDP_1 + b"\x55\xaa\x55\x01" + V_HDP_4
    frames = [f for i in range(len(stream)) for f in decoder.feed(stream[i : i + 1])]
    # The stray AA 55 01 announces LEN 0x0209 and hides V-HDP-4 until the inter-byte gap ends it.
    frames += decoder.flush()
    assert [f.encode() for f in frames] == [V_HDP_1, V_HDP_4]

"""Onbon 5th/6th generation over TCP: V-5G-1, codec properties, driver vs simulator on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs import onbon5g
from drivers.devices.base import DeviceSpec
from drivers.devices.onbon5g_screen import Onbon5gScreen
from drivers.errors import BadArguments, CodecError, TransportError
from drivers.registry import load_profile, open_device
from drivers.transports.tcp import TcpTransport
from simulators.attach import Faults
from simulators.attach_tcp import TcpLink, attach_tcp
from simulators.devices.onbon5g_screen import Onbon5gScreenSimulator

V_5G_1 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 FE FF 00 80 F0 00 FE FF 00 00 00 00 05 00 00 00 01 A2 00 00 00 C6 86 5A"
)
MARKERS = st.sampled_from([0xA5, 0xA6, 0x5A, 0x5B])
PAYLOAD = st.lists(st.one_of(MARKERS, st.integers(0, 255)), max_size=200).map(bytes)


def test_v_5g_1_encode_and_decode() -> None:
    """GIVEN the manual's ping WHEN encoded with wildcards THEN bytes match; decoding gives the fields."""
    assert onbon5g.ping() == V_5G_1
    frame = onbon5g.decode_frame(V_5G_1)
    assert (frame.dst, frame.src, frame.version, frame.device_type) == (0xFFFE, 0x8000, 0xF0, 0xFFFE)
    request = onbon5g.Onbon5gRequest.decode(frame.data)
    assert (request.rtn, request.group, request.cmd, request.payload) == (1, 0xA2, 0x00, b"\x00\x00")


def test_ack_and_nack_decode() -> None:
    ack = onbon5g.decode_frame(onbon5g.reply_frame(1, onbon5g.Onbon5gReply(True), 0x0166))
    nack = onbon5g.decode_frame(onbon5g.reply_frame(1, onbon5g.Onbon5gReply(False, 5), 0x0166))
    assert onbon5g.Onbon5gReply.decode(ack.data).ok
    decoded = onbon5g.Onbon5gReply.decode(nack.data)
    assert not decoded.ok and decoded.error == 5 and decoded.error_name == "crc_error"


@given(dst=st.integers(0, 0xFFFF), dtype=st.integers(0, 0xFFFF), data=PAYLOAD)
def test_frame_round_trip(dst: int, dtype: int, data: bytes) -> None:
    frame = onbon5g.Onbon5gFrame(dst, 0x8000, data, dtype)
    assert onbon5g.decode_frame(frame.encode()) == frame


TEXT = st.text(alphabet=st.sampled_from("A0123456789请到号窗口办理等候人→ "), max_size=30)


@given(texts=st.lists(TEXT, min_size=1, max_size=5), mode=st.integers(0, 0x28), stay=st.integers(0, 0xFFFF))
def test_update_round_trip(texts: list[str], mode: int, stay: int) -> None:
    areas = [onbon5g.Onbon5gArea(i, 0, 16 * i, 256, 16, b"\\FO000" + t.encode("gb2312"), display_mode=mode,
                                 stay_10ms=stay) for i, t in enumerate(texts)]  # fmt: skip
    assert onbon5g.decode_update(onbon5g.encode_update(areas)) == areas
    assert [a.text for a in areas] == texts


@settings(max_examples=300)
@given(chunks=st.lists(st.binary(max_size=64), max_size=20))
def test_stream_decoder_survives_any_bytes(chunks: list[bytes]) -> None:
    decoder = onbon5g.Onbon5gStreamDecoder()
    for chunk in chunks:
        for raw in decoder.feed(chunk):
            with contextlib.suppress(CodecError):
                frame = onbon5g.decode_raw(raw)
                with contextlib.suppress(CodecError):
                    onbon5g.decode_update(onbon5g.Onbon5gRequest.decode(frame.data).payload)


@given(data=PAYLOAD, bit=st.integers(0, 10_000))
def test_flipped_bit_is_rejected(data: bytes, bit: int) -> None:
    phy1 = bytearray(onbon5g.Onbon5gFrame(1, 0x8000, data).phy1())
    index = bit % (len(phy1) * 8)
    phy1[index // 8] ^= 1 << (index % 8)
    with pytest.raises(CodecError):
        onbon5g.decode_phy1(bytes(phy1))


# ---- driver against simulator over real TCP ----------------------------------------------------

PROFILE = "bx6q1-hall-256x128"


@pytest.fixture(params=["clean", "fragment"])
def screen(request: pytest.FixtureRequest) -> Iterator[tuple[Onbon5gScreen, Onbon5gScreenSimulator, TcpLink]]:
    profile = load_profile(PROFILE)
    sim = Onbon5gScreenSimulator(profile, address=1)
    link = attach_tcp(sim, Faults(fragment=request.param == "fragment", byte_gap_s=0.0), name="hall-screen")
    spec = DeviceSpec("hall-screen-1", "hall_screen", "onbon-5g", link.url, PROFILE, 1, options={"timeout_s": 0.3})
    transport = TcpTransport.from_url(link.url, device_id=spec.device_id)
    device = open_device(spec, transport, connect=True)
    assert isinstance(device, Onbon5gScreen)
    assert link.wait_connected()
    yield device, sim, link
    device.close()
    link.close()
    assert link.failures == []


CALLS: dict[str, Any] = {
    "calls": [{"ticket_no": "A001", "window_no": "5"}, {"ticket_no": "B012", "window_no": "12"}],
    "waiting": {"综合": 12, "不动产": 3},
    "notice": "请携带身份证原件",
}


def test_show_calls_lays_out_areas(screen: Any) -> None:
    device, sim, _ = screen
    assert device.probe()["online"] is True
    assert device.execute("show_calls", CALLS) == {"areas": 7}
    texts = sim.areas_text()
    assert texts[0] == "请听叫号到对应窗口办理"
    assert texts[1] == "B012 → 12号窗口" and texts[2] == "A001 → 5号窗口" and texts[3] == texts[4] == ""
    assert texts[5] == "综合 等候12人  不动产 等候3人"
    assert texts[6] == "请携带身份证原件"
    assert sim.areas[6].display_mode == onbon5g.DISPLAY_MODES["scroll_left"]
    assert [a.y for a in sim.areas.values()] == [0, 16, 32, 48, 64, 80, 96]


def test_show_text_clear_and_brightness(screen: Any) -> None:
    device, sim, _ = screen
    device.execute("show_text", {"text": "暂停服务", "area": 0})
    assert sim.areas_text() == {0: "暂停服务"}
    device.execute("set_brightness", {"level": 7})
    assert sim.brightness == 7
    device.execute("clear", {})
    assert sim.areas_text() == {}
    assert sim.requests[-1] == onbon5g.DELETE_AREAS
    with pytest.raises(BadArguments):
        device.execute("set_brightness", {"level": 16})


def test_unplug_then_replug(screen: Any) -> None:
    device, _sim, link = screen
    link.unplug()
    with pytest.raises(TransportError):  # TransportTimeout is a TransportError: never "ok"
        device.probe()
    link.replug()
    assert device.probe()["online"] is True


def test_disconnect_then_reconnect(screen: Any) -> None:
    device, _, link = screen
    link.disconnect()
    with pytest.raises(TransportError):
        device.probe()
    device.close()
    device.open()
    assert device.probe()["online"] is True
    assert link.connections == 2


def test_garbled_and_dropped_replies_are_retried(screen: Any) -> None:
    device, sim, link = screen
    link.faults.garble_next = True
    device.execute("show_text", {"text": "A002"})
    link.faults.drop_replies = 1
    device.execute("show_text", {"text": "A003"})
    assert sim.areas_text()[0] == "A003"

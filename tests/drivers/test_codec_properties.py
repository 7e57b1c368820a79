"""Hypothesis: every codec round-trips, stream decoders survive any bytes, one flipped bit is caught."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs import bx5k, hdp1
from drivers.codecs.escpos_status import decode_status
from drivers.errors import CodecError

MARKERS = st.sampled_from([0xA5, 0xA6, 0x5A, 0x5B, 0xAA, 0x55])
PAYLOAD = st.lists(st.one_of(MARKERS, st.integers(0, 255)), max_size=300).map(bytes)
TEXT = st.text(alphabet=st.sampled_from("A0123456789请到号窗口办理等候人"), max_size=20)


@given(dst=st.integers(0, 0xFFFF), src=st.integers(0, 0xFFFF), dtype=st.integers(0, 255), data=PAYLOAD)
def test_bx5k_frame_round_trip(dst: int, src: int, dtype: int, data: bytes) -> None:
    frame = bx5k.Bx5kFrame(dst, src, data, device_type=dtype)
    wire = frame.encode()
    assert wire.count(0x5A) == 1 and wire[-1] == 0x5A
    assert bx5k.decode_frame(wire) == frame


@given(data=PAYLOAD)
def test_bx5k_escape_round_trip(data: bytes) -> None:
    escaped = bx5k.escape(data)
    assert 0xA5 not in escaped and 0x5A not in escaped
    assert bx5k.unescape(escaped) == data


@given(
    text=TEXT,
    area_id=st.integers(0, 31),
    mode=st.integers(1, 6),
    stay=st.integers(0, 255),
    delete=st.lists(st.integers(0, 31), max_size=4),
)
def test_bx5k_dynamic_area_round_trip(text: str, area_id: int, mode: int, stay: int, delete: list[int]) -> None:
    area = bx5k.Bx5kArea(0, 0, 8, 16, area_id, bx5k.font_escape() + text.encode("gb2312"), display_mode=mode,
                         stay=stay)  # fmt: skip
    update = bx5k.DynamicAreaUpdate((area,), tuple(delete))
    assert bx5k.DynamicAreaUpdate.decode(update.encode()) == update
    assert area.shown_text == text


@settings(max_examples=300)
@given(chunks=st.lists(st.binary(max_size=64), max_size=20))
def test_bx5k_stream_decoder_never_raises(chunks: list[bytes]) -> None:
    decoder = bx5k.Bx5kStreamDecoder()
    for chunk in chunks:
        for raw in decoder.feed(chunk):
            with contextlib.suppress(CodecError):
                raw.frame()


@given(data=PAYLOAD, bit=st.integers(0, 10_000))
def test_bx5k_flipped_bit_is_rejected(data: bytes, bit: int) -> None:
    phy1 = bytearray(bx5k.Bx5kFrame(1, 0x8000, data).phy1())
    phy1[(bit // 8) % len(phy1)] ^= 1 << (bit % 8)
    try:
        bx5k.decode_phy1(bytes(phy1))
    except CodecError:
        return
    raise AssertionError("a frame with a flipped bit was accepted")


FRAMES = st.builds(
    hdp1.Frame,
    dst=st.integers(0, 255),
    src=st.integers(0, 255),
    seq=st.integers(0, 255),
    flags=st.integers(0, 0x1F),
    cmd=st.integers(0, 255),
    payload=PAYLOAD,
)


@given(frame=FRAMES)
def test_hdp1_frame_round_trip(frame: hdp1.Frame) -> None:
    assert hdp1.decode_frame(frame.encode()) == frame


@given(frames=st.lists(FRAMES, max_size=5), noise=st.binary(max_size=8), cut=st.integers(1, 7))
def test_hdp1_stream_decoder_fragments(frames: list[hdp1.Frame], noise: bytes, cut: int) -> None:
    """Frames split anywhere come out whole, in order (noise before them may hide them until a flush)."""
    stream = b"".join(f.encode() for f in frames)
    decoder = hdp1.StreamDecoder()
    out = [f for i in range(0, len(stream), cut) for f in decoder.feed(stream[i : i + cut])]
    assert out == frames
    noisy = hdp1.StreamDecoder()
    got = noisy.feed(noise + stream) + noisy.flush()
    assert got == frames


@given(frame=FRAMES, bit=st.integers(0, 100_000))
def test_hdp1_flipped_bit_is_rejected(frame: hdp1.Frame, bit: int) -> None:
    wire = bytearray(frame.encode())
    index = 2 + (bit // 8) % (len(wire) - 2)
    wire[index] ^= 1 << (bit % 8)
    try:
        hdp1.decode_frame(bytes(wire))
    except CodecError:
        return
    raise AssertionError("a frame with a flipped bit was accepted")


@settings(max_examples=300)
@given(chunks=st.lists(st.binary(max_size=64), max_size=20))
def test_hdp1_stream_decoder_never_raises(chunks: list[bytes]) -> None:
    decoder = hdp1.StreamDecoder()
    for chunk in chunks:
        decoder.feed(chunk)
    decoder.flush()


EVENTS = st.lists(
    st.builds(hdp1.Event, code=st.integers(0, 255), dev_evt_seq=st.integers(0, 2**32 - 1),
              time=st.integers(0, 2**32 - 1), data=st.binary(max_size=40)),
    max_size=10,
)


@given(events=EVENTS)
def test_hdp1_event_list_round_trip(events: list[hdp1.Event]) -> None:
    assert hdp1.decode_events(hdp1.encode_events(events)) == events


@given(data=st.binary(max_size=64))
def test_hdp1_event_decoder_only_raises_codec_error(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        hdp1.decode_events(data)


@given(
    rating_id=st.integers(1, 2**32 - 1),
    level=st.integers(1, 5),
    source=st.integers(1, 3),
    reasons=st.lists(st.integers(0, 0xFFFF), max_size=5).map(tuple),
    text=TEXT,
)
def test_hdp1_rating_payload_round_trip(rating_id: int, level: int, source: int, reasons: tuple[int, ...],
                                        text: str) -> None:  # fmt: skip
    rating = hdp1.RatingData(rating_id, level, source, reasons, text)
    assert hdp1.RatingData.decode(rating.encode()) == rating
    request = hdp1.RequestRating(rating_id, level * 10, 0x1F, text, source)
    assert hdp1.RequestRating.decode(request.encode()) == request
    clerk = hdp1.SetClerk(text or "1", "S1", "张三", text, rating_id)
    assert hdp1.SetClerk.decode(clerk.encode()) == clerk
    assert hdp1.SetClerk.decode(clerk.encode("utf-8"), "utf-8") == clerk


STATUS = st.one_of(st.none(), st.integers(0, 255))


@given(n1=STATUS, n2=STATUS, n3=STATUS, n4=STATUS)
def test_status_decoding_total(n1: int | None, n2: int | None, n3: int | None, n4: int | None) -> None:
    """Any reply bytes decode to the four fields; a missing reply never yields "ok"."""
    state = decode_status(n1, n2, n3, n4)
    assert state["paper"] in {"ok", "near_end", "out", "unknown"}
    assert state["cover"] in {"open", "closed", "unknown"}
    assert state["online"] in {True, False, "unknown"}
    assert state["error"] in {None, "cutter", "unrecoverable", "head", "unknown"}
    if n2 is None or n4 is None:
        assert state["paper"] in {"out", "unknown"}
    if n1 is None:
        assert state["online"] == "unknown"

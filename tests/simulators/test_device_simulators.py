"""Simulators answer the wire exactly as devices.md says (status table, §3.11 rule order, §5.3 cache)."""

from __future__ import annotations

import pytest

from drivers.codecs import bx5k, hdp1
from drivers.devices.base import DeviceSpec
from drivers.errors import DriverError
from drivers.registry import load_profile, open_device
from drivers.transports.memory import chain, chunks, memory_pair, split_bytes
from simulators.attach import attach_memory
from simulators.devices.bx5k_screen import Bx5kScreenSimulator
from simulators.devices.hdp1_caller import CallerSimulator
from simulators.devices.hdp1_evaluator import EvaluatorSimulator
from simulators.devices.printer import STATUS_TABLE, EscposProtocolError, PrinterSimulator


@pytest.mark.parametrize("state", sorted(STATUS_TABLE))
def test_printer_status_table(state: str) -> None:
    sim = PrinterSimulator(load_profile("kp628e-58"))
    sim.set_state(state)
    replies = sim.receive(b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04\x1d\x72\x01")
    assert tuple(replies) == STATUS_TABLE[state]


def test_printer_strict_mode_rejects_unknown_bytes() -> None:
    sim = PrinterSimulator(load_profile("kp628e-58"), strict=True)
    with pytest.raises(EscposProtocolError):
        sim.receive(b"\x1b\x40\x1b\x7a\x01")


def test_printer_decodes_gb18030_and_raster() -> None:
    sim = PrinterSimulator(load_profile("tm-t70ii-ch-80"), strict=True)
    job = b"\x1b@\x1c&" + "𠮷先生".encode("gb18030") + b"\n\x1dv0\x00\x01\x00\x02\x00\xff\x00\x1dV\x42\x03"
    sim.receive(job)
    printed = sim.wait_for_job(1)
    assert printed is not None and printed.lines == ["𠮷先生"] and printed.images == 1 and printed.cut


def _request(address: int, response: bool = True, payload_len: int = 0) -> bytes:
    area = bx5k.Bx5kArea(0, 0, 8, 16, 0, bx5k.font_escape() + b"A" * payload_len)
    return bx5k.dynamic_area_frame(address, [area], response=response)


def test_bx5k_reply_rules_in_order() -> None:
    sim = Bx5kScreenSimulator(load_profile("bx5k1-64x16"), address=1)
    assert sim.receive(_request(2)) == b""  # not addressed: silence
    garbled = bytearray(_request(1))
    garbled[-4] ^= 0x01  # CRC byte, escapes untouched
    nack = bx5k.Bx5kReply.decode(bx5k.decode_frame(sim.receive(bytes(garbled))).data)
    assert not nack.ok and nack.error == 5
    assert sim.receive(_request(1, response=False, payload_len=3)) == b""  # no reply wanted, but shown
    assert sim.shown_text() == "AAA"
    too_long = bx5k.Bx5kReply.decode(bx5k.decode_frame(sim.receive(_request(1, payload_len=1100))).data)
    assert too_long.error == 4 and sim.shown_text() == "AAA"
    ack = bx5k.decode_frame(sim.receive(_request(1)))
    assert bx5k.Bx5kReply.decode(ack.data).ok and (ack.dst, ack.src, ack.device_type) == (0x8000, 1, 0x51)


def test_bx5k_wait_for_text_over_memory_link() -> None:
    host, device_end = memory_pair(host_manipulator=split_bytes)
    sim = Bx5kScreenSimulator(load_profile("bx5k1-64x16"))
    with attach_memory(sim, device_end):
        host.write(_request(1, payload_len=2))
        assert sim.wait_for_text(lambda text: text == "AA", 5) == "AA"
        assert bx5k.Bx5kStreamDecoder().feed(host.read_exactly(34, 5))


def test_hdp1_drops_foreign_and_broken_frames() -> None:
    sim = CallerSimulator(load_profile("hdp1-caller"), 0x10)
    other = hdp1.Frame(0x11, 0, 1, hdp1.FLAG_ACK_REQ, hdp1.Cmd.GET_STATUS).encode()
    assert sim.receive(other) == b""
    broken = bytearray(hdp1.Frame(0x10, 0, 2, hdp1.FLAG_ACK_REQ, hdp1.Cmd.GET_STATUS).encode())
    broken[-1] ^= 0xFF
    assert sim.receive(bytes(broken)) == b""
    show = hdp1.ShowNumber("A009").encode()
    assert sim.receive(hdp1.Frame(hdp1.BROADCAST, 0, 3, 0, hdp1.Cmd.SHOW_NUMBER, show).encode()) == b""
    assert sim.number == "A009"  # broadcast acted on, never answered
    unknown = hdp1.decode_frame(sim.receive(hdp1.Frame(0x10, 0, 4, 1, 0x7E).encode()))
    assert unknown.payload == bytes([hdp1.Status.UNKNOWN_CMD])


def test_hdp1_response_cache() -> None:
    sim = EvaluatorSimulator(load_profile("hdp1-evaluator"), 0x31)
    request = hdp1.Frame(0x31, 0, 9, hdp1.FLAG_ACK_REQ, hdp1.Cmd.REQUEST_RATING, hdp1.RequestRating(5).encode())
    first = sim.receive(request.encode())
    retry = hdp1.Frame(0x31, 0, 9, hdp1.FLAG_ACK_REQ | hdp1.FLAG_RETRY, request.cmd, request.payload)
    assert sim.receive(retry.encode()) == first
    assert sim.requests_started == [5] and sim.executed.count(hdp1.Cmd.REQUEST_RATING) == 1


def test_hdp1_event_overflow_drops_oldest() -> None:
    sim = CallerSimulator({**load_profile("hdp1-caller"), "event_queue_size": 16}, 0x10)
    seqs = [sim.press("call_next") for _ in range(20)]
    assert [e.dev_evt_seq for e in sim.events] == seqs[4:]
    assert sim.status_bits() & 0x04


def test_evaluator_replace_option_and_level_mask() -> None:
    sim = EvaluatorSimulator(load_profile("hdp1-evaluator"), 0x31)
    only_best = hdp1.RequestRating(1, level_mask=0x10).encode()
    sim.receive(hdp1.Frame(0x31, 0, 1, 1, hdp1.Cmd.REQUEST_RATING, only_best).encode())
    with pytest.raises(ValueError):
        sim.rate(3)
    replace = hdp1.RequestRating(2, options=hdp1.RequestRating.OPT_REPLACE).encode()
    sim.receive(hdp1.Frame(0x31, 0, 2, 1, hdp1.Cmd.REQUEST_RATING, replace).encode())
    assert sim.pending_rating_id == 2
    assert [e.code for e in sim.events] == [hdp1.EventCode.RATING_CANCELLED]


def test_registry_and_memory_transport_with_chunks() -> None:
    host, device_end = memory_pair(host_manipulator=chain(chunks(3)), device_manipulator=split_bytes)
    spec = DeviceSpec("caller-9", "caller", "hdp1", "memory://", "hdp1-caller", 0x10)
    device = open_device(spec, host)
    sim = CallerSimulator(device.profile, 0x10)
    with attach_memory(sim, device_end):
        sim.press("recall", arg=4)
        (event,) = device.poll_events()
        assert event.data == {"key": "recall", "arg": 4, "long": False}
    with pytest.raises(DriverError) as info:
        open_device(DeviceSpec("x", "toaster", "hdp1", "", "hdp1-caller"))
    assert info.value.code == "unknown_device"
    with pytest.raises(DriverError):
        load_profile("no-such-profile")


def test_a_simulated_hall_draws_its_states_reproducibly_or_keeps_them_pinned() -> None:
    from simulators.city import HallPlan
    from simulators.hall import SimulatedHall

    def printer_states(seed: int, random_states: bool) -> list[str]:
        halls = [SimulatedHall(HallPlan(f"h{n}", "厅", windows=1), seed=seed + n, random_states=random_states)
                 for n in range(30)]  # fmt: skip
        try:
            return [hall.printer.state for hall in halls]
        finally:
            for hall in halls:
                hall.close()

    drawn = printer_states(1, True)
    assert drawn == printer_states(1, True), "the same seed draws the same morning"
    assert set(drawn) > {"ready"}, "thirty printers are not all exactly fine"
    assert set(printer_states(1, False)) == {"ready"}, "pinned by default"

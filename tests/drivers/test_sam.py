"""SAM ID card reader: V-SAM-1…12 both ways, properties, driver vs simulator over a pty and over USB."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Any

import pytest
import usb.core
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs import sam
from drivers.devices.base import DeviceSpec
from drivers.devices.id_reader import SamIdReader
from drivers.errors import CodecError, DeviceRejected, TransportTimeout
from drivers.registry import load_profile
from drivers.transports.usb import UsbTransport
from simulators.devices.id_reader import DUMMY_PHOTO, SamReaderSimulator, synthetic_identity
from simulators.usb_backend import SimulatedUsbBackend

Rig = Callable[..., Any]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


COMMANDS = [
    ("V-SAM-1", sam.FIND, "AA AA AA 96 69 00 03 20 01 22"),
    ("V-SAM-2", sam.SELECT, "AA AA AA 96 69 00 03 20 02 21"),
    ("V-SAM-3", sam.READ, "AA AA AA 96 69 00 03 30 01 32"),
    ("V-SAM-4", sam.READ_WITH_FINGERPRINT, "AA AA AA 96 69 00 03 30 10 23"),
    ("V-SAM-5", sam.SAM_STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
    ("V-SAM-6", sam.SAM_ID, "AA AA AA 96 69 00 03 12 FF EE"),
]
RESPONSES = [
    ("V-SAM-7", sam.SamResponse(0x9F, bytes(4)), "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97"),
    ("V-SAM-8", sam.SamResponse(0x80), "AA AA AA 96 69 00 04 00 00 80 84"),
    ("V-SAM-9", sam.SamResponse(0x90, bytes(8)), "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C"),
    ("V-SAM-10", sam.SamResponse(0x81), "AA AA AA 96 69 00 04 00 00 81 85"),
    ("V-SAM-11", sam.SamResponse(0x90), "AA AA AA 96 69 00 04 00 00 90 94"),
    ("V-SAM-12", sam.SamResponse(0x41), "AA AA AA 96 69 00 04 00 00 41 45"),
]


@pytest.mark.parametrize(("vid", "op", "wire"), COMMANDS)
def test_command_vectors(vid: str, op: tuple[int, int], wire: str) -> None:
    assert sam.command(op) == h(wire), vid
    assert sam.SamCommand.decode(h(wire)).op == op


@pytest.mark.parametrize(("vid", "response", "wire"), RESPONSES)
def test_response_vectors(vid: str, response: sam.SamResponse, wire: str) -> None:
    assert response.encode() == h(wire), vid
    assert sam.SamResponse.decode(h(wire)) == response


def test_read_response_layout_and_gb11643() -> None:
    """GIVEN a synthetic card WHEN read THEN 1295 bytes with the published head; the ID number checks."""
    identity = synthetic_identity(7)
    wire = sam.SamResponse(0x90, sam.encode_read_data(identity.encode(), DUMMY_PHOTO)).encode()
    assert len(wire) == sam.READ_RESPONSE_LEN
    assert wire[:14] == h("AA AA AA 96 69 05 08 00 00 90 01 00 04 00")
    text, photo = sam.decode_read_data(sam.SamResponse.decode(wire).data)
    assert sam.Identity.decode(text) == identity and photo == DUMMY_PHOTO
    assert sam.gb11643_check_digit("11010519491231002") == "X"  # the standard's published example
    assert sam.is_valid_id_number(identity.id_number)
    assert not sam.is_valid_id_number(identity.id_number[:17] + ("0" if identity.id_number[17] != "0" else "1"))
    assert "redacted" in repr(identity) and identity.name not in repr(identity)


TEXT = st.text(alphabet=st.sampled_from("王李张芳伟浙江省杭州市0123456789AX长期 "), max_size=8).map(str.strip)


@given(cmd=st.integers(0, 255), para=st.integers(0, 255), data=st.binary(max_size=300))
def test_command_round_trip(cmd: int, para: int, data: bytes) -> None:
    assert sam.SamCommand.decode(sam.SamCommand(cmd, para, data).encode()) == sam.SamCommand(cmd, para, data)


@given(sw3=st.integers(0, 255), data=st.binary(max_size=300), name=TEXT, address=TEXT)
def test_response_and_identity_round_trip(sw3: int, data: bytes, name: str, address: str) -> None:
    response = sam.SamResponse(sw3, data)
    assert sam.SamResponse.decode(response.encode()) == response
    identity = synthetic_identity(1)
    changed = sam.Identity(**{**identity.as_dict(), "name": name, "address": address})
    assert sam.Identity.decode(changed.encode()) == changed


@settings(max_examples=300)
@given(chunks=st.lists(st.binary(max_size=64), max_size=20))
def test_random_bytes_only_codec_errors(chunks: list[bytes]) -> None:
    decoder = sam.SamStreamDecoder()
    for chunk in chunks:
        for frame in decoder.feed(chunk):
            with contextlib.suppress(CodecError):
                sam.SamResponse.decode(frame)
        with contextlib.suppress(CodecError):
            sam.SamResponse.decode(chunk)
        with contextlib.suppress(CodecError):
            sam.decode_read_data(chunk)
        with contextlib.suppress(CodecError):
            sam.Identity.decode(chunk)


@given(data=st.binary(max_size=200), bit=st.integers(0, 10_000))
def test_flipped_bit_is_rejected(data: bytes, bit: int) -> None:
    wire = bytearray(sam.SamResponse(0x90, data).encode())
    bit %= len(wire) * 8
    wire[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CodecError):
        sam.SamResponse.decode(bytes(wire))
    assert sam.SamStreamDecoder().feed(bytes(wire)) == []


@given(split=st.lists(st.integers(1, 50), min_size=1, max_size=40))
def test_stream_decoder_reassembles(split: list[int]) -> None:
    wire = b"\x00\xaa\xaa" + sam.SamResponse(0x9F, bytes(4)).encode() + sam.SamResponse(0x80).encode()
    decoder, frames, pos = sam.SamStreamDecoder(), [], 0
    sizes = itertools.cycle(split)
    while pos < len(wire):
        size = next(sizes)
        frames += decoder.feed(wire[pos : pos + size])
        pos += size
    assert [sam.SamResponse.decode(f).sw3 for f in frames] == [0x9F, 0x80]


# ---- driver vs simulator over a pty ---------------------------------------------------------------


def reader(rig: Rig, timeout_s: float = 0.5, **kwargs: Any) -> tuple[Any, SamReaderSimulator, Any]:
    """The fragmenting link writes one byte per ms, so a 1295-byte read needs a longer timeout there."""
    device, sim, link = rig("id_reader", "sam", "sam-id-reader", lambda p: SamReaderSimulator(p, **kwargs),
                            timeout_s=timeout_s)  # fmt: skip
    return device, sim, link


def test_read_card_and_removal_rule(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    device, sim, _ = reader(rig, timeout_s=4.0, seed=42)
    assert device.probe() == {"sam": "ok", "card": "present"}
    data = device.execute("read_card", {})
    expected = synthetic_identity(42)
    assert {k: data[k] for k in ("name", "id_number", "address", "birth", "valid_to")} == {
        "name": expected.name, "id_number": expected.id_number, "address": expected.address,
        "birth": expected.birth, "valid_to": expected.valid_to,
    }  # fmt: skip
    assert data["gender"] in ("male", "female") and data["id_number_valid"] is True
    assert "photo" not in str(data.keys())
    with pytest.raises(DeviceRejected) as info:  # the same card again: it must leave the reader first
        device.execute("read_card", {})
    assert info.value.code == "no_card"
    sim.remove_card()
    assert device.probe()["card"] == "absent"
    other = sim.insert_card(seed=43)
    assert device.execute("read_card", {})["id_number"] == other.id_number
    logged = caplog.text
    for secret in (expected.name, expected.id_number, expected.address, other.id_number):
        assert secret not in logged


def test_no_card_sam_fault_and_silence(rig: Rig) -> None:
    device, sim, link = reader(rig, timeout_s=0.3, card=False)
    with pytest.raises(DeviceRejected) as info:
        device.execute("read_card", {})
    assert info.value.code == "no_card"
    sim.insert_card(seed=5)
    sim.fail_next_read()
    with pytest.raises(DeviceRejected) as info:
        device.execute("read_card", {})
    assert info.value.code == "read_failed"
    sim.set_sam_fault(0x60)
    assert device.probe() == {"sam": "sam_selftest_failed", "card": "unknown"}
    link.unplug()
    with pytest.raises(TransportTimeout):
        device.probe()


# ---- over USB, through the real pyusb stack on a simulated bus -----------------------------------


def usb_reader(sim: SamReaderSimulator) -> tuple[SamIdReader, SimulatedUsbBackend]:
    profile = load_profile("sam-id-reader")
    backend = SimulatedUsbBackend(sim, profile["usb_vid"], profile["usb_pid"], kernel_driver_active=True)
    transport = UsbTransport(profile["usb_vid"], profile["usb_pid"], backend=backend, device_id="idr-usb")
    spec = DeviceSpec("idr-usb", "id_reader", "sam", "usb://0400:c35a", "sam-id-reader")
    device = SamIdReader(spec, transport, {**profile, "timeout_s": 0.2})
    device.open()
    return device, backend


def test_read_card_over_usb() -> None:
    sim = SamReaderSimulator(seed=9)
    device, backend = usb_reader(sim)
    try:
        assert isinstance(device.transport, UsbTransport) and device.transport.detached_kernel_driver
        assert device.execute("read_card", {})["id_number"] == synthetic_identity(9).id_number
        assert sim.reads == 1 and backend.received.startswith(sam.command(sam.FIND))
        assert backend.timeouts_ms and 0 not in backend.timeouts_ms
    finally:
        device.close()


def test_usb_read_timeout_becomes_transport_timeout() -> None:
    sim = SamReaderSimulator(seed=9)
    device, backend = usb_reader(sim)
    try:
        backend.faults.silent = True
        transport = device.transport
        assert isinstance(transport, UsbTransport)
        with pytest.raises(TransportTimeout):
            transport.bulk_read(64, 0.05)
        with pytest.raises(TransportTimeout):
            device.execute("read_card", {})
        backend.faults.unplugged = True
        with pytest.raises(usb.core.USBError):
            backend.bulk_read(None, 0x81, 0, bytearray(1), 1)  # type: ignore[arg-type]
    finally:
        device.close()

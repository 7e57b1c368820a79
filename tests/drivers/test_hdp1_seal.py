"""Seal machine and stamper over HDP/1: V-HDP-7/8, round trips, the security model over a real pty."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.codecs import hdp1
from drivers.codecs import hdp1_seal as seal
from drivers.errors import DeviceRejected
from simulators.devices.hdp1_seal import TEST_KEY, SealMachineSimulator, StamperSimulator

Rig = Callable[..., Any]
RFID = bytes.fromhex("E004015012345678")
DOC = "330100202501150001"


def h(text: str) -> bytes:
    return bytes.fromhex(text)


V_HDP_7_MAC_INPUT = h("48 44 50 31 53 45 41 4C 57 04 00 00 01 E0 04 01 50 12 34 56 78 02 00 E9 1D 87 67 31 00 00 00"
                      " B7 19 0A 64 2A 62 7A 00")  # fmt: skip
V_HDP_7 = h("AA 55 01 41 00 0B 01 42 2F 00 57 04 00 00 01 E0 04 01 50 12 34 56 78 02 00 E9 1D 87 67 31 00 00 00"
            " B7 19 0A 64 2A 62 7A 00 3A 10 A7 15 D4 32 2D F9 5E 20 AB 8E 1D ED E3 2B F5 7E")  # fmt: skip
V_HDP_8 = h("AA 55 01 00 41 0B 02 C2 01 00 00 42 A7")


def v7_token() -> seal.AuthorizeJob:
    return seal.sign_authorisation(TEST_KEY, job_id=1111, slot=1, seal_rfid=RFID, max_count=2,
                                   not_after=1736908265, nonce=0x31, document_hash=seal.doc_hash(DOC))  # fmt: skip


def test_v_hdp_7_and_8() -> None:
    token = v7_token()
    assert seal.doc_hash(DOC) == h("B7 19 0A 64 2A 62 7A 00")
    assert token.mac_input() == V_HDP_7_MAC_INPUT
    assert token.mac == h("3A 10 A7 15 D4 32 2D F9 5E 20 AB 8E 1D ED E3 2B")
    request = hdp1.Frame(0x41, hdp1.HOST, 0x0B, hdp1.FLAG_ACK_REQ, seal.SealCmd.AUTHORIZE_JOB, token.encode())
    assert request.encode() == V_HDP_7
    assert hdp1.decode_frame(V_HDP_7) == request
    assert seal.AuthorizeJob.decode(request.payload) == token and seal.verify_authorisation(TEST_KEY, token)
    assert request.response(hdp1.Status.OK, src=0x41).encode() == V_HDP_8
    sim = SealMachineSimulator({}, 0x41)  # the reference device answers V-HDP-7 with V-HDP-8
    sim.set_clock(1736904665)
    assert sim.receive(V_HDP_7) == V_HDP_8
    assert sim.receive(V_HDP_7) == V_HDP_8  # same SEQ: answered from the cache, not re-executed
    assert sim.nonce_mark == 0x31 and sim.executed.count(seal.SealCmd.AUTHORIZE_JOB) == 1


U32 = st.integers(0, 0xFFFFFFFF)
U16 = st.integers(0, 0xFFFF)
B8 = st.binary(min_size=8, max_size=8)


@given(job=U32, slot=st.integers(0, 255), rfid=B8, count=U16, after=U32, nonce=U32, doc=B8)
def test_authorisation_round_trip(job: int, slot: int, rfid: bytes, count: int, after: int, nonce: int,
                                  doc: bytes) -> None:  # fmt: skip
    token = seal.sign_authorisation(TEST_KEY, job_id=job, slot=slot, seal_rfid=rfid, max_count=count,
                                    not_after=after, nonce=nonce, document_hash=doc)  # fmt: skip
    wire = token.encode()
    assert len(wire) == 47 and seal.AuthorizeJob.decode(wire) == token
    assert seal.verify_authorisation(TEST_KEY, token)
    assert not seal.verify_authorisation(bytes(32), token)


@given(job=U32, idx=U16, x=U16, y=U16, flags=st.integers(0, 255), count=U32, photo=U32, reason=st.integers(0, 255))
def test_payload_round_trips(job: int, idx: int, x: int, y: int, flags: int, count: int, photo: int,
                             reason: int) -> None:  # fmt: skip
    payloads: list[hdp1.Payload] = [
        seal.Stamp(job, idx, x, y, flags), seal.JobId(job), seal.EndJobReply(idx), seal.GetLog(job, flags),
        seal.GetPhoto(photo, job, idx), seal.PhotoChunk(count, b"\xff\xd8"), seal.StampFailed(job, idx, reason),
        seal.StampDone(job, idx, reason, RFID, count, photo, 0), seal.DoorEvent(1, 1, 0), seal.TamperEvent(reason),
        seal.PhotoReady(photo, count, 1), seal.JobState(job, 4), seal.UnlockDoor(2, 30, 0, count).signed(TEST_KEY),
        seal.SealSetMode(1, count).signed(TEST_KEY), seal.ClearTamper(count).signed(TEST_KEY),
    ]  # fmt: skip
    for payload in payloads:
        assert type(payload).decode(payload.encode()) == payload
    slots = [seal.SlotInfo(1, RFID, 1, 80, count, "330100")]
    assert seal.decode_slots(seal.encode_slots(slots)) == slots


def test_maintenance_macs_differ_per_command() -> None:
    """Inputs of different commands differ in CMD and length, so no mac is valid for another purpose."""
    clear = seal.ClearTamper(7).signed(TEST_KEY)
    mode = seal.SealSetMode(0, 7).signed(TEST_KEY)
    assert clear.verify(TEST_KEY) and mode.verify(TEST_KEY)
    assert clear.mac != mode.mac
    assert not seal.ClearTamper(7, mode.mac).verify(TEST_KEY)


# ---- over a real pty --------------------------------------------------------------------------


def machine(rig: Rig, cls: type[SealMachineSimulator] = SealMachineSimulator, **kwargs: Any) -> tuple[Any, Any]:
    kind, profile, address = ("stamper", "hdp1-stamper", 0x42) if cls is StamperSimulator else \
        ("seal_machine", "hdp1-seal", 0x41)  # fmt: skip
    # timeout_s: the fragmenting link writes one byte per ms, and photo chunks are a few hundred bytes
    device, sim, _ = rig(kind, "hdp1", profile, lambda p: cls(p, address, **kwargs), address, timeout_s=1.0)
    device.set_time(int(time.time()))
    return device, sim


def authorise(nonce: int, *, key: bytes = TEST_KEY, job_id: int = 501, max_count: int = 2,
              not_after: int | None = None, doc: str = DOC, rfid: bytes = RFID) -> dict[str, Any]:  # fmt: skip
    token = seal.sign_authorisation(key, job_id=job_id, slot=1, seal_rfid=rfid, max_count=max_count,
                                    not_after=not_after or int(time.time()) + 300, nonce=nonce,
                                    document_hash=seal.doc_hash(doc))  # fmt: skip
    return {"job_id": token.job_id, "slot": token.slot, "seal_rfid": token.seal_rfid.hex(),
            "max_count": token.max_count, "not_after": token.not_after, "nonce": token.nonce,
            "doc_hash": token.doc_hash.hex(), "mac": token.mac.hex()}  # fmt: skip


def refused(device: Any, name: str, args: dict[str, Any]) -> str:
    with pytest.raises(DeviceRejected) as info:
        device.execute(name, args)
    return str(info.value.code)


def test_stamp_and_reconcile_counters(rig: Rig) -> None:
    device, sim = machine(rig)
    before = device.execute("get_counters", {})["slots"][0]["lifetime_count"]
    sim.load_document(DOC)
    device.execute("authorize_job", authorise(100))
    for idx in (1, 2):
        assert device.execute("stamp", {"job_id": 501, "stamp_idx": idx, "verify_qr": True})["accepted"]
    device.execute("stamp", {"job_id": 501, "stamp_idx": 2})  # already accepted: no second stamp
    assert refused(device, "stamp", {"job_id": 501, "stamp_idx": 3}) == "not_authorized"  # beyond max_count
    assert device.execute("end_job", {"job_id": 501}) == {"job_id": 501, "used": 2}
    events = device.poll_events()
    done = [e for e in events if e.type == "stamp_done"]
    after = device.execute("get_counters", {})["slots"][0]["lifetime_count"]
    assert after - before == len(done) == 2 == len(sim.stamps)
    assert [e.data["lifetime_count_after"] for e in done] == [before + 1, before + 2]
    photos = {e.data["photo_id"]: e.data["sha256"] for e in events if e.type == "photo_ready"}
    for record in sim.stamps:  # every stamp has its photos, and the digests match what the device took
        assert {record.photo_before, record.photo_after} <= photos.keys()
        assert all(photos[pid] == digest for pid, digest in record.photo_sha256.items())
    assert [e.data["state"] for e in events if e.type == "job_state"] == ["available", "stamping", "finished"]
    seqs = [e.source_seq or 0 for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gaps
    device.ack_events(seqs[-1])
    replay = device.execute("get_log", {"from_seq": seqs[0], "max": 50})["events"]
    assert [(e["type"], e["source_seq"]) for e in replay] == [(e.type, e.source_seq) for e in events]
    device.execute("stamp", {"job_id": 501, "stamp_idx": 1})  # a late retry of an accepted stamp: OK, no stamp
    assert len(sim.stamps) == 2 and sim.counters() == {1: after}


def test_replayed_expired_other_machine_and_other_document(rig: Rig) -> None:
    device, sim = machine(rig)
    token = authorise(200)
    device.execute("authorize_job", token)
    assert refused(device, "authorize_job", token) == "auth_expired"  # replay: nonce at the mark
    assert refused(device, "authorize_job", authorise(150)) == "auth_expired"  # below the mark
    expired = authorise(201, not_after=int(time.time()) - 10)
    assert refused(device, "authorize_job", expired) == "auth_expired"
    assert refused(device, "authorize_job", authorise(202, key=bytes(32))) == "not_authorized"  # other machine
    assert refused(device, "authorize_job", authorise(203, rfid=bytes(8))) == "not_authorized"  # other seal
    forged = {**authorise(204), "doc_hash": seal.doc_hash("another document").hex()}
    assert refused(device, "authorize_job", forged) == "not_authorized"  # document swapped after signing
    assert sim.nonce_mark == 200  # refused tokens never move the mark
    device.ack_events(max(e.source_seq or 0 for e in device.poll_events()))
    device.execute("authorize_job", authorise(205, job_id=502, doc=DOC))
    sim.load_document("330100202501159999")  # a different document lies in the channel
    device.execute("stamp", {"job_id": 502, "stamp_idx": 1, "verify_qr": True})
    failed = [e.data for e in device.poll_events() if e.type == "stamp_failed"]
    assert failed == [{"job_id": 502, "stamp_idx": 1, "reason": "document_mismatch", "reason_code": 11}]
    assert sim.stamps == []


def test_clock_not_set_tamper_and_doors(rig: Rig) -> None:
    device, sim = machine(rig)
    sim.power_cycle()  # the clock is lost: every token is refused until SET_TIME
    assert refused(device, "authorize_job", authorise(300)) == "auth_expired"
    device.set_time(int(time.time()))
    device.execute("authorize_job", authorise(301))
    device.execute("unlock_door", {"door": "paper", "job_id": 501, "seconds": 20})
    assert device.probe()["paper_door"] == "open"
    device.execute("lock_door", {"door": "paper"})
    safety = seal.UnlockDoor(2, 20, 0, 302).signed(TEST_KEY)
    unlock = {"door": "safety", "seconds": 20, "nonce": 302, "mac": safety.mac.hex()}
    device.execute("unlock_door", unlock)
    assert refused(device, "unlock_door", unlock) == "auth_expired"  # the same nonce again
    device.execute("lock_door", {"door": "safety"})
    sim.tamper("tilt")
    assert device.probe()["locked_out"] is True
    assert refused(device, "stamp", {"job_id": 501, "stamp_idx": 1}) == "locked_out"
    clear = seal.ClearTamper(303).signed(TEST_KEY)
    device.execute("clear_tamper", {"nonce": 303, "mac": clear.mac.hex()})
    assert device.probe()["locked_out"] is False
    types = [e.type for e in device.poll_events()]
    assert "tamper" in types and types.count("door") == 4


def test_inline_stamper_without_authorisation(rig: Rig) -> None:
    device, sim = machine(rig, StamperSimulator, require_auth=False)
    device.execute("stamp", {"job_id": 9, "stamp_idx": 1, "x_01mm": 3, "y_01mm": 7})
    assert [e.type for e in device.poll_events() if e.type.startswith("stamp")] == ["stamp_done"]
    with pytest.raises(Exception, match="no command"):
        device.execute("unlock_door", {"door": "paper"})
    assert sim.counters() == {1: 1}

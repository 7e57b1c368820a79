"""Integrity: the audit hash chain, the three hands on a case, certificates and seal jobs, reconciliation,
rectification of bad ratings, the ratings export, and the attacks each of them has to withstand.

Bus messages are fed straight into `inbound.handle` (a batch of one: the bus bridge's own path) and commands
are read from the database, so these tests need no broker; tests/e2e/test_case_journey.py runs the
whole journey on the real stack.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from drivers.codecs import hdp1
from drivers.codecs import hdp1_seal as seal
from hall_server import audit_cli, auditchain, seal_tokens
from hall_server.app import create_app
from hall_server.auth import Principal, PrincipalStore
from hall_server.context import HallContext
from hall_server.inbound import handle
from hall_server.models import AuditEntry, CommandRecord
from hall_server.settings import Settings
from hallbus import Event, Result, encode, topics_for
from simulators.devices.hdp1_seal import TEST_KEY, SealMachineSimulator, Slot

HALL = "cc-city"
OTHER = "cc-nanguan"
SEAL_RFID = "F302554F69E4F6FB"  # seal-0001, 长春市市场监督管理局行政审批专用章, cc-city-seal1 slot 1
T = topics_for(HALL)

MATTERS = [
    {"code": "E001", "name": "企业设立登记", "category": "enterprise", "prefix": "A"},
    {"code": "P001", "name": "社会保障卡申领", "category": "personal", "prefix": "B"},
]


def _hall(hall: str, seal_desk: bool) -> dict[str, Any]:
    clerk = {"name": "王芳"}
    windows = [{"id": f"w{i}", "number": i, "categories": ["all"], "clerk": {"staff_id": f"{hall}-s{i}", **clerk}}
               for i in (1, 2)]  # fmt: skip
    devices: list[dict[str, Any]] = []
    for i in (1, 2):
        devices += [{"id": f"w{i}-eval", "kind": "evaluator", "edge": "e1", "window": f"w{i}"}]
    if seal_desk:
        devices += [{"id": "seal1", "kind": "seal_machine", "edge": "e1"},
                    {"id": "certprinter1", "kind": "cert_printer", "edge": "e1"}]  # fmt: skip
    return {"id": hall, "name": f"{hall} 政务服务中心", "windows": windows, "devices": devices}


PEOPLE = {
    "clerk": Principal(id="clerk1", role="clerk", hall=HALL, window="w1"),
    "clerk2": Principal(id="clerk2", role="clerk", hall=HALL, window="w2"),
    "clerk_other": Principal(id="clerk9", role="clerk", hall=OTHER, window="w1"),
    "approver": Principal(id="appr-market", role="approver", department="cc-city.market"),
    "approver_hrss": Principal(id="appr-hrss", role="approver", department="cc-city.hrss"),
    "custodian": Principal(id="cust1", role="custodian", hall=HALL),
    "custodian_other": Principal(id="cust9", role="custodian", hall=OTHER),
    "operator": Principal(id="op1", role="operator", hall=HALL),
    "operator_other": Principal(id="op9", role="operator", hall=OTHER),
    "admin": Principal(id="boss", role="admin"),
    "admin2": Principal(id="boss2", role="admin"),
}


@dataclass
class Rig:
    client: TestClient
    ctx: HallContext
    tokens: dict[str, str]
    url: str
    stream: str = ""
    seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def post(self, path: str, who: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(path, json=body, headers=self.as_(who))

    def get(self, path: str, who: str, **params: Any) -> Any:
        return self.client.get(path, params=params or None, headers=self.as_(who))

    # -- the edge's side, straight into the server's inbound path
    def event(self, device: str, type_: str, data: dict[str, Any], event_id: str | None = None,
              source_seq: int | None = None, hall: str = HALL) -> str:  # fmt: skip
        event_id = event_id or uuid.uuid4().hex
        msg = Event(edge="e1", stream=self.stream, seq=next(self.seq), event_id=event_id, type=type_, data=data,
                    source_seq=source_seq)  # fmt: skip
        handle(self.ctx, topics_for(hall).dev_event(device), encode(msg))
        return event_id

    def result(self, record: CommandRecord, status: str = "ok", data: dict[str, Any] | None = None) -> None:
        msg = Result(edge="e1", stream=self.stream, seq=next(self.seq), cmd_id=record.cmd_id, status=status,
                     data=data or {})  # fmt: skip
        handle(self.ctx, T.dev_result(record.device_id or ""), encode(msg))

    def commands(self, name: str | None = None, device: str | None = None) -> list[CommandRecord]:
        with self.ctx.db.read() as session:
            stmt = select(CommandRecord).order_by(CommandRecord.id)
            if name:
                stmt = stmt.where(CommandRecord.name == name)
            if device:
                stmt = stmt.where(CommandRecord.device_id == device)
            return list(session.scalars(stmt))


@pytest.fixture
def rig(database_url: str, tmp_path: Path) -> Iterator[Rig]:
    app = create_app(Settings(database_url=database_url, auth="off"))
    store = PrincipalStore(tmp_path / "principals.json")
    tokens = {name: store.add(p) for name, p in PEOPLE.items()}
    app.state.principals = store
    client = TestClient(app)
    r = Rig(client, app.state.ctx, tokens, database_url, stream=str(uuid.uuid4()))
    topo = {"matters": MATTERS, "halls": [_hall(HALL, True), _hall(OTHER, False)]}
    assert client.put("/api/topology", json=topo, headers=r.as_("admin")).status_code == 200
    key = r.client.put(f"/api/halls/{HALL}/seal-machines/seal1/key", json={"key_hex": TEST_KEY.hex()},
                       headers=r.as_("admin"))  # fmt: skip
    assert key.status_code == 204, key.text
    yield r
    app.state.ctx.db.dispose()


def _ticket(r: Rig, hall: str = HALL, matter: str = "E001") -> int:
    response = r.post(f"/api/halls/{hall}/tickets", "admin", {"matter": matter})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _intake(r: Rig, who: str = "clerk", hall: str = HALL, matter: str = "E001") -> dict[str, Any]:
    body = {"ticket_id": _ticket(r, hall, matter), "applicant_id": "220102199001011234", "holder": "长春某科技有限公司",
            "credit_code": "91220101MA0000001X"}  # fmt: skip
    response = r.post(f"/api/halls/{hall}/cases", who, body)
    assert response.status_code == 201, response.text
    return dict(response.json())


# -- the seal token (server side of V-HDP-7) ---------------------------------------------------------


def test_server_token_matches_v_hdp_7_and_the_driver() -> None:
    token = seal_tokens.sign(TEST_KEY, job_id=1111, slot=1, seal_rfid=bytes.fromhex("E004015012345678"),
                             max_count=2, not_after=1736908265, nonce=0x31,
                             document_hash=seal_tokens.doc_hash("330100202501150001"))  # fmt: skip
    assert token.doc_hash == bytes.fromhex("B7190A642A627A00")
    assert token.mac == bytes.fromhex("3A10A715D4322DF95E20AB8E1DEDE32B")
    driver = seal.sign_authorisation(TEST_KEY, job_id=1111, slot=1, seal_rfid=token.seal_rfid, max_count=2,
                                     not_after=1736908265, nonce=0x31, document_hash=token.doc_hash)  # fmt: skip
    assert driver.mac == token.mac and driver.mac_input() == seal_tokens.mac_input(
        1111, 1, token.seal_rfid, 2, 1736908265, 0x31, token.doc_hash
    )


def test_migration_hashes_existing_rows_like_the_chain() -> None:
    import importlib

    migration = importlib.import_module("hall_server.migrations.versions.0003_integrity")
    entry = AuditEntry(id=7, seq=3, at=1, hall_id="h", actor="a", action="x", subject="s",
                       details={"k": [1, "二"], 2: None}, prev_hash="ab" * 32)  # fmt: skip
    row = {"id": 7, "seq": 3, "at": 1, "hall_id": "h", "actor": "a", "action": "x", "subject": "s",
           "details": '{"k": [1, "二"], "2": null}', "prev_hash": "ab" * 32}  # fmt: skip
    assert migration._canonical(row) == auditchain.canonical(entry)


# -- the three hands ---------------------------------------------------------------------------------


def test_case_journey_with_three_different_people(rig: Rig) -> None:
    case = _intake(rig)
    number = case["number"]
    assert len(number) == 19 and number[6:14].isdigit() and number.endswith("00001")
    assert case["department"] == "cc-city.market" and case["seal"] == "seal-0001" and case["state"] == "intake"
    assert "220102199001011234" not in str(case)
    approved = rig.post(f"/api/cases/{number}/approve", "approver", {"note": "材料齐全"})
    assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text
    released = rig.post(f"/api/cases/{number}/release", "custodian")
    assert released.status_code == 200, released.text
    body = released.json()
    assert (
        body["state"] == "released"
        and body["certificate"]["blank_serial"]
        and body["seal_job"]["state"] == "authorised"
    )
    # the certificate: printed from the server's URL, with the sha256 of what the server serves
    [print_cmd] = rig.commands("print_certificate", "certprinter1")
    url = print_cmd.args["document_url"]
    pdf = rig.client.get(url.split("127.0.0.1:8080", 1)[-1] if "8080" in url else url)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert hashlib.sha256(pdf.content).hexdigest() == print_cmd.args["sha256"] == body["certificate"]["sha256"]
    assert print_cmd.args["media"] == "iso_a4_210x297mm" and print_cmd.args["blank_serial"].startswith("FB")
    assert rig.client.get(f"/api/certificates/{body['certificate']['id']}.pdf?t=wrong").status_code == 401
    # the seal job: baseline counters, a token the machine accepts, one stamp
    names = [c.name for c in rig.commands(device="seal1")]
    assert names == ["get_counters", "authorize_job", "stamp"]
    [auth] = rig.commands("authorize_job")
    token = seal.AuthorizeJob(auth.args["job_id"], auth.args["slot"], bytes.fromhex(auth.args["seal_rfid"]),
                              auth.args["max_count"], auth.args["not_after"], auth.args["nonce"],
                              bytes.fromhex(auth.args["doc_hash"]), bytes.fromhex(auth.args["mac"]))  # fmt: skip
    assert seal.verify_authorisation(TEST_KEY, token) and token.doc_hash == seal.doc_hash(number)
    assert token.seal_rfid.hex().upper() == SEAL_RFID and token.max_count == 1
    actions = [e["action"] for e in rig.get(f"/api/halls/{HALL}/audit", "admin", limit=50).json()]
    for step in ("case_intake", "case_approved", "case_released", "certificate_print", "seal_token_issued"):
        assert step in actions
    # a released case is never released twice (one job per case)
    again = rig.post(f"/api/cases/{number}/release", "admin")
    assert again.status_code == 409


def test_one_person_never_holds_two_hands(rig: Rig) -> None:
    # intake and approval by the same person
    case = _intake(rig, "admin")
    denied = rig.post(f"/api/cases/{case['number']}/approve", "admin")
    assert denied.status_code == 403 and "intake" in denied.json()["detail"]
    # approval and release by the same person
    assert rig.post(f"/api/cases/{case['number']}/approve", "admin2").status_code == 200
    denied = rig.post(f"/api/cases/{case['number']}/release", "admin2")
    assert denied.status_code == 403 and "decision" in denied.json()["detail"]
    # intake and release by the same person
    denied = rig.post(f"/api/cases/{case['number']}/release", "admin")
    assert denied.status_code == 403 and "intake" in denied.json()["detail"]
    assert rig.commands("authorize_job") == [] and rig.commands("print_certificate") == []
    assert rig.post(f"/api/cases/{case['number']}/release", "custodian").status_code == 200


def test_roles_departments_and_halls_are_enforced(rig: Rig) -> None:
    case = _intake(rig)
    number = case["number"]
    other_dept = rig.post(f"/api/cases/{number}/approve", "approver_hrss")
    assert other_dept.status_code == 403 and "cc-city.market" in other_dept.json()["detail"]
    assert rig.post(f"/api/cases/{number}/approve", "clerk2").status_code == 403  # a clerk is no approver
    assert rig.post(f"/api/cases/{number}/release", "custodian").status_code == 409  # not approved yet
    ticket = _ticket(rig)
    other_hall = rig.post(f"/api/halls/{HALL}/cases", "clerk_other", {"ticket_id": ticket, "applicant_id": "x1234"})
    assert other_hall.status_code == 403
    assert (
        rig.client.post(f"/api/halls/{HALL}/cases", json={"ticket_id": ticket, "applicant_id": "x1234"}).status_code
        == 401
    )
    assert rig.post(f"/api/cases/{number}/approve", "approver").status_code == 200
    assert rig.post(f"/api/cases/{number}/release", "custodian_other").status_code == 403  # seal held in cc-city
    rejected = _intake(rig)
    assert (
        rig.post(f"/api/cases/{rejected['number']}/reject", "approver", {"note": "材料不全"}).json()["state"]
        == "rejected"
    )
    assert rig.post(f"/api/cases/{rejected['number']}/release", "custodian").status_code == 409


# -- stamps, counters, photos, gaps ------------------------------------------------------------------


def _released_job(rig: Rig) -> tuple[str, int]:
    case = _intake(rig)
    assert rig.post(f"/api/cases/{case['number']}/approve", "approver").status_code == 200
    body = rig.post(f"/api/cases/{case['number']}/release", "custodian").json()
    return case["number"], int(body["seal_job"]["job_id"])


def _slots(count: int) -> dict[str, Any]:
    return {"slots": [{"slot": 1, "seal_rfid": SEAL_RFID.lower(), "present": True, "ink_pct": 90,
                       "lifetime_count": count, "dept_code": "x"}]}  # fmt: skip


def _stamp_with_photos(rig: Rig, job: int, count_after: int, seq0: int, photos: bool = True) -> None:
    if photos:
        rig.event("seal1", "photo_ready", {"photo_id": seq0, "size": 10, "kind": "before", "sha256": "a" * 64},
                  source_seq=seq0)  # fmt: skip
        rig.event("seal1", "photo_ready", {"photo_id": seq0 + 1, "size": 10, "kind": "after", "sha256": "b" * 64},
                  source_seq=seq0 + 1)  # fmt: skip
    rig.event("seal1", "stamp_done", {"job_id": job, "stamp_idx": 1, "slot": 1, "seal_rfid": SEAL_RFID.lower(),
                                      "lifetime_count_after": count_after, "photo_before": seq0,
                                      "photo_after": seq0 + 1}, source_seq=seq0 + 2)  # fmt: skip


def test_stamp_is_stored_once_and_counters_reconcile(rig: Rig) -> None:
    number, job = _released_job(rig)
    baseline = rig.commands("get_counters")[0]
    rig.result(baseline, data=_slots(41))
    _stamp_with_photos(rig, job, 42, seq0=10)
    # the same stamp again under a new event id: still one stamp
    rig.event("seal1", "stamp_done", {"job_id": job, "stamp_idx": 1, "slot": 1, "seal_rfid": SEAL_RFID.lower(),
                                      "lifetime_count_after": 42, "photo_before": 10, "photo_after": 11})  # fmt: skip
    final = rig.commands("get_counters")[-1]
    assert final.cmd_id != baseline.cmd_id and [c.name for c in rig.commands(device="seal1")][-2:] == [
        "end_job",
        "get_counters",
    ]
    rig.result(final, data=_slots(42))
    case = rig.get(f"/api/cases/{number}", "admin").json()
    assert case["seal_job"]["state"] == "done" and case["seal_job"]["reconciled"] == "ok"
    assert [s["stamp_idx"] for s in case["seal_job"]["stamps"]] == [1]
    assert rig.get(f"/api/halls/{HALL}/alarms", "operator").json() == []


def test_counter_jump_missing_photo_and_event_gap_raise_alarms(rig: Rig) -> None:
    _, job = _released_job(rig)
    rig.result(rig.commands("get_counters")[0], data=_slots(100))
    rig.event("seal1", "job_state", {"job_id": job, "state": "available"}, source_seq=5)
    _stamp_with_photos(rig, job, 101, seq0=9, photos=False)  # seq 6..10 missing, and no photos
    assert [c.args for c in rig.commands("get_log")] == [{"from_seq": 6, "max": 5}]
    rig.result(rig.commands("get_counters")[-1], data=_slots(103))  # two stamps more than STAMP_DONE says
    kinds = sorted(a["kind"] for a in rig.get(f"/api/halls/{HALL}/alarms", "operator").json())
    assert kinds == ["seal_counter_mismatch", "seal_event_gap", "seal_photo_missing", "seal_photo_missing"]
    assert rig.get(f"/api/halls/{OTHER}/alarms", "operator").status_code == 403  # another hall's operator only
    jobs = rig.get(f"/api/halls/{HALL}/seal-jobs", "custodian").json()
    assert jobs[0]["reconciled"] == "mismatch"


def test_stamp_for_a_job_never_issued_raises_an_alarm(rig: Rig) -> None:
    rig.event("seal1", "stamp_done", {"job_id": 999, "stamp_idx": 1, "slot": 1, "seal_rfid": SEAL_RFID.lower(),
                                      "lifetime_count_after": 5, "photo_before": 1, "photo_after": 2})  # fmt: skip
    rig.event("seal1", "tamper", {"kind": "case_opened"})
    kinds = [a["kind"] for a in rig.get(f"/api/halls/{HALL}/alarms", "operator").json()]
    assert kinds == ["seal_unauthorised_stamp", "seal_tamper"]


def test_server_issues_fresh_nonces_and_short_lived_tokens(rig: Rig) -> None:
    _released_job(rig)
    _released_job(rig)
    tokens = [c.args for c in rig.commands("authorize_job")]
    assert tokens[1]["nonce"] > tokens[0]["nonce"] and tokens[0]["job_id"] != tokens[1]["job_id"]
    assert tokens[0]["doc_hash"] != tokens[1]["doc_hash"]
    import time

    assert all(time.time() < t["not_after"] <= time.time() + 601 for t in tokens)


# -- the device side: a machine refuses what the server never issues ---------------------------------


def _frame(seq: int, cmd: int, payload: bytes) -> bytes:
    return hdp1.Frame(0x41, hdp1.HOST, seq, hdp1.FLAG_ACK_REQ, cmd, payload).encode()


def _status(reply: bytes | None) -> int:
    assert reply is not None
    return hdp1.decode_frame(reply).payload[0]


def test_machine_refuses_replayed_expired_foreign_and_wrong_document_tokens() -> None:
    import time

    rfid = bytes.fromhex(SEAL_RFID)
    sim = SealMachineSimulator({}, 0x41, slots={1: Slot(rfid)})
    sim.set_clock(int(time.time()))
    now = int(time.time())

    def token(nonce: int, *, key: bytes = TEST_KEY, not_after: int = now + 300, doc: str = "A", job: int = 1) -> bytes:
        return seal_tokens.sign(key, job_id=job, slot=1, seal_rfid=rfid, max_count=1, not_after=not_after,
                                nonce=nonce, document_hash=seal_tokens.doc_hash(doc))  # fmt: skip

    def encode_token(t: seal_tokens.Token) -> bytes:
        return seal.AuthorizeJob(t.job_id, t.slot, t.seal_rfid, t.max_count, t.not_after, t.nonce, t.doc_hash,
                                 t.mac).encode()  # fmt: skip

    good = encode_token(token(10))  # type: ignore[arg-type]
    assert _status(sim.receive(_frame(1, seal.SealCmd.AUTHORIZE_JOB, good))) == hdp1.Status.OK
    assert _status(sim.receive(_frame(2, seal.SealCmd.AUTHORIZE_JOB, good))) == hdp1.Status.AUTH_EXPIRED  # used twice
    expired = encode_token(token(11, not_after=now - 1, job=2))  # type: ignore[arg-type]
    assert _status(sim.receive(_frame(3, seal.SealCmd.AUTHORIZE_JOB, expired))) == hdp1.Status.AUTH_EXPIRED
    other_machine = encode_token(token(12, key=bytes(32), job=3))  # type: ignore[arg-type]
    assert _status(sim.receive(_frame(4, seal.SealCmd.AUTHORIZE_JOB, other_machine))) == hdp1.Status.NOT_AUTHORIZED
    forged = bytearray(encode_token(token(13, job=4)))  # type: ignore[arg-type]
    forged[-17] ^= 0xFF  # another document's hash under the old mac
    assert _status(sim.receive(_frame(5, seal.SealCmd.AUTHORIZE_JOB, bytes(forged)))) == hdp1.Status.NOT_AUTHORIZED
    # a valid token for document A while document B lies in the machine: the stamp fails, nothing is stamped
    sim.load_document("B")
    stamp = seal.Stamp(1, 1, flags=seal.Stamp.VERIFY_QR | seal.Stamp.PHOTO_AFTER).encode()
    assert _status(sim.receive(_frame(6, seal.SealCmd.STAMP, stamp))) == hdp1.Status.OK
    assert sim.stamps == [] and sim.counters() == {1: 0}
    again = seal.Stamp(1, 2).encode()  # beyond max_count
    assert _status(sim.receive(_frame(7, seal.SealCmd.STAMP, again))) == hdp1.Status.NOT_AUTHORIZED


# -- the audit chain ---------------------------------------------------------------------------------


def test_audit_chain_verifies_and_an_edited_row_is_named(rig: Rig) -> None:
    _released_job(rig)
    runner = CliRunner()
    ok = runner.invoke(audit_cli.app, ["--database-url", rig.url])
    assert ok.exit_code == 0 and "OK" in ok.output, ok.output
    assert rig.get("/api/audit/verify", "admin").json()["ok"] is True
    engine = create_engine(rig.url)
    with engine.begin() as conn:
        victim = conn.execute(text("SELECT id FROM audit_log WHERE action = 'case_approved'")).scalar_one()
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE id = :id"), {"id": victim})
    broken = runner.invoke(audit_cli.app, ["--database-url", rig.url])
    assert broken.exit_code == 1 and f"id={victim}" in broken.output and "changed" in broken.output, broken.output
    as_group = runner.invoke(audit_cli.group, ["verify", "--database-url", rig.url])  # `hallctl audit verify`
    assert as_group.exit_code == 1 and f"id={victim}" in as_group.output
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'appr-market' WHERE id = :id"), {"id": victim})
    assert runner.invoke(audit_cli.app, ["--database-url", rig.url]).exit_code == 0
    with engine.begin() as conn:
        last = conn.execute(text("SELECT max(seq) FROM audit_log")).scalar_one()
        conn.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": last - 2})
    deleted = runner.invoke(audit_cli.app, ["--database-url", rig.url])
    assert deleted.exit_code == 1 and "missing" in deleted.output
    engine.dispose()


def test_concurrent_writers_keep_the_chain_linear(database_url: str) -> None:
    import threading

    from hall_server import audit
    from hall_server.db import Database, migrate

    migrate(database_url)
    dbs = [Database(database_url) for _ in range(4)]

    def write(db: Database, n: int) -> None:
        for i in range(15):
            with db.write() as session:
                audit.record(session, hall="h", actor=f"t{n}", action="x", subject=str(i), details={"i": i})

    threads = [threading.Thread(target=write, args=(db, n)) for n, db in enumerate(dbs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with dbs[0].read() as session:
        report = auditchain.verify(session)
    assert report.ok and report.entries == 60, [str(b) for b in report.breaks]
    for db in dbs:
        db.dispose()


# -- ratings: attacks, rectification, export ---------------------------------------------------------


def _rating_request(rig: Rig, window: str = "w1", hall: str = HALL) -> int:
    _ticket(rig, hall)
    assert rig.post(f"/api/halls/{hall}/windows/{window}/call-next", "admin").status_code == 200
    assert rig.post(f"/api/halls/{hall}/windows/{window}/finish", "admin").status_code == 200
    [cmd] = [c for c in rig.commands("request_rating") if c.hall_id == hall][-1:]
    return int(cmd.args["rating_id"])


def test_forged_or_replayed_ratings_change_nothing(rig: Rig) -> None:
    rating_id = _rating_request(rig)
    rig.event("w1-eval", "rating", {"rating_id": rating_id + 500, "level": 1})  # never issued
    rig.event("w1-eval", "rating", {"rating_id": rating_id, "level": 1}, hall=OTHER)  # another hall's device
    rig.event("w2-eval", "rating", {"rating_id": rating_id, "level": 1})  # not the evaluator asked
    assert rig.get(f"/api/halls/{HALL}/ratings", "admin").json() == []
    first = rig.event("w1-eval", "rating", {"rating_id": rating_id, "level": 4})
    rig.event("w1-eval", "rating", {"rating_id": rating_id, "level": 1})  # second press
    rig.event("w1-eval", "rating", {"rating_id": rating_id, "level": 1}, event_id=first)  # replay
    rig.event("w1-eval", "rating", {"rating_id": rating_id, "level": 2}, event_id=uuid.uuid4().hex)  # new event id
    ratings = rig.get(f"/api/halls/{HALL}/ratings", "admin").json()
    assert [(r["rating_id"], r["level"]) for r in ratings] == [(rating_id, 4)]
    assert rig.get(f"/api/halls/{HALL}/rectifications", "operator").json() == []


def test_bad_rating_opens_a_rectification_with_callback_and_close(rig: Rig) -> None:
    rating_id = _rating_request(rig)
    rig.event("w1-eval", "rating", {"rating_id": rating_id, "level": 2})
    [item] = rig.get(f"/api/halls/{HALL}/rectifications", "operator").json()
    assert item["rating_id"] == rating_id and item["state"] == "open" and not item["overdue"]
    from datetime import date

    from hall_server.rectification import add_working_days

    assert add_working_days(date(2025, 1, 17), 5) == date(2025, 1, 24)  # Friday + 5 working days
    assert add_working_days(date(2025, 1, 18), 1) == date(2025, 1, 20)  # Saturday -> Monday
    assert rig.post(f"/api/rectifications/{item['id']}/close", "operator").status_code == 409  # no call-back yet
    assert rig.post(f"/api/rectifications/{item['id']}/callback", "operator_other",
                    {"note": "x", "reached": True}).status_code == 403  # fmt: skip
    cb = rig.post(f"/api/rectifications/{item['id']}/callback", "operator", {"note": "已回访，已致歉", "reached": True})
    assert cb.status_code == 200 and cb.json()["callbacks"][0]["reached"] is True
    with rig.ctx.db.write() as session:  # make it overdue
        session.execute(text("UPDATE rectifications SET due_day = '2000-01-03'"))
    assert [i["id"] for i in rig.get(f"/api/halls/{HALL}/rectifications", "operator", overdue="true").json()] == [
        item["id"]
    ]
    shown = rig.get(f"/api/halls/{HALL}/overview", "operator").json()["rectifications"]
    assert [(i["id"], i["overdue"], i["due_at"]) for i in shown] == [(item["id"], True, "2000-01-03")]
    closed = rig.post(f"/api/rectifications/{item['id']}/close", "operator", {"note": "窗口人员已培训"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert rig.get(f"/api/halls/{HALL}/rectifications", "operator", overdue="true").json() == []


def test_ratings_export_codes_are_configurable(rig: Rig) -> None:
    from hall_server.integrity_settings import IntegritySettings, configure

    levels = {}
    for level in (5, 1):
        rating_id = _rating_request(rig)
        rig.event("w1-eval", "rating", {"rating_id": rating_id, "level": level,
                                        "source": "touch" if level == 1 else "key"})  # fmt: skip
        levels[rating_id] = level
    body = rig.get("/api/ratings/export", "operator", hall=HALL, format="json").json()
    assert {r["rating_id"]: (r["satisfaction"], r["pf"]) for r in body["ratings"]} == {
        rid: (lvl, 4 if lvl == 1 else 5) for rid, lvl in levels.items()
    }
    assert "text" not in body["ratings"][0] and "ticket" not in body["ratings"][0]
    configure(rig.ctx, IntegritySettings(export_satisfaction="gbt39046", export_channel={"key": 5, "touch": 6}))
    raw = rig.get("/api/ratings/export", "operator", hall=HALL, format="csv", **{"from": "2000-01-01"}).text
    rows = list(csv.DictReader(io.StringIO(raw)))
    assert {int(r["rating_id"]): (int(r["satisfaction"]), int(r["pf"])) for r in rows} == {
        rid: (6 - lvl, 6 if lvl == 1 else 5) for rid, lvl in levels.items()
    }
    assert rig.get("/api/ratings/export", "operator", hall=HALL, **{"to": "2000-01-01"}).json()["count"] == 0
    assert rig.get("/api/ratings/export", "operator", hall=OTHER).status_code == 403
    assert rig.get("/api/ratings/export", "clerk", hall=HALL).status_code == 403

"""Journey 4 on real parts: intake -> approval -> release -> certificate printed on the IPP simulator ->
stamp done on the seal machine simulator -> counters reconciled -> the audit chain verifies.

Mosquitto, `hallctl server` and `hallctl edge` run as processes; the seal machine speaks HDP/1 over a
pty and the certificate printer is the IPP simulator on loopback TCP, fetching the PDF from the server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hall_server import audit_cli
from hall_server.auth import Principal, PrincipalStore
from hall_server.seal_catalogue import seals
from simulators.broker import MosquittoBroker
from simulators.city import HallPlan, topology
from simulators.devices.hdp1_seal import TEST_KEY, Slot
from simulators.hall import SimulatedHall
from simulators.processes import EdgeProcess, ServerProcess

from .conftest import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def seal_desk(broker: MosquittoBroker, tmp_path: Path, database_url: str) -> Iterator[dict[str, Any]]:
    plan = HallPlan("cc-city", "长春市政务服务中心", windows=1, with_seal_desk=True)
    server = ServerProcess(tmp_path, database_url, broker.url).start()
    hall = SimulatedHall(plan, seed=3)
    seal = seals()["seal-0001"]  # 长春市市场监督管理局行政审批专用章, machine cc-city-seal1 slot 1
    hall.seal_machine.slots = {seal.slot: Slot(bytes.fromhex(seal.rfid), dept_code="220100")}
    edge: EdgeProcess | None = None
    try:
        server.put("/api/topology", topology([plan])).raise_for_status()
        server.http.put(
            "/api/halls/cc-city/seal-machines/seal1/key", json={"key_hex": TEST_KEY.hex()}
        ).raise_for_status()
        edge = EdgeProcess(tmp_path, hall.edge_config(broker.url, tmp_path / "edge-state")).start()
        wait_until(lambda: all(d["availability"] == "online" for d in server.get("/api/halls/cc-city/devices")),
                   30, "every device online")  # fmt: skip
        yield {"server": server, "hall": hall, "url": database_url, "workdir": tmp_path}
    finally:
        if edge is not None:
            edge.stop()
        server.close()
        hall.close()


def test_case_journey_prints_stamps_reconciles_and_audits(seal_desk: dict[str, Any]) -> None:
    server: ServerProcess = seal_desk["server"]
    hall: SimulatedHall = seal_desk["hall"]
    store = PrincipalStore(seal_desk["workdir"] / "principals.json")
    token = {
        "clerk": store.add(Principal(id="clerk1", role="clerk", hall="cc-city", window="w01")),
        "approver": store.add(Principal(id="appr1", role="approver", department="cc-city.market")),
        "custodian": store.add(Principal(id="cust1", role="custodian", hall="cc-city")),
    }

    def as_(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token[who]}"}

    ticket = server.post("/api/halls/cc-city/tickets", {"matter": "E001"}).json()
    intake = server.http.post("/api/halls/cc-city/cases", headers=as_("clerk"),
                              json={"ticket_id": ticket["id"], "applicant_id": "91220101MA0000001X",
                                    "holder": "长春某科技有限公司", "credit_code": "91220101MA0000001X"})  # fmt: skip
    assert intake.status_code == 201, intake.text
    number = intake.json()["number"]
    assert server.http.post(f"/api/cases/{number}/release", headers=as_("clerk")).status_code == 403
    assert server.http.post(f"/api/cases/{number}/approve", headers=as_("approver")).status_code == 200
    released = server.http.post(f"/api/cases/{number}/release", headers=as_("custodian"))
    assert released.status_code == 200, released.text
    sha256 = released.json()["certificate"]["sha256"]

    printer = hall.cert_printer
    wait_until(lambda: printer.jobs and printer.jobs[0].state == 9, 30, "the certificate printed")
    assert hashlib.sha256(printer.jobs[0].document).hexdigest() == sha256

    def case() -> dict[str, Any]:
        return dict(server.get(f"/api/cases/{number}"))

    wait_until(lambda: (case()["seal_job"] or {}).get("reconciled"), 30, "the seal job reconciled")
    job = case()["seal_job"]
    assert job["state"] == "done" and job["reconciled"] == "ok", job
    assert [s["outcome"] for s in job["stamps"]] == ["done"]
    assert len(hall.seal_machine.stamps) == 1 and hall.seal_machine.counters() == {1: 1}
    assert case()["certificate"]["status"] == "printed"
    assert server.get("/api/halls/cc-city/alarms") == []
    blanks = server.get("/api/halls/cc-city/blanks")
    assert [(b["status"], b["case"]) for b in blanks] == [("printed", number)]
    assert server.get("/api/audit/verify")["ok"] is True
    result = CliRunner().invoke(audit_cli.app, ["--database-url", seal_desk["url"]])
    assert result.exit_code == 0, result.output
    actions = {e["action"] for e in server.get("/api/halls/cc-city/audit", limit=200)}
    assert {"case_intake", "case_approved", "case_released", "seal_token_issued", "stamp_done",
            "certificate_printed", "seal_reconciled"} <= actions  # fmt: skip

"""The ticket printer driver over raw TCP (tcp://, port 9100 style) against the printer simulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from drivers.devices.base import DeviceSpec
from drivers.errors import DeviceRejected
from drivers.registry import load_profile, open_device
from drivers.transports.tcp import TcpTransport
from simulators.attach import Faults
from simulators.attach_tcp import TcpLink, attach_tcp
from simulators.devices.printer import PrinterSimulator

TICKET = {
    "hall_name": "杭州市民之家",
    "ticket_no": "C021",
    "matter": "社保卡补办",
    "ahead": 3,
    "issued_at": 1736904665000,
    "qr": "https://hall.example/t/C021?h=2",
    "notice": "请留意叫号",
}


@pytest.fixture(params=["clean", "fragment"])
def tcp_printer(request: pytest.FixtureRequest) -> Iterator[tuple[Any, PrinterSimulator, TcpLink]]:
    profile = load_profile("kp628e-58")
    sim = PrinterSimulator(profile, strict=True)
    link = attach_tcp(sim, Faults(fragment=request.param == "fragment"), name="tcp-printer")
    spec = DeviceSpec("tp-tcp", "ticket_printer", "escpos", link.url, "kp628e-58", 1)
    device = open_device(spec, connect=True)
    yield device, sim, link
    device.close()
    link.close()
    assert link.failures == [], link.failures


def test_ticket_over_tcp(tcp_printer: tuple[Any, PrinterSimulator, TcpLink]) -> None:
    device, sim, link = tcp_printer
    assert isinstance(device.transport, TcpTransport)
    assert device.probe() == {"paper": "ok", "cover": "closed", "online": True, "error": None}
    result = device.execute("print_ticket", TICKET)
    assert result["paper"] == "ok" and result["bytes"] > 100
    job = sim.wait_for_job(5)
    assert job is not None and job.cut and not job.failed
    for part in ("杭州市民之家", "C021", "社保卡补办", "前面还有 3 人等候", "请留意叫号"):
        assert part in job.text
    assert job.qr_payloads == [TICKET["qr"]]
    assert link.connections == 1  # status and job share the one socket


def test_status_over_tcp_refuses_paper_out(tcp_printer: tuple[Any, PrinterSimulator, TcpLink]) -> None:
    device, sim, link = tcp_printer
    sim.set_state("paper_out")
    assert device.probe()["paper"] == "out"
    with pytest.raises(DeviceRejected) as info:
        device.execute("print_ticket", TICKET)
    assert info.value.code == "paper_out" and not info.value.executed
    assert sim.jobs == []
    assert link.connections == 1

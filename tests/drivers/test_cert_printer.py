"""Certificate printer over IPP against the IPP simulator on loopback (devices.md §7)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.codecs import ipp
from drivers.devices.base import DeviceSpec
from drivers.devices.cert_printer import IppCertificatePrinter
from drivers.errors import BadArguments, DeviceRejected, DriverError
from drivers.registry import load_profile, open_device
from simulators.devices.ipp_printer import IppPrinterSimulator

PDF = b"%PDF-1.7\n% business licence original\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[tuple[IppCertificatePrinter, IppPrinterSimulator, dict[str, Any]]]:
    profile = load_profile("ipp-a3a4-laser")
    sim = IppPrinterSimulator(profile, print_time_s=0.1).start()
    spec = DeviceSpec("cert-1", "cert_printer", "ipp", sim.uri, "ipp-a3a4-laser",
                      options={"poll_interval_s": 0.05, "job_timeout_s": 5.0})  # fmt: skip
    device = open_device(spec, connect=True)
    assert isinstance(device, IppCertificatePrinter)
    path = tmp_path / "licence.pdf"
    path.write_bytes(PDF)
    args = {"document_path": str(path), "sha256": hashlib.sha256(PDF).hexdigest(), "media": "iso_a3_297x420mm",
            "blank_serial": "N0012345", "copies": 1}  # fmt: skip
    yield device, sim, args
    sim.close()


def test_codec_round_trip_with_collection() -> None:
    body = ipp.print_job("ipp://h/ipp/print", 9, PDF, job_name="j", media="iso_a4_210x297mm", tray="tray-2")
    message = ipp.decode(body)
    assert (message.code, message.request_id, message.data) == (ipp.PRINT_JOB, 9, PDF)
    assert ipp.encode(message) == body
    col = message.value(ipp.JOB, "media-col")
    assert [(m.name, m.values) for m in col] == [("media-size-name", ("iso_a4_210x297mm",)),
                                                  ("media-source", ("tray-2",))]  # fmt: skip


def test_print_job_completes_and_pdf_arrives(printer: Any) -> None:
    device, sim, args = printer
    state = device.probe()
    assert state["trays"] == {"tray-1": "ok", "tray-2": "ok"} and state["accepting"] and not state["jam"]
    result = device.execute("print_certificate", args)
    assert result["state"] == "completed" and result["tray"] == "tray-1"
    assert sim.jobs[0].document == PDF
    col = sim.jobs[0].attributes["media-col"].values[0]
    assert {m.name: m.values[0] for m in col} == {"media-size-name": "iso_a3_297x420mm", "media-source": "tray-1"}


def test_document_is_fetched_over_http_and_verified(printer: Any, tmp_path: Path) -> None:
    device, sim, args = printer
    import http.server
    import threading

    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/licence.pdf"
        fetched = {**args, "document_path": None, "document_url": url}
        assert device.execute("print_certificate", fetched)["state"] == "completed"
        with pytest.raises(BadArguments):
            device.execute("print_certificate", {**fetched, "sha256": "0" * 64})
    finally:
        server.shutdown()
        server.server_close()
    assert [job.document for job in sim.jobs] == [PDF]


def test_jam_aborts_the_job(printer: Any) -> None:
    device, sim, args = printer
    sim.print_time_s = 0.5
    result: dict[str, Any] = {}

    import threading

    def jam_soon() -> None:
        while not sim.jobs:
            pass
        sim.set_jam()

    thread = threading.Thread(target=jam_soon)
    thread.start()
    with pytest.raises(DriverError) as info:
        result = device.execute("print_certificate", args)
    thread.join()
    assert result == {} and info.value.code == "job_aborted" and info.value.executed
    assert device.probe()["jam"] is True
    with pytest.raises(DeviceRejected) as refused:
        device.execute("print_certificate", args)
    assert refused.value.code == "media_jam" and not refused.value.executed


def test_a3_tray_empty_is_reported_and_refused(printer: Any) -> None:
    device, sim, args = printer
    sim.set_tray_empty("tray-1")
    state = device.probe()
    assert state["trays"] == {"tray-1": "empty", "tray-2": "ok"}
    assert "media-empty" in state["reasons"]
    with pytest.raises(DeviceRejected) as info:
        device.execute("print_certificate", args)
    assert info.value.code == "media_empty"
    assert device.execute("print_certificate", {**args, "media": "iso_a4_210x297mm"})["tray"] == "tray-2"
    sim.set_door_open()
    assert device.probe()["door"] == "open"

"""Ticket printer over USB (real pyusb stack, simulated bus) and the simulator's PNG and print time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from drivers.codecs.escpos_ticket import TicketContent, build_ticket
from drivers.devices.base import DeviceSpec
from drivers.devices.ticket_printer import EscposTicketPrinter
from drivers.errors import TransportTimeout
from drivers.registry import load_profile
from drivers.transports.usb import USB_PRINTER_CLASS, UsbTransport
from simulators.devices.printer import PrinterSimulator
from simulators.usb_backend import SimulatedUsbBackend

TICKET = {
    "hall_name": "杭州市民之家",
    "ticket_no": "B012",
    "matter": "不动产登记",
    "ahead": 7,
    "issued_at": 1736904665,
    "qr": "https://hall.example/t/B012?h=1&k=5f3a",
    "notice": "请留意叫号",
}


def usb_printer(sim: PrinterSimulator) -> tuple[EscposTicketPrinter, SimulatedUsbBackend]:
    profile = {**load_profile("kp628e-58"), "status_timeout_s": 0.1}
    backend = SimulatedUsbBackend(sim, 0x0FE6, 0x811E, interface_class=USB_PRINTER_CLASS, kernel_driver_active=True)
    transport = UsbTransport(0x0FE6, 0x811E, backend=backend, device_id="kiosk-usb")
    device = EscposTicketPrinter(DeviceSpec("kiosk-usb", "ticket_printer", "escpos", "usb://0fe6:811e",
                                            "kp628e-58"), transport, profile)  # fmt: skip
    device.open()
    return device, backend


def test_print_ticket_over_usb() -> None:
    sim = PrinterSimulator(load_profile("kp628e-58"), strict=True)
    device, backend = usb_printer(sim)
    try:
        assert device.probe()["paper"] == "ok"
        assert device.execute("print_ticket", TICKET)["paper"] == "ok"
        job = sim.wait_for_job(2)
        assert job is not None and job.cut and not job.failed
        assert "B012" in job.lines and "不动产登记" in job.lines
        assert job.qr_payloads == [TICKET["qr"]]
        assert 0 not in backend.timeouts_ms and not backend.kernel_driver_active
        backend.faults.silent = True
        with pytest.raises(TransportTimeout):
            device.probe()
    finally:
        device.close()


def test_png_qr_decodes_to_the_payload(tmp_path: Path) -> None:
    """GIVEN a printed ticket WHEN rendered THEN zxing-cpp reads the very payload the job carried."""
    profile = load_profile("kp628e-58")
    sim = PrinterSimulator(profile, strict=True, render_dir=tmp_path)
    sim.receive(build_ticket(TicketContent.from_args(TICKET), profile))
    job = sim.wait_for_job(1)
    assert job is not None and job.png_path is not None and job.qr_module_sizes == [profile["qr_size"]]
    image = Image.open(job.png_path)
    assert image.width == profile["dots"]
    decoded = zxingcpp.read_barcodes(image)
    assert [r.text for r in decoded] == [TICKET["qr"]]
    assert decoded[0].format == zxingcpp.BarcodeFormat.QRCode


def test_print_time_is_paper_length_over_speed() -> None:
    profile = {**load_profile("kp628e-58"), "speed_mm_s": 400}
    sim = PrinterSimulator(profile, simulate_print_time=True)
    start = time.monotonic()
    sim.receive(build_ticket(TicketContent.from_args(TICKET), profile))
    assert sim.jobs == []  # still printing
    job = sim.wait_for_job(2)
    assert job is not None
    assert job.print_time_s == pytest.approx(sim.print_time_s(job))
    assert 0.05 < job.print_time_s < 1 and time.monotonic() - start >= job.print_time_s * 0.9
    slow = PrinterSimulator({**profile, "speed_mm_s": 90})
    slow.receive(build_ticket(TicketContent.from_args(TICKET), profile))
    assert slow.jobs[0].print_time_s == pytest.approx(job.print_time_s * 400 / 90)

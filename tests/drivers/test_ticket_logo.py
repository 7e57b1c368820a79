"""Ticket logo as a GS v 0 raster (devices.md §2.2), checked by bytes and by the printer simulator."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from drivers.codecs.escpos_ticket import TicketContent, build_ticket, raster_image
from drivers.devices.base import DeviceSpec
from drivers.errors import BadArguments
from drivers.registry import load_profile, open_device
from simulators.attach import Faults, attach_pty
from simulators.devices.printer import PrinterSimulator

Rig = Callable[..., Any]

TICKET = {
    "hall_name": "杭州市民之家",
    "ticket_no": "B012",
    "matter": "不动产登记",
    "ahead": 7,
    "issued_at": 1736904665000,
    "qr": "https://hall.example/t/B012?h=1",
}


def logo_png() -> bytes:
    """10 × 3 px: row 0 all black, row 1 only x = 0 and x = 9 black, row 2 white (one grey pixel)."""
    image = Image.new("L", (10, 3), 255)
    for x in range(10):
        image.putpixel((x, 0), 0)
    image.putpixel((0, 1), 0)
    image.putpixel((9, 1), 30)
    image.putpixel((4, 2), 200)  # light grey: below the threshold of black, prints white
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_raster_bytes() -> None:
    raster = raster_image(logo_png())
    assert raster[:8] == bytes.fromhex("1d 76 30 00 02 00 03 00")  # ceil(10 / 8) = 2 bytes per row, 3 rows
    assert raster[8:] == bytes([0xFF, 0xC0, 0x80, 0x40, 0x00, 0x00])


def test_logo_from_profile_and_argument(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    path.write_bytes(logo_png())
    profile = {**load_profile("kp628e-58"), "logo_png": str(path)}
    content = TicketContent.from_args(TICKET)
    with_logo = build_ticket(content, profile)
    assert with_logo.count(bytes.fromhex("1d 76 30 00 02 00 03 00")) == 1
    assert build_ticket(content, load_profile("kp628e-58"), logo_png()) == with_logo
    assert b"\x1d\x76\x30" not in build_ticket(content, load_profile("kp628e-58"))


def test_wide_logo_is_scaled_to_paper() -> None:
    raster = raster_image(Image.new("1", (800, 20), 0), max_width_px=384)
    assert raster[:8] == bytes([0x1D, 0x76, 0x30, 0x00, 48, 0, 10, 0])


@pytest.mark.parametrize("fragment", [False, True])
def test_logo_printed_over_pty(tmp_path: Path, fragment: bool) -> None:
    path = tmp_path / "logo.png"
    path.write_bytes(logo_png())
    profile = load_profile("kp628e-58")
    sim = PrinterSimulator(profile, strict=True)
    link = attach_pty(sim, Faults(fragment=fragment), name="logo")
    spec = DeviceSpec("tp-1", "ticket_printer", "escpos", link.path, "kp628e-58", 1,
                      options={"logo_png": str(path)})  # fmt: skip
    device = open_device(spec, connect=True)
    try:
        device.execute("print_ticket", TICKET)
        job = sim.wait_for_job(5)
        assert job is not None and job.cut and not job.failed
        assert job.images == 1
        assert "B012" in job.text and job.qr_payloads == [TICKET["qr"]]
        with pytest.raises(BadArguments):
            device.execute("print_ticket", {**TICKET, "logo": b"not an image"})
    finally:
        device.close()
        link.close()
    assert link.failures == []

"""A device URL names its transport: tty paths and pyserial URLs, tcp://, usb://."""

from __future__ import annotations

import pytest

from drivers.devices.base import DeviceSpec
from drivers.errors import DriverError
from drivers.registry import open_device, transport_for
from drivers.transports.serial import SerialTransport
from drivers.transports.tcp import TcpTransport
from drivers.transports.usb import UsbTransport


def _spec(url: str, kind: str = "ticket_printer", protocol: str = "escpos", profile: str = "kp628e-58") -> DeviceSpec:
    return DeviceSpec(device_id="p1", kind=kind, protocol=protocol, url=url, profile=profile)


@pytest.mark.parametrize(
    "url,expected",
    [
        ("/dev/ttyUSB0", SerialTransport),
        ("socket://127.0.0.1:9100", SerialTransport),
        ("tcp://127.0.0.1:9100", TcpTransport),
        ("usb://0416:5011", UsbTransport),
    ],
)
def test_url_scheme_picks_the_transport(url: str, expected: type) -> None:
    assert isinstance(transport_for(_spec(url), {"baudrate": 9600}), expected)


def test_unknown_device_kind_is_a_clear_error() -> None:
    with pytest.raises(DriverError) as info:
        open_device(_spec("/dev/null", kind="toaster", protocol="bread"))
    assert info.value.code == "unknown_device"

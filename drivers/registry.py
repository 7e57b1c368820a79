"""From an edge configuration entry to a ready Device: profile by name, class by (kind, protocol).

The classes are listed here explicitly rather than discovered by scanning folders (style.md: avoid
classes found by name from config), so adding a model is one line plus a profile file.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

from drivers.devices.base import Device, DeviceSpec
from drivers.devices.bx5k_screen import Bx5kScreen
from drivers.devices.cert_printer import IppCertificatePrinter
from drivers.devices.hdp1_caller import Hdp1Caller
from drivers.devices.hdp1_evaluator import Hdp1Evaluator
from drivers.devices.hdp1_screen import Hdp1HallScreen, Hdp1Screen
from drivers.devices.hdp1_seal import Hdp1SealMachine, Hdp1Stamper
from drivers.devices.id_reader import SamIdReader
from drivers.devices.onbon5g_screen import Onbon5gScreen
from drivers.devices.speaker import EspeakSpeaker
from drivers.devices.syn6288_speaker import Syn6288Speaker
from drivers.devices.ticket_printer import EscposTicketPrinter
from drivers.errors import DriverError
from drivers.transports.base import Transport
from drivers.transports.serial import SerialTransport

log = logging.getLogger(__name__)

DEVICE_CLASSES: dict[tuple[str, str], type[Device]] = {
    ("ticket_printer", "escpos"): EscposTicketPrinter,
    ("window_screen", "onbon-bx5k"): Bx5kScreen,
    ("hall_screen", "onbon-bx5k"): Bx5kScreen,
    ("caller", "hdp1"): Hdp1Caller,
    ("evaluator", "hdp1"): Hdp1Evaluator,
    ("id_reader", "sam"): SamIdReader,
    ("seal_machine", "hdp1"): Hdp1SealMachine,
    ("stamper", "hdp1"): Hdp1Stamper,
    ("hall_screen", "onbon-5g"): Onbon5gScreen,
    ("window_screen", "hdp1"): Hdp1Screen,
    ("hall_screen", "hdp1"): Hdp1HallScreen,
    ("voice", "espeak-ng"): EspeakSpeaker,
    ("voice", "syn6288"): Syn6288Speaker,
    ("cert_printer", "ipp"): IppCertificatePrinter,
}


def load_profile(name: str) -> dict[str, Any]:
    """The profile `drivers/profiles/<name>.json`; DriverError code unknown_device if absent."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise DriverError(f"bad profile name {name!r}", code="unknown_device")
    resource = resources.files("drivers").joinpath("profiles", f"{name}.json")
    try:
        profile = json.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DriverError(f"no device profile {name!r}", code="unknown_device") from None
    except json.JSONDecodeError as exc:
        raise DriverError(f"profile {name!r} is not valid JSON: {exc}", code="unknown_device") from None
    if not isinstance(profile, dict):
        raise DriverError(f"profile {name!r} is not an object", code="unknown_device")
    return profile


def device_class(kind: str, protocol: str) -> type[Device]:
    try:
        return DEVICE_CLASSES[(kind, protocol)]
    except KeyError:
        raise DriverError(f"no driver for kind {kind!r} protocol {protocol!r}", code="unknown_device") from None


def transport_for(spec: DeviceSpec, profile: dict[str, Any]) -> Transport:
    """The transport a device URL names: tcp://host:port, usb://vid:pid, else a pyserial URL or path.

    pyserial URLs (a tty path, rfc2217://, socket://, loop://) go through serial_for_url; tcp:// and
    usb:// get the project's own transports, which have explicit connect and transfer timeouts.
    """
    url = spec.url
    if url.startswith("tcp://"):
        from drivers.transports.tcp import TcpTransport

        return TcpTransport.from_url(url, int(profile.get("tcp_port", 9100)), device_id=spec.device_id)
    if url.startswith("usb://"):
        from drivers.transports.usb import UsbTransport

        return UsbTransport.from_url(url, device_id=spec.device_id)
    return SerialTransport(url, int(profile.get("baudrate", 9600)), device_id=spec.device_id)


def open_device(
    spec: DeviceSpec,
    transport: Transport | None = None,
    *,
    profile: dict[str, Any] | None = None,
    connect: bool = False,
) -> Device:
    """Build the device for `spec`; the caller opens it (`device.open()`), or pass `connect=True`.

    Without an injected transport, a SerialTransport on `spec.url` at the profile's baud rate is used.
    `spec.options` override profile values, so one hall can tune a timeout without a new profile.
    """
    cls = device_class(spec.kind, spec.protocol)
    merged = {**(profile if profile is not None else load_profile(spec.profile)), **spec.options}
    if transport is None:
        transport = transport_for(spec, merged)
    device = cls(spec, transport, merged)
    if connect:
        device.open()
    log.debug("%s: %s/%s on %s", spec.device_id, spec.kind, spec.protocol, spec.url)
    return device

"""A USB device's bulk OUT/IN endpoint pair (pyusb) as a Transport: SAM readers, USB printer class.

pyusb, like python-escpos's USB printer, treats a timeout of 0 as "wait forever"; here every transfer
gets an explicit timeout of at least 1 ms (style.md: avoid its USB timeout of 0). USB delivers whole
packets, so a read asks for at least one packet and keeps any surplus for the next read instead of
letting libusb report an overflow.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import usb.core
import usb.util

from drivers.errors import TransportError, TransportTimeout
from drivers.transports.base import Transport

log = logging.getLogger(__name__)

USB_PRINTER_CLASS = 0x07


def timeout_ms(seconds: float) -> int:
    """Seconds to a pyusb timeout in ms, never 0 (which pyusb and libusb take as "no timeout")."""
    return max(1, int(seconds * 1000))


def parse_usb_url(url: str) -> tuple[int, int]:
    """`usb://04b8:0202` (hex vendor and product id) to (vid, pid); ValueError otherwise."""
    if not url.startswith("usb://"):
        raise ValueError(f"not a usb:// url: {url!r}")
    vid, _, pid = url[len("usb://") :].partition(":")
    return int(vid, 16), int(pid, 16)


class UsbTransport(Transport):
    """The first bulk OUT and bulk IN endpoints of one interface of the device vid:pid."""

    def __init__(
        self,
        vid: int,
        pid: int,
        *,
        interface: int = 0,
        write_timeout: float = 2.0,
        device_id: str = "",
        backend: Any = None,
    ) -> None:
        self.vid = vid
        self.pid = pid
        self.interface = interface
        self.write_timeout = write_timeout
        self.device_id = device_id or f"usb:{vid:04x}:{pid:04x}"
        self.backend = backend  # a usb.backend.IBackend; None lets pyusb pick libusb
        self._dev: Any = None
        self._ep_out: Any = None
        self._ep_in: Any = None
        self._pending = bytearray()
        self._lock = threading.Lock()
        self.detached_kernel_driver = False

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> UsbTransport:
        vid, pid = parse_usb_url(url)
        return cls(vid, pid, **kwargs)

    @property
    def is_open(self) -> bool:
        return self._dev is not None

    def open(self) -> None:
        """Find, detach a kernel driver (usblp, cdc) if bound, claim the interface, pick endpoints."""
        if self.is_open:
            return
        try:
            dev = usb.core.find(idVendor=self.vid, idProduct=self.pid, backend=self.backend)
            if dev is None:
                raise TransportError(f"{self.device_id}: no USB device {self.vid:04x}:{self.pid:04x}")
            intf = self._prepare(dev)
            self._ep_out = _bulk_endpoint(intf, usb.util.ENDPOINT_OUT)
            self._ep_in = _bulk_endpoint(intf, usb.util.ENDPOINT_IN)
        except usb.core.USBError as exc:
            raise TransportError(f"{self.device_id}: cannot open: {exc}") from exc
        if self._ep_out is None or self._ep_in is None:
            usb.util.dispose_resources(dev)
            raise TransportError(f"{self.device_id}: interface {self.interface} lacks bulk IN and OUT")
        self._dev = dev
        self._pending.clear()
        log.debug("%s: opened, OUT %#04x IN %#04x", self.device_id, self._ep_out.bEndpointAddress,
                  self._ep_in.bEndpointAddress)  # fmt: skip

    def _prepare(self, dev: Any) -> Any:
        if dev.is_kernel_driver_active(self.interface):
            dev.detach_kernel_driver(self.interface)
            self.detached_kernel_driver = True
            log.info("%s: detached the kernel driver from interface %d", self.device_id, self.interface)
        try:
            cfg = dev.get_active_configuration()
        except usb.core.USBError:
            dev.set_configuration()
            cfg = dev.get_active_configuration()
        intf = usb.util.find_descriptor(cfg, bInterfaceNumber=self.interface)
        if intf is None:
            raise TransportError(f"{self.device_id}: no interface {self.interface}")
        usb.util.claim_interface(dev, self.interface)
        return intf

    def close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is None:
            return
        try:
            usb.util.release_interface(dev, self.interface)
            usb.util.dispose_resources(dev)
        except usb.core.USBError as exc:
            log.debug("%s: close failed: %s", self.device_id, exc)

    def _require(self) -> Any:
        if self._dev is None:
            raise TransportError(f"{self.device_id}: USB device is not open")
        return self._dev

    def write(self, data: bytes) -> None:
        self._require()
        try:
            written = int(self._ep_out.write(data, timeout=timeout_ms(self.write_timeout)))
        except usb.core.USBTimeoutError as exc:
            raise TransportTimeout(f"{self.device_id}: bulk write timed out", executed=True) from exc
        except usb.core.USBError as exc:
            raise TransportError(f"{self.device_id}: bulk write failed: {exc}") from exc
        if written != len(data):
            raise TransportTimeout(f"{self.device_id}: wrote {written} of {len(data)} bytes", executed=True)

    def bulk_read(self, size: int, timeout: float) -> bytes:
        """1..size bytes, or TransportTimeout when no packet arrives within `timeout`."""
        self._require()
        with self._lock:
            if not self._pending:
                packet = int(self._ep_in.wMaxPacketSize) or 64
                want = max(packet, -(-size // packet) * packet)
                try:
                    self._pending += bytes(self._ep_in.read(want, timeout=timeout_ms(timeout)))
                except usb.core.USBTimeoutError as exc:
                    raise TransportTimeout(f"{self.device_id}: no bulk IN data in {timeout:.3f} s") from exc
                except usb.core.USBError as exc:
                    raise TransportError(f"{self.device_id}: bulk read failed: {exc}") from exc
            data = bytes(self._pending[:size])
            del self._pending[:size]
            return data

    def read(self, size: int, timeout: float) -> bytes:
        """The Transport contract: b'' after `timeout`; `read_exactly` turns that into TransportTimeout."""
        try:
            return self.bulk_read(size, timeout)
        except TransportTimeout:
            return b""

    def discard_input(self) -> None:
        """Drop the surplus of earlier packets and whatever the device has queued right now."""
        self._require()
        with self._lock:
            self._pending.clear()
        for _ in range(64):  # bounded: a device that streams forever must not hang us
            try:
                if not self.bulk_read(4096, 0.001):
                    return
            except TransportTimeout:
                return
            with self._lock:
                self._pending.clear()


def _bulk_endpoint(intf: Any, direction: int) -> Any:
    return usb.util.find_descriptor(
        intf,
        custom_match=lambda ep: (
            usb.util.endpoint_direction(ep.bEndpointAddress) == direction
            and usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
        ),
    )

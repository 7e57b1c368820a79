"""A simulated USB device as a pyusb backend: the fourth way to attach a simulator.

Everything above `usb.backend.IBackend` is the real pyusb stack (find, configuration, claim, endpoint
lookup, timeouts); only the bus itself is simulated. Bulk OUT transfers go to the simulator's
`receive`, its replies queue on the bulk IN endpoint, and a bulk read with nothing queued waits its
timeout and raises `usb.core.USBTimeoutError`, as libusb does.
"""

from __future__ import annotations

import array
import logging
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import usb.backend
import usb.core

from simulators.attach import Simulator

log = logging.getLogger(__name__)

EP_OUT = 0x01
EP_IN = 0x81
PACKET = 64
LIBUSB_ERROR_TIMEOUT = -7
LIBUSB_ERROR_NO_DEVICE = -4


@dataclass
class UsbFaults:
    """silent: the device takes bulk OUT but never answers; unplugged: every transfer fails."""

    silent: bool = False
    unplugged: bool = False


@dataclass
class _Handle:
    claimed: set[int] = field(default_factory=set)


class SimulatedUsbBackend(usb.backend.IBackend):  # type: ignore[misc]
    """One device vid:pid with one interface (class `interface_class`) and bulk endpoints 0x01/0x81."""

    def __init__(self, sim: Simulator, vid: int, pid: int, *, interface_class: int = 0xFF,
                 kernel_driver_active: bool = False) -> None:  # fmt: skip
        self.sim = sim
        self.vid, self.pid = vid, pid
        self.interface_class = interface_class
        self.kernel_driver_active = kernel_driver_active
        self.faults = UsbFaults()
        self.configuration = 0
        self.received = bytearray()
        self.timeouts_ms: list[int] = []  # every timeout pyusb passed down, for the "never 0" rule
        self._in = bytearray()
        self._cond = threading.Condition()
        self._dev = object()

    # ---- descriptors --------------------------------------------------------------------------

    def enumerate_devices(self) -> Any:
        return iter([] if self.faults.unplugged else [self._dev])

    def get_device_descriptor(self, dev: Any) -> Any:
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
            bDeviceProtocol=0, bMaxPacketSize0=PACKET, idVendor=self.vid, idProduct=self.pid,
            bcdDevice=0x0100, iManufacturer=0, iProduct=0, iSerialNumber=0, bNumConfigurations=1,
            address=5, bus=1, port_number=1, port_numbers=(1,), speed=3,
        )  # fmt: skip

    def get_configuration_descriptor(self, dev: Any, config: int) -> Any:
        return SimpleNamespace(bLength=9, bDescriptorType=2, wTotalLength=32, bNumInterfaces=1,
                               bConfigurationValue=1, iConfiguration=0, bmAttributes=0x80, bMaxPower=50,
                               extra_descriptors=[])  # fmt: skip

    def get_interface_descriptor(self, dev: Any, intf: int, alt: int, config: int) -> Any:
        if intf != 0 or alt != 0:
            raise IndexError("no such interface")
        return SimpleNamespace(bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0,
                               bNumEndpoints=2, bInterfaceClass=self.interface_class, bInterfaceSubClass=1,
                               bInterfaceProtocol=2, iInterface=0, extra_descriptors=[])  # fmt: skip

    def get_endpoint_descriptor(self, dev: Any, ep: int, intf: int, alt: int, config: int) -> Any:
        if ep > 1:
            raise IndexError("no such endpoint")
        return SimpleNamespace(bLength=7, bDescriptorType=5, bEndpointAddress=(EP_OUT, EP_IN)[ep],
                               bmAttributes=0x02, wMaxPacketSize=PACKET, bInterval=0, bRefresh=0,
                               bSynchAddress=0, extra_descriptors=[])  # fmt: skip

    # ---- device handle ------------------------------------------------------------------------

    def open_device(self, dev: Any) -> _Handle:
        self._check_plugged()
        return _Handle()

    def close_device(self, handle: _Handle) -> None:
        handle.claimed.clear()

    def set_configuration(self, handle: _Handle, config_value: int) -> None:
        self.configuration = config_value

    def get_configuration(self, handle: _Handle) -> int:
        return self.configuration

    def claim_interface(self, handle: _Handle, intf: int) -> None:
        if self.kernel_driver_active:
            raise usb.core.USBError("Resource busy", -6)
        handle.claimed.add(intf)

    def release_interface(self, handle: _Handle, intf: int) -> None:
        handle.claimed.discard(intf)

    def set_interface_altsetting(self, handle: _Handle, intf: int, altsetting: int) -> None:
        return None

    def is_kernel_driver_active(self, handle: _Handle, intf: int) -> bool:
        return self.kernel_driver_active

    def detach_kernel_driver(self, handle: _Handle, intf: int) -> None:
        self.kernel_driver_active = False

    def attach_kernel_driver(self, handle: _Handle, intf: int) -> None:
        self.kernel_driver_active = True

    def clear_halt(self, handle: _Handle, ep: int) -> None:
        return None

    # ---- transfers ----------------------------------------------------------------------------

    def _check_plugged(self) -> None:
        if self.faults.unplugged:
            raise usb.core.USBError("No such device", LIBUSB_ERROR_NO_DEVICE)

    def bulk_write(self, handle: _Handle, ep: int, intf: int, data: array.array[int], timeout: int) -> int:
        self.timeouts_ms.append(timeout)
        self._check_plugged()
        if intf not in handle.claimed:
            raise usb.core.USBError("interface not claimed", -5)
        payload = bytes(data)
        self.received += payload
        reply = self.sim.receive(payload)
        if reply and not self.faults.silent:
            with self._cond:
                self._in += reply
                self._cond.notify_all()
        return len(payload)

    def bulk_read(self, handle: _Handle, ep: int, intf: int, buff: array.array[int], timeout: int) -> int:
        """Up to len(buff) queued bytes, or USBTimeoutError after `timeout` ms (0 would wait forever)."""
        self.timeouts_ms.append(timeout)
        self._check_plugged()
        deadline = time.monotonic() + timeout / 1000 if timeout else None
        with self._cond:
            while not self._in:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise usb.core.USBTimeoutError("Operation timed out", LIBUSB_ERROR_TIMEOUT, 110)
                self._cond.wait(left)
            size = min(len(buff), len(self._in))
            buff[:size] = array.array("B", self._in[:size])
            del self._in[:size]
            return size

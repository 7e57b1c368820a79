"""What the edge sees of a device: probe, execute, events, state. The edge never builds a byte.

A device class owns one transport and one profile. It raises only `DriverError`s. It does not retry
across reconnects and does not track availability; the edge's worker does that, so the rule
"consecutive failures -> offline, back-off reconnect" lives in one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from drivers.transports.base import Transport

UNKNOWN = "unknown"


@dataclass(frozen=True)
class DeviceEvent:
    """A business event read from a device: bus event `type`, the device's own counter, and data."""

    type: str
    data: dict[str, Any]
    source_seq: int | None = None


@dataclass(frozen=True)
class DeviceSpec:
    """How the edge finds and drives one device (one entry of the edge's configuration)."""

    device_id: str
    kind: str
    protocol: str
    url: str  # pyserial URL or path: /dev/pts/5, socket://127.0.0.1:9100, loop://
    profile: str  # file name in drivers/profiles without .json
    address: int = 1  # bus address where the protocol has one (BX-5K screen address, HDP/1 DST)
    model: str = ""
    options: dict[str, Any] = field(default_factory=dict)


class Device(ABC):
    """One physical device (or its simulator) behind one transport."""

    kind: str = ""
    protocol: str = ""
    #: seconds between event polls; 0 for devices that have no events
    poll_interval_s: float = 0.0

    def __init__(self, spec: DeviceSpec, transport: Transport, profile: dict[str, Any]) -> None:
        self.spec = spec
        self.transport = transport
        self.profile = profile

    def open(self) -> None:
        self.transport.open()

    def close(self) -> None:
        self.transport.close()

    @abstractmethod
    def probe(self) -> dict[str, Any]:
        """Ask the device for its status and return the state fields for the bus (bus.md §2.3).

        Raises DriverError if the device does not answer: silence is never "ok".
        """

    @abstractmethod
    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run bus command `name` (hallbus.catalogue) and return the result `data`."""

    def poll_events(self) -> list[DeviceEvent]:
        """Events waiting in the device, oldest first; may repeat ones not yet acknowledged."""
        return []

    def ack_events(self, up_to_source_seq: int) -> None:
        """Tell the device that every event up to this counter is safely stored (HDP/1 ACK_EVT)."""
        return None

    @property
    def caps(self) -> list[str]:
        return list(self.profile.get("caps", []))

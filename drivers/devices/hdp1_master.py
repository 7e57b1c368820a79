"""The host side of HDP/1 transactions (devices.md §5.3): SEQ, retries with the same SEQ, matching.

A retry carries the same SEQ and the RETRY flag, so a device that already acted answers from its
response cache instead of acting twice (a second REQUEST_RATING must not start a second rating).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from drivers.codecs import hdp1
from drivers.devices.base import Device, DeviceEvent, DeviceSpec
from drivers.errors import BadArguments, CodecError, DeviceRejected, TransportTimeout
from drivers.transports.base import Transport

log = logging.getLogger(__name__)


def default_timeout(baudrate: int) -> float:
    """Host timeout of §5.3: 200 ms at 9600 bit/s, 100 ms at 57600 and above."""
    return 0.1 if baudrate >= 57600 else 0.2


class Hdp1Master:
    """Request/response with one device at `address` over one transport; thread-safe."""

    def __init__(
        self,
        transport: Transport,
        address: int,
        *,
        timeout_s: float = 0.2,
        retries: int = 3,
        utf8: bool = False,
        device_id: str = "",
    ) -> None:
        self.transport = transport
        self.address = address
        self.timeout_s = timeout_s
        self.retries = retries
        self.utf8 = utf8
        self.device_id = device_id or f"hdp1@{address}"
        # A random start keeps a restarted host from hitting the device's cache of its last request.
        self._seq = os.urandom(1)[0]
        self._decoder = hdp1.StreamDecoder()
        self._lock = threading.Lock()

    @classmethod
    def from_profile(cls, transport: Transport, address: int, profile: dict[str, Any],
                     device_id: str = "") -> Hdp1Master:  # fmt: skip
        baud = int(profile.get("baudrate", 9600))
        timeout = float(profile.get("timeout_s") or default_timeout(baud))
        return cls(transport, address, timeout_s=timeout, retries=int(profile.get("retries", 3)),
                   utf8=bool(profile.get("utf8", False)), device_id=device_id)  # fmt: skip

    @property
    def encoding(self) -> str:
        return hdp1.text_encoding(hdp1.FLAG_UTF8 if self.utf8 else 0)

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def request(self, cmd: int, payload: bytes = b"") -> bytes:
        """Send `cmd` and return the response payload after STATUS OK.

        Raises DeviceRejected (code = status name in lower case) for a non-OK STATUS and
        TransportTimeout when no matching response came after every retry.
        """
        with self._lock:
            seq = self.next_seq()
            response = self._exchange(seq, cmd, payload)
        return self._check_status(cmd, response)

    def _exchange(self, seq: int, cmd: int, payload: bytes) -> hdp1.Frame:
        self.transport.discard_input()
        self._decoder.clear()
        base_flags = hdp1.FLAG_ACK_REQ | (hdp1.FLAG_UTF8 if self.utf8 else 0)
        for attempt in range(self.retries + 1):
            flags = base_flags | (hdp1.FLAG_RETRY if attempt else 0)
            frame = hdp1.Frame(self.address, hdp1.HOST, seq, flags, cmd, payload)
            self.transport.write(frame.encode())
            response = self._await(seq, cmd)
            if response is not None:
                return response
            log.info("%s: no reply to cmd %#04x seq %d (attempt %d)", self.device_id, cmd, seq, attempt + 1)
        raise TransportTimeout(
            f"{self.device_id}: no reply to cmd {cmd:#04x} after {self.retries + 1} attempts",
            retryable=True,
            executed=cmd not in _READ_ONLY,
        )

    def _await(self, seq: int, cmd: int) -> hdp1.Frame | None:
        deadline = time.monotonic() + self.timeout_s
        while (left := deadline - time.monotonic()) > 0:
            data = self.transport.read(1036, left)
            for frame in self._decoder.feed(data):
                if self._matches(frame, seq, cmd):
                    return frame
                log.debug("%s: ignoring frame %s", self.device_id, frame)
        return None

    def _matches(self, frame: hdp1.Frame, seq: int, cmd: int) -> bool:
        return (
            frame.is_response
            and frame.dst == hdp1.HOST
            and frame.src == self.address
            and frame.seq == seq
            and frame.cmd == cmd | hdp1.RESPONSE_BIT
        )

    def _check_status(self, cmd: int, response: hdp1.Frame) -> bytes:
        if not response.payload:
            raise CodecError(f"{self.device_id}: response to {cmd:#04x} has no STATUS")
        status = response.payload[0]
        if status != hdp1.Status.OK:
            try:
                name = hdp1.Status(status).name.lower()
            except ValueError:
                name = f"status_{status:#04x}"
            raise DeviceRejected(f"{self.device_id}: cmd {cmd:#04x} refused: {name}", code=name)
        return response.payload[1:]


_READ_ONLY = {hdp1.Cmd.POLL, hdp1.Cmd.GET_INFO, hdp1.Cmd.GET_STATUS, hdp1.Cmd.ECHO}


class Hdp1Device(Device):
    """What every HDP/1 device class shares: the master, POLL to events, ACK_EVT."""

    protocol = "hdp1"
    poll_interval_s = 0.1

    def __init__(self, spec: DeviceSpec, transport: Transport, profile: dict[str, Any]) -> None:
        super().__init__(spec, transport, profile)
        self.master = Hdp1Master.from_profile(transport, spec.address, profile, device_id=spec.device_id)

    def request(self, cmd: int, payload: bytes = b"") -> bytes:
        return self.master.request(cmd, payload)

    def encode(self, payload: hdp1.Payload) -> bytes:
        """Encode a payload; text the encoding cannot carry is a BadArguments, not a crash."""
        try:
            return payload.encode(self.master.encoding)
        except CodecError as exc:
            raise BadArguments(f"{self.spec.device_id}: {exc.message}") from None

    def get_status(self) -> hdp1.StatusReply:
        return hdp1.StatusReply.decode(self.request(hdp1.Cmd.GET_STATUS), self.master.encoding)

    def poll_events(self) -> list[DeviceEvent]:
        """POLL once; unconfirmed events come again until `ack_events` confirms them."""
        events = hdp1.decode_events(self.request(hdp1.Cmd.POLL))
        out = []
        for event in events:
            converted = self.convert_event(event)
            if converted is None:
                log.warning("%s: skipping unknown event %#04x seq %d", self.spec.device_id, event.code,
                            event.dev_evt_seq)  # fmt: skip
            else:
                out.append(converted)
        return out

    def ack_events(self, up_to_source_seq: int) -> None:
        self.request(hdp1.Cmd.ACK_EVT, hdp1.AckEvt(up_to_source_seq).encode())

    def convert_event(self, event: hdp1.Event) -> DeviceEvent | None:
        """Map one HDP/1 event to a bus event; None for codes this device kind does not know."""
        return None

    def set_time(self, unix: int, tz_min: int = 480) -> None:
        self.request(hdp1.Cmd.SET_TIME, hdp1.SetTime(unix, tz_min).encode())

    def get_info(self) -> hdp1.DeviceInfo:
        return hdp1.DeviceInfo.decode(self.request(hdp1.Cmd.GET_INFO))

"""HDP/1 device simulator base (devices.md §5.2–§5.7): the reference device side of the protocol.

It drops what a device must drop (bad CRC, other addresses), answers repeated requests from its
(SRC, SEQ, CMD) cache without executing them again, and keeps an event queue with a strictly
increasing `dev_evt_seq` that survives `power_cycle()`, as a device persists it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from drivers.codecs import hdp1
from drivers.errors import CodecError

log = logging.getLogger(__name__)

Handler = Callable[[hdp1.Frame], tuple[int, bytes]]


class Hdp1Refused(Exception):  # noqa: N818 (an answer, not an error of the simulator)
    """Raised by a handler to answer with a non-OK STATUS."""

    def __init__(self, status: hdp1.Status) -> None:
        super().__init__(status.name)
        self.status = status


class Hdp1DeviceSimulator:
    """Common commands, idempotency cache, event queue; subclasses add their commands."""

    dev_type = 0x00
    caps = 0

    def __init__(self, profile: dict[str, Any], address: int | None = None, *, serial: str = "SIM0001") -> None:
        self.profile = profile
        self.address = int(address if address is not None else profile.get("address", 1))
        self.serial = serial
        self.queue_size = int(profile.get("event_queue_size", 64))
        self.events: deque[hdp1.Event] = deque()
        self.dev_evt_seq = int(profile.get("first_evt_seq", 0))
        self.overflow = False
        self.executed: list[int] = []  # CMDs actually executed (cache hits are not)
        self.indications: list[tuple[int, int]] = []
        self.clock_offset = 0.0
        self._cache: dict[int, tuple[int, int, bytes]] = {}
        self._decoder = hdp1.StreamDecoder(inter_byte_timeout=float(profile.get("inter_byte_timeout_s", 0.1)))
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._handlers: dict[int, Handler] = {
            hdp1.Cmd.POLL: self._poll,
            hdp1.Cmd.ACK_EVT: self._ack_evt,
            hdp1.Cmd.GET_INFO: self._get_info,
            hdp1.Cmd.GET_STATUS: self._get_status,
            hdp1.Cmd.SET_TIME: self._set_time,
            hdp1.Cmd.ECHO: lambda frame: (hdp1.Status.OK, frame.payload),
            hdp1.Cmd.INDICATE: self._indicate,
            hdp1.Cmd.RESET: self._reset,
        }

    # ---- control ------------------------------------------------------------------------------

    def now(self) -> int:
        """Device clock (Unix seconds), as set by SET_TIME."""
        return int(time.time() + self.clock_offset)

    def queue_event(self, code: int, data: bytes) -> int:
        """Append an event with the next dev_evt_seq; returns that seq."""
        with self._cond:
            self.dev_evt_seq += 1
            self.events.append(hdp1.Event(code, self.dev_evt_seq, self.now(), data))
            while len(self.events) > self.queue_size:
                self.events.popleft()
                self.overflow = True
            self._cond.notify_all()
            return self.dev_evt_seq

    def power_cycle(self) -> None:
        """Lose volatile state (decoder, response cache); events and dev_evt_seq are persisted."""
        with self._cond:
            self._cache.clear()
            self._decoder.clear()

    def tick(self) -> None:
        """Hook run before every request, for time-driven behaviour (rating timeouts)."""

    def type_status(self) -> bytes:
        """GET_STATUS data after status_bits."""
        return b""

    def status_bits(self) -> int:
        return 0x01 | (0x04 if self.overflow else 0)

    # ---- wire ---------------------------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        with self._cond:
            return b"".join(self._answer(frame) for frame in self._decoder.feed(data))

    def _answer(self, frame: hdp1.Frame) -> bytes:
        if frame.is_response or (frame.dst != self.address and frame.dst != hdp1.BROADCAST):
            return b""
        key = frame.src
        cached = self._cache.get(key)
        if cached is not None and cached[:2] == (frame.seq, frame.cmd):
            log.debug("hdp1 sim %d: seq %d cmd %#04x answered from cache", self.address, frame.seq, frame.cmd)
            return cached[2]
        self.tick()
        status, data = self._execute(frame)
        if frame.dst == hdp1.BROADCAST or not frame.flags & hdp1.FLAG_ACK_REQ:
            return b""
        reply = frame.response(status, data, src=self.address).encode()
        self._cache[key] = (frame.seq, frame.cmd, reply)
        return reply

    def _execute(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        handler = self._handlers.get(frame.cmd)
        if handler is None:
            return hdp1.Status.UNKNOWN_CMD, b""
        self.executed.append(frame.cmd)
        try:
            return handler(frame)
        except Hdp1Refused as refused:
            return refused.status, b""
        except CodecError as exc:
            log.info("hdp1 sim %d: bad payload for %#04x: %s", self.address, frame.cmd, exc.message)
            return hdp1.Status.BAD_LENGTH, b""

    # ---- common commands ----------------------------------------------------------------------

    def _poll(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        out: list[hdp1.Event] = []
        size = 1
        for event in self.events:
            size += len(event.encode())
            if size > hdp1.MAX_PAYLOAD - 1 or len(out) == 255:
                break
            out.append(event)
        return hdp1.Status.OK, hdp1.encode_events(out)

    def _ack_evt(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        last = hdp1.AckEvt.decode(frame.payload).last_dev_evt_seq
        while self.events and self.events[0].dev_evt_seq <= last:
            self.events.popleft()
        self.overflow = False
        return hdp1.Status.OK, b""

    def _get_info(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        info = hdp1.DeviceInfo(self.dev_type, 1, "hall-sim 1.0", self.serial, self.caps)
        return hdp1.Status.OK, info.encode()

    def _get_status(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        return hdp1.Status.OK, hdp1.StatusReply(self.status_bits(), self.type_status()).encode()

    def _set_time(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        self.clock_offset = hdp1.SetTime.decode(frame.payload).unix - time.time()
        return hdp1.Status.OK, b""

    def _indicate(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        indicate = hdp1.Indicate.decode(frame.payload)
        self.indications.append((indicate.pattern, indicate.ms))
        return hdp1.Status.OK, b""

    def _reset(self, frame: hdp1.Frame) -> tuple[int, bytes]:
        if frame.payload != b"\x00":
            raise Hdp1Refused(hdp1.Status.BAD_PARAM)
        self.soft_reset()
        return hdp1.Status.OK, b""

    def soft_reset(self) -> None:
        """RESET kind 0: clear what is shown; configuration and logs stay."""

"""Voice calling through a SYN6288 TTS chip on a serial line (devices.md §8.4).

The chip has one speech buffer: a new speak frame cuts off what it is saying. So this driver keeps the
§8.3 rule itself: before each speak it polls the status until the chip is idle, and the repeats of one
announcement are sent back to back the same way. Reply bytes are an assumption (codecs/syn6288.py).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from drivers.codecs import syn6288
from drivers.codecs.announce import CALL, RECALL_PREFIX
from drivers.devices.base import Device
from drivers.errors import BadArguments, DeviceRejected, TransportTimeout

log = logging.getLogger(__name__)


class Syn6288Speaker(Device):
    """`kind="voice"`, `protocol="syn6288"`; command announce, probe = status query."""

    kind = "voice"
    protocol = "syn6288"

    def _exchange(self, frame: bytes) -> int:
        """Send one frame and return the chip's one-byte reply; TransportTimeout on silence."""
        self.transport.discard_input()
        self.transport.write(frame)
        reply = self.transport.read(1, float(self.profile.get("reply_timeout_s", 0.5)))
        if not reply:
            raise TransportTimeout(f"{self.spec.device_id}: no reply from SYN6288", retryable=True)
        return reply[0]

    def status(self) -> str:
        """ "busy" or "idle" from a status query."""
        reply = self._exchange(syn6288.status_query())
        if reply == syn6288.REPLY_OK:  # some firmware acknowledges first, then reports
            more = self.transport.read(1, float(self.profile.get("reply_timeout_s", 0.5)))
            reply = more[0] if more else reply
        if reply not in (syn6288.REPLY_BUSY, syn6288.REPLY_IDLE):
            raise DeviceRejected(f"{self.spec.device_id}: unexpected status byte {reply:#04x}", code="device_error")
        return "busy" if reply == syn6288.REPLY_BUSY else "idle"

    def probe(self) -> dict[str, Any]:
        return {"online": True, "speaking": self.status() == "busy"}

    def wait_idle(self) -> None:
        """Poll until the chip has finished speaking; TransportTimeout after busy_timeout_s."""
        deadline = time.monotonic() + float(self.profile.get("busy_timeout_s", 30.0))
        while self.status() == "busy":
            if time.monotonic() > deadline:
                raise TransportTimeout(f"{self.spec.device_id}: chip still speaking", retryable=True)
            time.sleep(float(self.profile.get("poll_interval_s", 0.1)))

    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name != "announce":
            raise BadArguments(f"speaker has no command {name!r}", code="unknown_command")
        ticket, window = str(args.get("ticket_no", "")), str(args.get("window_no", ""))
        if not ticket or not window:
            raise BadArguments("announce needs ticket_no and window_no")
        text = CALL.text.format(ticket=ticket, window=window)
        if args.get("recall"):
            text = RECALL_PREFIX.text + text
        frame = syn6288.speak(f"[v{int(self.profile.get('volume', 8))}]{text}",
                              str(self.profile.get("encoding", "gbk")), int(self.profile.get("music", 0)))  # fmt: skip
        for _ in range(max(1, int(self.profile.get("repeat", 1)))):
            self.wait_idle()
            reply = self._exchange(frame)
            if reply != syn6288.REPLY_OK:
                raise DeviceRejected(f"{self.spec.device_id}: chip answered {reply:#04x}", code="device_rejected")
        log.info("%s: speaking %r", self.spec.device_id, text)
        return {"text": text}

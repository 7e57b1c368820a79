"""SYN6288 TTS chip simulator (devices.md §8.4; reply bytes are the assumption of codecs/syn6288.py).

A valid speak frame is answered 0x41 and "spoken" for `seconds_per_char` × characters; a bad frame is
answered 0x45; a status query 0x4E while speaking, 0x4F when idle; stop ends the speech. Every spoken
text is kept with its start time, so tests can check that nothing was cut off.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from drivers.codecs import syn6288
from drivers.errors import CodecError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spoken:
    text: str
    encoding: str
    music: int
    start: float
    end: float


class Syn6288Simulator:
    """`receive(bytes) -> reply bytes`; read `spoken`, `interrupted`, `speaking`."""

    def __init__(self, profile: dict[str, Any], seconds_per_char: float = 0.02) -> None:
        self.profile = profile
        self.seconds_per_char = seconds_per_char
        self.spoken: list[Spoken] = []
        self.interrupted: list[str] = []
        self.bad_frames = 0
        self._decoder = syn6288.Syn6288StreamDecoder()
        self._lock = threading.Lock()

    @property
    def speaking(self) -> bool:
        return bool(self.spoken) and time.monotonic() < self.spoken[-1].end

    def receive(self, data: bytes) -> bytes:
        with self._lock:
            return bytes(self._answer(item) for item in self._decoder.feed(data))

    def _answer(self, item: syn6288.Syn6288Frame | CodecError) -> int:
        if isinstance(item, CodecError):
            self.bad_frames += 1
            return syn6288.REPLY_ERROR
        if item.cmd == syn6288.STATUS:
            return syn6288.REPLY_BUSY if self.speaking else syn6288.REPLY_IDLE
        if item.cmd == syn6288.STOP:
            self._cut(time.monotonic())
            return syn6288.REPLY_OK
        if item.cmd == syn6288.SPEAK:
            now = time.monotonic()
            self._cut(now)
            text = item.text
            self.spoken.append(Spoken(text, item.encoding, item.music, now, now + self.seconds_per_char * len(text)))
            log.info("syn6288 sim: says %r", text)
            return syn6288.REPLY_OK
        return syn6288.REPLY_OK if item.cmd in (syn6288.PAUSE, syn6288.RESUME) else syn6288.REPLY_ERROR

    def _cut(self, now: float) -> None:
        """A new frame or stop while speaking cuts the speech off: recorded so tests can forbid it."""
        if self.speaking:
            last = self.spoken[-1]
            self.interrupted.append(last.text)
            self.spoken[-1] = Spoken(last.text, last.encoding, last.music, last.start, now)

"""Voice calling through the sound card: espeak-ng fed pinyin, one playback queue per output (§8).

`announce` synthesises the WAV at once (so a broken engine is reported to the caller) and queues it;
the queue's worker plays units one after another and starts the next only when the previous one has
finished playing (the sink returns at end of playback, never on a timer), plus a configurable gap.
A chime and the repeats of one announcement are one unit, so nothing can come between them.
"""

from __future__ import annotations

import logging
import math
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import wave
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from drivers.codecs.announce import Announcement, call_announcement
from drivers.devices.base import Device, DeviceSpec
from drivers.errors import BadArguments, DriverError, TransportError, TransportTimeout
from drivers.transports.base import Transport

log = logging.getLogger(__name__)


def wav_duration(path: Path) -> float:
    """Playing time of a WAV file in seconds, from its header."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())


def make_chime(path: Path, rate: int = 22050) -> Path:
    """A two-tone ding-dong (0.6 s, mono 16-bit) for halls without a recorded chime."""
    frames = bytearray()
    for freq, seconds in ((880.0, 0.3), (660.0, 0.3)):
        count = int(rate * seconds)
        for i in range(count):
            fade = 1.0 - i / count
            frames += struct.pack("<h", int(12000 * fade * math.sin(2 * math.pi * freq * i / rate)))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(frames))
    return path


@dataclass(frozen=True)
class Played:
    """One clip as it was played: for logs and for tests that check order and the absence of overlap."""

    path: Path
    text: str
    pinyin: str
    start: float
    end: float
    duration_s: float


class Sink(Protocol):
    """An audio output; `play` returns when the clip has finished playing."""

    def play(self, path: Path, duration_s: float) -> None: ...


class CommandSink:
    """Plays through a command such as `aplay -q`; the command's exit is the end of playback."""

    def __init__(self, command: list[str], slack_s: float = 5.0) -> None:
        self.command = command
        self.slack_s = slack_s

    def play(self, path: Path, duration_s: float) -> None:
        try:
            subprocess.run([*self.command, str(path)], check=True, timeout=duration_s + self.slack_s,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise TransportTimeout(f"{self.command[0]} did not finish playing {path.name}", executed=True) from exc
        except (OSError, subprocess.CalledProcessError) as exc:
            raise TransportError(f"{self.command[0]} failed on {path.name}: {exc}", executed=True) from exc


class FileSink:
    """Headless output: keeps the WAV and takes its duration (× `time_scale`) as the playing time."""

    def __init__(self, time_scale: float = 1.0) -> None:
        self.time_scale = time_scale

    def play(self, path: Path, duration_s: float) -> None:
        time.sleep(duration_s * self.time_scale)


@dataclass
class Unit:
    """Clips played back to back with no other announcement in between (chime, repeats)."""

    clips: list[Path]
    announcement: Announcement
    done: threading.Event = field(default_factory=threading.Event)


class PlaybackQueue:
    """FIFO of units for one audio output, played by one worker thread."""

    def __init__(self, output: str, sink: Sink, gap_s: float = 0.5, repeat_gap_s: float = 0.3) -> None:
        self.output = output
        self.sink = sink
        self.gap_s = gap_s
        self.repeat_gap_s = repeat_gap_s
        self.played: list[Played] = []
        self.errors: list[DriverError] = []
        self._units: deque[Unit] = deque()
        self._cond = threading.Condition()
        self._playing = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"voice-{output}", daemon=True)
        self._thread.start()

    def __len__(self) -> int:
        with self._cond:
            return len(self._units) + (1 if self._playing else 0)

    def put(self, unit: Unit) -> int:
        """Queue a unit; its position (1 = next or now playing)."""
        with self._cond:
            self._units.append(unit)
            self._cond.notify_all()
            return len(self._units) + (1 if self._playing else 0)

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._units and not self._playing, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        last_end: float | None = None
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._units or self._stop)
                if self._stop:
                    return
                unit = self._units.popleft()
                self._playing = True
            if last_end is not None and (wait := last_end + self.gap_s - time.monotonic()) > 0:
                time.sleep(wait)
            self._play_unit(unit)
            last_end = time.monotonic()
            with self._cond:
                self._playing = False
                self._cond.notify_all()
            unit.done.set()

    def _play_unit(self, unit: Unit) -> None:
        for i, clip in enumerate(unit.clips):
            if i:
                time.sleep(self.repeat_gap_s)
            duration = wav_duration(clip)
            start = time.monotonic()
            try:
                self.sink.play(clip, duration)
            except DriverError as exc:
                log.error("voice %s: %s", self.output, exc.message)
                self.errors.append(exc)
                return
            end = time.monotonic()
            self.played.append(Played(clip, unit.announcement.text, unit.announcement.pinyin, start, end, duration))
            log.info("voice %s: played %r (%.2f s)", self.output, unit.announcement.text, end - start)


_QUEUES: dict[str, PlaybackQueue] = {}
_QUEUES_LOCK = threading.Lock()


def queue_for(output: str, make: Any) -> PlaybackQueue:
    """The one queue of `output`, created by `make()` on first use, shared by every speaker on it."""
    with _QUEUES_LOCK:
        if output not in _QUEUES:
            _QUEUES[output] = make()
        return _QUEUES[output]


def release_queue(output: str) -> None:
    with _QUEUES_LOCK:
        queue = _QUEUES.pop(output, None)
    if queue is not None:
        queue.stop()


class EspeakSpeaker(Device):
    """`kind="voice"`, `protocol="espeak-ng"`; command announce. The byte transport is not used."""

    kind = "voice"
    protocol = "espeak-ng"

    def __init__(self, spec: DeviceSpec, transport: Transport, profile: dict[str, Any]) -> None:
        super().__init__(spec, transport, profile)
        self.output = str(profile.get("output", "default"))
        self.wav_dir = Path(profile.get("wav_dir") or tempfile.mkdtemp(prefix=f"{spec.device_id}-"))
        self.queue: PlaybackQueue | None = None
        self._count = 0

    def _make_queue(self) -> PlaybackQueue:
        profile = self.profile
        sink: Sink
        if profile.get("sink", "command") == "file":
            sink = FileSink(float(profile.get("time_scale", 1.0)))
        else:
            sink = CommandSink(list(profile.get("play_command", ["aplay", "-q"])))
        return PlaybackQueue(self.output, sink, float(profile.get("gap_s", 0.5)),
                             float(profile.get("repeat_gap_s", 0.3)))  # fmt: skip

    def open(self) -> None:
        """Check the engine is installed and start (or join) the output's queue."""
        if shutil.which(str(self.profile.get("espeak", "espeak-ng"))) is None:
            raise TransportError(f"{self.spec.device_id}: espeak-ng is not installed", code="device_offline")
        self.wav_dir.mkdir(parents=True, exist_ok=True)
        self.queue = queue_for(self.output, self._make_queue)

    def close(self) -> None:
        self.queue = None

    def _require_queue(self) -> PlaybackQueue:
        if self.queue is None:
            raise TransportError(f"{self.spec.device_id}: speaker is not open")
        return self.queue

    def probe(self) -> dict[str, Any]:
        queue = self._require_queue()
        return {"online": True, "queue_length": len(queue), "errors": len(queue.errors)}

    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name != "announce":
            raise BadArguments(f"speaker has no command {name!r}", code="unknown_command")
        queue = self._require_queue()
        announcement = call_announcement(
            str(args.get("ticket_no", "")), str(args.get("window_no", "")),
            recall=bool(args.get("recall", False)), yao=bool(self.profile.get("yao")),
        )  # fmt: skip
        speech = self.synthesize(announcement.pinyin)
        clips = [speech] * max(1, int(self.profile.get("repeat", 1)))
        if self.profile.get("chime"):
            clips.insert(0, self._chime())
        position = queue.put(Unit(clips, announcement))
        return {"text": announcement.text, "pinyin": announcement.pinyin, "position": position,
                "duration_s": round(wav_duration(speech), 3)}  # fmt: skip

    def synthesize(self, pinyin: str) -> Path:
        """Run espeak-ng with the pinyin voice into a new WAV; DriverError on failure or timeout."""
        self._count += 1
        path = self.wav_dir / f"announce-{self._count:06d}.wav"
        profile = self.profile
        command = [str(profile.get("espeak", "espeak-ng")), "-v", str(profile.get("voice", "cmn-latn-pinyin")),
                   "-s", str(int(profile.get("rate_wpm", 175))), "-w", str(path), pinyin]  # fmt: skip
        try:
            subprocess.run(command, check=True, timeout=float(self.profile.get("synth_timeout_s", 10.0)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise TransportTimeout(f"{self.spec.device_id}: espeak-ng timed out", retryable=True) from exc
        except (OSError, subprocess.CalledProcessError) as exc:
            raise DriverError(f"{self.spec.device_id}: espeak-ng failed: {exc}") from exc
        return path

    def _chime(self) -> Path:
        configured = self.profile.get("chime_wav")
        if configured:
            return Path(str(configured))
        path = self.wav_dir / "chime.wav"
        return path if path.exists() else make_chime(path)

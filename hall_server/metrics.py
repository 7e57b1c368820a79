"""How far behind this server process is: the figures an operator (and the city twin) reads to tell a
slow city from a slow server.

A queue that only looks long because the server has not yet applied the CALL presses is the server's
fault, not the city's; `GET /api/metrics` says so with three lags: how long an inbound message waited
before its transaction committed, how late a dispatch round ran after it was due, and how long one took.
Each covers the last `WINDOW_S` seconds (at most `MAX_SAMPLES` samples), so the figures describe now,
not the whole day.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

WINDOW_S = 15.0
MAX_SAMPLES = 5000


class Lag:
    """Durations in milliseconds over the last `window_s` seconds, with a total count."""

    def __init__(self, window_s: float = WINDOW_S, max_samples: int = MAX_SAMPLES) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples)
        self._lock = threading.Lock()
        self.count = 0

    def add(self, ms: float) -> None:
        with self._lock:
            self._samples.append((time.monotonic(), ms))
            self.count += 1

    def summary(self) -> dict[str, float | int | None]:
        since = time.monotonic() - self.window_s
        with self._lock:
            while self._samples and self._samples[0][0] < since:
                self._samples.popleft()
            ordered = sorted(ms for _, ms in self._samples)
            count = self.count
        if not ordered:
            return {"count": count, "p50_ms": None, "p95_ms": None, "max_ms": None}

        def pick(pct: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(pct * len(ordered)))], 1)

        return {"count": count, "p50_ms": pick(0.50), "p95_ms": pick(0.95), "max_ms": round(ordered[-1], 1)}


class ServerMetrics:
    """Owned by the HallContext; the ingest thread and the round scheduler add samples."""

    def __init__(self) -> None:
        self.ingest_lag = Lag()  # broker delivery -> commit of the batch that applied it
        self.ingest_batch = Lag()  # milliseconds per ingest batch transaction
        self.round_late = Lag()  # due time -> round started
        self.round_duration = Lag()  # one round batch, start -> commit
        self.gauges: dict[str, Callable[[], int]] = {}

    def gauge(self, name: str, read: Callable[[], int]) -> None:
        """A live figure read when asked (e.g. the ingest queue's length)."""
        self.gauges[name] = read

    def snapshot(self) -> dict[str, Any]:
        return {
            "window_s": WINDOW_S,
            "ingest_lag": self.ingest_lag.summary(),
            "ingest_batch": self.ingest_batch.summary(),
            "round_late": self.round_late.summary(),
            "round_duration": self.round_duration.summary(),
            **{name: read() for name, read in self.gauges.items()},
        }

"""The round scheduler: runs a hall's dispatch round when an event asked for one, never by polling a queue.

Events (a CALL press, a ticket issued, a resume, a transfer) ask for a round one collection period
later; a hold asks for one at its return time. Requests arrive after the commit of the transaction
that made them (`HallContext.transaction`). Requests for a hall are coalesced: one round serves every
event of its collection period, and the rounds of halls due together run in one transaction
(`dispatch.run_rounds`); how late rounds run, and how long they take, goes to `ctx.metrics`. The
database keeps rounds of a hall at least `dispatch_round_ms` apart across server processes; a
too-early round is simply rescheduled.

A slow recovery sweep (`dispatch_recovery_s`, default 30 s, and once at start) asks for a round in
halls that have ready windows and waiting tickets, or held tickets, so a wake-up lost with a crashed
process is not lost for good. It reads three small indexed aggregates, not the queue.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from hall_server import dispatch
from hall_server.context import HallContext
from hall_server.models import Ticket, Window
from hallbus.models import now_ms

log = logging.getLogger(__name__)

BUSY_RETRY_MS = 100
BATCH = 20  # halls per round transaction: it holds the write lock


class RoundScheduler:
    """One thread per server process; `request(hall, at_ms)` is thread-safe and never blocks."""

    def __init__(self, ctx: HallContext) -> None:
        self.ctx = ctx
        self._heap: list[tuple[int, str]] = []
        self._scheduled: dict[str, int] = {}  # hall -> earliest pending due time
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="hall-rounds", daemon=True)
        self.rounds_run = 0
        ctx.metrics.gauge("rounds_run", lambda: self.rounds_run)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def request(self, hall: str, at_ms: int) -> None:
        with self._cond:
            pending = self._scheduled.get(hall)
            if pending is not None and pending <= at_ms:
                return  # an earlier round of this hall is already coming; it serves this event too
            self._scheduled[hall] = at_ms
            heapq.heappush(self._heap, (at_ms, hall))
            self._cond.notify()

    def _next_due(self, recovery_at: float) -> list[tuple[str, int]]:
        """Block until some hall's round is due or the recovery sweep is; return the due halls and
        when each was due (at most `BATCH` of them: a round transaction stays short)."""
        with self._cond:
            while not self._stop:
                now = now_ms()
                due: list[tuple[str, int]] = []
                while self._heap and self._heap[0][0] <= now and len(due) < BATCH:
                    at, hall = heapq.heappop(self._heap)
                    if self._scheduled.get(hall) == at:
                        del self._scheduled[hall]
                        due.append((hall, at))
                if due:
                    return due
                until_recovery = recovery_at - time.monotonic()
                if until_recovery <= 0:
                    return []
                timeout = until_recovery if math.isfinite(until_recovery) else None
                if self._heap:
                    until_round = (self._heap[0][0] - now) / 1000
                    timeout = until_round if timeout is None else min(timeout, until_round)
                self._cond.wait(timeout=timeout)
        return []

    def _run(self) -> None:
        interval = self.ctx.settings.dispatch_recovery_s
        self._recover()  # once at start: pick up what a previous process left ready or held
        recovery_at = time.monotonic() + interval if interval > 0 else math.inf
        while True:
            halls = self._next_due(recovery_at)
            with self._cond:
                if self._stop:
                    return
            if halls:
                self._rounds(halls)
            if time.monotonic() >= recovery_at:
                self._recover()
                recovery_at = time.monotonic() + interval

    def _rounds(self, due: list[tuple[str, int]]) -> None:
        started = now_ms()
        for _, at in due:
            self.ctx.metrics.round_late.add(max(0, started - at))
        halls = [hall for hall, _ in due]
        try:
            outcomes = dispatch.run_rounds(self.ctx, halls)
        except OperationalError as exc:
            log.warning("dispatch rounds of %d halls: database busy (%s); retrying", len(halls), exc.orig)
            for hall in halls:
                self.request(hall, now_ms() + BUSY_RETRY_MS)
            return
        self.ctx.metrics.round_duration.add(now_ms() - started)
        for outcome in outcomes:
            self.rounds_run += 1
            if outcome.retry_at is not None:
                self.request(outcome.hall, outcome.retry_at)
            if outcome.next_hold_at is not None:
                self.request(outcome.hall, outcome.next_hold_at)

    def _recover(self) -> None:
        """Ask for a round where one could do something: ready windows and waiting tickets in the same
        hall (a lost wake-up), or held tickets. Ready windows alone are the normal idle hall: asking for
        their rounds every sweep held the write lock for ~0.5 s in a city of idle windows (bench/devices.py)."""
        try:
            with self.ctx.db.read() as session:
                ready = set(
                    session.scalars(
                        select(Window.hall_id)
                        .where(Window.state == "ready", Window.current_ticket_id.is_(None))
                        .group_by(Window.hall_id)
                    )
                )
                waiting = set(
                    session.scalars(select(Ticket.hall_id).where(Ticket.state == "waiting").group_by(Ticket.hall_id))
                )
                holds = session.execute(
                    select(Ticket.hall_id, func.min(Ticket.held_until))
                    .where(Ticket.state == "held")
                    .group_by(Ticket.hall_id)
                ).all()
        except OperationalError as exc:
            log.warning("dispatch recovery sweep: database busy (%s)", exc.orig)
            return
        now = now_ms()
        for hall in sorted(ready & waiting):
            self.request(hall, now)
        for hall, at in holds:
            self.request(hall, int(at) if at is not None else now)

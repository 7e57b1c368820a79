"""What every service receives: settings, database, the command publisher and the dispatch RNG.

Built once by the app and passed down, so no module reads the environment or holds a global.
`transaction()` is the one way decisions are written: the commands they queue are published only
after the commit succeeded (bus.md §5.4: stored before published).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Protocol

from sqlalchemy.orm import Session

from hall_server.db import Database, local_tz
from hall_server.metrics import ServerMetrics
from hall_server.settings import Settings

log = logging.getLogger(__name__)

OUTBOX_KEY = "hall_outbox"
ROUNDS_KEY = "hall_rounds"


@dataclass(frozen=True)
class Outgoing:
    """A stored command ready to go on the wire (to a device, or to an edge when `device` is None)."""

    hall: str
    name: str
    cmd_id: str
    expires_at: int
    args: dict[str, Any]
    device: str | None = None
    edge: str | None = None


class Publisher(Protocol):
    def publish_command(self, cmd: Outgoing) -> None: ...

    def halls_changed(self) -> None: ...


class RoundRequester(Protocol):
    def request(self, hall: str, at_ms: int) -> None: ...


class NullRounds:
    """No scheduler running (unit tests, tools): requests are remembered, rounds run when called."""

    def __init__(self) -> None:
        self.requested: list[tuple[str, int]] = []

    def request(self, hall: str, at_ms: int) -> None:
        self.requested.append((hall, at_ms))


class NullPublisher:
    """No bus configured: commands stay stored (and time out), nothing is sent."""

    def publish_command(self, cmd: Outgoing) -> None:
        log.debug("no bus: command %s %s for hall=%s stays stored", cmd.name, cmd.cmd_id, cmd.hall)

    def halls_changed(self) -> None:
        return None


@dataclass
class HallContext:
    settings: Settings
    db: Database
    publisher: Publisher = field(default_factory=NullPublisher)
    rng: secrets.SystemRandom = field(default_factory=secrets.SystemRandom)
    tz: tzinfo = field(default_factory=local_tz)
    rounds: RoundRequester = field(default_factory=NullRounds)
    #: short-lived caches owned by this context (e.g. other halls' wait forecasts, hall_server/queueing.py)
    caches: dict[str, Any] = field(default_factory=dict)
    #: how far behind this process is (GET /api/metrics)
    metrics: ServerMetrics = field(default_factory=ServerMetrics)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction whose queued commands are published after a successful commit."""
        with self.db.write() as session:
            yield session
            outgoing: list[Outgoing] = list(session.info.get(OUTBOX_KEY, []))
            wakes: set[tuple[str, int]] = set(session.info.get(ROUNDS_KEY, ()))
        for cmd in outgoing:
            self.publisher.publish_command(cmd)
        for hall, at_ms in sorted(wakes):
            self.rounds.request(hall, at_ms)


def queued_commands(session: Session) -> int:
    """How many commands this transaction has queued so far."""
    return len(session.info.get(OUTBOX_KEY, []))


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A nested transaction whose queued commands go with it if it rolls back.

    The rows of a rolled-back savepoint are gone, so the commands it queued must not be published after
    the outer commit: every caller that catches a failure inside a savepoint needs this, not its own copy.
    """
    queued = queued_commands(session)
    try:
        with session.begin_nested():
            yield
    except BaseException:
        del session.info.get(OUTBOX_KEY, [])[queued:]
        raise


def enqueue(session: Session, cmd: Outgoing) -> None:
    """Hand a command to the post-commit publisher of this session's transaction."""
    session.info.setdefault(OUTBOX_KEY, []).append(cmd)


def wake_round(session: Session, hall: str, at_ms: int) -> None:
    """Ask for a dispatch round of `hall` at or after `at_ms`, once this transaction has committed."""
    session.info.setdefault(ROUNDS_KEY, []).append((hall, at_ms))

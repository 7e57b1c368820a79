"""The edge's durable state in SQLite: outbox, processed commands, device event marks, counters.

bus.md §6. Every event and result is written here before it is published; a row leaves the outbox only
after its PUBACK. The processed-command row is committed before the broker gets its PUBACK, so a
re-delivered command is answered from here and never drives a device twice. A device event is stored
together with the device's new mark in one transaction, and only then acknowledged to the device.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    size INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS processed (
    cmd_id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    name TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'done')),
    status TEXT,
    data TEXT,
    error TEXT,
    done_ms INTEGER
);
CREATE TABLE IF NOT EXISTS marks (device TEXT PRIMARY KEY, source_seq INTEGER NOT NULL);
"""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ProcessedCommand:
    cmd_id: str
    device: str
    name: str
    state: str
    status: str | None
    data: dict[str, Any]
    error: dict[str, Any] | None


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    topic: str
    payload: bytes


class OutboxFullError(Exception):
    """The outbox reached its byte limit: stop taking new work (bus.md §6.1)."""


class EdgeStore:
    """One SQLite file, one writer (a lock around one connection), WAL for crash safety."""

    def __init__(self, path: Path, max_bytes: int = 64 * 1024 * 1024) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self.reserve_bytes = max(64 * 1024, max_bytes // 20)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self.stream = self._meta_get("stream") or self._create_stream()
        self._outbox_bytes = int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM outbox").fetchone()[0])

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta: stream id and session counter --------------------------------------------------------
    def _meta_get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _create_stream(self) -> str:
        """A new database starts a new stream (bus.md §6.4)."""
        stream = str(uuid.uuid4())
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('stream', ?)", (stream,))
        return self._meta_get("stream") or stream

    def next_session(self) -> int:
        """Increment and return the connection counter, kept on disk (bus.md §4.1 step 1)."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'session'").fetchone()
            session = (int(row[0]) if row else 0) + 1
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('session', ?)", (str(session),))
        return session

    # -- outbox --------------------------------------------------------------------------------
    @property
    def outbox_bytes(self) -> int:
        return self._outbox_bytes

    def outbox_fill(self) -> float:
        return self._outbox_bytes / self.max_bytes

    def outbox_full(self) -> bool:
        return self._outbox_bytes >= self.max_bytes

    def _insert_outbox(self, db: sqlite3.Connection, topic: str, body: dict[str, Any], reserve: bool) -> int:
        """Insert one message; `seq` is the row id, written into the payload in the same transaction."""
        limit = self.max_bytes + (self.reserve_bytes if reserve else 0)
        if self._outbox_bytes >= limit:
            raise OutboxFullError(f"outbox holds {self._outbox_bytes} bytes (limit {limit})")
        cur = db.execute(
            "INSERT INTO outbox (topic, payload, size, created_ms) VALUES (?, x'', 0, ?)", (topic, _now_ms())
        )
        seq = int(cur.lastrowid or 0)
        payload = json.dumps({**body, "stream": self.stream, "seq": seq}, ensure_ascii=False).encode()
        db.execute("UPDATE outbox SET payload = ?, size = ? WHERE seq = ?", (payload, len(payload), seq))
        self._outbox_bytes += len(payload)
        return seq

    def outbox_batch(self, limit: int) -> list[OutboxRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload FROM outbox ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [OutboxRow(int(s), str(t), bytes(p)) for s, t, p in rows]

    def outbox_delete(self, seqs: Iterable[int]) -> None:
        seqs = list(seqs)
        if not seqs:
            return
        with self._tx() as db:
            marks = ",".join("?" * len(seqs))
            freed = db.execute(f"SELECT COALESCE(SUM(size), 0) FROM outbox WHERE seq IN ({marks})", seqs)
            self._outbox_bytes -= int(freed.fetchone()[0])
            db.execute(f"DELETE FROM outbox WHERE seq IN ({marks})", seqs)

    def outbox_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    # -- processed commands ----------------------------------------------------------------------
    def get_processed(self, cmd_id: str) -> ProcessedCommand | None:
        with self._lock:
            row = self._db.execute(
                "SELECT cmd_id, device, name, state, status, data, error FROM processed WHERE cmd_id = ?",
                (cmd_id,),
            ).fetchone()
        if row is None:
            return None
        return ProcessedCommand(
            cmd_id=row[0],
            device=row[1],
            name=row[2],
            state=row[3],
            status=row[4],
            data=json.loads(row[5]) if row[5] else {},
            error=json.loads(row[6]) if row[6] else None,
        )

    def begin_command(self, cmd_id: str, device: str, name: str, expires_ms: int) -> bool:
        """Insert a `running` row; False if this cmd_id was seen before (then nothing is written)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO processed (cmd_id, device, name, received_ms, expires_ms, state) "
                "VALUES (?, ?, ?, ?, ?, 'running')",
                (cmd_id, device, name, _now_ms(), expires_ms),
            )
            return cur.rowcount == 1

    def finish_command(
        self,
        cmd_id: str,
        result_topic: str,
        result_body: dict[str, Any],
        *,
        record: bool = True,
    ) -> int:
        """Store the outcome and put the result into the outbox, in one transaction (§5.3 step 8)."""
        with self._tx() as db:
            if record:
                db.execute(
                    "UPDATE processed SET state = 'done', status = ?, data = ?, error = ?, done_ms = ? "
                    "WHERE cmd_id = ?",
                    (
                        result_body["status"],
                        json.dumps(result_body.get("data") or {}, ensure_ascii=False),
                        json.dumps(result_body["error"]) if result_body.get("error") else None,
                        _now_ms(),
                        cmd_id,
                    ),
                )
            return self._insert_outbox(db, result_topic, result_body, reserve=True)

    def running_commands(self) -> list[ProcessedCommand]:
        """Rows still `running`: the edge died while executing them (bus.md §5.3, start-up rule)."""
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT cmd_id FROM processed WHERE state = 'running'")]
        return [p for p in (self.get_processed(i) for i in ids) if p is not None]

    def prune_processed(self, keep_ms: int) -> int:
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM processed WHERE state = 'done' AND expires_ms < ?", (_now_ms() - keep_ms,)
            )
            return cur.rowcount

    # -- device events ----------------------------------------------------------------------------
    def mark(self, device: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT source_seq FROM marks WHERE device = ?", (device,)).fetchone()
        return -1 if row is None else int(row[0])

    def store_events(self, device: str, topic: str, events: list[tuple[int | None, dict[str, Any]]]) -> int:
        """Store new events and advance the device's mark in one transaction (bus.md §6.3).

        `events` are (source_seq, body) pairs. Events at or below the mark are repeats and are skipped.
        Returns the mark after the transaction, i.e. what may now be acknowledged to the device.
        """
        with self._tx() as db:
            row = db.execute("SELECT source_seq FROM marks WHERE device = ?", (device,)).fetchone()
            mark = -1 if row is None else int(row[0])
            for source_seq, body in events:
                if source_seq is not None and source_seq <= mark:
                    continue
                self._insert_outbox(db, topic, body, reserve=False)
                if source_seq is not None:
                    mark = source_seq
            db.execute("INSERT OR REPLACE INTO marks (device, source_seq) VALUES (?, ?)", (device, mark))
        return mark

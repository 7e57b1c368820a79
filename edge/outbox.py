"""Publish the outbox in `seq` order; delete a row only after its PUBACK (bus.md §6.1).

One thread. It fetches a batch, publishes every row, and waits until every row of that batch is
acknowledged or the connection is lost. It never fetches the next batch before the rows of the
previous one are deleted: the ThingsBoard gateway once pre-fetched and re-sent duplicates.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from edge.link import EdgeLink
from edge.store import EdgeStore, OutboxRow

log = logging.getLogger(__name__)


class OutboxPublisher:
    def __init__(self, link: EdgeLink, store: EdgeStore, batch_size: int = 50) -> None:
        self.link = link
        self.store = store
        self.batch_size = batch_size
        self.wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wakeup.set()
        self._thread.join(timeout=5)

    def notify(self) -> None:
        """Something was added to the outbox."""
        self.wakeup.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.link.connected.wait(timeout=0.5):
                continue
            self.wakeup.clear()
            batch = self.store.outbox_batch(self.batch_size)
            if not batch:
                self.wakeup.wait(timeout=1.0)
                continue
            self._publish_batch(batch)

    def _publish_batch(self, batch: list[OutboxRow]) -> None:
        epoch = self.link.connection_epoch
        self._drain_stale_acks()
        pending: dict[int, int] = {}
        for row in batch:
            mid = self.link.publish(row.topic, row.payload)
            if mid is None:
                return  # lost the connection; everything unacknowledged is sent again after reconnect
            pending[mid] = row.seq
        self._await_acks(pending, epoch)

    def _drain_stale_acks(self) -> None:
        """Acks of retained messages and of batches given up at a disconnect; none can be ours yet."""
        while True:
            try:
                self.link.acks.get_nowait()
            except queue.Empty:
                return

    def _await_acks(self, pending: dict[int, int], epoch: int) -> None:
        acked: list[int] = []
        while pending and not self._stop.is_set():
            if self.link.connection_epoch != epoch or not self.link.connected.is_set():
                break
            try:
                mid = self.link.acks.get(timeout=0.2)
            except queue.Empty:
                continue
            seq = pending.pop(mid, None)
            if seq is not None:
                acked.append(seq)
                if len(acked) >= 20:
                    self.store.outbox_delete(acked)
                    acked = []
        self.store.outbox_delete(acked)
        if pending:
            log.info("outbox: %d rows unacknowledged at disconnect; they will be sent again", len(pending))
            time.sleep(0.1)

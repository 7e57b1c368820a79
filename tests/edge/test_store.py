"""The edge store keeps what must survive a crash: outbox order, processed commands, device marks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.store import EdgeStore, OutboxFullError


def _event(n: int) -> dict[str, object]:
    return {"v": 1, "ts": 1, "edge": "e1", "event_id": f"ev-{n}", "type": "key", "data": {"key": "call_next"}}


def test_outbox_assigns_increasing_seq_inside_the_payload(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "edge.sqlite3")
    store.store_events("k1", "t/event", [(1, _event(1)), (2, _event(2))])
    rows = store.outbox_batch(10)
    payloads = [json.loads(r.payload) for r in rows]
    assert [p["seq"] for p in payloads] == [r.seq for r in rows] == [1, 2]
    assert {p["stream"] for p in payloads} == {store.stream}


def test_rows_survive_a_reopen_until_deleted_after_puback(tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    store = EdgeStore(path)
    store.store_events("k1", "t/event", [(5, _event(5))])
    stream = store.stream
    store.close()  # the process dies before the PUBACK
    again = EdgeStore(path)
    assert again.stream == stream, "a reopened database keeps its stream"
    rows = again.outbox_batch(10)
    assert len(rows) == 1
    again.outbox_delete([rows[0].seq])
    assert again.outbox_count() == 0 and again.outbox_bytes == 0


def test_events_at_or_below_the_mark_are_repeats(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "edge.sqlite3")
    assert store.store_events("k1", "t", [(1, _event(1)), (2, _event(2))]) == 2
    # the device did not get our ACK_EVT and sends both again, plus a new one
    assert store.store_events("k1", "t", [(1, _event(1)), (2, _event(2)), (3, _event(3))]) == 3
    assert store.outbox_count() == 3


def test_a_new_database_starts_a_new_stream(tmp_path: Path) -> None:
    assert EdgeStore(tmp_path / "a.sqlite3").stream != EdgeStore(tmp_path / "b.sqlite3").stream


def test_processed_command_is_inserted_once(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "edge.sqlite3")
    assert store.begin_command("c1", "p1", "print_ticket", 10**13) is True
    assert store.begin_command("c1", "p1", "print_ticket", 10**13) is False
    body = {"v": 1, "ts": 1, "edge": "e1", "cmd_id": "c1", "status": "ok", "data": {"bytes": 300}, "error": None}
    store.finish_command("c1", "t/result", body)
    row = store.get_processed("c1")
    assert row is not None and row.state == "done" and row.status == "ok" and row.data == {"bytes": 300}


def test_running_rows_are_found_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    store = EdgeStore(path)
    store.begin_command("c9", "p1", "print_ticket", 10**13)
    store.close()
    assert [r.cmd_id for r in EdgeStore(path).running_commands()] == ["c9"]


def test_session_counter_persists(tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    assert EdgeStore(path).next_session() == 1
    assert EdgeStore(path).next_session() == 2


def test_full_outbox_refuses_events_but_keeps_a_reserve_for_results(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "edge.sqlite3", max_bytes=64 * 1024)
    big = {**_event(0), "data": {"text": "x" * 8000}}
    with pytest.raises(OutboxFullError):
        for n in range(1, 100):
            store.store_events("k1", "t", [(n, {**big, "event_id": f"e{n}"})])
    mark = store.mark("k1")
    assert store.outbox_full()
    # the failed transaction stored nothing and did not advance the mark past the last stored event
    assert store.outbox_count() == mark
    body = {"v": 1, "ts": 1, "edge": "e1", "cmd_id": "c1", "status": "rejected", "data": {}, "error": None}
    store.begin_command("c1", "p1", "print_ticket", 10**13)
    store.finish_command("c1", "t/result", body)  # the reserve takes it

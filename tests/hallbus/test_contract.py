"""The bus contract: topics and payloads exactly as bus.md, bad input rejected with a reason."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallbus import Command, Event, PayloadError, TopicError, decode, encode, parse_topic, topics_for
from hallbus.catalogue import validate_args
from hallbus.topics import TopicKind

IDS = st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True)


def test_topic_layout_matches_bus_md() -> None:
    t = topics_for("h1")
    assert t.server_status() == "hall/v1/h1/server/status"
    assert t.edge_status("e1") == "hall/v1/h1/edge/e1/status"
    assert t.dev_cmd("w05-screen", "show_text") == "hall/v1/h1/dev/w05-screen/cmd/show_text"
    assert t.dev_cmd_filter("p1") == "hall/v1/h1/dev/p1/cmd/+"
    assert t.edge_cmd_filter("e1") == "hall/v1/h1/edge/e1/cmd/+"
    assert t.sim_control("p1") == "hall/v1/h1/sim/p1/control"


@given(hall=IDS, device=IDS, command=st.from_regex(r"[a-z0-9_]{1,64}", fullmatch=True))
def test_built_topics_parse_back(hall: str, device: str, command: str) -> None:
    t = topics_for(hall)
    parsed = parse_topic(t.dev_cmd(device, command))
    assert (parsed.hall, parsed.kind, parsed.device, parsed.command) == (hall, TopicKind.DEV_CMD, device, command)
    assert parse_topic(t.dev_event(device)).kind is TopicKind.DEV_EVENT


@pytest.mark.parametrize("bad", ["H1", "a/b", "+", "#", "", "x" * 65, "大厅"])
def test_invalid_ids_never_make_a_topic(bad: str) -> None:
    with pytest.raises(TopicError):
        topics_for("h1").dev_event(bad)


@given(st.text(max_size=80))
def test_random_topics_parse_or_raise_topic_error(topic: str) -> None:
    with contextlib.suppress(TopicError):
        parse_topic(topic)


def test_command_round_trip_and_expiry() -> None:
    cmd = Command(expires_at=1000, args={"text": "A001请到5号窗口"})
    again = decode(Command, encode(cmd))
    assert again == cmd and again.expired(1001) and not again.expired(1000)


@pytest.mark.parametrize(
    "payload,reason",
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1,2]", "not an object"),
        (b'{"v":2,"ts":1}', "unknown schema version"),
        (b'{"ts":1}', "unknown schema version"),
        (b'{"v":1,"ts":1,"cmd_id":"x"}', "expires_at"),
        (b"{" + b" " * 70000 + b"}", "exceeds"),
    ],
)
def test_bad_payloads_are_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        decode(Command, payload)


def test_unknown_fields_are_ignored() -> None:
    raw = json.dumps({"v": 1, "ts": 1, "cmd_id": "c", "expires_at": 5, "args": {}, "future_field": 1})
    assert decode(Command, raw).cmd_id == "c"


@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_payload_error(raw: bytes) -> None:
    with contextlib.suppress(PayloadError):
        decode(Event, raw)


def test_command_arguments_are_validated_by_kind() -> None:
    validate_args("window_screen", "show_text", {"text": "A001请到5号窗口"})
    with pytest.raises(PayloadError, match="unknown command"):
        validate_args("window_screen", "print_ticket", {})
    with pytest.raises(PayloadError, match="text"):
        validate_args("window_screen", "show_text", {"text": "x" * 1000})
    with pytest.raises(PayloadError, match="rating_id"):
        validate_args("evaluator", "request_rating", {"rating_id": 0})

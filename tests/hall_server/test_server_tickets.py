"""Ticket numbering: sequential per prefix, never duplicated under concurrency, idempotent per request_id."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from hall_server.errors import InvalidError, NotFoundError
from hall_server.tickets import IssueRequest, issue_ticket


def test_numbers_are_sequential_per_prefix(make_ctx, sqlite_url, hall_topology):
    """GIVEN two matters with prefixes A and B WHEN tickets are issued alternately THEN each prefix counts alone."""
    ctx = make_ctx(sqlite_url, hall_topology())
    numbers = [
        issue_ticket(ctx, "h1", IssueRequest(matter=m))[0]["number"]
        for m in ["biz_license", "social_card", "biz_license", "biz_license", "social_card"]
    ]
    assert numbers == ["A001", "B001", "A002", "A003", "B002"]


def test_concurrent_issue_never_repeats_a_number(make_ctx, database_url, hall_topology):
    """GIVEN 16 threads WHEN 160 tickets of one prefix are issued at once THEN the numbers are A001..A160."""
    ctx = make_ctx(database_url, hall_topology())

    def issue(_: int) -> str:
        return str(issue_ticket(ctx, "h1", IssueRequest(matter="biz_license"))[0]["number"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        numbers = list(pool.map(issue, range(160)))
    assert len(set(numbers)) == 160
    assert sorted(numbers) == [f"A{i:03d}" for i in range(1, 161)]


def test_request_id_makes_issue_idempotent(make_ctx, database_url, hall_topology):
    """GIVEN a kiosk retrying with the same request_id, also concurrently THEN one ticket exists."""
    ctx = make_ctx(database_url, hall_topology())
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: issue_ticket(ctx, "h1", IssueRequest("biz_license", None, "k-1")), range(8)))
    assert {view["id"] for view, _ in results} == {results[0][0]["id"]}
    assert sum(1 for _, created in results if created) == 1
    assert issue_ticket(ctx, "h1", IssueRequest("biz_license"))[0]["number"] == "A002"


def test_issue_queues_a_valid_print_command(make_ctx, sqlite_url, hall_topology):
    ctx = make_ctx(sqlite_url, hall_topology())
    view, _ = issue_ticket(ctx, "h1", IssueRequest("biz_license"))
    assert view["print_status"] == "pending" and view["print_cmd_id"]
    assert view["qr"] == f"hall://h1/ticket/{view['id']}?n=A001"
    assert view["hall_name"] == "长春市政务服务中心" and view["matter_name"] == "营业执照"


def test_unknown_matter_hall_or_printer_is_refused(make_ctx, sqlite_url, hall_topology):
    ctx = make_ctx(sqlite_url, hall_topology())
    with pytest.raises(InvalidError):
        issue_ticket(ctx, "h1", IssueRequest("nope"))
    with pytest.raises(NotFoundError):
        issue_ticket(ctx, "h9", IssueRequest("biz_license"))
    with pytest.raises(InvalidError):
        issue_ticket(ctx, "h1", IssueRequest("biz_license", printer="w1-screen"))
    assert issue_ticket(ctx, "h1", IssueRequest("biz_license"))[0]["number"] == "A001"


def test_sweeper_times_out_commands_past_their_deadline(make_ctx, sqlite_url, hall_topology):
    """GIVEN a print command nobody answers WHEN its deadline passes THEN it is `timeout` and so is the print."""
    from hall_server import commands, tickets
    from hall_server.models import CommandRecord

    ctx = make_ctx(sqlite_url, hall_topology())
    view, _ = issue_ticket(ctx, "h1", IssueRequest("biz_license"))
    with ctx.transaction() as session:
        assert commands.sweep_timeouts(session) == []  # not yet
        record = commands.get(session, view["print_cmd_id"])
        assert isinstance(record, CommandRecord)
        overdue = commands.sweep_timeouts(session, at_ms=record.deadline + 1)
        assert [r.cmd_id for r in overdue] == [view["print_cmd_id"]]
        tickets.on_print_result(session, overdue[0])
    with ctx.db.read() as session:
        assert commands.get(session, view["print_cmd_id"]).status == "timeout"
        assert tickets.get_ticket(session, view["id"]).print_status == "timeout"

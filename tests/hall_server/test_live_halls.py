"""Which halls a bulk statement touches, for the live pages, read without compiling it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hall_server.live import statement_halls
from hall_server.models import CommandRecord, Ticket, TicketCounter, VisitPeriod, Window


def _compiled_halls(statement: Any) -> set[str]:
    """The old way: compile and read the parameters (the reference)."""
    return {v for k, v in statement.compile().params.items() if k.startswith("hall_id") and isinstance(v, str)}


@pytest.mark.parametrize(
    "statement",
    [
        update(Window).where(Window.hall_id == "h1", Window.id == "w1").values(state="called"),
        update(Ticket).where(Ticket.id == 3, Ticket.state == "waiting").values(state="called", window_id="w1"),
        insert(Ticket).values(hall_id="h2", seq=1),
        update(VisitPeriod).where(VisitPeriod.visit_id == 1).values(ended_at=5),
        update(CommandRecord).where(CommandRecord.id.in_([1, 2])).values(status="timeout"),
        sqlite_insert(TicketCounter.__table__)
        .values(hall_id="h3", day="2026-11-25", prefix="A", last=1)
        .on_conflict_do_update(index_elements=["hall_id", "day", "prefix"], set_={"last": 2}),
        pg_insert(TicketCounter.__table__)
        .values(hall_id="h4", day="2026-11-25", prefix="A", last=1)
        .on_conflict_do_nothing(),
    ],
)
def test_statement_halls_agrees_with_compiling(statement: Any) -> None:
    assert statement_halls(statement) == _compiled_halls(statement)


def test_statement_halls_finds_each_hall_of_an_in_list() -> None:
    """Compiling missed these (a list is not a str): such a change went to every hall's pages."""
    both = update(Window).where(Window.hall_id.in_(["h1", "h2"])).values(state="offline")
    assert statement_halls(both) == {"h1", "h2"}

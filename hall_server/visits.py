"""A ticket's life as time periods (waiting, called, serving, held), one visit per ticket.

Periods are the evidence the statistics read: a ticket called at two windows, or a window with two
overlapping called/serving periods, shows up here even if the ticket rows were later overwritten.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hall_server.models import Visit, VisitPeriod


def open_visit(session: Session, hall: str, ticket_id: int, at_ms: int) -> Visit:
    visit = Visit(ticket_id=ticket_id, hall_id=hall, opened_at=at_ms)
    session.add(visit)
    session.flush()
    start_period(session, visit, "waiting", None, at_ms)
    return visit


def visit_of(session: Session, ticket_id: int) -> Visit:
    return session.scalars(select(Visit).where(Visit.ticket_id == ticket_id)).one()


def end_open_periods(session: Session, visit: Visit, at_ms: int) -> None:
    session.execute(
        update(VisitPeriod)
        .where(VisitPeriod.visit_id == visit.id, VisitPeriod.ended_at.is_(None))
        .values(ended_at=at_ms)
        .execution_options(synchronize_session=False)
    )


def start_period(session: Session, visit: Visit, state: str, window: str | None, at_ms: int) -> None:
    """End whatever period is open and begin the next one at the same instant."""
    end_open_periods(session, visit, at_ms)
    session.add(VisitPeriod(visit_id=visit.id, hall_id=visit.hall_id, state=state, window_id=window, started_at=at_ms))


def close_visit(session: Session, visit: Visit, outcome: str, at_ms: int) -> None:
    end_open_periods(session, visit, at_ms)
    visit.closed_at = at_ms
    visit.outcome = outcome

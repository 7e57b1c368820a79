"""Cases (办件) and the three hands of 一章审批 (domain.md; architecture.md journey 4).

Intake (a clerk of the hall, from a visit or ticket) opens the case with its number; an approver of the
department that owns the case's seal approves or rejects it; a seal custodian of the hall that holds
that seal's machine releases it for printing and sealing. One principal id never holds two of these
steps on one case, and an approver acts only for their own department: both are refused with 403.

The applicant's ID number (or credit code) is never stored in clear: the case keeps a salted SHA-256.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server import audit, seal_catalogue
from hall_server.auth import Principal
from hall_server.context import HallContext
from hall_server.db import bump_counter, local_day
from hall_server.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from hall_server.integrity_settings import A4, integrity
from hall_server.models import Case, CaseCounter, Hall, KeyValue, Matter, Ticket, Visit
from hallbus.models import now_ms

log = logging.getLogger(__name__)

#: the department (suffix in the seal catalogue) that decides a matter of each category, by default
CATEGORY_DEPARTMENT = {
    "enterprise": "market",
    "personal": "civil",
    "citizen": "civil",
    "social_security": "hrss",
    "medical_insurance": "medical",
    "vehicles": "police",
}
STEPS = {"intake": "intake_by", "decision": "decided_by", "release": "released_by"}


def hall_code(ctx: HallContext, hall: str) -> str:
    """Six digits that open the hall's case numbers: configured, else derived from the hall id."""
    configured = integrity(ctx).hall_codes.get(hall)
    return configured if configured else f"{zlib.crc32(hall.encode()) % 1_000_000:06d}"


def matter_route(session: Session, hall: str, matter: Matter) -> tuple[str, seal_catalogue.Seal]:
    """(department, seal) of a matter: its own columns, else the catalogue's default for its category."""
    seals = seal_catalogue.seals()
    if matter.seal_id:
        seal = seals.get(matter.seal_id)
        if seal is None:
            raise InvalidError(f"matter {matter.code}: unknown seal {matter.seal_id!r}")
        if matter.department and matter.department != seal.department:
            raise InvalidError(f"matter {matter.code}: seal {seal.id} belongs to {seal.department}, "
                               f"not {matter.department}")  # fmt: skip
        return seal.department, seal
    department = matter.department
    if department is None:
        suffix = CATEGORY_DEPARTMENT.get(matter.category)
        if suffix is None:
            raise InvalidError(f"matter {matter.code}: no department for category {matter.category!r}")
        departments = seal_catalogue.departments()
        department = next((d for d in (f"{hall}.{suffix}", f"cc-city.{suffix}") if d in departments), None)
        if department is None:
            raise InvalidError(f"matter {matter.code}: no department {suffix!r} in the seal catalogue")
    owned = sorted(seal_catalogue.seals_of_department(department), key=lambda s: s.id)
    if not owned:
        raise InvalidError(f"department {department!r} holds no seal")
    return department, owned[0]


def _salt(session: Session) -> str:
    row = session.get(KeyValue, "applicant_salt")
    if row is None:
        raise ConflictError("the applicant salt is missing; run the migrations")
    return row.value


def applicant_hash(session: Session, applicant_id: str) -> str:
    normal = "".join(applicant_id.split()).upper()
    return hashlib.sha256(f"{_salt(session)}:{normal}".encode()).hexdigest()


def _allocate(session: Session, hall: str, day: str) -> int:
    return bump_counter(session, CaseCounter, hall_id=hall, day=day)


def open_case(
    ctx: HallContext,
    session: Session,
    hall: str,
    who: Principal,
    *,
    ticket_id: int | None,
    visit_id: int | None,
    matter_code: str | None,
    applicant_id: str,
    holder: str = "",
    credit_code: str = "",
) -> Case:
    if session.get(Hall, hall) is None:
        raise NotFoundError(f"no hall {hall!r}")
    ticket = _ticket(session, hall, ticket_id, visit_id)
    code = matter_code or ticket.matter_code
    matter = session.get(Matter, code)
    if matter is None:
        raise InvalidError(f"unknown matter {code!r}")
    department, seal = matter_route(session, hall, matter)
    now = now_ms()
    day = local_day(now, ctx.tz)
    seq = _allocate(session, hall, day)
    visit = session.scalars(select(Visit).where(Visit.ticket_id == ticket.id)).one_or_none()
    case = Case(
        number=f"{hall_code(ctx, hall)}{day.replace('-', '')}{seq:05d}",
        hall_id=hall,
        day=day,
        seq=seq,
        ticket_id=ticket.id,
        visit_id=visit.id if visit else None,
        matter_code=matter.code,
        department=department,
        seal_id=seal.id,
        applicant_hash=applicant_hash(session, applicant_id),
        holder=holder,
        credit_code=credit_code,
        media=integrity(ctx).certificate_media.get(matter.code, A4),
        state="intake",
        intake_by=who.id,
        intake_at=now,
        decision_note="",
    )
    session.add(case)
    session.flush()
    audit.record(session, hall=hall, actor=who.id, action="case_intake", subject=f"case:{case.number}",
                 details={"ticket_id": ticket.id, "matter": matter.code, "department": department,
                          "seal": seal.id})  # fmt: skip
    log.info("hall=%s case %s opened by %s (matter %s, department %s)", hall, case.number, who.id, matter.code,
             department)  # fmt: skip
    return case


def _ticket(session: Session, hall: str, ticket_id: int | None, visit_id: int | None) -> Ticket:
    if visit_id is not None:
        visit = session.get(Visit, visit_id)
        if visit is None or visit.hall_id != hall:
            raise NotFoundError(f"no visit {visit_id} in hall {hall}")
        ticket_id = visit.ticket_id
    if ticket_id is None:
        raise InvalidError("a case is opened from a visit or a ticket: give visit_id or ticket_id")
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.hall_id != hall:
        raise NotFoundError(f"no ticket {ticket_id} in hall {hall}")
    return ticket


def get_case(session: Session, number: str, *, lock: bool = False) -> Case:
    stmt = select(Case).where(Case.number == number)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = session.scalars(stmt).one_or_none()
    if case is None:
        raise NotFoundError(f"no case {number!r}")
    return case


def _second_hand(case: Case, who: Principal, step: str) -> None:
    """One principal, one step per case (intake, decision, release are three different hands)."""
    held = {name: getattr(case, column) for name, column in STEPS.items() if name != step}
    for name, holder in held.items():
        if holder == who.id:
            raise ForbiddenError(f"{who.id} did the {name} of case {case.number}; the {step} must be done by "
                                 f"someone else (intake, approval and release are three different people)")  # fmt: skip


def _own_department(case: Case, who: Principal) -> None:
    if who.role != "admin" and who.department != case.department:
        raise ForbiddenError(f"case {case.number} belongs to department {case.department}; "
                             f"{who.id} approves for {who.department or 'no department'}")  # fmt: skip


def decide(session: Session, number: str, who: Principal, approve: bool, note: str = "") -> Case:
    case = get_case(session, number, lock=True)
    _own_department(case, who)
    _second_hand(case, who, "decision")
    if case.state != "intake":
        raise ConflictError(f"case {case.number} is {case.state}, not waiting for a decision")
    case.state = "approved" if approve else "rejected"
    case.decided_by, case.decided_at, case.decision_note = who.id, now_ms(), note
    audit.record(session, hall=case.hall_id, actor=who.id, action="case_approved" if approve else "case_rejected",
                 subject=f"case:{case.number}", details={"department": case.department, "note": note})  # fmt: skip
    log.info("case %s %s by %s", case.number, case.state, who.id)
    return case


def check_release(session: Session, number: str, who: Principal) -> tuple[Case, seal_catalogue.Seal]:
    """The case, locked, if `who` may release it now: approved, a third hand, custodian of the seal's hall."""
    case = get_case(session, number, lock=True)
    seal = seal_catalogue.seals()[case.seal_id]
    if who.role != "admin" and who.hall != seal.hall:
        raise ForbiddenError(f"seal {seal.id} of case {case.number} is held in hall {seal.hall}; "
                             f"{who.id} is a custodian of {who.hall}")  # fmt: skip
    _second_hand(case, who, "release")
    if case.state != "approved":
        raise ConflictError(f"case {case.number} is {case.state}; only an approved case is released")
    return case, seal


def mark_released(session: Session, case: Case, who: Principal) -> None:
    case.state, case.released_by, case.released_at = "released", who.id, now_ms()
    audit.record(session, hall=case.hall_id, actor=who.id, action="case_released", subject=f"case:{case.number}",
                 details={"seal": case.seal_id})  # fmt: skip


def view(case: Case) -> dict[str, Any]:
    return {
        "number": case.number,
        "hall": case.hall_id,
        "ticket_id": case.ticket_id,
        "visit": case.visit_id,
        "matter": case.matter_code,
        "department": case.department,
        "seal": case.seal_id,
        "holder": case.holder,
        "credit_code": case.credit_code,
        "media": case.media,
        "state": case.state,
        "intake_by": case.intake_by,
        "intake_at": case.intake_at,
        "decided_by": case.decided_by,
        "decided_at": case.decided_at,
        "decision_note": case.decision_note,
        "released_by": case.released_by,
        "released_at": case.released_at,
    }

"""The HTTP API of the integrity features: cases and the three hands, certificates, seal jobs, alarms,
rectification items, the ratings export and the audit chain check. Every endpoint names its roles with
`auth.require`; rules that depend on the thing acted on (department, hall of the seal, second hand on a
case) are checked by the services and answered 403.
"""

from __future__ import annotations

import hmac
import json
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server import (
    alarms,
    audit,
    auditchain,
    cases,
    certificates,
    commands,
    ratings_export,
    rectification,
    seal_jobs,
    seal_tokens,
)
from hall_server.auth import Principal, current_principal, require
from hall_server.context import HallContext
from hall_server.db import local_day
from hall_server.errors import ForbiddenError, RowId
from hall_server.models import Case, Certificate, Device, Rectification, SealJob
from hall_server.seal_catalogue import seals
from hall_server.topology import get_hall
from hallbus.models import now_ms

router = APIRouter(prefix="/api")

Clerk = Annotated[Principal, Depends(require("clerk"))]
Approver = Annotated[Principal, Depends(require("approver"))]
Custodian = Annotated[Principal, Depends(require("custodian"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Staff = Annotated[Principal, Depends(require("operator", "clerk", "approver", "custodian"))]
HallStaff = Annotated[Principal, Depends(require("operator", "custodian"))]
Admin = Annotated[Principal, Depends(require())]


def _ctx(request: Request) -> HallContext:
    ctx: HallContext = request.app.state.ctx
    return ctx


def _same_hall(who: Principal, hall: str) -> None:
    if who.role != "admin" and who.hall is not None and who.hall != hall:
        raise ForbiddenError(f"{who.id} works in hall {who.hall}, not {hall}")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CaseIn(_In):
    ticket_id: int | None = Field(default=None, ge=1)
    visit_id: int | None = Field(default=None, ge=1)
    matter: str | None = Field(default=None, min_length=1, max_length=64)
    applicant_id: str = Field(min_length=4, max_length=64, description="ID number or credit code; stored hashed")
    holder: str = Field(default="", max_length=128)
    credit_code: str = Field(default="", pattern=r"^[0-9A-Z]{0,18}$")


class DecisionIn(_In):
    note: str = Field(default="", max_length=256)


class CallbackIn(_In):
    note: str = Field(min_length=1, max_length=512)
    reached: bool


class CloseIn(_In):
    note: str = Field(default="", max_length=512)


class KeyIn(_In):
    key_hex: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


# -- cases -------------------------------------------------------------------------------------------


def _case_view(session: Session, case: Case) -> dict[str, Any]:
    out = cases.view(case)
    cert = session.scalars(select(Certificate).where(Certificate.case_id == case.id).order_by(Certificate.id)).first()
    job = session.scalars(select(SealJob).where(SealJob.case_id == case.id)).first()
    out["certificate"] = certificates.view(cert) if cert else None
    out["seal_job"] = {**seal_jobs.view(job), "stamps": seal_jobs.stamps(session, job.id)} if job else None
    return out


@router.post("/halls/{hall}/cases", status_code=201)
def open_case(request: Request, hall: str, body: CaseIn, who: Clerk) -> dict[str, Any]:
    with _ctx(request).transaction() as session:
        case = cases.open_case(_ctx(request), session, hall, who, ticket_id=body.ticket_id, visit_id=body.visit_id,
                               matter_code=body.matter, applicant_id=body.applicant_id, holder=body.holder,
                               credit_code=body.credit_code)  # fmt: skip
        return _case_view(session, case)


@router.get("/cases/{number}")
def get_case(request: Request, number: str, who: Staff) -> dict[str, Any]:
    with _ctx(request).db.read() as session:
        case = cases.get_case(session, number)
        if who.role == "approver" and who.department != case.department:
            raise ForbiddenError(f"case {number} belongs to department {case.department}")
        if who.role in ("clerk", "operator", "custodian") and who.hall not in (None, case.hall_id, _seal_hall(case)):
            raise ForbiddenError(f"case {number} is not a case of hall {who.hall}")
        return _case_view(session, case)


def _seal_hall(case: Case) -> str | None:
    seal = seals().get(case.seal_id)
    return seal.hall if seal else None


@router.post("/cases/{number}/approve")
def approve(request: Request, number: str, who: Approver, body: DecisionIn | None = None) -> dict[str, Any]:
    with _ctx(request).transaction() as session:
        case = cases.decide(session, number, who, True, body.note if body else "")
        return _case_view(session, case)


@router.post("/cases/{number}/reject")
def reject(request: Request, number: str, body: DecisionIn, who: Approver) -> dict[str, Any]:
    with _ctx(request).transaction() as session:
        case = cases.decide(session, number, who, False, body.note)
        return _case_view(session, case)


@router.post("/cases/{number}/release")
def release(request: Request, number: str, who: Custodian) -> dict[str, Any]:
    """Release an approved case: its certificate is printed in the seal's hall and its seal job is sent."""
    ctx = _ctx(request)
    with ctx.transaction() as session:
        case, seal = cases.check_release(session, number, who)
        cert = certificates.issue(ctx, session, case, seal.hall, seal.name, who)
        seal_jobs.create_job(ctx, session, case, cert, seal, who)
        cases.mark_released(session, case, who)
        return _case_view(session, case)


@router.get("/certificates/{cert_id}.pdf")
def certificate_pdf(request: Request, cert_id: RowId, t: str | None = None) -> Response:
    """The certificate's PDF: for the printer with the capability token of its print command, else for staff."""
    with _ctx(request).db.read() as session:
        cert = certificates.get(session, cert_id)
        if t is None or not hmac.compare_digest(t, cert.fetch_token):
            who = current_principal(request)
            if who.role not in ("admin", "custodian", "operator", "approver"):
                raise HTTPException(403, f"role {who.role} may not read certificates")
            if who.role != "approver":
                _same_hall(who, cert.hall_id)
        return Response(cert.pdf, media_type="application/pdf", headers={"X-Content-SHA256": cert.sha256})


@router.get("/halls/{hall}/blanks")
def hall_blanks(request: Request, hall: str, who: HallStaff) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        get_hall(session, hall)
        return certificates.blanks(session, hall)


# -- seal machines -----------------------------------------------------------------------------------


@router.put("/halls/{hall}/seal-machines/{device}/key", status_code=204)
def provision_key(request: Request, hall: str, device: str, body: KeyIn, who: Admin) -> Response:
    """Store a machine's key K in the database (admin only; used when no key file is configured)."""
    with _ctx(request).transaction() as session:
        get_hall(session, hall)
        seal_tokens.provision_key(session, hall, device, bytes.fromhex(body.key_hex))
        audit.record(session, hall=hall, actor=who.id, action="seal_key_provisioned", subject=f"device:{device}",
                     details={})  # fmt: skip
    return Response(status_code=204)


@router.get("/halls/{hall}/seal-jobs")
def hall_seal_jobs(request: Request, hall: str, who: HallStaff) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        get_hall(session, hall)
        return seal_jobs.jobs_of_hall(session, hall)


@router.post("/halls/{hall}/seal-machines/{device}/reconcile", status_code=202)
def reconcile(request: Request, hall: str, device: str, who: HallStaff) -> dict[str, Any]:
    """Read the machine's lifetime counters now; the result is reconciled when it arrives."""
    ctx = _ctx(request)
    with ctx.transaction() as session:
        row = session.get(Device, (hall, device))
        if row is None or row.kind not in seal_jobs.SEAL_KINDS:
            raise HTTPException(404, f"no seal machine {device!r} in hall {hall}")
        return {"cmd_id": commands.send_to_device(ctx, session, row, "get_counters", {}).cmd_id}


# -- alarms ------------------------------------------------------------------------------------------


@router.get("/halls/{hall}/alarms")
def hall_alarms(request: Request, hall: str, who: HallStaff, active: bool | None = None) -> list[dict[str, Any]]:
    with _ctx(request).db.read() as session:
        get_hall(session, hall)
        return alarms.list_alarms(session, hall, active)


@router.post("/halls/{hall}/alarms/{alarm_id}/clear")
def clear_alarm(request: Request, hall: str, alarm_id: RowId, who: Operator) -> dict[str, Any]:
    with _ctx(request).transaction() as session:
        return alarms.view(alarms.clear(session, alarm_id, who.id, hall))


# -- rectification -----------------------------------------------------------------------------------


@router.get("/halls/{hall}/rectifications")
def hall_rectifications(
    request: Request,
    hall: str,
    who: Operator,
    overdue: bool | None = None,
    state: Literal["open", "closed"] | None = None,
) -> list[dict[str, Any]]:
    ctx = _ctx(request)
    with ctx.db.read() as session:
        get_hall(session, hall)
        return rectification.list_items(ctx, session, hall, overdue, state)


@router.post("/rectifications/{item_id}/callback")
def rectification_callback(request: Request, item_id: RowId, body: CallbackIn, who: Operator) -> dict[str, Any]:
    ctx = _ctx(request)
    with ctx.transaction() as session:
        item = rectification.get(session, item_id)
        _same_hall(who, item.hall_id)
        rectification.callback(session, item, who.id, body.note, body.reached)
        return _item(ctx, item)


@router.post("/rectifications/{item_id}/close")
def rectification_close(request: Request, item_id: RowId, who: Operator, body: CloseIn | None = None) -> dict[str, Any]:
    ctx = _ctx(request)
    with ctx.transaction() as session:
        item = rectification.get(session, item_id)
        _same_hall(who, item.hall_id)
        rectification.close(session, item, who.id, body.note if body else "")
        return _item(ctx, item)


def _item(ctx: HallContext, item: Rectification) -> dict[str, Any]:
    return rectification.view(item, local_day(now_ms(), ctx.tz))


# -- ratings export ----------------------------------------------------------------------------------


@router.get(
    "/ratings/export",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}, "description": "ratings"}},
)
def ratings_export_endpoint(
    request: Request,
    who: Operator,
    hall: str | None = None,
    day_from: Annotated[date | None, Query(alias="from")] = None,
    day_to: Annotated[date | None, Query(alias="to")] = None,
    format: Literal["csv", "json"] = "json",
) -> Response:
    if who.role != "admin":
        if hall is None:
            hall = who.hall
        _same_hall(who, hall or "")
    ctx = _ctx(request)
    with ctx.db.read() as session:
        if hall is not None:
            get_hall(session, hall)
        items = ratings_export.rows(ctx, session, hall, day_from, day_to)
    if format == "csv":
        return Response(ratings_export.to_csv(items), media_type="text/csv; charset=utf-8")
    body = {"hall": hall, "from": day_from, "to": day_to, "count": len(items), "ratings": items}
    return Response(json.dumps(body, ensure_ascii=False, default=str), media_type="application/json")


# -- audit chain -------------------------------------------------------------------------------------


@router.get("/audit/verify")
def audit_verify(request: Request, who: Admin) -> dict[str, Any]:
    with _ctx(request).db.read() as session:
        return auditchain.verify(session).as_dict()

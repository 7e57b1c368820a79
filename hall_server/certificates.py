"""Certificates: the server renders the PDF, keeps it with its SHA-256, and prints it on a controlled blank.

The printer's driver fetches the PDF from `document_url` (this server, with a capability token in the
URL) and refuses it unless its SHA-256 matches the command's. Every blank handed to a print job is a
row in `blank_uses` — printed, spoiled or not used — because blanks are controlled stock (devices.md §7).
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
from typing import Any

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A3, A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server import audit, commands
from hall_server.auth import Principal
from hall_server.context import HallContext
from hall_server.db import bump_counter
from hall_server.errors import ConflictError, NotFoundError
from hall_server.integrity_settings import A3 as MEDIA_A3
from hall_server.integrity_settings import integrity, public_url
from hall_server.models import BlankStock, BlankUse, Case, Certificate, CommandRecord, Device, Hall, Matter
from hallbus.catalogue import CERT_PRINTER
from hallbus.models import now_ms

log = logging.getLogger(__name__)

FONT = "STSong-Light"  # a CID font every PDF reader has for Chinese text; nothing is embedded
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def render_pdf(*, case_number: str, matter: str, holder: str, hall_name: str, seal_name: str, media: str) -> bytes:
    """One page: title, case number, matter, holder, issuing hall, seal position and a QR of the case number."""
    size = A3 if media == MEDIA_A3 else A4
    width, height = size
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size, invariant=True)
    pdf.setTitle(f"证照 {case_number}")
    pdf.setFont(FONT, 28)
    pdf.drawCentredString(width / 2, height - 40 * mm, "证    照")
    pdf.setFont(FONT, 13)
    lines = [("办件编号", case_number), ("事    项", matter), ("持 证 人", holder or "—"), ("发证大厅", hall_name)]
    y = height - 70 * mm
    for label, value in lines:
        pdf.drawString(30 * mm, y, f"{label}：{value}")
        y -= 12 * mm
    pdf.setFont(FONT, 10)
    pdf.drawString(width - 95 * mm, 60 * mm, f"（{seal_name}）")
    pdf.circle(width - 60 * mm, 45 * mm, 20 * mm)  # where the seal machine stamps
    qr = QrCodeWidget(case_number)
    x0, y0, x1, y1 = qr.getBounds()
    side = 35 * mm
    drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, pdf, 30 * mm, 30 * mm)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _next_blank(ctx: HallContext, session: Session, hall: str, media: str) -> str:
    n = bump_counter(session, BlankStock, hall_id=hall, media=media)
    from hall_server.cases import hall_code

    prefix = integrity(ctx).blank_prefix.get(media, "BL")
    return f"{prefix}{hall_code(ctx, hall)}{n:06d}"


def printer_of(session: Session, hall: str) -> Device:
    printer = session.scalars(
        select(Device).where(Device.hall_id == hall, Device.kind == CERT_PRINTER).order_by(Device.id).limit(1)
    ).first()
    if printer is None:
        raise ConflictError(f"hall {hall} has no certificate printer")
    return printer


def issue(ctx: HallContext, session: Session, case: Case, hall: str, seal_name: str, who: Principal) -> Certificate:
    """Render, store and send the certificate of a released case to `hall`'s printer on a new blank."""
    printer = printer_of(session, hall)
    matter = session.get(Matter, case.matter_code)
    hall_row = session.get(Hall, hall)
    pdf = render_pdf(case_number=case.number, matter=matter.name if matter else case.matter_code, holder=case.holder,
                     hall_name=hall_row.name if hall_row else hall, seal_name=seal_name, media=case.media)  # fmt: skip
    cert = Certificate(case_id=case.id, hall_id=hall, sha256=hashlib.sha256(pdf).hexdigest(), pdf=pdf,
                       fetch_token=secrets.token_urlsafe(24), media=case.media, printer_id=printer.id,
                       status="pending", created_at=now_ms())  # fmt: skip
    session.add(cert)
    session.flush()
    cert.blank_serial = _next_blank(ctx, session, hall, case.media)
    args = {
        "document_url": f"{public_url(ctx)}/api/certificates/{cert.id}.pdf?t={cert.fetch_token}",
        "sha256": cert.sha256,
        "media": case.media,
        "blank_serial": cert.blank_serial,
        "credit_code": case.credit_code,
        "operator": who.id[:32],
        "copies": 1,
    }
    cert.cmd_id = commands.send_to_device(ctx, session, printer, "print_certificate", args).cmd_id
    session.add(BlankUse(serial=cert.blank_serial, hall_id=hall, media=case.media, certificate_id=cert.id,
                         case_number=case.number, printer_id=printer.id, tray=None, operator=who.id,
                         credit_code=case.credit_code, status="issued", at=now_ms()))  # fmt: skip
    audit.record(session, hall=hall, actor=who.id, action="certificate_print", subject=f"case:{case.number}",
                 details={"certificate": cert.id, "sha256": cert.sha256, "blank_serial": cert.blank_serial,
                          "media": case.media, "printer": printer.id, "cmd_id": cert.cmd_id})  # fmt: skip
    return cert


def on_print_result(session: Session, record: CommandRecord) -> None:
    """The printer's one result: the certificate is printed, or its blank is spoiled (or was never touched)."""
    cert = session.scalars(select(Certificate).where(Certificate.cmd_id == record.cmd_id)).one_or_none()
    if cert is None:
        return
    result = record.result or {}
    blank = session.scalars(select(BlankUse).where(BlankUse.serial == cert.blank_serial)).one_or_none()
    if record.status == "ok":
        cert.status, cert.printed_at, blank_status = "printed", now_ms(), "printed"
    elif record.status in ("rejected", "expired"):
        cert.status, blank_status = "failed", "not_used"
    else:  # error or timeout: the blank may have been consumed
        cert.status, blank_status = "failed", "spoiled"
    if blank is not None:
        blank.status = blank_status
        blank.result = {"status": record.status, "error": result.get("error"), "data": result.get("data")}
        data = result.get("data") or {}
        blank.tray = data.get("tray") if isinstance(data, dict) else None
    audit.record(session, hall=cert.hall_id, actor=f"device:{record.device_id}", action="certificate_printed"
                 if cert.status == "printed" else "certificate_print_failed", subject=f"certificate:{cert.id}",
                 details={"status": record.status, "blank_serial": cert.blank_serial, "blank": blank_status,
                          "error": result.get("error")})  # fmt: skip
    if cert.status != "printed":
        from hall_server.alarms import raise_alarm

        raise_alarm(session, "certificate_print_failed", cert.hall_id, record.device_id,
                    {"certificate": cert.id, "blank_serial": cert.blank_serial, "status": record.status})  # fmt: skip


def get(session: Session, cert_id: int) -> Certificate:
    cert = session.get(Certificate, cert_id)
    if cert is None:
        raise NotFoundError(f"no certificate {cert_id}")
    return cert


def view(cert: Certificate) -> dict[str, Any]:
    return {
        "id": cert.id,
        "sha256": cert.sha256,
        "media": cert.media,
        "printer": cert.printer_id,
        "blank_serial": cert.blank_serial,
        "cmd_id": cert.cmd_id,
        "status": cert.status,
        "created_at": cert.created_at,
        "printed_at": cert.printed_at,
        "url": f"/api/certificates/{cert.id}.pdf",
    }


def blanks(session: Session, hall: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(BlankUse).where(BlankUse.hall_id == hall).order_by(BlankUse.id))
    return [{"serial": b.serial, "media": b.media, "certificate": b.certificate_id, "case": b.case_number,
             "printer": b.printer_id, "tray": b.tray, "operator": b.operator, "status": b.status, "at": b.at}
            for b in rows]  # fmt: skip

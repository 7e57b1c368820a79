"""The city's topology: matters, halls, windows and devices, upserted idempotently from one document.

Request models live here with the code that applies them, so "what a topology is" is one file.
Upsert only: a window or device missing from a later document is kept, because tickets, visits and
ratings refer to it.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hall_server import audit
from hall_server.errors import InvalidError, NotFoundError
from hall_server.models import Device, Edge, Hall, Matter, Ticket, Window
from hallbus.models import now_ms

log = logging.getLogger(__name__)

IdStr = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")]
DeviceKind = Literal[
    "ticket_printer", "window_screen", "caller", "evaluator", "hall_screen", "cert_printer", "seal_machine", "stamper",
    "voice", "id_reader",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MatterIn(_In):
    code: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = Field(min_length=1, max_length=128)
    category: str = Field(min_length=1, max_length=64)
    prefix: str = Field(pattern=r"^[A-Z]{1,3}$")
    # 一章审批: who decides the matter and which seal goes on its certificate (default: seal catalogue)
    department: str | None = Field(default=None, pattern=r"^[a-z0-9_.-]{1,64}$")
    seal: str | None = Field(default=None, pattern=r"^[a-z0-9_-]{1,32}$")


class ClerkIn(_In):
    staff_id: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=32)


class WindowIn(_In):
    id: IdStr
    number: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)] = Field(
        min_length=1, max_length=16
    )
    name: str = Field(default="", max_length=128)
    categories: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1)
    clerk: ClerkIn | None = None


class DeviceIn(_In):
    id: IdStr
    kind: DeviceKind
    edge: IdStr
    window: IdStr | None = None


class HallIn(_In):
    id: IdStr
    name: str = Field(min_length=1, max_length=128)
    windows: list[WindowIn] = Field(default_factory=list)
    devices: list[DeviceIn] = Field(default_factory=list)
    # optional: where the hall is (nearby-hall recommendation) and who may log in at its windows;
    # a field left out keeps what an earlier document set
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    district: str | None = Field(default=None, min_length=1, max_length=64)
    staff: list[ClerkIn] | None = None

    @model_validator(mode="after")
    def _ids_unique(self) -> HallIn:
        for what, ids in (("window", [w.id for w in self.windows]), ("device", [d.id for d in self.devices])):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"hall {self.id}: duplicate {what} ids {dupes}")
        return self


class TopologyIn(_In):
    matters: list[MatterIn] = Field(default_factory=list)
    halls: list[HallIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> TopologyIn:
        for what, ids in (("matter", [m.code for m in self.matters]), ("hall", [h.id for h in self.halls])):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"duplicate {what} ids {dupes}")
        return self


def apply(session: Session, doc: TopologyIn, actor: str) -> dict[str, int]:
    """Upsert the whole document in the caller's transaction; InvalidError if it does not fit together."""
    for matter in doc.matters:
        _upsert_matter(session, matter)
    for hall in doc.halls:
        _upsert_hall(session, hall)
    counts = {
        "matters": len(doc.matters),
        "halls": len(doc.halls),
        "windows": sum(len(h.windows) for h in doc.halls),
        "devices": sum(len(h.devices) for h in doc.halls),
    }
    audit.record(session, hall=None, actor=actor, action="topology_put", subject="topology", details=counts)
    log.info("topology applied: %s", counts)
    return counts


def _upsert_matter(session: Session, m: MatterIn) -> None:
    row = session.get(Matter, m.code) or Matter(code=m.code)
    row.name, row.category, row.prefix = m.name, m.category, m.prefix
    given = m.model_fields_set
    if "department" in given:
        row.department = m.department
    if "seal" in given:
        row.seal_id = m.seal
    session.add(row)


def _upsert_hall(session: Session, h: HallIn) -> None:
    hall = session.get(Hall, h.id)
    if hall is None:
        hall = Hall(id=h.id, name=h.name, created_at=now_ms(), staff=[], round_seq=0, last_round_at=0)
        session.add(hall)
    hall.name = h.name
    given = h.model_fields_set
    if "lat" in given or "lon" in given:
        if (h.lat is None) != (h.lon is None):
            raise InvalidError(f"hall {h.id}: give both lat and lon, or neither")
        hall.lat, hall.lon = h.lat, h.lon
    if "district" in given:
        hall.district = h.district
    if "staff" in given:
        hall.staff = [c.model_dump() for c in h.staff or []]
    for w in h.windows:
        _upsert_window(session, h.id, w)
    session.flush()
    for d in h.devices:
        _upsert_device(session, h.id, d)


def _upsert_window(session: Session, hall_id: str, w: WindowIn) -> None:
    row = session.get(Window, (hall_id, w.id))
    if row is None:
        row = Window(hall_id=hall_id, id=w.id, state="offline", updated_at=now_ms())
        session.add(row)
    row.number, row.name, row.categories = w.number, w.name, list(w.categories)
    row.clerk_staff_id = w.clerk.staff_id if w.clerk else None
    row.clerk_name = w.clerk.name if w.clerk else None


def _upsert_device(session: Session, hall_id: str, d: DeviceIn) -> None:
    if d.window is not None and session.get(Window, (hall_id, d.window)) is None:
        raise InvalidError(f"device {d.id}: hall {hall_id} has no window {d.window!r}")
    row = session.get(Device, (hall_id, d.id))
    if row is None:
        row = Device(hall_id=hall_id, id=d.id, availability="unknown", state={}, updated_at=now_ms())
        session.add(row)
    row.kind, row.edge_id, row.window_id, row.in_topology = d.kind, d.edge, d.window, True


def list_halls(session: Session) -> list[dict[str, Any]]:
    waiting = dict(
        session.execute(
            select(Ticket.hall_id, func.count(Ticket.id)).where(Ticket.state == "waiting").group_by(Ticket.hall_id)
        ).all()
    )
    return [
        {"id": h.id, "name": h.name, "waiting": int(waiting.get(h.id, 0))}
        for h in session.scalars(select(Hall).order_by(Hall.id))
    ]


def get_hall(session: Session, hall_id: str) -> Hall:
    hall = session.get(Hall, hall_id)
    if hall is None:
        raise NotFoundError(f"no hall {hall_id!r}")
    return hall


def hall_devices(session: Session, hall_id: str) -> list[dict[str, Any]]:
    get_hall(session, hall_id)
    edges = {e.id: e for e in session.scalars(select(Edge).where(Edge.hall_id == hall_id))}
    rows = session.scalars(select(Device).where(Device.hall_id == hall_id).order_by(Device.id))
    return [device_view(d, edges.get(d.edge_id or "")) for d in rows]


def device_view(device: Device, edge: Edge | None) -> dict[str, Any]:
    edge_online = edge is not None and edge.state == "online"
    return {
        "id": device.id,
        "kind": device.kind,
        "edge": device.edge_id,
        "window": device.window_id,
        "edge_state": edge.state if edge else "unknown",
        "availability": device.availability,
        "reason": device.availability_reason,
        # bus.md §4.3: available only if the edge is online and the device says online
        "available": edge_online and device.availability == "online",
        "state": device.state,
        "in_topology": device.in_topology,
        "updated_at": device.updated_at,
    }

"""Export of ratings to the provincial 好差评 platform (devices.md §6; docs/ratings-export.md).

Internal levels stay 1..5 with 5 = 非常满意; the codes of the export are configuration: `satisfaction`
is the level itself (Zhejiang-style interface) or the GB/T 39046 code 6 - level, and the channel code
`pf` comes from the rating's source (keypad 5, tablet 4 by default). No free text, no ticket number and
nothing that identifies the rater leaves the server.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall_server.context import HallContext
from hall_server.integrity_settings import integrity
from hall_server.models import Rating
from hallbus.catalogue import RATING_LABELS

FIELDS = ["rating_id", "hall", "window", "clerk", "matter", "level", "label", "satisfaction", "pf", "reasons",
          "rated_at"]  # fmt: skip


def satisfaction_code(level: int, scheme: str) -> int:
    return 6 - level if scheme == "gbt39046" else level


def _bounds(ctx: HallContext, day_from: date | None, day_to: date | None) -> tuple[int | None, int | None]:
    start = int(datetime.combine(day_from, time(), ctx.tz).timestamp() * 1000) if day_from else None
    end = int(datetime.combine(day_to + timedelta(days=1), time(), ctx.tz).timestamp() * 1000) if day_to else None
    return start, end


def rows(ctx: HallContext, session: Session, hall: str | None, day_from: date | None,
         day_to: date | None) -> list[dict[str, Any]]:  # fmt: skip
    settings = integrity(ctx)
    stmt = select(Rating)
    if hall is not None:
        stmt = stmt.where(Rating.hall_id == hall)
    start, end = _bounds(ctx, day_from, day_to)
    if start is not None:
        stmt = stmt.where(Rating.received_at >= start)
    if end is not None:
        stmt = stmt.where(Rating.received_at < end)
    out = []
    for r in session.scalars(stmt.order_by(Rating.id)):
        out.append({
            "rating_id": r.rating_id,
            "hall": r.hall_id,
            "window": r.window_id,
            "clerk": r.clerk_staff_id or "",
            "matter": r.matter_code,
            "level": r.level,
            "label": RATING_LABELS.get(r.level, ""),
            "satisfaction": satisfaction_code(r.level, settings.export_satisfaction),
            "pf": settings.export_channel.get(r.source, 5),
            "reasons": ";".join(str(x) for x in r.reasons),
            "rated_at": datetime.fromtimestamp(r.received_at / 1000, ctx.tz).isoformat(timespec="seconds"),
        })  # fmt: skip
    return out


def to_csv(items: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(items)
    return buffer.getvalue()

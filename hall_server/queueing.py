"""Wait prediction (Erlang C for the pooled M/M/c queue of a skill group) and nearby-hall recommendation.

A hall's windows eligible for a category form its skill group: c servers sharing one pooled queue,
which is what random dispatch among idle eligible windows makes of them (performance.md). With the
observed arrival rate λ (tickets issued in a moving window) and service rate μ (the inverse of the
moving average of recent service times, call to finish), Erlang C gives P(wait), the mean wait and
wait percentiles. Erlang C is computed through the Erlang B recursion, which never forms a factorial
or a power and stays exact for hundreds of servers.

The prediction for a new ticket is the Erlang C mean wait, but never less than the time the group needs
to clear the tickets already waiting (n / (c μ)): the steady-state figure alone would promise a short
wait to someone joining a queue that is long right now. Without enough observations (fewer than
`min_samples` arrivals or services) or with λ ≥ c μ (no steady state) the fallback estimate is used:
queue length × mean service time / open windows.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hall_server.context import HallContext
from hall_server.errors import NotFoundError
from hall_server.models import Hall, Matter, Ticket, Window
from hallbus.models import now_ms

ALL_CATEGORIES = "all"  # the same rule as dispatch.eligible; repeated to keep this module free of dispatch
CLOSED_STATES = ("offline", "paused")
EARTH_RADIUS_KM = 6371.0088
MIN_ARRIVAL_SPAN_S = 60.0
RATES_KEY = "queueing_rates"


# --- M/M/c ------------------------------------------------------------------------------------------


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c with offered load `a` erlangs: B(k) = a B(k-1) / (k + a B(k-1))."""
    if c < 0 or a < 0:
        raise ValueError("c and a must not be negative")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load `a` = λ/μ; 1 when a ≥ c (unstable)."""
    if c <= 0 or a >= c:
        return 1.0
    if a == 0:
        return 0.0
    b = erlang_b(c, a)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def mean_wait(c: int, lam: float, mu: float) -> float:
    """Mean time in queue Wq = C(c, a) / (c μ − λ); infinite when λ ≥ c μ."""
    if lam <= 0:
        return 0.0
    if c <= 0 or lam >= c * mu:
        return math.inf
    return erlang_c(c, lam / mu) / (c * mu - lam)


def wait_tail(c: int, lam: float, mu: float, t: float) -> float:
    """P(W > t) = C(c, a) · exp(−(c μ − λ) t) for t ≥ 0."""
    if lam <= 0:
        return 0.0
    if c <= 0 or lam >= c * mu:
        return 1.0
    return erlang_c(c, lam / mu) * math.exp(-(c * mu - lam) * t)


def wait_percentile(c: int, lam: float, mu: float, p: float) -> float:
    """The p-quantile of the wait: 0 if P(wait) ≤ 1 − p, else ln(C / (1 − p)) / (c μ − λ)."""
    if not 0 < p < 1:
        raise ValueError("p must be in (0, 1)")
    if lam <= 0:
        return 0.0
    if c <= 0 or lam >= c * mu:
        return math.inf
    prob_wait = erlang_c(c, lam / mu)
    if prob_wait <= 1 - p:
        return 0.0
    return math.log(prob_wait / (1 - p)) / (c * mu - lam)


def state_wait(ahead: int, idle: int, c: int, mu: float) -> float:
    """The M/M/c wait of a ticket that finds `ahead` tickets before it and `idle` of `c` windows free.

    A free window takes the ticket at the next round when fewer tickets are ahead than windows are
    free; otherwise the ticket waits for `ahead - idle + 1` departures from c busy windows, each after
    an exponential time of mean 1/(c μ). Measured in the city twin, this conditional figure beats the
    steady-state Erlang C mean for a ticket's own wait: the mean averages over queues this ticket
    does not see.
    """
    departures = ahead - idle + 1
    return departures / (max(c, 1) * mu) if departures > 0 else 0.0


def fallback_wait(queue_length: int, mean_service_s: float, open_windows: int) -> float:
    """Queue length × mean service time / open windows (one window assumed if none is open)."""
    return queue_length * mean_service_s / max(open_windows, 1)


def windows_needed(lam: float, mu: float, target_s: float, p: float = 0.95, max_windows: int = 10_000) -> int:
    """The fewest windows c for which the p-quantile of the wait is at most `target_s` (0 if no arrivals)."""
    if lam <= 0:
        return 0
    c = max(1, math.floor(lam / mu) + 1)
    while c <= max_windows:
        if wait_percentile(c, lam, mu, p) <= target_s:
            return c
        c += 1
    raise ValueError(f"more than {max_windows} windows needed")


# --- a hall's skill groups, observed --------------------------------------------------------------


@dataclass(frozen=True)
class Forecast:
    category: str
    waiting: int  # tickets of this category waiting
    queue: int  # tickets competing for the same windows (any category they take), waiting
    open_windows: int
    windows: int  # eligible windows, open or not
    arrival_rate_per_h: float | None
    mean_service_s: float
    service_samples: int
    utilisation: float | None
    predicted_wait_s: float
    method: str  # "erlang_c" or "fallback"
    steady_wait_s: float | None = None  # the Erlang C mean wait of the group (its long-run average)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _eligible(categories: list[str], category: str) -> bool:
    return ALL_CATEGORIES in categories or category in categories


def hall_categories(session: Session, hall_id: str) -> list[str]:
    """The categories some window of the hall takes (every known category if a window takes "all")."""
    windows = session.scalars(select(Window.categories).where(Window.hall_id == hall_id)).all()
    known = set(session.scalars(select(Matter.category).distinct()).all())
    offered: set[str] = set()
    for cats in windows:
        offered |= known if ALL_CATEGORIES in cats else set(cats)
    return sorted(offered)


@dataclass(frozen=True)
class ObservedRates:
    """What a forecast reads from history: recent arrivals and service times of a skill group."""

    arriving: list[tuple[int, int]]  # (count, first issued_at) per competing category in the window
    arrival_categories: set[str]
    durations: list[float]


def _observed_rates(
    ctx: HallContext, session: Session, hall_id: str, category: str, group: list[Any], competing: set[str], at: int
) -> ObservedRates:
    """Arrivals in the moving window and the latest service times; reused for `rates_cache_s`.

    These are moving averages over an hour and fifty services, so a few seconds of reuse change nothing
    a citizen could see, while reading them for every ticket issued was the largest part of issuing at
    city scale (py-spy on the city twin). The queue itself is always read fresh.
    """
    s = ctx.settings
    cache: dict[tuple[str, str, frozenset[str]], tuple[int, ObservedRates]] = ctx.caches.setdefault(RATES_KEY, {})
    key = (hall_id, category, frozenset(competing))
    cached = cache.get(key)
    if cached is not None and at - cached[0] <= s.rates_cache_s * 1000:
        return cached[1]
    since = at - s.arrival_window_s * 1000
    arrivals = session.execute(
        select(Ticket.category, func.count(Ticket.id), func.min(Ticket.issued_at))
        .where(Ticket.hall_id == hall_id, Ticket.issued_at >= since)
        .group_by(Ticket.category)
    ).all()
    takes = {cat for cat, _, _ in arrivals if any(_eligible(w.categories, cat) for w in group)}
    arriving = [(n, first) for cat, n, first in arrivals if cat in takes]
    durations = [
        (finished - called) / 1000
        for called, finished in session.execute(
            select(Ticket.called_at, Ticket.finished_at)
            .where(
                Ticket.hall_id == hall_id,
                Ticket.state == "done",
                Ticket.category.in_(competing | takes or {category}),
                Ticket.called_at.is_not(None),
                Ticket.finished_at.is_not(None),
            )
            .order_by(Ticket.finished_at.desc())
            .limit(s.service_samples)
        ).all()
        if finished is not None and called is not None and finished >= called
    ]
    rates = ObservedRates(arriving, takes, durations)
    cache[key] = (at, rates)
    return rates


def forecast(
    ctx: HallContext, session: Session, hall_id: str, category: str, *, now: int | None = None, ahead_only: bool = False
) -> Forecast | None:
    """The skill group of `category` in the hall and its predicted wait; None if no window takes it.

    `ahead_only`: the prediction is for a ticket already in the queue (it does not wait for itself).
    """
    s = ctx.settings
    at = now if now is not None else now_ms()
    windows = session.execute(
        select(Window.categories, Window.state, Window.current_ticket_id).where(Window.hall_id == hall_id)
    ).all()
    group = [w for w in windows if _eligible(w.categories, category)]
    if not group:
        return None
    open_windows = sum(1 for w in group if w.state not in CLOSED_STATES)
    idle = sum(1 for w in group if w.state == "ready" and w.current_ticket_id is None)
    c = open_windows or len(group)
    waiting_by_cat = dict(
        session.execute(
            select(Ticket.category, func.count(Ticket.id))
            .where(Ticket.hall_id == hall_id, Ticket.state == "waiting")
            .group_by(Ticket.category)
        ).all()
    )
    competing = {cat for cat in waiting_by_cat if any(_eligible(w.categories, cat) for w in group)}
    rates = _observed_rates(ctx, session, hall_id, category, group, competing, at)
    arriving, durations = rates.arriving, rates.durations
    competing |= rates.arrival_categories
    mean_service = sum(durations) / len(durations) if len(durations) >= s.min_samples else s.default_service_s
    mean_service = max(mean_service, 1.0)
    mu = 1.0 / mean_service
    count = sum(n for n, _ in arriving)
    lam: float | None = None
    if count >= s.min_samples:
        first = min(f for _, f in arriving)
        span = max((at - first) / 1000, MIN_ARRIVAL_SPAN_S)
        lam = count / span
    queue = sum(int(waiting_by_cat.get(cat, 0)) for cat in competing | {category})
    ahead = max(queue - 1, 0) if ahead_only else queue
    utilisation = lam / (c * mu) if lam is not None else None
    steady = None
    if lam is not None and len(durations) >= s.min_samples and utilisation is not None and utilisation < 1:
        steady = mean_wait(c, lam, mu)
        predicted = state_wait(ahead, idle, c, mu) if ahead_only else max(steady, ahead / (c * mu))
        method = "erlang_c"
    else:
        predicted = fallback_wait(ahead, mean_service, c)
        method = "fallback"
    return Forecast(
        category=category,
        waiting=int(waiting_by_cat.get(category, 0)),
        queue=queue,
        open_windows=open_windows,
        windows=len(group),
        arrival_rate_per_h=round(lam * 3600, 3) if lam is not None else None,
        mean_service_s=round(mean_service, 1),
        service_samples=len(durations),
        utilisation=round(utilisation, 4) if utilisation is not None else None,
        predicted_wait_s=round(predicted, 1),
        method=method,
        steady_wait_s=round(steady, 1) if steady is not None else None,
    )


def hall_waits(ctx: HallContext, session: Session, hall_id: str) -> dict[str, Any]:
    """`GET /api/halls/{hall}/waits`: one forecast per category the hall takes."""
    if session.get(Hall, hall_id) is None:
        raise NotFoundError(f"no hall {hall_id!r}")
    at = now_ms()
    result: dict[str, Any] = {}
    for category in hall_categories(session, hall_id):
        f = forecast(ctx, session, hall_id, category, now=at)
        if f is not None:
            result[category] = f.as_dict()
    return {"hall": hall_id, "at": at, "categories": result}


# --- where else: nearby halls -----------------------------------------------------------------------


def distance_km(a: Hall, b: Hall) -> float | None:
    """Great-circle (haversine) distance; None unless both halls have coordinates."""
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return None
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _nearness(origin: Hall | None, hall: Hall) -> tuple[int, float, str]:
    """Sort key: known distance first (nearest first), then same district, then the rest."""
    if origin is None:
        return (2, 0.0, hall.id)
    d = distance_km(origin, hall)
    if d is not None:
        return (0, d, hall.id)
    same = origin.district is not None and origin.district == hall.district
    return (1 if same else 2, 0.0, hall.id)


def halls_for_matter(ctx: HallContext, session: Session, matter_code: str, near: str | None) -> list[dict[str, Any]]:
    """`GET /api/matters/{code}/halls?near=`: halls that take the matter, with predicted waits, nearest first."""
    matter = session.get(Matter, matter_code)
    if matter is None:
        raise NotFoundError(f"no matter {matter_code!r}")
    origin = session.get(Hall, near) if near is not None else None
    if near is not None and origin is None:
        raise NotFoundError(f"no hall {near!r}")
    at = now_ms()
    rows = []
    for hall in sorted(session.scalars(select(Hall)), key=lambda h: _nearness(origin, h)):
        f = forecast(ctx, session, hall.id, matter.category, now=at)
        if f is None:
            continue
        rows.append(
            {
                "hall": hall.id,
                "hall_name": hall.name,
                "district": hall.district,
                "distance_km": _round_km(distance_km(origin, hall)) if origin is not None else None,
                "predicted_wait_s": f.predicted_wait_s,
                "method": f.method,
                "waiting": f.queue,
                "open_windows": f.open_windows,
            }
        )
    return rows


def _round_km(d: float | None) -> float | None:
    return round(d, 2) if d is not None else None


def alternative(
    ctx: HallContext, session: Session, hall_id: str, category: str, own_wait_s: float, at: int
) -> dict[str, Any] | None:
    """A nearby hall taking `category` whose predicted wait saves enough time (absolute and relative)."""
    s = ctx.settings
    origin = session.get(Hall, hall_id)
    if origin is None or own_wait_s < s.alternative_min_saving_s:
        return None  # nothing to save: skip looking at other halls at all
    best: tuple[float, float, Hall] | None = None
    for d, hall in _nearby(session, origin, s.alternative_max_km, s.alternative_candidates):
        f = _cached_forecast(ctx, session, hall.id, category, at)
        if f is None:
            continue
        saves = own_wait_s - f.predicted_wait_s
        if saves < s.alternative_min_saving_s or f.predicted_wait_s > own_wait_s * (1 - s.alternative_min_saving_ratio):
            continue
        key = (f.predicted_wait_s, d if d is not None else math.inf, hall)
        if best is None or key[:2] < best[:2]:
            best = key
    if best is None:
        return None
    wait, d, hall = best
    return {
        "hall": hall.id,
        "hall_name": hall.name,
        "predicted_wait_s": wait,
        "distance_km": _round_km(d) if math.isfinite(d) else None,
    }


def _nearby(session: Session, origin: Hall, max_km: float, limit: int) -> list[tuple[float | None, Hall]]:
    """The nearest `limit` other halls within `max_km` (or, without coordinates, of the same district)."""
    found: list[tuple[float | None, Hall]] = []
    for hall in session.scalars(select(Hall).where(Hall.id != origin.id)):
        d = distance_km(origin, hall)
        if d is None:
            if origin.district is not None and origin.district == hall.district:
                found.append((None, hall))
        elif d <= max_km:
            found.append((d, hall))
    found.sort(key=lambda pair: math.inf if pair[0] is None else pair[0])
    return found[:limit]


_FORECASTS_LOCK = threading.Lock()


def _cached_forecast(ctx: HallContext, session: Session, hall_id: str, category: str, at: int) -> Forecast | None:
    """Another hall's forecast, reused for `alternative_cache_s`: a recommendation tolerates seconds of
    staleness, and computing every nearby hall's forecast on every ticket took most of a city's server
    time (profiled in the city twin)."""
    key = (hall_id, category)
    now = time.monotonic()
    with _FORECASTS_LOCK:
        cache: dict[tuple[str, str], tuple[float, Forecast | None]] = ctx.caches.setdefault("forecasts", {})
        hit = cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    f = forecast(ctx, session, hall_id, category, now=at)
    with _FORECASTS_LOCK:
        cache[key] = (now + ctx.settings.alternative_cache_s, f)
    return f


def forecast_for_ticket(ctx: HallContext, hall_id: str, matter_code: str, category: str) -> dict[str, Any]:
    """What the issue response adds: the ticket's predicted wait, its method, and maybe an alternative."""
    at = now_ms()
    with ctx.db.read() as session:
        f = forecast(ctx, session, hall_id, category, now=at, ahead_only=True)
        if f is None:
            return {"predicted_wait_s": None, "wait_method": None, "alternative": None}
        alt = alternative(ctx, session, hall_id, category, f.predicted_wait_s, at)
    return {"predicted_wait_s": f.predicted_wait_s, "wait_method": f.method, "alternative": alt}

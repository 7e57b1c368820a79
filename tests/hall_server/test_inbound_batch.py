"""The ingest's batch path: states in one statement, commands released early, bad messages skipped."""

from __future__ import annotations

from hall_server.context import HallContext
from hall_server.inbound import handle_batch
from hall_server.models import Device
from hallbus import Availability, StatePayload, encode, topics_for


def _state(ctx: HallContext, device: str) -> dict:
    with ctx.db.read() as session:
        row = session.get(Device, ("h1", device))
        assert row is not None
        return dict(row.state)


def test_a_batch_stores_every_device_state_and_the_latest_wins(make_ctx, sqlite_url, hall_topology):
    """GIVEN states for two devices, one of them twice, a state for an unknown device and a broken one
    WHEN they arrive in one batch THEN each known device holds its latest state and nothing else changed."""
    ctx = make_ctx(sqlite_url, hall_topology(windows=2))
    t = topics_for("h1")
    first, second = "w1-screen", "w2-screen"
    messages = [
        (t.dev_state(first), encode(StatePayload(edge="e1", online="yes", paper="ok"))),
        (t.dev_state(second), encode(StatePayload(edge="e1", online="yes"))),
        (t.dev_state("nobody"), encode(StatePayload(edge="e1", online="yes"))),
        (t.dev_state(first), b"{not json"),
        (t.dev_availability(second), encode(Availability(edge="e1", state="online"))),
        (t.dev_state(first), encode(StatePayload(edge="e1", online="yes", paper="low"))),
    ]
    assert handle_batch(ctx, messages) == 5  # the broken payload is dropped; the unknown device is a no-op
    assert _state(ctx, first) == {"online": "yes", "paper": "low"}
    assert _state(ctx, second) == {"online": "yes"}
    with ctx.db.read() as session:
        assert session.get(Device, ("h1", second)).availability == "online"  # type: ignore[union-attr]
        assert session.get(Device, ("h1", "nobody")) is None

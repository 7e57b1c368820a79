"""Drivers against their simulators over real pseudo-terminals, clean and fragmenting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from drivers.devices.base import Device, DeviceSpec
from drivers.registry import load_profile, open_device
from simulators.attach import Faults, PtyLink, Simulator, attach_pty


@pytest.fixture(params=["clean", "fragment"])
def faults(request: pytest.FixtureRequest) -> Faults:
    return Faults(fragment=request.param == "fragment")


Rig = Callable[..., tuple[Device, Any, PtyLink]]


@pytest.fixture
def rig(faults: Faults) -> Iterator[Rig]:
    """rig(kind, protocol, profile, make_sim, address=1) -> (opened driver, simulator, pty link)."""
    opened: list[tuple[Device, PtyLink]] = []

    def make(kind: str, protocol: str, profile_name: str, make_sim: Callable[[dict[str, Any]], Simulator],
             address: int = 1, **options: Any) -> tuple[Device, Any, PtyLink]:  # fmt: skip
        profile = load_profile(profile_name)
        sim = make_sim(profile)
        link = attach_pty(sim, faults, name=profile_name)
        spec = DeviceSpec(f"{kind}-1", kind, protocol, link.path, profile_name, address, options=options)
        device = open_device(spec, connect=True)
        opened.append((device, link))
        return device, sim, link

    yield make
    for device, link in opened:
        device.close()
        link.close()
        assert link.failures == [], link.failures

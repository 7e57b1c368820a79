"""One simulated hall: every device's simulator on its own pseudo-terminal, and the edge config for it.

The edge opens the pty paths with pyserial exactly as it would open real serial ports; the demo and the
tests act as citizens and clerks through the simulators' controls (press a key, rate) and read what
the devices printed and showed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path
from typing import Any

from drivers.registry import load_profile
from simulators.attach import Faults, Link, PtyLink, attach_pty
from simulators.city import DevicePlan, HallPlan
from simulators.control import ControlListener
from simulators.devices.bx5k_screen import Bx5kScreenSimulator
from simulators.devices.hdp1_caller import CallerSimulator
from simulators.devices.hdp1_evaluator import EvaluatorSimulator, NoRatingPending
from simulators.devices.hdp1_seal import SealMachineSimulator
from simulators.devices.ipp_printer import IppPrinterSimulator
from simulators.devices.printer import PrintedTicket, PrinterSimulator

log = logging.getLogger(__name__)

Simulator = PrinterSimulator | Bx5kScreenSimulator | CallerSimulator | EvaluatorSimulator | SealMachineSimulator
TCP_KINDS = ("cert_printer",)  # simulators that listen on loopback TCP instead of a pty


def build_simulator(device: DevicePlan) -> Simulator:
    """The simulator for one planned device, configured from the same profile as its driver."""
    profile = load_profile(device.profile)
    if device.kind == "ticket_printer":
        return PrinterSimulator(profile)
    if device.kind in ("window_screen", "hall_screen"):
        return Bx5kScreenSimulator(profile, address=device.address)
    if device.kind == "caller":
        return CallerSimulator(profile, address=device.address)
    if device.kind == "evaluator":
        return EvaluatorSimulator(profile, address=device.address)
    if device.kind == "seal_machine":
        sim = SealMachineSimulator(profile, address=device.address)
        sim.set_clock(int(time.time()))  # the edge does not send SET_TIME yet; a machine without a clock refuses
        return sim
    raise ValueError(f"no simulator for device kind {device.kind!r}")


class SimulatedHall:
    def __init__(self, plan: HallPlan, seed: int | None = None, random_states: bool = False) -> None:
        """Simulators start pinned at their normal state; with `random_states` each takes a state drawn
        (reproducibly from `seed`) within what its profile allows, as a hall found in the morning."""
        self.plan = plan
        self.rng = random.Random(seed)
        self.sims: dict[str, Simulator] = {}
        self.links: dict[str, PtyLink] = {}
        self._seen_requests: dict[str, int] = {}
        self._lock = threading.Lock()
        self.control: ControlListener | None = None
        self.ipp: dict[str, IppPrinterSimulator] = {}
        self.urls: dict[str, str] = {}
        self.random_states = random_states
        for device in plan.devices:
            if device.kind in TCP_KINDS:
                ipp = IppPrinterSimulator(load_profile(device.profile)).start()
                self.ipp[device.device_id] = ipp
                self.urls[device.device_id] = f"http://127.0.0.1:{ipp.port}/ipp/print"
                continue
            sim = build_simulator(device)
            if random_states:
                self._draw_state(sim)
            self.sims[device.device_id] = sim
            self.links[device.device_id] = attach_pty(sim, Faults(), name=f"{plan.hall_id}/{device.device_id}")
            self.urls[device.device_id] = self.links[device.device_id].path

    #: what a device may be found in, with weights: mostly fine, sometimes low on paper
    PRINTER_MORNING = (("ready", 80), ("near_end", 15), ("paper_out", 5))

    def _draw_state(self, sim: Simulator) -> None:
        if isinstance(sim, PrinterSimulator):
            states, weights = zip(*self.PRINTER_MORNING, strict=True)
            sim.set_state(self.rng.choices(states, weights)[0])

    # -- the edge's view ---------------------------------------------------------------------------
    def edge_config(self, mqtt_url: str, state_dir: Path) -> dict[str, Any]:
        """The edge configuration (edge/config.py) that points at these simulators' ttys."""
        return {
            "hall": self.plan.hall_id,
            "edge": self.plan.edge,
            "mqtt_url": mqtt_url,
            "state_dir": str(state_dir),
            "devices": [
                {
                    "device_id": d.device_id,
                    "kind": d.kind,
                    "protocol": d.protocol,
                    "url": self.urls[d.device_id],
                    "profile": d.profile,
                    "address": d.address,
                }
                for d in self.plan.devices
            ],
        }

    def listen_for_control(self, host: str, port: int, credentials: tuple[str, str] | None = None) -> ControlListener:
        """Take fault commands from `hall/v1/<hall>/sim/<device>/control` (bus.md §1)."""
        sims: dict[str, object] = dict(self.sims)
        links: dict[str, Link] = dict(self.links)
        self.control = ControlListener(self.plan.hall_id, sims, links, host, port, credentials).start()
        return self.control

    # -- devices by role ---------------------------------------------------------------------------
    @property
    def printer(self) -> PrinterSimulator:
        sim = self.sims["kiosk1-printer"]
        assert isinstance(sim, PrinterSimulator)
        return sim

    def screen(self, window: str) -> Bx5kScreenSimulator:
        sim = self.sims[f"{window}-screen"]
        assert isinstance(sim, Bx5kScreenSimulator)
        return sim

    def caller(self, window: str) -> CallerSimulator:
        sim = self.sims[f"{window}-caller"]
        assert isinstance(sim, CallerSimulator)
        return sim

    def evaluator(self, window: str) -> EvaluatorSimulator:
        sim = self.sims[f"{window}-eval"]
        assert isinstance(sim, EvaluatorSimulator)
        return sim

    @property
    def seal_machine(self) -> SealMachineSimulator:
        sim = self.sims["seal1"]
        assert isinstance(sim, SealMachineSimulator)
        return sim

    @property
    def cert_printer(self) -> IppPrinterSimulator:
        return self.ipp["certprinter1"]

    def link(self, device_id: str) -> PtyLink:
        return self.links[device_id]

    # -- what people do ----------------------------------------------------------------------------
    def press(self, window: str, key: str, arg: int = 0) -> int:
        """A clerk presses a key on the window's caller keypad."""
        return self.caller(window).press(key, arg)

    def wait_for_rating_request(self, window: str, timeout: float) -> int | None:
        """The rating id of a request the evaluator received since the last call, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = self.evaluator(window).pending_rating_id
            with self._lock:
                if pending is not None and pending != self._seen_requests.get(window):
                    self._seen_requests[window] = pending
                    return pending
            time.sleep(0.01)
        return None

    def rate(self, window: str, level: int) -> int | None:
        """A citizen presses a level on the evaluator; None if it was not asking any more."""
        try:
            return self.evaluator(window).rate(level)
        except NoRatingPending:
            return None

    # -- what devices showed -----------------------------------------------------------------------
    def screen_texts(self, window: str) -> list[str]:
        return list(self.screen(window).history)

    def printed(self) -> list[PrintedTicket]:
        return [job for job in list(self.printer.jobs) if not job.failed]

    def printed_count(self) -> int:
        return len(self.printed())

    def wait_for_printed(self, timeout: float) -> PrintedTicket:
        job = self.printer.wait_for_job(timeout)
        if job is None:
            raise TimeoutError(f"nothing printed within {timeout} s")
        return job

    def save_printed(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for n, job in enumerate(self.printer.jobs, start=1):
            suffix = "-FAILED" if job.failed else ""
            qr = "".join(f"\n[QR] {p}" for p in job.qr_payloads)
            (folder / f"{n:04d}{suffix}.txt").write_text(job.text + qr + "\n", encoding="utf-8")

    def close(self) -> None:
        if self.control is not None:
            self.control.stop()
        for link in self.links.values():
            link.close()
        for ipp in self.ipp.values():
            ipp.close()

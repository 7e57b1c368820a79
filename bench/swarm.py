"""A device swarm for `bench/devices.py`: many halls' edges speaking the bus contract, cheaply.

    .venv/bin/python bench/swarm.py spec.json      # run by bench/devices.py, not by hand

The swarm loads the hall server the way a city's devices do, without the CPU of thousands of serial
simulators (the city twin's hosts): one paho client multiplexes the edges of up to `HALLS_PER_CLIENT`
halls. Each edge says it is online, lists its devices and marks each one available (retained, as the
edge agent does), answers every command with an `ok` result on the device's result topic, and plays
the people around the devices: citizens take tickets over HTTP (Poisson, weighted by windows), clerks
press CALL on their keypad, serve for an exponential time after the screen shows a number, press
FINISH and CALL again, and citizens rate on the evaluator when asked. So per ticket the server sees
the same messages as from real edges: print, call (window screen, keypad, hall screens, voice),
rating request, rating and keys.

It prints one line `ready <devices>` when every client is connected and subscribed and the births are
out, and a JSON line of its counts when stdin closes.
"""

from __future__ import annotations

import heapq
import json
import logging
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hallbus import Availability, Command, EdgeStatus, Event, Inventory, Result, decode, encode, topics_for
from hallbus.connection import set_nodelay
from hallbus.models import DeviceInfo, new_id

log = logging.getLogger("swarm")

HALLS_PER_CLIENT = 25
ISSUERS = 4


@dataclass
class SwarmHall:
    hall_id: str
    edge: str
    devices: list[tuple[str, str, str | None]]  # (device id, kind, window)
    seq: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.caller_of = {w: d for d, kind, w in self.devices if kind == "caller" and w}
        self.windows: list[str] = sorted(self.caller_of)
        self.kinds = {d: kind for d, kind, _ in self.devices}
        self.window_of = {d: w for d, _, w in self.devices}

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq


class Timers:
    """One thread running callbacks at their times (clerks finishing, citizens rating)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cond = threading.Condition()
        self._n = 0
        self.stopped = False
        threading.Thread(target=self._run, name="swarm-timers", daemon=True).start()

    def after(self, seconds: float, fn: Callable[[], None]) -> None:
        with self._cond:
            self._n += 1
            heapq.heappush(self._heap, (time.monotonic() + seconds, self._n, fn))
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self.stopped = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self.stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self.stopped:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:
                log.exception("swarm timer failed")


class Swarm:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.rng = random.Random(spec.get("seed", 1))
        self.halls = {
            h["hall_id"]: SwarmHall(h["hall_id"], h["edge"], [tuple(d) for d in h["devices"]]) for h in spec["halls"]
        }
        self.stream = f"swarm-{new_id()[:8]}"
        self.timers = Timers()
        self.counts = {"commands": 0, "events": 0, "issued": 0, "issue_failed": 0, "calls": 0, "ratings": 0}
        self.counts_lock = threading.Lock()
        self.clients: list[mqtt.Client] = []
        self.client_of: dict[str, mqtt.Client] = {}
        self.stop = threading.Event()

    # -- bus ---------------------------------------------------------------------------------------
    def connect(self) -> None:
        ids = sorted(self.halls)
        groups = [ids[i : i + HALLS_PER_CLIENT] for i in range(0, len(ids), HALLS_PER_CLIENT)]
        subscribed = threading.Semaphore(0)
        for n, group in enumerate(groups):
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{self.stream}-{n}", clean_session=True)
            client.max_inflight_messages_set(1000)
            client.max_queued_messages_set(0)
            client.on_connect = lambda c, u, f, r, p, g=group: self._on_connect(c, g)
            client.on_subscribe = lambda *args: subscribed.release()
            client.on_message = self._on_message
            client.connect("127.0.0.1", self.spec["mqtt_port"], keepalive=30)
            client.loop_start()
            self.clients.append(client)
            for hall in group:
                self.client_of[hall] = client
        for _ in groups:
            if not subscribed.acquire(timeout=60):
                raise TimeoutError("swarm: a client did not subscribe within 60 s")
        for hall in self.halls.values():
            self._birth(hall)

    def _on_connect(self, client: mqtt.Client, group: list[str]) -> None:
        set_nodelay(client)
        client.subscribe([(f"hall/v1/{hall}/dev/+/cmd/#", 1) for hall in group])

    def _birth(self, hall: SwarmHall) -> None:
        t, client = topics_for(hall.hall_id), self.client_of[hall.hall_id]
        client.publish(t.edge_status(hall.edge), encode(EdgeStatus(edge=hall.edge, state="online", session=1)), 1, True)
        infos = [DeviceInfo(device=d, kind=kind, protocol="swarm") for d, kind, _ in hall.devices]
        client.publish(t.edge_inventory(hall.edge), encode(Inventory(edge=hall.edge, devices=infos)), 1, True)
        for device, _, _ in hall.devices:
            client.publish(t.dev_availability(device), encode(Availability(edge=hall.edge, state="online")), 1, True)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")  # hall/v1/<hall>/dev/<device>/cmd/<name>
        hall, device, name = self.halls[parts[2]], parts[4], parts[6]
        cmd = decode(Command, message.payload)
        result = Result(edge=hall.edge, stream=self.stream, seq=hall.next_seq(), cmd_id=cmd.cmd_id, status="ok")
        client.publish(topics_for(hall.hall_id).dev_result(device), encode(result), 1)
        self._count("commands")
        kind = hall.kinds.get(device)
        if kind == "caller" and name == "show_number":
            self._count("calls")
            window = hall.window_of[device]
            self.timers.after(self.rng.expovariate(1 / self.spec["service_mean_s"]), lambda: self._finish(hall, window))
        elif kind == "evaluator" and name == "request_rating":
            rating_id = int(cmd.args["rating_id"])
            self.timers.after(self.rng.uniform(0.5, 2.0), lambda: self._rate(hall, device, rating_id))

    def _event(self, hall: SwarmHall, device: str, type_: str, data: dict[str, Any]) -> None:
        event = Event(edge=hall.edge, stream=self.stream, seq=hall.next_seq(), event_id=new_id(), type=type_, data=data)
        self.client_of[hall.hall_id].publish(topics_for(hall.hall_id).dev_event(device), encode(event), 1)
        self._count("events")

    def press_call(self, hall: SwarmHall, window: str) -> None:
        self._event(hall, hall.caller_of[window], "key", {"key": "call_next"})

    def _finish(self, hall: SwarmHall, window: str) -> None:
        if self.stop.is_set():
            return
        self._event(hall, hall.caller_of[window], "key", {"key": "finish"})
        self.press_call(hall, window)

    def _rate(self, hall: SwarmHall, device: str, rating_id: int) -> None:
        self._event(hall, device, "rating", {"rating_id": rating_id, "level": self.rng.choice([5, 5, 5, 4, 3])})
        self._count("ratings")

    def _count(self, what: str) -> None:
        with self.counts_lock:
            self.counts[what] += 1

    # -- citizens ----------------------------------------------------------------------------------
    def issue_forever(self, rate: float, seed: int) -> None:
        rng = random.Random(seed)
        halls = list(self.halls.values())
        weights = [len(h.windows) for h in halls]
        headers = {"Authorization": f"Bearer {self.spec['token']}"}
        with httpx.Client(base_url=self.spec["server_url"], headers=headers, timeout=30) as http:
            due = time.monotonic()
            while not self.stop.is_set():
                due += rng.expovariate(rate)
                pause = due - time.monotonic()
                if pause > 0 and self.stop.wait(pause):
                    return
                hall = rng.choices(halls, weights)[0]
                try:
                    http.post(f"/api/halls/{hall.hall_id}/tickets", json={"matter": "P001"}).raise_for_status()
                    self._count("issued")
                except httpx.HTTPError as exc:
                    log.warning("hall=%s ticket refused: %s", hall.hall_id, exc)
                    self._count("issue_failed")

    def run(self) -> None:
        self.connect()
        devices = sum(len(h.devices) for h in self.halls.values())
        print(f"ready {devices}", flush=True)
        if sys.stdin.readline().strip() != "go":
            return
        for hall in self.halls.values():
            for window in hall.windows:
                self.press_call(hall, window)
        rate = self.spec["tickets_per_s"] / ISSUERS
        issuers = [threading.Thread(target=self.issue_forever, args=(rate, i), daemon=True) for i in range(ISSUERS)]
        for t in issuers:
            t.start()
        sys.stdin.readline()  # until the bench closes our stdin
        self.stop.set()
        self.timers.stop()
        for t in issuers:
            t.join(timeout=35)
        for client in self.clients:
            client.disconnect()
            client.loop_stop()
        print(json.dumps(self.counts), flush=True)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    Swarm(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))).run()


if __name__ == "__main__":
    main()

"""Topic builders and the parser for bus.md §1.

Every topic starts with ``hall/v1/<hall_id>/``. Builders validate ids so a published topic never holds
a wildcard, an empty level or a non-ASCII byte; the parser turns an incoming topic into a `Topic`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from hallbus.errors import TopicError

PREFIX = "hall/v1"
ID_PATTERN = re.compile(r"^[a-z0-9_-]{1,64}$")
COMMAND_PATTERN = re.compile(r"^[a-z0-9_]{1,64}$")


class TopicKind(StrEnum):
    SERVER_STATUS = "server/status"
    EDGE_STATUS = "edge/status"
    EDGE_INVENTORY = "edge/inventory"
    EDGE_CMD = "edge/cmd"
    EDGE_RESULT = "edge/result"
    DEV_AVAILABILITY = "dev/availability"
    DEV_STATE = "dev/state"
    DEV_EVENT = "dev/event"
    DEV_CMD = "dev/cmd"
    DEV_RESULT = "dev/result"
    SIM_CONTROL = "sim/control"


@dataclass(frozen=True)
class Topic:
    """A parsed topic: which hall, what kind, and the edge or device and command it names."""

    hall: str
    kind: TopicKind
    edge: str | None = None
    device: str | None = None
    command: str | None = None

    def __str__(self) -> str:
        return build(self.kind, self.hall, edge=self.edge, device=self.device, command=self.command)


def check_id(value: str, what: str = "id") -> str:
    """Return `value` if it is a valid hall, edge or device id, else raise TopicError."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise TopicError(f"invalid {what} {value!r}: must match [a-z0-9_-]{{1,64}}")
    return value


def check_command(value: str) -> str:
    if not isinstance(value, str) or not COMMAND_PATTERN.match(value):
        raise TopicError(f"invalid command name {value!r}: must match [a-z0-9_]{{1,64}}")
    return value


def build(
    kind: TopicKind,
    hall: str,
    *,
    edge: str | None = None,
    device: str | None = None,
    command: str | None = None,
) -> str:
    """Build the topic string of `kind`; raises TopicError for a missing or invalid part."""
    base = f"{PREFIX}/{check_id(hall, 'hall id')}"
    if kind is TopicKind.SERVER_STATUS:
        return f"{base}/server/status"
    if kind.value.startswith("edge/"):
        if edge is None:
            raise TopicError(f"{kind.value} needs an edge id")
        head = f"{base}/edge/{check_id(edge, 'edge id')}"
    else:
        if device is None:
            raise TopicError(f"{kind.value} needs a device id")
        area = "sim" if kind is TopicKind.SIM_CONTROL else "dev"
        head = f"{base}/{area}/{check_id(device, 'device id')}"
    leaf = kind.value.split("/", 1)[1]
    if leaf == "cmd":
        if command is None:
            raise TopicError(f"{kind.value} needs a command name")
        return f"{head}/cmd/{check_command(command)}"
    return f"{head}/{leaf}"


class topics_for:  # noqa: N801 - reads as a namespace: topics_for("h1").dev_cmd("p1", "print_ticket")
    """Topic builders bound to one hall."""

    def __init__(self, hall: str) -> None:
        self.hall = check_id(hall, "hall id")

    def server_status(self) -> str:
        return build(TopicKind.SERVER_STATUS, self.hall)

    def edge_status(self, edge: str) -> str:
        return build(TopicKind.EDGE_STATUS, self.hall, edge=edge)

    def edge_inventory(self, edge: str) -> str:
        return build(TopicKind.EDGE_INVENTORY, self.hall, edge=edge)

    def edge_cmd(self, edge: str, command: str) -> str:
        return build(TopicKind.EDGE_CMD, self.hall, edge=edge, command=command)

    def edge_cmd_filter(self, edge: str) -> str:
        return f"{PREFIX}/{self.hall}/edge/{check_id(edge, 'edge id')}/cmd/+"

    def edge_result(self, edge: str) -> str:
        return build(TopicKind.EDGE_RESULT, self.hall, edge=edge)

    def dev_availability(self, device: str) -> str:
        return build(TopicKind.DEV_AVAILABILITY, self.hall, device=device)

    def dev_state(self, device: str) -> str:
        return build(TopicKind.DEV_STATE, self.hall, device=device)

    def dev_event(self, device: str) -> str:
        return build(TopicKind.DEV_EVENT, self.hall, device=device)

    def dev_cmd(self, device: str, command: str) -> str:
        return build(TopicKind.DEV_CMD, self.hall, device=device, command=command)

    def dev_cmd_filter(self, device: str) -> str:
        return f"{PREFIX}/{self.hall}/dev/{check_id(device, 'device id')}/cmd/+"

    def dev_result(self, device: str) -> str:
        return build(TopicKind.DEV_RESULT, self.hall, device=device)

    def sim_control(self, device: str) -> str:
        return build(TopicKind.SIM_CONTROL, self.hall, device=device)

    def server_subscriptions(self) -> list[str]:
        """What the hall server subscribes to for this hall (bus.md §1)."""
        base = f"{PREFIX}/{self.hall}"
        return [
            f"{base}/edge/+/status",
            f"{base}/edge/+/inventory",
            f"{base}/edge/+/result",
            f"{base}/dev/+/availability",
            f"{base}/dev/+/state",
            f"{base}/dev/+/event",
            f"{base}/dev/+/result",
        ]


_LEAVES = {
    ("edge", "status"): TopicKind.EDGE_STATUS,
    ("edge", "inventory"): TopicKind.EDGE_INVENTORY,
    ("edge", "result"): TopicKind.EDGE_RESULT,
    ("dev", "availability"): TopicKind.DEV_AVAILABILITY,
    ("dev", "state"): TopicKind.DEV_STATE,
    ("dev", "event"): TopicKind.DEV_EVENT,
    ("dev", "result"): TopicKind.DEV_RESULT,
    ("sim", "control"): TopicKind.SIM_CONTROL,
}


def parse_topic(topic: str) -> Topic:
    """Parse an incoming topic; raises TopicError for anything bus.md §1 does not define."""
    parts = topic.split("/")
    if len(parts) < 4 or f"{parts[0]}/{parts[1]}" != PREFIX:
        raise TopicError(f"not a hall/v1 topic: {topic!r}")
    hall = check_id(parts[2], "hall id")
    rest = parts[3:]
    if rest == ["server", "status"]:
        return Topic(hall, TopicKind.SERVER_STATUS)
    if len(rest) == 3 and (rest[0], rest[2]) in _LEAVES:
        kind = _LEAVES[(rest[0], rest[2])]
        return _with_owner(hall, kind, rest[0], rest[1])
    if len(rest) == 4 and rest[0] in ("edge", "dev") and rest[2] == "cmd":
        kind = TopicKind.EDGE_CMD if rest[0] == "edge" else TopicKind.DEV_CMD
        parsed = _with_owner(hall, kind, rest[0], rest[1])
        return Topic(hall, kind, parsed.edge, parsed.device, check_command(rest[3]))
    raise TopicError(f"unknown topic layout: {topic!r}")


def _with_owner(hall: str, kind: TopicKind, area: str, owner: str) -> Topic:
    if area == "edge":
        return Topic(hall, kind, edge=check_id(owner, "edge id"))
    return Topic(hall, kind, device=check_id(owner, "device id"))

"""The hall bus contract (bus.md): topic names, payload models and the command catalogue.

Both the hall server and the edges import this package and nothing else of each other, so the
contract lives in exactly one place. It depends on pydantic only.
"""

from hallbus.errors import PayloadError, TopicError
from hallbus.models import (
    SCHEMA_VERSION,
    Availability,
    Command,
    DeviceInfo,
    EdgeStatus,
    ErrorInfo,
    Event,
    Inventory,
    Result,
    ServerStatus,
    StatePayload,
    decode,
    encode,
    now_ms,
)
from hallbus.topics import Topic, TopicKind, parse_topic, topics_for

__all__ = [
    "SCHEMA_VERSION",
    "Availability",
    "Command",
    "DeviceInfo",
    "EdgeStatus",
    "ErrorInfo",
    "Event",
    "Inventory",
    "PayloadError",
    "Result",
    "ServerStatus",
    "StatePayload",
    "Topic",
    "TopicError",
    "TopicKind",
    "decode",
    "encode",
    "now_ms",
    "parse_topic",
    "topics_for",
]

"""The one exception family of the bus contract."""

from __future__ import annotations

from typing import Any


class BusContractError(ValueError):
    """Something on the bus does not follow bus.md."""


def first_error(exc: Any, prefix: str, default_where: str) -> PayloadError:
    """A PayloadError naming the first field pydantic rejected: one log line, never a stack of them."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or default_where
    return PayloadError(f"{prefix}: {where}: {first['msg']}")


class TopicError(BusContractError):
    """A topic name or id that bus.md §1 does not allow."""


class PayloadError(BusContractError):
    """A payload that is not a valid v1 message; `reason` says why in a loggable line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

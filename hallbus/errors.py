"""The one exception family of the bus contract."""


class BusContractError(ValueError):
    """Something on the bus does not follow bus.md."""


class TopicError(BusContractError):
    """A topic name or id that bus.md §1 does not allow."""


class PayloadError(BusContractError):
    """A payload that is not a valid v1 message; `reason` says why in a loggable line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

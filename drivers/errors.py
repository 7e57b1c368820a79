"""The one exception family of `drivers/`.

Every error carries a bus error code (bus.md §5.2), whether it may be retried, and whether the device
may already have acted (`executed`), because a command that reached a printer must never be sent again
blindly.
"""

from __future__ import annotations


class DriverError(Exception):
    """A device operation failed; `code` is the bus `error.code`."""

    code = "device_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = False,
        executed: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.retryable = retryable
        self.executed = executed


class TransportError(DriverError):
    """The link failed: port missing, closed, or an OS error."""

    code = "device_offline"


class TransportTimeout(TransportError):  # noqa: N818 (established names)
    """A read or write did not complete within its timeout."""

    code = "timeout"


class CodecError(DriverError):
    """Bytes that are not a valid frame of the protocol (bad CRC, length, marker)."""

    code = "bad_frame"


class DeviceRejected(DriverError):  # noqa: N818 (established names)
    """The device answered and refused (NACK, a non-OK HDP/1 STATUS, paper out before printing)."""

    code = "device_rejected"


class BadArguments(DriverError):  # noqa: N818 (established names)
    """The command cannot be expressed for this device (text too long, not encodable)."""

    code = "bad_args"

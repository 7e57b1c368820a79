"""Kiosk ticket printer over ESC/POS (devices.md §2).

Status comes from DLE EOT 1–4, which the printer answers at once even while it prints. The job is
checked before (a refused job was not printed) and after (paper that ran out mid-ticket is a failed
job, executed=True, so nobody reprints it blindly as if it had never started).
"""

from __future__ import annotations

import logging
from typing import Any

from drivers.codecs.escpos_status import STATUS_REQUESTS, decode_status
from drivers.codecs.escpos_ticket import TicketContent, build_ticket
from drivers.devices.base import Device
from drivers.errors import BadArguments, CodecError, DeviceRejected, DriverError, TransportTimeout

log = logging.getLogger(__name__)

UNKNOWN = "unknown"


class EscposTicketPrinter(Device):
    """`kind="ticket_printer"`, `protocol="escpos"`; the one command is print_ticket.

    An optional logo (profile `logo_png`, or image bytes in the `logo` argument) prints as a GS v 0
    raster above the hall name.
    """

    kind = "ticket_printer"
    protocol = "escpos"

    @property
    def status_timeout_s(self) -> float:
        return float(self.profile.get("status_timeout_s", 0.5))

    def _read_status(self, n: int, timeout: float) -> int | None:
        """One DLE EOT n exchange; None when nothing came back in time."""
        self.transport.discard_input()
        self.transport.write(STATUS_REQUESTS[n])
        reply = self.transport.read(1, timeout)
        return reply[0] if reply else None

    def read_status(self, first_timeout: float | None = None) -> dict[str, Any]:
        """Ask all four statuses; raise TransportTimeout if the printer answered none of them.

        `first_timeout` lets the post-job check wait for the job bytes still in the line's buffer.
        """
        timeout = self.status_timeout_s
        replies = [self._read_status(1, first_timeout or timeout)]
        replies += [self._read_status(n, timeout) for n in (2, 3, 4)]
        if all(reply is None for reply in replies):
            raise TransportTimeout(f"{self.spec.device_id}: no reply to DLE EOT", retryable=True)
        state = decode_status(*replies, paper_not_taken_bit=bool(self.profile.get("paper_not_taken_bit")))
        log.debug("%s: status %s -> %s", self.spec.device_id, [r for r in replies], state)
        return state

    def probe(self) -> dict[str, Any]:
        return self.read_status()

    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name != "print_ticket":
            raise BadArguments(f"ticket printer has no command {name!r}", code="unknown_command")
        logo = args.get("logo")
        if logo is not None and not isinstance(logo, bytes | bytearray):
            raise BadArguments("print_ticket: logo must be image bytes")
        content = TicketContent.from_args(args)
        try:
            job = build_ticket(content, self.profile, bytes(logo) if logo is not None else None)
        except CodecError as exc:
            raise BadArguments(f"{self.spec.device_id}: {exc.message}") from None
        self._check_ready(self.read_status())
        self.transport.write(job)
        after = self._status_after_job(len(job))
        log.info("%s: printed %d bytes, paper %s", self.spec.device_id, len(job), after["paper"])
        return {"bytes": len(job), "paper": after["paper"]}

    def _check_ready(self, state: dict[str, Any]) -> None:
        """Refuse before a byte of the job is sent; unknown is never taken for ready."""
        device = self.spec.device_id
        if state["paper"] == "out":
            raise DeviceRejected(f"{device}: paper out", code="paper_out")
        if state["cover"] == "open":
            raise DeviceRejected(f"{device}: cover open", code="cover_open")
        if state["error"] is not None:
            raise DeviceRejected(f"{device}: printer error {state['error']}", code="device_error")
        if state["online"] is False:
            raise DeviceRejected(f"{device}: printer offline", code="device_offline")
        if UNKNOWN in (state["paper"], state["cover"], state["online"]):
            raise TransportTimeout(f"{device}: incomplete status {state}", retryable=True)

    def _status_after_job(self, job_len: int) -> dict[str, Any]:
        """Status once the job has left the line: the first reply waits for its transmission time."""
        baud = int(self.profile.get("baudrate", 9600))
        wait = self.status_timeout_s + job_len * 10 / baud
        try:
            state = self.read_status(first_timeout=wait)
        except TransportTimeout as exc:
            raise TransportTimeout(f"{self.spec.device_id}: no status after the job", executed=True) from exc
        if state["paper"] == "out":
            raise DriverError(f"{self.spec.device_id}: paper ran out during the job", code="paper_out",
                              executed=True)  # fmt: skip
        if state["error"] is not None or state["cover"] == "open" or state["online"] is not True:
            raise DriverError(f"{self.spec.device_id}: printer failed during the job: {state}",
                              code="device_error", executed=True)  # fmt: skip
        return state

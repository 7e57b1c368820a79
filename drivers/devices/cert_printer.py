"""Certificate printer over IPP (devices.md §7): pre-printed A3 originals and A4 duplicates.

PDFs stay off the bus: the command names a server URL or a local path plus its SHA-256, and the driver
fetches and verifies the document before a blank is touched. A job counts as printed only when the
printer reports it completed; aborted, canceled or still unfinished after the profile's timeout is a
failure with executed=True, because a blank may have been consumed (blanks are controlled stock).
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import logging
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from drivers.codecs import ipp
from drivers.devices.base import Device, DeviceSpec
from drivers.errors import BadArguments, DeviceRejected, DriverError, TransportError, TransportTimeout
from drivers.transports.base import Transport

log = logging.getLogger(__name__)

MEDIA = {"iso_a3_297x420mm": "original", "iso_a4_210x297mm": "duplicate"}
_REASON_SUFFIXES = ("-report", "-warning", "-error")
_NOT_PRINTING = {"paused", "moving-to-paused", "stopping", "shutdown"}


def base_reason(keyword: str) -> str:
    for suffix in _REASON_SUFFIXES:
        if keyword.endswith(suffix):
            return keyword[: -len(suffix)]
    return keyword


def map_printer_state(reply: ipp.Message, trays: dict[str, str]) -> dict[str, Any]:
    """Get-Printer-Attributes -> device state per the §7 table: trays, jam, door, toner, accepting."""
    reasons = {base_reason(str(r)) for r in reply.values(ipp.PRINTER, "printer-state-reasons")} - {"none"}
    ready = {_member(col, "media-source") for col in reply.values(ipp.PRINTER, "media-col-ready")}
    empty = bool(reasons & {"media-empty", "media-needed"})
    tray_state = {tray: "ok" if tray in ready else ("empty" if empty else "unknown") for tray in trays}
    state_code = int(reply.value(ipp.PRINTER, "printer-state", 0))
    accepting = bool(reply.value(ipp.PRINTER, "printer-is-accepting-jobs", False))
    toner = "empty" if "toner-empty" in reasons else ("low" if "toner-low" in reasons else "ok")
    return {
        "online": True,
        "printer_state": ipp.PRINTER_STATES.get(state_code, "unknown"),
        "accepting": accepting and state_code != 5 and not reasons & _NOT_PRINTING,
        "trays": tray_state,
        "jam": "media-jam" in reasons,
        "door": "open" if reasons & {"door-open", "cover-open"} else "closed",
        "toner": toner,
        "reasons": sorted(reasons),
    }


def _member(collection: Any, name: str) -> str | None:
    for member in collection or ():
        if isinstance(member, ipp.Attribute) and member.name == name and member.values:
            return str(member.values[0])
    return None


class IppCertificatePrinter(Device):
    """`kind="cert_printer"`, `protocol="ipp"`; command print_certificate. `spec.url` is the printer URI."""

    kind = "cert_printer"
    protocol = "ipp"

    def __init__(self, spec: DeviceSpec, transport: Transport, profile: dict[str, Any]) -> None:
        super().__init__(spec, transport, profile)
        parts = urlsplit(spec.url)
        if parts.scheme not in ("ipp", "http") or not parts.hostname:
            raise BadArguments(f"{spec.device_id}: printer URI must be ipp://host:port/path, not {spec.url!r}")
        self.host, self.port, self.path = parts.hostname, parts.port or 631, parts.path or "/ipp/print"
        self.printer_uri = f"ipp://{self.host}:{self.port}{self.path}"
        self._ids = itertools.count(1)

    @property
    def trays(self) -> dict[str, str]:
        return dict(self.profile.get("trays", {}))

    def open(self) -> None:
        """IPP is one HTTP request per operation: nothing to hold open."""

    def close(self) -> None:
        """Nothing is held open."""

    def request(self, body: bytes) -> ipp.Message:
        """POST one IPP message; every failure to get an answer is a TransportError."""
        timeout = float(self.profile.get("http_timeout_s", 10.0))
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("POST", self.path, body, {"Content-Type": "application/ipp"})
            reply = conn.getresponse()
            data = reply.read()
        except TimeoutError as exc:
            raise TransportTimeout(f"{self.spec.device_id}: IPP request timed out", retryable=True) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(f"{self.spec.device_id}: IPP request failed: {exc}", retryable=True) from exc
        finally:
            conn.close()
        if reply.status != 200:
            raise TransportError(f"{self.spec.device_id}: HTTP {reply.status} from the printer")
        return ipp.decode(data)

    def probe(self) -> dict[str, Any]:
        reply = self.request(ipp.get_printer_attributes(self.printer_uri, next(self._ids)))
        return map_printer_state(reply, self.trays)

    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name != "print_certificate":
            raise BadArguments(f"certificate printer has no command {name!r}", code="unknown_command")
        media, tray, copies = self._check_args(args)
        document = self.fetch_document(args)
        self._check_ready(self.probe(), tray)
        job_id = self._submit(document, media, tray, copies, str(args.get("blank_serial", "")))
        result = self._await_job(job_id)
        log.info("%s: certificate job %d blank %s credit code %s %s copies %d tray %s operator %s: %s",
                 self.spec.device_id, job_id, args.get("blank_serial"), args.get("credit_code", ""), MEDIA[media],
                 copies, tray, args.get("operator", ""), result)  # fmt: skip
        return {"job_id": job_id, "state": result, "media": media, "tray": tray, "copies": copies,
                "blank_serial": args.get("blank_serial"), "sha256": args.get("sha256")}  # fmt: skip

    def _check_args(self, args: dict[str, Any]) -> tuple[str, str, int]:
        media = str(args.get("media", ""))
        if media not in MEDIA:
            raise BadArguments(f"media must be one of {sorted(MEDIA)}")
        tray = str(args.get("tray") or next((t for t, m in self.trays.items() if m == media), ""))
        if tray not in self.trays:
            raise BadArguments(f"tray {tray!r} is not one of {sorted(self.trays)}")
        copies = int(args.get("copies", 1))
        if not 1 <= copies <= 10:
            raise BadArguments("copies must be 1..10")
        return media, tray, copies

    def fetch_document(self, args: dict[str, Any]) -> bytes:
        """The PDF from `document_url` (HTTP, with a timeout) or `document_path`, checked against sha256."""
        expected = str(args.get("sha256", "")).lower()
        limit = int(self.profile.get("max_document_bytes", 50 * 1024 * 1024))
        if len(expected) != 64:
            raise BadArguments("sha256 of the document is required")
        if args.get("document_url"):
            data = self._fetch_url(str(args["document_url"]), limit)
        elif args.get("document_path"):
            try:
                data = Path(str(args["document_path"])).read_bytes()
            except OSError as exc:
                raise BadArguments(f"cannot read the document: {exc}") from None
        else:
            raise BadArguments("document_url or document_path is required")
        if len(data) > limit or hashlib.sha256(data).hexdigest() != expected:
            raise BadArguments("document does not match its sha256 (or is too large)", code="bad_document")
        if not data.startswith(b"%PDF-"):
            raise BadArguments("document is not a PDF", code="bad_document")
        return data

    def _fetch_url(self, url: str, limit: int) -> bytes:
        if urlsplit(url).scheme not in ("http", "https"):
            raise BadArguments("document_url must be http(s)")
        try:
            with urllib.request.urlopen(url, timeout=float(self.profile.get("fetch_timeout_s", 15.0))) as reply:
                return bytes(reply.read(limit + 1))
        except (urllib.error.URLError, OSError) as exc:
            raise DriverError(f"{self.spec.device_id}: cannot fetch the document: {exc}", code="fetch_failed",
                              retryable=True) from exc  # fmt: skip

    def _check_ready(self, state: dict[str, Any], tray: str) -> None:
        """Refuse before a blank is touched."""
        device = self.spec.device_id
        if state["trays"].get(tray) == "empty":
            raise DeviceRejected(f"{device}: tray {tray} is empty", code="media_empty")
        if state["jam"]:
            raise DeviceRejected(f"{device}: paper jam", code="media_jam")
        if state["door"] == "open":
            raise DeviceRejected(f"{device}: door open", code="door_open")
        if not state["accepting"]:
            raise DeviceRejected(f"{device}: printer is not accepting jobs", code="device_offline")

    def _submit(self, document: bytes, media: str, tray: str, copies: int, blank_serial: str) -> int:
        body = ipp.print_job(self.printer_uri, next(self._ids), document, job_name=f"certificate {blank_serial}",
                             media=media, tray=tray, copies=copies,
                             use_media_col=bool(self.profile.get("media_col", True)))  # fmt: skip
        try:
            reply = self.request(body)
        except TransportTimeout as exc:
            exc.executed = True  # the printer may have the job
            raise
        if reply.code != ipp.SUCCESSFUL_OK:
            raise DeviceRejected(f"{self.spec.device_id}: Print-Job refused, status {reply.code:#06x}")
        return int(reply.value(ipp.JOB, "job-id", 0))

    def _await_job(self, job_id: int) -> str:
        """Poll Get-Job-Attributes until completed; aborted/canceled/timeout is a failure (executed)."""
        deadline = time.monotonic() + float(self.profile.get("job_timeout_s", 180.0))
        while True:
            reply = self.request(ipp.get_job_attributes(self.printer_uri, next(self._ids), job_id))
            state = ipp.JOB_STATES.get(int(reply.value(ipp.JOB, "job-state", 0)), "unknown")
            if state == "completed":
                return state
            if state in ("aborted", "canceled"):
                reasons = ",".join(map(str, reply.values(ipp.JOB, "job-state-reasons")))
                raise DriverError(f"{self.spec.device_id}: job {job_id} {state} ({reasons})", code=f"job_{state}",
                                  executed=True)  # fmt: skip
            if time.monotonic() > deadline:
                raise TransportTimeout(f"{self.spec.device_id}: job {job_id} still {state}", executed=True)
            time.sleep(float(self.profile.get("poll_interval_s", 1.0)))

"""A minimal IPP printer (devices.md §7 simulator) over HTTP on 127.0.0.1, stdlib only.

Answers Print-Job, Get-Printer-Attributes and Get-Job-Attributes with the codec the driver uses.
Stores every received PDF, runs each job to completion after `print_time_s`, reports the media loaded
in each tray (`media-col-ready`) and lets tests inject `media-empty` per tray, `media-jam` (the running
and next jobs are aborted) and `door-open` (jobs stop).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from drivers.codecs import ipp
from drivers.errors import CodecError

log = logging.getLogger(__name__)
A = ipp.Attribute


@dataclass
class SimJob:
    job_id: int
    document: bytes
    attributes: dict[str, ipp.Attribute]
    submitted: float
    state: int = 5  # processing
    reasons: list[str] = field(default_factory=lambda: ["job-printing"])


class IppPrinterSimulator:
    """Start with `start()`; `uri` is the printer URI for the driver; `close()` stops the server."""

    def __init__(self, profile: dict[str, Any], print_time_s: float = 0.2) -> None:
        self.profile = profile
        self.print_time_s = print_time_s
        self.trays: dict[str, str] = dict(profile.get("trays", {}))
        self.empty_trays: set[str] = set()
        self.jam = False
        self.door_open = False
        self.jobs: list[SimJob] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.uri = f"ipp://127.0.0.1:{self.port}/ipp/print"
        self._thread = threading.Thread(target=self._server.serve_forever, name="ipp-sim", daemon=True)

    # ---- controls -----------------------------------------------------------------------------

    def start(self) -> IppPrinterSimulator:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def set_tray_empty(self, tray: str, empty: bool = True) -> None:
        with self._lock:
            (self.empty_trays.add if empty else self.empty_trays.discard)(tray)

    def set_jam(self, jam: bool = True) -> None:
        with self._lock:
            self.jam = jam

    def set_door_open(self, is_open: bool = True) -> None:
        with self._lock:
            self.door_open = is_open

    # ---- state --------------------------------------------------------------------------------

    def reasons(self) -> list[str]:
        reasons = []
        if self.empty_trays:
            reasons.append("media-empty-error")
        if self.jam:
            reasons.append("media-jam-error")
        if self.door_open:
            reasons.append("door-open-error")
        return reasons or ["none"]

    def _advance(self) -> None:
        now = time.monotonic()
        for job in self.jobs:
            if job.state != 5:
                continue
            if self.jam:
                job.state, job.reasons = 8, ["aborted-by-system", "media-jam"]
            elif self.door_open:
                job.reasons = ["printer-stopped"]
            elif now - job.submitted >= self.print_time_s:
                job.state, job.reasons = 9, ["job-completed-successfully"]

    # ---- IPP ----------------------------------------------------------------------------------

    def handle(self, body: bytes) -> bytes:
        try:
            request = ipp.decode(body)
        except CodecError:
            return ipp.response(0x0400, 0)  # client-error-bad-request
        with self._lock:
            self._advance()
            if request.code == ipp.PRINT_JOB:
                return self._print_job(request)
            if request.code == ipp.GET_PRINTER_ATTRIBUTES:
                return self._printer_attributes(request)
            if request.code == ipp.GET_JOB_ATTRIBUTES:
                return self._job_attributes(request)
        return ipp.response(ipp.SERVER_ERROR_OPERATION_NOT_SUPPORTED, request.request_id)

    def _print_job(self, request: ipp.Message) -> bytes:
        if not request.data.startswith(b"%PDF-"):
            return ipp.response(0x040A, request.request_id)  # client-error-document-format-not-supported
        job = SimJob(len(self.jobs) + 1, request.data, request.group(ipp.JOB), time.monotonic())
        self.jobs.append(job)
        log.info("ipp sim: job %d, %d bytes", job.job_id, len(job.document))
        return ipp.response(ipp.SUCCESSFUL_OK, request.request_id, [(ipp.JOB, self._job_group(job))])

    def _job_group(self, job: SimJob) -> list[ipp.Attribute]:
        return [A("job-id", ipp.INTEGER, (job.job_id,)),
                A("job-uri", ipp.URI, (f"{self.uri}/{job.job_id}",)),
                A("job-state", ipp.ENUM, (job.state,)),
                A("job-state-reasons", ipp.KEYWORD, tuple(job.reasons))]  # fmt: skip

    def _job_attributes(self, request: ipp.Message) -> bytes:
        job_id = int(request.value(ipp.OPERATION, "job-id", 0))
        if not 1 <= job_id <= len(self.jobs):
            return ipp.response(ipp.CLIENT_ERROR_NOT_FOUND, request.request_id)
        return ipp.response(ipp.SUCCESSFUL_OK, request.request_id,
                            [(ipp.JOB, self._job_group(self.jobs[job_id - 1]))])  # fmt: skip

    def _printer_attributes(self, request: ipp.Message) -> bytes:
        busy = any(job.state == 5 for job in self.jobs)
        state = 5 if self.jam or self.door_open else (4 if busy else 3)
        ready = tuple(
            (A("media-size-name", ipp.KEYWORD, (media,)), A("media-source", ipp.KEYWORD, (tray,)))
            for tray, media in self.trays.items() if tray not in self.empty_trays
        )  # fmt: skip
        printer = [A("printer-state", ipp.ENUM, (state,)),
                   A("printer-state-reasons", ipp.KEYWORD, tuple(self.reasons())),
                   A("printer-is-accepting-jobs", ipp.BOOLEAN, (True,)),
                   A("media-source-supported", ipp.KEYWORD, tuple(self.trays))]  # fmt: skip
        if ready:
            printer.append(A("media-col-ready", ipp.BEGIN_COLLECTION, ready))
        return ipp.response(ipp.SUCCESSFUL_OK, request.request_id, [(ipp.PRINTER, printer)])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                reply = sim.handle(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/ipp")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("ipp sim: " + format, *args)

        return Handler

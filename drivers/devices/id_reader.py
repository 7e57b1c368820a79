"""Second-generation ID card reader over the SAM protocol (devices.md §4).

The card's text fields are personal data (bus.md §8 rule 2): they are returned to the caller and go
nowhere else. This module logs SW3 codes and byte counts only, never a field, and drops the photo
bytes as soon as the frame is checked, because the project never decodes or keeps the photo.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from drivers.codecs import sam
from drivers.devices.base import UNKNOWN, Device, DeviceSpec
from drivers.errors import BadArguments, CodecError, DeviceRejected, TransportTimeout
from drivers.transports.base import Transport

log = logging.getLogger(__name__)


class SamIdReader(Device):
    """`kind="id_reader"`, `protocol="sam"`; the one command is read_card."""

    kind = "id_reader"
    protocol = "sam"

    def __init__(self, spec: DeviceSpec, transport: Transport, profile: dict[str, Any]) -> None:
        super().__init__(spec, transport, profile)
        self._decoder = sam.SamStreamDecoder()

    @property
    def timeout_s(self) -> float:
        return float(self.profile.get("timeout_s", 0.5))

    def _read_timeout(self) -> float:
        """The 1295-byte read response needs its transmission time on top (1.35 s at 9600 bit/s)."""
        baud = int(self.profile.get("baudrate", 115200))
        return self.timeout_s + sam.READ_RESPONSE_LEN * 10 / baud

    def transact(self, op: tuple[int, int], timeout: float | None = None) -> sam.SamResponse:
        """Send one command and return the first well-formed response; TransportTimeout if none."""
        self.transport.discard_input()
        self._decoder.clear()
        self.transport.write(sam.command(op))
        wait = timeout if timeout is not None else self.timeout_s
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            for frame in self._decoder.feed(self.transport.read(4096, left)):
                try:
                    response = sam.SamResponse.decode(frame)
                except CodecError as exc:
                    log.debug("%s: ignoring frame: %s", self.spec.device_id, exc.message)
                    continue
                log.debug("%s: cmd %02x %02x -> %s, %d data bytes", self.spec.device_id, op[0], op[1],
                          response.sw3_name, len(response.data))  # fmt: skip
                return response
        raise TransportTimeout(f"{self.spec.device_id}: no SAM reply to {op[0]:02x} {op[1]:02x} in {wait:.2f} s",
                               retryable=True)  # fmt: skip

    def probe(self) -> dict[str, Any]:
        """SAM status, then a find to see whether a card lies on the reader."""
        status = self.transact(sam.SAM_STATUS)
        if status.sw3 != sam.Sw3.SUCCESS:
            return {"sam": status.sw3_name, "card": UNKNOWN}
        find = self.transact(sam.FIND)
        card = {int(sam.Sw3.CARD_FOUND): "present", int(sam.Sw3.FIND_FAILED): "absent"}.get(find.sw3, UNKNOWN)
        return {"sam": "ok", "card": card}

    def execute(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name != "read_card":
            raise BadArguments(f"id reader has no command {name!r}", code="unknown_command")
        if args:
            raise BadArguments("read_card takes no arguments")
        return self.read_card()

    def read_card(self) -> dict[str, Any]:
        """Find (9F), select (90), read (90, 1295 bytes): the decoded text fields, photo discarded."""
        device = self.spec.device_id
        find = self.transact(sam.FIND)
        if find.sw3 == sam.Sw3.FIND_FAILED:
            raise DeviceRejected(f"{device}: no card on the reader", code="no_card")
        self._expect(find, sam.Sw3.CARD_FOUND, "find")
        self._expect(self.transact(sam.SELECT), sam.Sw3.SUCCESS, "select")
        response = self.transact(sam.READ, self._read_timeout())
        self._expect(response, sam.Sw3.SUCCESS, "read")
        if len(response.encode()) != sam.READ_RESPONSE_LEN:
            raise CodecError(f"{device}: read response of {len(response.encode())} bytes, expected 1295")
        text, photo = sam.decode_read_data(response.data)
        del photo  # WLT-compressed portrait: never decoded, never kept (devices.md §4.6)
        identity = sam.Identity.decode(text)
        log.info("%s: card read", device)
        return _card_data(identity)

    def _expect(self, response: sam.SamResponse, sw3: int, step: str) -> None:
        if response.sw3 != sw3:
            code = "no_card" if response.sw3 in (sam.Sw3.FIND_FAILED, sam.Sw3.SELECT_FAILED) else "read_failed"
            raise DeviceRejected(f"{self.spec.device_id}: {step} answered {response.sw3_name}", code=code)


def _card_data(identity: sam.Identity) -> dict[str, Any]:
    """The result of read_card: the stored fields, gender as a word, and the check-digit verdict."""
    data: dict[str, Any] = identity.as_dict()
    data["gender"] = sam.GENDERS.get(identity.gender, UNKNOWN)
    data["id_number_valid"] = sam.is_valid_id_number(identity.id_number)
    return data

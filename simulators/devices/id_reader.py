"""SAM ID card reader simulator (devices.md §4.6): the device side of the SAM protocol.

Identities are synthetic, generated from a seed with a valid GB 11643 check digit, so tests can
print and compare them without touching anyone's real data. The removal rule of real readers is
enforced: after a read, find fails until the card is taken away and put back.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from drivers.codecs import sam

log = logging.getLogger(__name__)

#: Constant stand-in for the WLT photo block (never decoded by anyone).
DUMMY_PHOTO = bytes((0x57, 0x4C, 0x54, 0x00)) + bytes(i & 0xFF for i in range(sam.PHOTO_LEN - 4))

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
_AREAS = (("330106", "浙江省杭州市西湖区文三路", "杭州市公安局西湖分局"),
          ("110105", "北京市朝阳区建国路", "北京市公安局朝阳分局"),
          ("440305", "广东省深圳市南山区科技园路", "深圳市公安局南山分局"))  # fmt: skip


def synthetic_identity(seed: int) -> sam.Identity:
    """A deterministic fake citizen for `seed`, with a valid GB 11643 check digit."""
    rng = random.Random(seed)
    area, street, authority = rng.choice(_AREAS)
    year, month, day = rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28)
    birth = f"{year:04d}{month:02d}{day:02d}"
    gender = rng.choice("12")
    order = rng.randrange(0, 50) * 2 + (1 if gender == "1" else 0)  # 17th digit odd for men
    first17 = f"{area}{birth}{rng.randint(0, 9)}{order:02d}"
    issued = rng.randint(2015, 2024)
    return sam.Identity(
        name=rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2))),
        gender=gender,
        nation="01",
        birth=birth,
        address=f"{street}{rng.randint(1, 999)}号",
        id_number=first17 + sam.gb11643_check_digit(first17),
        authority=authority,
        valid_from=f"{issued}0101",
        valid_to=f"{issued + 20}0101" if year > 1975 else "长期",
    )


class SamReaderSimulator:
    """`receive(bytes) -> bytes`; control: insert_card, remove_card, set_sam_fault, fail_next_read."""

    def __init__(self, profile: dict[str, Any] | None = None, *, seed: int = 1, card: bool = True) -> None:
        self.profile = profile or {}
        self.identity: sam.Identity | None = synthetic_identity(seed) if card else None
        self.read_done = False  # the removal rule: a read card must leave the reader before the next find
        self.selected = False
        self.sam_sw3 = sam.Sw3.SUCCESS
        self.fail_read_sw3: int | None = None
        self.reads = 0
        self.commands: list[tuple[int, int]] = []
        self._decoder = sam.SamStreamDecoder()
        self._lock = threading.Lock()

    # ---- control ------------------------------------------------------------------------------

    def insert_card(self, identity: sam.Identity | None = None, *, seed: int = 1) -> sam.Identity:
        """Lay a card on the reader (a new synthetic one from `seed` unless `identity` is given)."""
        with self._lock:
            self.identity = identity or synthetic_identity(seed)
            self.read_done = False
            self.selected = False
            return self.identity

    def remove_card(self) -> None:
        with self._lock:
            self.identity = None
            self.read_done = False
            self.selected = False

    def set_sam_fault(self, sw3: int = sam.Sw3.SAM_SELFTEST_FAILED) -> None:
        """SAM status answers `sw3` (90 restores health)."""
        self.sam_sw3 = sam.Sw3(sw3)

    def fail_next_read(self, sw3: int = sam.Sw3.READ_FAILED) -> None:
        self.fail_read_sw3 = sw3

    # ---- wire ---------------------------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        with self._lock:
            return b"".join(self._answer(frame) for frame in self._decoder.feed(data))

    def _answer(self, frame: bytes) -> bytes:
        request = sam.SamCommand.decode(frame)
        self.commands.append(request.op)
        handler: Callable[[], sam.SamResponse] | None = {
            sam.FIND: self._find,
            sam.SELECT: self._select,
            sam.READ: self._read,
            sam.SAM_STATUS: lambda: sam.SamResponse(self.sam_sw3),
            sam.SAM_ID: lambda: sam.SamResponse(sam.Sw3.SUCCESS, b"\x00" * 16),
        }.get(request.op)
        response = handler() if handler else sam.SamResponse(sam.Sw3.COMMAND_ERROR)
        return response.encode()

    def _find(self) -> sam.SamResponse:
        if self.identity is None or self.read_done:
            return sam.SamResponse(sam.Sw3.FIND_FAILED)
        return sam.SamResponse(sam.Sw3.CARD_FOUND, b"\x00\x00\x00\x00")

    def _select(self) -> sam.SamResponse:
        if self.identity is None or self.read_done:
            return sam.SamResponse(sam.Sw3.SELECT_FAILED)
        self.selected = True
        return sam.SamResponse(sam.Sw3.SUCCESS, b"\x00" * 8)

    def _read(self) -> sam.SamResponse:
        if self.identity is None or not self.selected:
            return sam.SamResponse(sam.Sw3.READ_FAILED)
        if self.fail_read_sw3 is not None:
            sw3, self.fail_read_sw3 = self.fail_read_sw3, None
            return sam.SamResponse(sw3)
        self.selected = False
        self.read_done = True
        self.reads += 1
        log.info("sam sim: card read (%d so far)", self.reads)
        return sam.SamResponse(sam.Sw3.SUCCESS, sam.encode_read_data(self.identity.encode(), DUMMY_PHOTO))

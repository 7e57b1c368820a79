"""The city's 982 departmental approval seals as data (domain.md, 一章审批).

Which department owns each seal, and which hall's seal machine and slot holds it. An approver may act
only for their own department's seals; a seal job names one seal, so the machine and slot follow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Seal:
    id: str
    name: str
    department: str
    department_name: str
    hall: str
    machine: str
    slot: int
    rfid: str


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    hall: str


@cache
def _document() -> dict[str, list[dict[str, object]]]:
    text = resources.files("hall_server").joinpath("data/seals.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@cache
def seals() -> dict[str, Seal]:
    return {str(s["id"]): Seal(**s) for s in _document()["seals"]}  # type: ignore[arg-type]


@cache
def departments() -> dict[str, Department]:
    return {str(d["id"]): Department(**d) for d in _document()["departments"]}  # type: ignore[arg-type]


def seals_of_department(department: str) -> list[Seal]:
    return [s for s in seals().values() if s.department == department]

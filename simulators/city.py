"""The city the simulators build: hall names (domain.md), matters, and per-hall device layouts.

Two sources: `plan_halls` (the demo's service centres, each with a kiosk printer and, per window, a
window screen, a caller keypad and an evaluator) and `load_city` (the topology data file
`simulators/data/city.json` of all 195 halls: 16 service centres and 179 community centres, ~1,000
windows, ~7,000 devices, with coordinates, districts, branch-hall categories and a demand weight;
regenerate it with `python -m simulators.citygen`).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

CENTRES: list[tuple[str, str]] = [
    ("cc-city", "长春市政务服务中心"),
    ("cc-nanguan", "南关区政务服务中心"),
    ("cc-kuancheng", "宽城区政务服务中心"),
    ("cc-chaoyang", "朝阳区政务服务中心"),
    ("cc-erdao", "二道区政务服务中心"),
    ("cc-lvyuan", "绿园区政务服务中心"),
    ("cc-shuangyang", "双阳区政务服务中心"),
    ("cc-jiutai", "九台区政务服务中心"),
    ("cc-yushu", "榆树市政务服务中心"),
    ("cc-dehui", "德惠市政务服务中心"),
    ("cc-nongan", "农安县政务服务中心"),
    ("cc-jingkai", "经开区政务服务中心"),
    ("cc-gaoxin", "高新区政务服务中心"),
    ("cc-jingyue", "净月区政务服务中心"),
    ("cc-qikai", "汽开区政务服务中心"),
    ("cc-xinqu", "长春新区政务服务中心"),
]

MATTERS: list[dict[str, str]] = [
    {"code": "E001", "name": "企业设立登记", "category": "enterprise", "prefix": "A"},
    {"code": "E002", "name": "营业执照变更", "category": "enterprise", "prefix": "A"},
    {"code": "P001", "name": "社会保障卡申领", "category": "personal", "prefix": "B"},
    {"code": "P002", "name": "无房证明开具", "category": "personal", "prefix": "B"},
]

#: The city catalogue the twin uses: the demo's matters plus those of the branch halls (分厅) and community
#: matters. A window takes a category it lists; "all" (全科窗口) takes every category.
CITY_MATTERS: list[dict[str, str]] = [
    *MATTERS,
    {"code": "E003", "name": "食品经营许可", "category": "enterprise", "prefix": "A"},
    {"code": "P003", "name": "居住证办理", "category": "personal", "prefix": "B"},
    {"code": "P004", "name": "最低生活保障申请", "category": "personal", "prefix": "B"},
    {"code": "S001", "name": "社会保险关系转移", "category": "social_security", "prefix": "C"},
    {"code": "S002", "name": "灵活就业人员参保登记", "category": "social_security", "prefix": "C"},
    {"code": "M001", "name": "异地就医备案", "category": "medical_insurance", "prefix": "D"},
    {"code": "M002", "name": "门诊慢特病待遇认定", "category": "medical_insurance", "prefix": "D"},
    {"code": "V001", "name": "机动车驾驶证换证", "category": "vehicles", "prefix": "E"},
    {"code": "V002", "name": "机动车转移登记", "category": "vehicles", "prefix": "E"},
]

#: Device kinds the server's topology takes (hall_server/topology.py DeviceKind). Other kinds in the data
#: file (ID card readers, voice speakers) are driven by the edge and reach the server through its inventory.
SERVER_DEVICE_KINDS = frozenset(
    {"ticket_printer", "window_screen", "caller", "evaluator", "hall_screen", "seal_machine", "cert_printer"}
)

CLERK_NAMES = ["王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄强"]


@dataclass(frozen=True)
class DevicePlan:
    device_id: str
    kind: str
    protocol: str
    profile: str
    window: str | None = None
    address: int = 1


@dataclass
class HallPlan:
    hall_id: str
    name: str
    windows: int = 4
    edge: str = "edge1"
    devices: list[DevicePlan] = field(default_factory=list)
    #: window id -> categories; a window left out takes "all"
    categories: dict[str, list[str]] = field(default_factory=dict)
    kind: str = "centre"  # "centre" (政务服务中心) or "community" (公共服务中心)
    district: str | None = None
    lat: float | None = None
    lon: float | None = None
    #: relative demand (1.0: windows busy at the city's target utilisation)
    demand: float = 1.0
    #: add the certificate and seal desk: seal machine `seal1` (HDP/1) and certificate printer `certprinter1` (IPP)
    with_seal_desk: bool = False

    def __post_init__(self) -> None:
        if not self.devices:
            self.devices = standard_devices(self.windows, with_seal_desk=self.with_seal_desk)

    def window_ids(self) -> list[str]:
        return [f"w{n:02d}" for n in range(1, self.windows + 1)]


def standard_devices(windows: int, *, with_seal_desk: bool = False) -> list[DevicePlan]:
    """A kiosk printer, and per window a BX-5K strip, an HDP/1 caller and an HDP/1 evaluator; with the seal
    desk also the hall's seal machine and certificate printer."""
    devices = [DevicePlan("kiosk1-printer", "ticket_printer", "escpos", "kp628e-58")]
    for n in range(1, windows + 1):
        w = f"w{n:02d}"
        devices += [
            DevicePlan(f"{w}-screen", "window_screen", "onbon-bx5k", "bx5k1-64x16", window=w, address=1),
            DevicePlan(f"{w}-caller", "caller", "hdp1", "hdp1-caller", window=w, address=0x10),
            DevicePlan(f"{w}-eval", "evaluator", "hdp1", "hdp1-evaluator", window=w, address=0x30),
        ]
    if with_seal_desk:
        devices += [
            DevicePlan("seal1", "seal_machine", "hdp1", "hdp1-seal", address=0x41),
            DevicePlan("certprinter1", "cert_printer", "ipp", "ipp-a3a4-laser"),
        ]
    return devices


def plan_halls(count: int, windows: int = 4) -> list[HallPlan]:
    if not 1 <= count <= len(CENTRES):
        raise ValueError(f"the demo city has 1 to {len(CENTRES)} service centres, not {count}")
    return [HallPlan(hall_id, name, windows) for hall_id, name in CENTRES[:count]]


def load_city(limit: int | None = None) -> list[HallPlan]:
    """The halls of `simulators/data/city.json`: the 16 service centres first, then the community centres.

    `limit` takes the first halls of a mix that keeps both kinds: centres and community centres alternate
    until one kind runs out (so `load_city(4)` is two centres and two community centres).
    """
    doc = json.loads(resources.files("simulators").joinpath("data", "city.json").read_text(encoding="utf-8"))
    plans = [_plan_from_json(h) for h in doc["halls"]]
    if limit is None or limit >= len(plans):
        return plans
    centres = [p for p in plans if p.kind == "centre"]
    community = [p for p in plans if p.kind != "centre"]
    mixed: list[HallPlan] = []
    while len(mixed) < limit:
        for group in (centres, community):
            if group and len(mixed) < limit:
                mixed.append(group.pop(0))
    return mixed


def _plan_from_json(h: dict[str, Any]) -> HallPlan:
    devices = [
        DevicePlan(d["id"], d["kind"], d["protocol"], d["profile"], window=d.get("window"), address=d.get("address", 1))
        for d in h["devices"]
    ]
    categories = {w["id"]: list(w["categories"]) for w in h["windows"] if w["categories"] != ["all"]}
    return HallPlan(
        h["id"], h["name"], len(h["windows"]), devices=devices, categories=categories, kind=h["kind"],
        district=h.get("district"), lat=h.get("lat"), lon=h.get("lon"), demand=float(h.get("demand", 1.0)),
    )  # fmt: skip


def staff_id(hall_id: str, n: int) -> str:
    """`<hall>-sNN`; a hall id too long for the server's 32-character staff ids is replaced by its CRC-32."""
    sid = f"{hall_id}-s{n:02d}"
    return sid if len(sid) <= 32 else f"h{zlib.crc32(hall_id.encode()):08x}-s{n:02d}"


def topology(halls: list[HallPlan], *, location: bool = True) -> dict[str, Any]:
    """The body of the server's `PUT /api/topology`.

    Halls with branch-hall categories bring the city catalogue (`CITY_MATTERS`); a hall's `lat`, `lon` and
    `district` go in when known and `location` is true; only device kinds the server's topology takes are
    listed (the edge's inventory reports the others).
    """
    city = any(h.categories or h.kind != "centre" or h.lat is not None for h in halls)
    body_halls = []
    for hall in halls:
        body: dict[str, Any] = {
            "id": hall.hall_id,
            "name": hall.name,
            "windows": [
                {
                    "id": w,
                    "number": i + 1,
                    "name": f"{i + 1}号窗口",
                    "categories": hall.categories.get(w, ["all"]),
                    "clerk": {"staff_id": staff_id(hall.hall_id, i + 1), "name": CLERK_NAMES[i % 8]},
                }
                for i, w in enumerate(hall.window_ids())
            ],
            "devices": [
                {"id": d.device_id, "kind": d.kind, "edge": hall.edge, "window": d.window}
                for d in hall.devices
                if d.kind in SERVER_DEVICE_KINDS
            ],
        }
        if location and hall.lat is not None and hall.lon is not None:
            body.update(lat=hall.lat, lon=hall.lon)
        if location and hall.district:
            body["district"] = hall.district
        body_halls.append(body)
    return {"matters": CITY_MATTERS if city else MATTERS, "halls": body_halls}

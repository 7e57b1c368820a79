"""The city the simulators build: hall names (domain.md), matters, and per-hall device layouts.

Issue "dispatch" replaces this with the full topology data file of all 195 halls; the demo needs only
the service centres, each with a kiosk printer and, per window, a window screen, a caller keypad and
an evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def __post_init__(self) -> None:
        if not self.devices:
            self.devices = standard_devices(self.windows)

    def window_ids(self) -> list[str]:
        return [f"w{n:02d}" for n in range(1, self.windows + 1)]


def standard_devices(windows: int) -> list[DevicePlan]:
    """A kiosk printer, and per window a BX-5K strip, an HDP/1 caller and an HDP/1 evaluator."""
    devices = [DevicePlan("kiosk1-printer", "ticket_printer", "escpos", "kp628e-58")]
    for n in range(1, windows + 1):
        w = f"w{n:02d}"
        devices += [
            DevicePlan(f"{w}-screen", "window_screen", "onbon-bx5k", "bx5k1-64x16", window=w, address=1),
            DevicePlan(f"{w}-caller", "caller", "hdp1", "hdp1-caller", window=w, address=0x10),
            DevicePlan(f"{w}-eval", "evaluator", "hdp1", "hdp1-evaluator", window=w, address=0x30),
        ]
    return devices


def plan_halls(count: int, windows: int = 4) -> list[HallPlan]:
    if not 1 <= count <= len(CENTRES):
        raise ValueError(f"the demo city has 1 to {len(CENTRES)} service centres, not {count}")
    return [HallPlan(hall_id, name, windows) for hall_id, name in CENTRES[:count]]


def topology(halls: list[HallPlan]) -> dict[str, Any]:
    """The body of the server's `PUT /api/topology`."""
    return {
        "matters": MATTERS,
        "halls": [
            {
                "id": hall.hall_id,
                "name": hall.name,
                "windows": [
                    {
                        "id": w,
                        "number": i + 1,
                        "name": f"{i + 1}号窗口",
                        "categories": ["all"],
                        "clerk": {"staff_id": f"{hall.hall_id}-s{i + 1:02d}", "name": CLERK_NAMES[i % 8]},
                    }
                    for i, w in enumerate(hall.window_ids())
                ],
                "devices": [
                    {"id": d.device_id, "kind": d.kind, "edge": hall.edge, "window": d.window}
                    for d in hall.devices
                ],
            }
            for hall in halls
        ],
    }

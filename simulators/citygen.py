"""Generate `simulators/data/city.json`: the 195 halls of the simulated 长春 (run once; the file is committed).

    python -m simulators.citygen > simulators/data/city.json

Deterministic (fixed seed). The 16 service centres are those of domain.md; the 179 community centres are
街道/乡镇 公共服务中心 under the districts of 长春 (names plausible, not an official register). Coordinates
are approximate: the district's centre plus a small scatter. Every window carries the devices of a real
counter (LED strip, counter display, caller keypad, evaluator, ID card reader); every hall has kiosks
(ticket printer + ID card reader each), hall screens and voice speakers.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from pypinyin import lazy_pinyin, load_single_dict

load_single_dict({ord("长"): "cháng"})  # 长春, 长德, 长青: never zhǎng in these place names

# district id, name, lat, lon, urban (scatter ~3 km) or rural (scatter ~25 km), streets and towns
DISTRICTS: list[tuple[str, str, float, float, bool, str]] = [
    ("nanguan", "南关区", 43.865, 125.350, True, "永吉 新春 自强 民康 曙光 南岭 桃源 鸿城 明珠 富裕 全安 幸福乡"),
    (
        "kuancheng",
        "宽城区",
        43.930,
        125.330,
        True,
        "新发 站前 南广场 东广场 群英 兴业 凯旋 团山 欣园 柳影 兰家镇 奋进乡",
    ),
    ("chaoyang", "朝阳区", 43.835, 125.285, True, "前进 桂林 南湖 永昌 重庆 清和 红旗 湖西 富锋 乐山镇 永春镇"),
    ("erdao", "二道区", 43.870, 125.400, True, "东盛 吉林 荣光 东站 远达 八里堡 长青 鉴湖 英俊镇 三道镇"),
    ("lvyuan", "绿园区", 43.885, 125.255, True, "正阳 春城 青年 普阳 铁西 锦程 林园 同心 城西镇 西新镇 合心镇"),
    ("shuangyang", "双阳区", 43.525, 125.660, False, "云山 奢岭 平湖 山河 鹿乡镇 齐家镇 太平镇"),
    (
        "jiutai",
        "九台区",
        44.150,
        125.840,
        False,
        "九郊 营城 西营城 龙嘉 沐石河 土们岭 卡伦湖 城子街 东湖 其塔木镇 上河湾镇 胡家回族乡 "
        "莽卡满族乡 波泥河镇 兴隆镇",
    ),
    (
        "yushu",
        "榆树市",
        44.830,
        126.530,
        False,
        "华昌 正阳 培英 城郊 五棵树镇 弓棚镇 闵家镇 大岭镇 于家镇 新立镇 土桥镇 黑林镇 秀水镇 刘家镇 泗河镇 "
        "八号镇 环城乡 青山乡 延和朝鲜族乡 保寿镇 大坡镇 育民乡 先锋乡 太安乡 红星乡 恩育乡 城发乡 新庄镇 谢家乡",
    ),
    (
        "dehui",
        "德惠市",
        44.535,
        125.705,
        False,
        "胜利 建设 惠发 夏家店 米沙子镇 万宝镇 朱城子镇 布海镇 天台镇 菜园子镇 同太乡 边岗乡 五台乡 达家沟镇 "
        "大房身镇 岔路口镇 郭家镇 松花江镇 大青咀镇",
    ),
    (
        "nongan",
        "农安县",
        44.430,
        125.185,
        False,
        "宝塔 兴农 黄龙 永安 合隆镇 烧锅镇 高家店镇 华家镇 巴吉垒镇 哈拉海镇 万顺乡 青山口乡 杨树林乡 三盛玉镇 "
        "开安镇 伏龙泉镇 三岗镇 黄鱼圈乡 新农乡 靠山镇 前岗乡 龙王乡 小城子乡 三宝乡 柴岗镇 鲍家镇",
    ),
    ("jingkai", "经开区", 43.860, 125.430, True, "临河 东方广场 世纪 兴隆山镇 东环城 自由大路"),
    ("gaoxin", "高新区", 43.825, 125.225, True, "硅谷 超达 光谷 双德乡 越达 飞跃"),
    ("jingyue", "净月区", 43.785, 125.455, True, "净月 永兴 德正 新湖镇 玉潭镇 新立城镇 彩织 福祉"),
    ("qikai", "汽开区", 43.845, 125.180, True, "东风 新城 长沈 锦程 富锋 兴隆"),
    ("xinqu", "长春新区", 43.985, 125.555, False, "长德 空港 北湖 奋进 龙嘉 双德 英俊 兰家"),
]
COMMUNITY_COUNT = 179

# Branch-hall (分厅) windows inside the service centres: (category, how many) by centre
BRANCHES: dict[str, list[tuple[str, int]]] = {
    "cc-city": [("social_security", 4), ("medical_insurance", 3), ("vehicles", 4)],
    "cc-nanguan": [("social_security", 2), ("medical_insurance", 1)],
    "cc-kuancheng": [("social_security", 2), ("vehicles", 2)],
    "cc-chaoyang": [("social_security", 2), ("medical_insurance", 2)],
    "cc-erdao": [("social_security", 2), ("medical_insurance", 1)],
    "cc-lvyuan": [("social_security", 2), ("vehicles", 2)],
    "cc-jiutai": [("social_security", 1), ("vehicles", 1)],
    "cc-yushu": [("social_security", 1), ("medical_insurance", 1), ("vehicles", 1)],
    "cc-dehui": [("social_security", 1), ("medical_insurance", 1), ("vehicles", 1)],
    "cc-nongan": [("social_security", 1), ("medical_insurance", 1), ("vehicles", 1)],
    "cc-gaoxin": [("social_security", 1)],
    "cc-xinqu": [("social_security", 1), ("vehicles", 1)],
}
CENTRE_WINDOWS = {"cc-city": 36, "cc-nanguan": 18, "cc-chaoyang": 18, "cc-kuancheng": 16, "cc-erdao": 16,
                  "cc-lvyuan": 16, "cc-gaoxin": 16, "cc-jingkai": 14, "cc-jingyue": 14, "cc-qikai": 14,
                  "cc-xinqu": 14, "cc-shuangyang": 12, "cc-jiutai": 14, "cc-yushu": 14, "cc-dehui": 14,
                  "cc-nongan": 14}  # fmt: skip
CENTRE_PLACE = {"cc-city": ("city", "长春市", 43.897, 125.325)}
for _id, _name, _lat, _lon, _urban, _streets in DISTRICTS:
    CENTRE_PLACE[f"cc-{_id}"] = (_id, _name, _lat, _lon)

CENTRE_NAMES = dict([("cc-city", "长春市政务服务中心")] + [(f"cc-{d[0]}", f"{d[1]}政务服务中心") for d in DISTRICTS])


def window_devices(w: str) -> list[dict[str, Any]]:
    return [
        {"id": f"{w}-screen", "kind": "window_screen", "protocol": "onbon-bx5k", "profile": "bx5k1-64x16",
         "window": w, "address": 1},
        {"id": f"{w}-counter", "kind": "window_screen", "protocol": "onbon-bx5k", "profile": "bx5k1-64x16",
         "window": w, "address": 2},
        {"id": f"{w}-caller", "kind": "caller", "protocol": "hdp1", "profile": "hdp1-caller", "window": w,
         "address": 0x10},
        {"id": f"{w}-eval", "kind": "evaluator", "protocol": "hdp1", "profile": "hdp1-evaluator", "window": w,
         "address": 0x30},
        {"id": f"{w}-idcard", "kind": "id_reader", "protocol": "sam", "profile": "sam-id-reader", "window": w},
    ]  # fmt: skip


def hall_devices(kiosks: int, screens: int, voices: int) -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = []
    for k in range(1, kiosks + 1):
        devices += [
            {"id": f"kiosk{k}-printer", "kind": "ticket_printer", "protocol": "escpos", "profile": "kp628e-58"},
            {"id": f"kiosk{k}-idcard", "kind": "id_reader", "protocol": "sam", "profile": "sam-id-reader"},
        ]
    devices += [
        {
            "id": f"hall-screen{s}",
            "kind": "hall_screen",
            "protocol": "onbon-bx5k",
            "profile": "bx5k1-64x16",
            "address": 1,
        }
        for s in range(1, screens + 1)
    ]
    devices += [{"id": f"hall-voice{v}", "kind": "voice", "protocol": "syn6288", "profile": "syn6288"}
                for v in range(1, voices + 1)]  # fmt: skip
    return devices


def windows_of(count: int, branches: list[tuple[str, int]]) -> list[dict[str, Any]]:
    cats: list[list[str]] = []
    for category, n in branches:
        cats += [[category]] * n
    cats = [["all"]] * (count - len(cats)) + cats
    return [{"id": f"w{i + 1:02d}", "categories": c} for i, c in enumerate(cats)]


def hall(
    hall_id: str, name: str, kind: str, district: str, lat: float, lon: float, windows: int,
    branches: list[tuple[str, int]], kiosks: int, screens: int, voices: int, demand: float,
) -> dict[str, Any]:  # fmt: skip
    ws = windows_of(windows, branches)
    devices = hall_devices(kiosks, screens, voices)
    for w in ws:
        devices += window_devices(w["id"])
    return {"id": hall_id, "name": name, "kind": kind, "district": district, "lat": round(lat, 5),
            "lon": round(lon, 5), "demand": round(demand, 2), "windows": ws, "devices": devices}  # fmt: skip


def slug(text: str) -> str:
    for suffix in ("街道", "镇", "乡"):
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            text = text[: -len(suffix)]
            break
    return "".join(lazy_pinyin(text)).replace("ü", "v").lower()


def build(seed: int = 2018) -> dict[str, Any]:
    rng = random.Random(seed)
    halls = []
    for cid, windows in CENTRE_WINDOWS.items():
        _, dname, lat, lon = CENTRE_PLACE[cid]
        kiosks = max(4, windows // 3)
        halls.append(hall(cid, CENTRE_NAMES[cid], "centre", dname, lat + rng.uniform(-0.004, 0.004),
                          lon + rng.uniform(-0.004, 0.004), windows, BRANCHES.get(cid, []), kiosks,
                          2 + windows // 10, 2, round(rng.uniform(0.8, 1.1), 2)))  # fmt: skip
    streets = [(d, s) for d in DISTRICTS for s in d[5].split()]
    if len(streets) < COMMUNITY_COUNT:
        raise SystemExit(f"only {len(streets)} streets for {COMMUNITY_COUNT} community centres")
    streets = streets[:COMMUNITY_COUNT]
    seen: set[str] = set()
    for (did, dname, lat, lon, urban, _), street in streets:
        town = street if street.endswith(("镇", "乡")) else f"{street}街道"
        hid = f"cm-{did}-{slug(town)}"
        if hid in seen:
            raise SystemExit(f"duplicate hall id {hid}")
        seen.add(hid)
        scatter = 0.03 if urban and not town.endswith(("镇", "乡")) else 0.22
        windows = rng.choice([4, 4, 4, 5, 5, 6]) if urban else rng.choice([3, 4, 4, 4, 5])
        halls.append(hall(hid, f"{dname}{town}公共服务中心", "community", dname,
                          lat + rng.uniform(-scatter, scatter), lon + rng.uniform(-scatter, scatter) * 1.4,
                          windows, [], 2 if windows < 5 else 3, 2, 2, round(rng.uniform(0.6, 1.2), 2)))  # fmt: skip
    return {"version": 1, "city": "长春市", "halls": halls}


def main() -> None:
    json.dump(build(), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

"""The demo company's customers: who they are and which lifecycle each one follows.

Every customer gets a hidden *profile* (high-value regular, one-time buyer, dormant mid-value …)
that drives the simulation in :mod:`planlib.data.demo.sales`; the profile is never written to the
files, planners have to find the groups with RFM like they would in a real export.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planlib.data.demo.clock import day

# Share of customers per lifecycle profile. ``dormant_q2`` is the story's target group of the
# 2024Q2 reactivation plan (about 400 of 5,000); ``dormant_q3`` goes quiet later and becomes
# the target of the 2024Q3 retention plan.
PROFILES: dict[str, float] = {
    "vip": 0.07,         # high-value, buys every few weeks
    "regular": 0.22,     # buys every one to three months; some churn
    "occasional": 0.205, # a few purchases a year; many churn
    "one_timer": 0.22,   # bought once, never again
    "never": 0.03,       # registered, never bought
    "dormant_q2": 0.055, # mid-value, silent since summer 2023
    "dormant_q3": 0.04,  # mid-value, silent since late 2023
    "new": 0.16,         # joined in 2024
}

# Join dates per profile (inclusive ISO ranges); IDs are then issued in join order.
_JOIN = {
    "vip": ("2019-01-01", "2022-06-30"),
    "regular": ("2020-01-01", "2023-06-30"),
    "occasional": ("2020-01-01", "2024-02-29"),
    "one_timer": ("2022-07-01", "2024-09-10"),
    "never": ("2022-07-01", "2024-09-30"),
    "dormant_q2": ("2021-01-01", "2023-01-31"),
    "dormant_q3": ("2021-01-01", "2023-05-31"),
    "new": ("2024-01-01", "2024-09-25"),
}

# Single-character surnames in rough order of frequency (weights fall off with rank).
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤"
)
_COMPOUND = ("欧阳", "司马", "上官", "诸葛", "东方", "慕容")
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩凯婷雪琳晶欣怡佳"
    "子涵梓轩思雨博俊嘉诚志海燕晓东金凤春梅立新丹琪瑶颖慧倩宁波飞鑫龙阳林峰亮成晨毅睿哲彤然悦诗梦露"
)
# Mobile prefixes of the three carriers; 13x/15x/18x dominate real customer lists.
_PREFIXES = (
    [130, 131, 132, 133, 134, 135, 136, 137, 138, 139] * 3
    + [150, 151, 152, 153, 155, 156, 157, 158, 159] * 2
    + [180, 181, 182, 183, 184, 185, 186, 187, 188, 189] * 2
    + [145, 147, 166, 170, 173, 175, 176, 177, 178, 191, 193, 195, 196, 197, 198, 199]
)
_REGIONS = {
    "广东": 13, "江苏": 9, "浙江": 9, "上海": 7, "北京": 7, "山东": 7, "四川": 6, "湖北": 5,
    "河南": 5, "福建": 5, "湖南": 4, "安徽": 4, "陕西": 3, "重庆": 3, "辽宁": 3, "天津": 2,
    "河北": 2, "江西": 2, "广西": 2, "云南": 1,
}


@dataclass(frozen=True)
class People:
    """Customer attributes as parallel arrays; index ``i`` is customer ``ids[i]``."""

    ids: np.ndarray  # object array of str
    names: np.ndarray
    phones: np.ndarray
    regions: np.ndarray
    join_day: np.ndarray  # int64 day numbers (see planlib.data.demo.clock)
    profile: np.ndarray  # object array of profile names

    def __len__(self) -> int:
        return len(self.ids)


def _counts(n: int) -> np.ndarray:
    """Exact group sizes (largest remainder), so the target group is always the same size."""
    shares = np.array(list(PROFILES.values()))
    raw = shares * n
    counts = np.floor(raw).astype(int)
    counts[np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]] += 1
    return counts


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    ranks = np.arange(len(_SURNAMES))
    weights = 1.0 / (ranks + 4.0) ** 1.3
    surname = np.array(list(_SURNAMES), dtype=object)[
        rng.choice(len(_SURNAMES), size=n, p=weights / weights.sum())
    ]
    compound = rng.random(n) < 0.01
    surname[compound] = np.array(_COMPOUND, dtype=object)[rng.integers(0, len(_COMPOUND), compound.sum())]
    given = np.array(list(_GIVEN), dtype=object)
    first = given[rng.integers(0, len(given), n)]
    second = np.where(rng.random(n) < 0.65, given[rng.integers(0, len(given), n)], "")
    return surname + first + second


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefixes = np.array(_PREFIXES)
    numbers = prefixes[rng.integers(0, len(prefixes), n)] * 10**8 + rng.integers(0, 10**8, n)
    # A phone number belongs to one customer; redraw the rare collisions.
    while True:
        _, first = np.unique(numbers, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        numbers[dup] = prefixes[rng.integers(0, len(prefixes), dup.sum())] * 10**8 + rng.integers(
            0, 10**8, dup.sum()
        )
    return numbers.astype(str).astype(object)


def make_people(rng: np.random.Generator, n: int) -> People:
    """Draw ``n`` customers: profile, join date, Chinese name, mobile number and province."""
    counts = _counts(n)
    profile = rng.permutation(np.repeat(np.array(list(PROFILES), dtype=object), counts))
    join = np.empty(n, dtype=np.int64)
    for name, (lo, hi) in _JOIN.items():
        sel = profile == name
        join[sel] = rng.integers(day(lo), day(hi) + 1, sel.sum())
    # CRMs issue IDs at registration, so ID order follows join order.
    order = np.argsort(join, kind="stable")
    profile, join = profile[order], join[order]
    width = max(6, len(str(n)))
    ids = np.array([f"C{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    regions = np.array(list(_REGIONS), dtype=object)
    weights = np.array(list(_REGIONS.values()), dtype=float)
    return People(
        ids=ids,
        names=_names(rng, n),
        phones=_phones(rng, n),
        regions=regions[rng.choice(len(regions), size=n, p=weights / weights.sum())],
        join_day=join,
        profile=profile,
    )

"""Surveys and service tickets of the demo company.

Surveys come after purchases (a share of orders gets a questionnaire) and from each campaign's
satisfaction survey of its treatment group. Tickets come from orders and from general enquiries;
a small share of them waits long for a first response, and those turn into complaints more often.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planlib.data.demo.campaigns import CampaignSpec
from planlib.data.demo.clock import DAY_S, END_S, LAST_DAY, day
from planlib.data.demo.people import People
from planlib.data.demo.sales import Orders

BACKGROUND_CSAT = (0.03, 0.05, 0.12, 0.40, 0.40)
# CSAT answer → chance of an NPS detractor (0–6), passive (7–8), promoter (9–10)
_NPS_GIVEN_CSAT = np.array([
    [0.90, 0.10, 0.00], [0.90, 0.10, 0.00], [0.55, 0.40, 0.05], [0.15, 0.50, 0.35], [0.03, 0.22, 0.75],
])
_DETRACTOR_WEIGHTS = np.array([1, 1, 1, 2, 3, 5, 7], dtype=float)
_COMMENTS = {
    5: ("很满意,物流很快", "客服态度很好", "商品质量不错,会回购", "活动优惠力度大", "会推荐给朋友"),
    4: ("整体不错", "包装可以再改进", "价格还可以", "社群活动挺有意思"),
    3: ("一般", "价格偏高", "到货有点慢", "活动规则有点复杂"),
    2: ("客服回复太慢", "商品有瑕疵", "短信太多了"),
    1: ("体验很差", "退货太麻烦", "投诉了两次都没解决"),
}


def _answers(rng, n: int, csat_probs, comments=None) -> dict[str, np.ndarray]:
    csat = rng.choice(5, size=n, p=np.asarray(csat_probs) / np.sum(csat_probs)) + 1
    cum = np.cumsum(_NPS_GIVEN_CSAT[csat - 1], axis=1)
    kind = (rng.random(n)[:, None] > cum[:, :2]).sum(axis=1)  # 0 detractor, 1 passive, 2 promoter
    detractor = rng.choice(7, size=n, p=_DETRACTOR_WEIGHTS / _DETRACTOR_WEIGHTS.sum())
    nps = np.select([kind == 0, kind == 1], [detractor, 7 + rng.integers(0, 2, n)], 9 + rng.integers(0, 2, n))
    # Some answer only one of the two questions.
    skip = rng.random(n)
    nps = np.where(skip < 0.08, -1, nps)
    csat = np.where(skip > 0.96, -1, csat)
    comment = np.full(n, "", dtype=object)
    talk = rng.random(n) < 0.55
    # comments are drawn last: another comment pool leaves every score as it was
    for score, texts in (comments or _COMMENTS).items():
        sel = talk & (csat == score)
        comment[sel] = np.array(texts, dtype=object)[rng.integers(0, len(texts), sel.sum())]
    return {"nps": nps, "csat": csat, "comment": comment}


def purchase_surveys(rng, orders: Orders) -> pd.DataFrame:
    """Questionnaires a share of customers answer a few days after an order."""
    bought = np.flatnonzero((orders.amount > 0) & (rng.random(len(orders.amount)) < 0.07))
    out = pd.DataFrame({
        "cust": orders.cust[bought], "day": orders.day[bought] + rng.integers(1, 8, len(bought)),
        **_answers(rng, len(bought), BACKGROUND_CSAT),
    })
    return out[out["day"] <= LAST_DAY]


def campaign_survey(rng, spec: CampaignSpec, treat: np.ndarray, took_part: np.ndarray) -> pd.DataFrame:
    """The campaign's satisfaction survey of its treatment group.

    Participants answer far more often than those who ignored the campaign.
    """
    answers = rng.random(len(treat)) < np.where(took_part, 0.45, 0.08)
    who = treat[answers]
    out = pd.DataFrame({
        "cust": who, "day": rng.integers(day(spec.survey[0]), day(spec.survey[1]) + 1, len(who)),
        **_answers(rng, len(who), spec.csat, spec.comments),
    })
    return out[out["day"] <= LAST_DAY]


def tickets(rng, people: People, orders: Orders) -> pd.DataFrame:
    """Service tickets after orders and general enquiries, with first response and resolution."""
    pos = np.flatnonzero((orders.amount > 0) & (rng.random(len(orders.amount)) < 0.05))
    after_order = orders.day[pos] + rng.integers(0, 11, len(pos))
    since = np.maximum(people.join_day, 0)
    k = rng.poisson(0.15 / 365 * (LAST_DAY + 1 - since))
    enquiry = np.repeat(since, k) + np.floor(rng.random(k.sum()) * np.repeat(LAST_DAY + 1 - since, k))
    cust = np.concatenate([orders.cust[pos], np.repeat(np.arange(len(people)), k)])
    days = np.concatenate([after_order, enquiry.astype(np.int64)])
    created = days * DAY_S + rng.uniform(8, 22, len(days)) * 3600
    slow = rng.random(len(days)) < 0.025  # peak hours, nobody free
    wait = np.where(slow, 25 * 60 * np.exp(rng.normal(0, 0.8, len(days))),
                    72 * np.exp(rng.normal(0, 0.6, len(days))))
    first = created + wait
    resolved = first + 6 * 3600 * np.exp(rng.normal(0, 1.2, len(days)))
    complaint = rng.random(len(days)) < 0.025 + 0.15 * slow
    first[first > END_S] = np.nan
    resolved[(resolved > END_S) | np.isnan(first)] = np.nan
    out = pd.DataFrame({"cust": cust, "created": created, "first": first, "resolved": resolved,
                        "complaint": complaint})
    return out[out["created"] <= END_S]

"""Messages of the demo company: the monthly newsletter everyone gets, and the quarter campaigns
of the demo plans with their control groups.

One row is one message of one campaign on one channel to one customer (docs/CONTRACTS.md).
Times are seconds since the demo epoch, NaN when the step never happened; each step is the
previous one plus a random delay, so sent ≤ opened ≤ clicked ≤ responded always holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from planlib.data.demo.clock import DAY_S, END_S, LAST_DAY, day
from planlib.data.demo.people import People

# channel: median delay (s) until opened, until clicked after opening, until responding after that
_DELAYS = {
    "wecom": (45 * 60, 90, 20 * 60),
    "sms": (8 * 60, 40, 15 * 60),
    "phone": (15, 60, 4 * 60),
    "wechat_oa": (2 * 3600, 60, 10 * 60),
    "app_push": (20 * 60, 20, 5 * 60),
}

# How much each profile cares about the newsletter (multiplies open and response rates).
_INTEREST = {
    "vip": 1.6, "regular": 1.2, "occasional": 0.9, "one_timer": 0.5, "never": 0.4,
    "dormant_q2": 0.7, "dormant_q3": 0.8, "new": 1.1,
}


@dataclass(frozen=True)
class CampaignSpec:
    """One quarter campaign on the demo's dormant mid-value customers."""

    code: str
    as_of: str  # the plan's RFM day (the day before the plan starts)
    calls: tuple[str, str]  # phone invitations, first and last day
    wecom_start: str  # first weekly community message
    wecom_weeks: int
    sms_days: tuple[str, ...]  # reminder event days
    sms_timing: dict[str, tuple[float, float]]  # variant → (hours after the event day's 0:00, open rate)
    survey: tuple[str, str]  # satisfaction survey of the treatment group
    respond: float  # scales every response probability (content quality)
    convert: float  # chance that a participant buys because of the campaign within 30 days
    csat: tuple[float, float, float, float, float]  # survey answers 1…5
    control_share: float = 20.0
    # survey comments per CSAT answer (1…5); None: the comments of ordinary purchase surveys
    comments: dict[int, tuple[str, ...]] | None = None


CAMPAIGNS: tuple[CampaignSpec, ...] = (
    CampaignSpec(
        code="2024Q2-reactivation", as_of="2024-03-31", calls=("2024-04-11", "2024-04-15"),
        wecom_start="2024-04-16", wecom_weeks=8,
        sms_days=("2024-04-16", "2024-04-30", "2024-05-14", "2024-05-28"),
        # A/B test of the reminder's timing: the morning of the event vs the evening before.
        sms_timing={"A": (9.0, 0.20), "B": (-4.5, 0.45)},
        survey=("2024-05-06", "2024-05-10"), respond=1.5, convert=0.10,
        csat=(0.01, 0.03, 0.08, 0.42, 0.46),
        # the review's finding: the gifts (U盘, 马克杯) were not what these customers wanted
        comments={5: ("社群活动挺有意思", "专属优惠很实在", "客服态度很好", "会推荐给朋友"),
                  4: ("整体不错", "活动提醒很及时", "优惠券挺好用", "包装可以再改进"),
                  3: ("礼品不太实用", "礼品没什么用", "活动规则有点复杂", "一般"),
                  2: ("礼品不实用,不如换成优惠券", "礼品不太实用", "短信太多了"),
                  1: ("礼品和宣传的不一样", "体验很差")},
    ),
    # The next quarter applies the review's lessons: more reminders, all sent the evening before.
    CampaignSpec(
        code="2024Q3-retention", as_of="2024-06-30", calls=("2024-07-08", "2024-07-12"),
        wecom_start="2024-07-15", wecom_weeks=8,
        sms_days=("2024-07-15", "2024-07-29", "2024-08-12", "2024-08-26", "2024-09-02", "2024-09-09"),
        sms_timing={"": (-4.5, 0.45)},
        survey=("2024-08-05", "2024-08-09"), respond=2.0, convert=0.12,
        csat=(0.01, 0.02, 0.06, 0.38, 0.53),
        # gifts now chosen from the customers' own preferences; what is left is price and delivery
        comments={5: ("礼品很实用", "社群活动挺有意思", "专属优惠很实在", "会推荐给朋友"),
                  4: ("整体不错", "提醒时间很合适", "优惠券挺好用"),
                  3: ("价格偏高", "到货有点慢", "一般"),
                  2: ("价格偏高", "到货有点慢"),
                  1: ("体验很差",)},
    ),
)


def _delay(rng, median_s, size):
    return median_s * np.exp(rng.normal(0.0, 1.0, size))


def messages(rng, cust, campaign, channel, sent, p_open, p_click, p_respond, variant="") -> pd.DataFrame:
    """Rows for messages sent at ``sent`` (seconds) with per-row open/click/response chances."""
    n = len(cust)
    to_open, to_click, to_respond = _DELAYS[channel]
    opened = np.where(rng.random(n) < p_open, sent + _delay(rng, to_open, n), np.nan)
    clicked = np.where(rng.random(n) < p_click, opened + _delay(rng, to_click, n), np.nan)
    after = np.where(np.isnan(clicked), opened, clicked)
    responded = np.where(rng.random(n) < p_respond, after + _delay(rng, to_respond, n), np.nan)
    for t in (opened, clicked, responded):
        t[t > END_S] = np.nan  # the export knows nothing after its cut-off
    return pd.DataFrame({
        "cust": cust, "campaign": campaign, "channel": channel, "variant": variant,
        "sent": sent, "opened": opened, "clicked": clicked, "responded": responded,
    })


def newsletter(rng: np.random.Generator, people: People) -> pd.DataFrame:
    """The monthly ``newsletter`` on wechat_oa and app_push to followers since they joined."""
    n = len(people)
    interest = np.array([_INTEREST[p] for p in people.profile]) * rng.gamma(4.0, 0.25, n)
    months = np.arange(np.datetime64("2022-07"), np.datetime64("2024-10"))
    send_day = np.array([day(f"{m}-05") for m in months])
    frames = []
    for channel, share, hour, p_open, p_click, p_resp in (
        ("wechat_oa", 0.55, 20.0, 0.25, 0.30, 0.10),
        ("app_push", 0.35, 12.5, 0.08, 0.50, 0.05),
    ):
        follows = np.flatnonzero(rng.random(n) < share)
        who, month = np.nonzero(people.join_day[follows, None] <= send_day[None, :])
        cust = follows[who]
        sent = send_day[month] * DAY_S + hour * 3600 + rng.uniform(0, 600, len(cust))
        e = interest[cust]
        frames.append(messages(rng, cust, "newsletter", channel, sent, np.clip(p_open * e, 0, 0.9),
                               p_click, np.clip(p_resp * e, 0, 0.9)))
    return pd.concat(frames, ignore_index=True)


def campaign_messages(rng: np.random.Generator, spec: CampaignSpec, treat: np.ndarray) -> pd.DataFrame:
    """Phone invitation, weekly community posts and SMS reminders to the treatment group."""
    n = len(treat)
    # Customers differ: some are keen, some never react (mean 1).
    keen = rng.gamma(3.0, 1 / 3, n)
    frames = []

    call_day = rng.integers(day(spec.calls[0]), day(spec.calls[1]) + 1, n)
    sent = call_day * DAY_S + rng.uniform(9.5, 18.0, n) * 3600
    frames.append(messages(rng, treat, spec.code, "phone", sent, 0.62, 0.0,
                           np.clip(0.36 * keen * spec.respond, 0, 0.95)))

    in_group = np.flatnonzero(rng.random(n) < 0.75)  # not every customer joined the community
    week = np.tile(np.arange(spec.wecom_weeks), len(in_group))
    who = np.repeat(in_group, spec.wecom_weeks)
    sent = (day(spec.wecom_start) + 7 * week) * DAY_S + rng.uniform(10, 20, len(who)) * 3600
    frames.append(messages(rng, treat[who], spec.code, "wecom", sent,
                           np.clip(0.45 * np.sqrt(keen[who]), 0, 0.95), 0.35,
                           np.clip(0.20 * keen[who] * spec.respond, 0, 0.95)))

    variants = list(spec.sms_timing)
    variant = np.array(variants, dtype=object)[rng.integers(0, len(variants), n)]
    events = np.array([day(d) for d in spec.sms_days])
    who = np.repeat(np.arange(n), len(events))
    hours = np.array([spec.sms_timing[v][0] for v in variant[who]])
    open_rate = np.array([spec.sms_timing[v][1] for v in variant[who]])
    sent = np.tile(events, n) * DAY_S + hours * 3600 + rng.uniform(0, 900, len(who))
    frames.append(messages(rng, treat[who], spec.code, "sms", sent,
                           np.clip(open_rate * np.sqrt(keen[who]), 0, 0.95), 0.30,
                           np.clip(0.10 * keen[who] * spec.respond, 0, 0.95), variant[who]))
    return pd.concat(frames, ignore_index=True)


def first_responses(msgs: pd.DataFrame, treat: np.ndarray) -> np.ndarray:
    """Second of each treatment customer's first response (NaN if they never took part)."""
    first = msgs.groupby("cust")["responded"].min()
    return first.reindex(treat).to_numpy(dtype=float)


def campaign_purchase_days(rng, first_resp: np.ndarray, convert: float) -> np.ndarray:
    """Day of the purchase a participant makes because of the campaign, −1 if none.

    Always 1–29 days after the first response, so it counts under any reading of "within 30 days".
    """
    took_part = ~np.isnan(first_resp)
    buys = took_part & (rng.random(len(first_resp)) < convert)
    lag = 1 + np.minimum(np.floor(rng.exponential(8.0, len(first_resp))), 28).astype(np.int64)
    days = np.where(buys, np.floor(np.nan_to_num(first_resp) / DAY_S).astype(np.int64) + lag, -1)
    return np.where(days <= LAST_DAY, days, -1)

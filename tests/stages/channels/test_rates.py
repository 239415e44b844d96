"""Channel rates estimated from interactions before the plan period, with plan values as fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import build_plan, goal

from planlib.plan.schema import Plan
from planlib.stages.channels import rates


def make_plan(min_messages=10, broadcast=("newsletter",), tier_rates=None, enabled=True) -> Plan:
    return build_plan(
        scope={"segment": "沉睡"},
        goals=[goal(metric="participation_rate", segment="沉睡", target=70.0)],
        segmentation={"tiers": [{"name": "高价值", "frequency": ">=5"}, {"name": "普通"}],
                      "segments": [{"name": "沉睡", "tiers": ["普通"], "recency_days": ">=180"}]},
        channels={
            "catalogue": [
                {"id": "oa", "name": "公众号", "cost_per_contact": 0.02, "reach_rate": 60.0, "open_rate": 25.0,
                 "response_rate": 10.0, "tier_rates": tier_rates or {}},
                {"id": "sms", "name": "短信", "cost_per_contact": 0.05, "reach_rate": 95.0, "open_rate": 30.0,
                 "response_rate": 8.0},
            ],
            "plan": [{"audience": "沉睡", "channel": "sms", "contacts_per_customer": 2.0}],
            "rules": [{"audience": "高价值", "max_contacts": 4.0}],
            "estimate": {"min_messages": min_messages, "broadcast_campaigns": list(broadcast), "enabled": enabled},
        },
    )


def customers_result() -> pd.DataFrame:
    # 20 dormant customers (tier 普通, recency 200) and 20 high-value ones
    ids = [f"C{i:03d}" for i in range(40)]
    return pd.DataFrame({
        "customer_id": ids, "recency_days": [200] * 20 + [10] * 20, "frequency": [1] * 20 + [6] * 20,
        "monetary": [100.0] * 40, "tier": ["普通"] * 20 + ["高价值"] * 20, "in_scope": [True] * 20 + [False] * 20,
        "control": [False] * 40,
    })


def messages(ids, channel, campaign, sent, opened_every=2, responded_every=4, after=None) -> pd.DataFrame:
    n = len(ids)
    sent_at = pd.Series(pd.Timestamp(sent), index=range(n))
    opened = [pd.Timestamp(after or sent) + pd.Timedelta(hours=1) if i % opened_every == 0 else pd.NaT for i in range(n)]
    responded = [o + pd.Timedelta(hours=1) if (i % responded_every == 0 and o is not pd.NaT) else pd.NaT
                 for i, o in enumerate(opened)]
    return pd.DataFrame({"customer_id": ids, "campaign": campaign, "channel": channel, "variant": "",
                         "sent_at": sent_at, "opened_at": pd.Series(opened, dtype="datetime64[ns]"),
                         "clicked_at": pd.NaT, "responded_at": pd.Series(responded, dtype="datetime64[ns]")})


def test_open_and_response_rates_come_from_the_audiences_own_messages():
    cr = customers_result()
    dormant = cr["customer_id"][:20].tolist()
    inter = pd.concat([messages(dormant, "oa", "newsletter", "2024-03-05"),
                       messages(dormant, "oa", "newsletter", "2024-02-05")], ignore_index=True)
    r = rates.estimate_rates(make_plan(), cr, inter).set_index(["audience", "channel"])
    row = r.loc[("沉睡", "oa")]
    # 40 messages, every second opened → 50 %; of 20 opened, every other one (i % 4 == 0) responded → 50 %
    assert (row["open_rate"], row["open_source"], row["open_n"]) == (50.0, rates.SOURCE_AUDIENCE, 40)
    assert (row["response_rate"], row["response_n"]) == (50.0, 20)
    # no customers table given: reach cannot be measured and stays the plan's
    assert (row["reach_rate"], row["reach_source"], row["reach_n"]) == (60.0, rates.SOURCE_PLAN, 0)
    # sms has no data at all: every rate is the plan's
    sms = r.loc[("沉睡", "sms")]
    assert [sms["open_rate"], sms["response_rate"], sms["open_n"]] == [30.0, 8.0, 0]


def test_small_audiences_borrow_from_all_customers_and_then_the_plan():
    cr = customers_result()
    everyone = cr["customer_id"].tolist()
    inter = messages(everyone, "oa", "newsletter", "2024-03-05")  # 40 messages in all
    r = rates.estimate_rates(make_plan(min_messages=30), cr, inter).set_index(["audience", "channel"])
    # each audience has only 20 messages (< 30): the all-customer estimate (40 messages) is used
    assert r.loc[("沉睡", "oa"), "open_source"] == rates.SOURCE_ALL and r.loc[("沉睡", "oa"), "open_n"] == 40
    # 20 opened messages (< 30) are not enough for a response rate anywhere: the plan's value
    assert r.loc[("高价值", "oa"), "response_source"] == rates.SOURCE_PLAN


def test_events_at_or_after_the_plan_start_are_not_used():
    cr = customers_result()
    dormant = cr["customer_id"][:20].tolist()
    inter = pd.concat([
        messages(dormant, "sms", "old", "2024-03-30", opened_every=1, after="2024-04-02"),  # opened too late
        messages(dormant, "sms", "camp", "2024-04-10", opened_every=1),  # sent in the period
        messages(dormant, "sms", "ancient", "2022-01-01", opened_every=1),  # before the look-back
    ], ignore_index=True)
    r = rates.estimate_rates(make_plan(), cr, inter).set_index(["audience", "channel"])
    assert (r.loc[("沉睡", "sms"), "open_rate"], r.loc[("沉睡", "sms"), "open_n"]) == (0.0, 20)


def test_broadcast_recipients_measure_reach_among_customers_who_had_joined():
    cr = customers_result()
    followers = cr["customer_id"][:12].tolist()  # 12 of the 20 dormant customers follow the account
    inter = messages(followers, "oa", "newsletter", "2024-03-05")
    crm = pd.DataFrame({"customer_id": cr["customer_id"],
                        "join_date": [pd.Timestamp("2023-01-01")] * 16 + [pd.Timestamp("2024-03-20")] * 4
                        + [pd.NaT] * 20})
    r = rates.estimate_rates(make_plan(), cr, inter, crm).set_index(["audience", "channel"])
    # 16 dormant customers had joined before the last send; 12 of them received it → 75 %
    assert r.loc[("沉睡", "oa"), "reach_rate"] == pytest.approx(75.0)
    assert r.loc[("沉睡", "oa"), "reach_n"] == 16
    # a targeted campaign says nothing about reach
    targeted = messages(followers, "oa", "camp-q1", "2024-03-05")
    r2 = rates.estimate_rates(make_plan(), cr, targeted, crm).set_index(["audience", "channel"])
    assert r2.loc[("沉睡", "oa"), "reach_source"] == rates.SOURCE_PLAN


def test_per_tier_plan_rates_are_weighted_by_the_audience_tiers():
    plan = make_plan(tier_rates={"高价值": {"open_rate": 50.0}}, enabled=False)
    cr = customers_result()
    comp = {"沉睡": {"普通": 20}, "高价值": {"高价值": 20}}
    r = rates.estimate_rates(plan, cr, messages(cr["customer_id"].tolist(), "oa", "newsletter", "2024-03-05"),
                             composition=comp).set_index(["audience", "channel"])
    assert r.loc[("高价值", "oa"), "open_rate"] == 50.0 and r.loc[("高价值", "oa"), "open_source"] == rates.SOURCE_PLAN_TIER
    assert r.loc[("沉睡", "oa"), "open_rate"] == 25.0 and r.loc[("沉睡", "oa"), "open_source"] == rates.SOURCE_PLAN
    mixed = rates._plan_rate(plan.channels.catalogue[0], "open", {"高价值": 10, "普通": 30})
    assert mixed == (pytest.approx((10 * 50 + 30 * 25) / 40), rates.SOURCE_PLAN_TIER)


def test_audiences_cover_plan_rows_and_rules_and_display_shows_counts():
    plan = make_plan()
    assert rates.audiences(plan) == ["沉睡", "高价值"]
    cr = customers_result()
    inter = messages(cr["customer_id"][:20].tolist() * 3, "oa", "newsletter", "2024-03-05")
    shown = rates.display_table(rates.estimate_rates(plan, cr, inter))
    assert shown.iloc[0]["open"] == "50.0% · 数据·对象 n=60" and shown.iloc[1]["open"] == "30.0% · 计划"
    assert np.issubdtype(rates.estimate_rates(plan, cr, None)["open_n"].dtype, np.integer)

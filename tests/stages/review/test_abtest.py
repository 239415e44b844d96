"""A/B tests in the interactions: per-customer rates, the test, the MDE and the verdict."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import demo_plan
from statsmodels.stats import proportion as smp

from planlib.stages.review.abtest import ab_tests, display_frame
from stages.review.test_analysis import CAMP

NaT = pd.NaT
SENT = pd.Timestamp("2024-04-16 09:00")


def _rows(prefix: str, variant: str, n: int, opened: int, responded: int, channel: str = "sms",
          per_customer: int = 1) -> list[dict]:
    rows = []
    for i in range(n):
        for k in range(per_customer):  # only the first message of a customer is ever opened
            hit = k == 0
            rows.append({"customer_id": f"{prefix}{i:03d}", "campaign": CAMP, "channel": channel, "variant": variant,
                         "sent_at": SENT + pd.Timedelta(days=7 * k),
                         "opened_at": SENT + pd.Timedelta(hours=1) if hit and i < opened else NaT,
                         "clicked_at": NaT,
                         "responded_at": SENT + pd.Timedelta(hours=2) if hit and i < responded else NaT})
    return rows


def _case(*groups: list[dict]) -> tuple[dict, pd.DataFrame]:
    inter = pd.DataFrame([r for g in groups for r in g])
    ids = sorted(inter["customer_id"].unique())
    cr = pd.DataFrame({"customer_id": ids, "in_scope": True, "control": False})
    return {"interactions": inter}, cr


def test_open_and_response_rates_per_customer_with_test_and_mde():
    data, cr = _case(_rows("A", "A", 100, 20, 5, per_customer=2), _rows("B", "B", 100, 45, 8, per_customer=2))
    out = ab_tests(demo_plan(), data, cr).set_index("metric")
    opened = out.loc["open"]
    assert (opened["customers"], opened["hits"], opened["ref_customers"], opened["ref_hits"]) == (100, 45, 100, 20)
    assert opened["rate"] == 45.0 and opened["ref_rate"] == 20.0 and opened["diff"] == pytest.approx(25.0)
    assert opened["message_rate"] == 22.5 and opened["ref_message_rate"] == 10.0  # 2 messages per customer
    # the test of the interval beside it (unpooled standard error), not the pooled one
    ref = smp.test_proportions_2indep(45, 100, 20, 100, method="wald", compare="diff")
    assert opened["p_value"] == pytest.approx(ref.pvalue)
    # MDE at p0 = .2, 100 per group: 2.801585 · sqrt(.16 · .02) = 15.848 points
    assert opened["mde"] == pytest.approx(15.848, abs=1e-3)
    assert opened["significant"] and opened["verdict"] == "B 版打开率显著高于 A 版"
    responded = out.loc["response"]  # 8 % vs 5 %: 3 points, well under its MDE
    assert not responded["significant"]
    assert responded["verdict"].startswith("差异 +3.0 个百分点小于可检测的最小效应")
    assert responded["verdict"].endswith("不能判定胜者")


def test_versions_of_fewer_than_30_customers_name_no_winner():
    # 15/20 vs 2/20 opened would be "显著" — on 20 customers a version it is no finding
    data, cr = _case(_rows("A", "A", 20, 2, 1), _rows("B", "B", 20, 15, 8))
    opened = ab_tests(demo_plan(), data, cr).set_index("metric").loc["open"]
    assert pd.isna(opened["significant"])
    assert opened["verdict"] == "样本不足(n=20,少于 30),不能判定胜者"
    assert opened["diff"] == pytest.approx(65.0)  # the figures stay in the table, with their interval


def test_customers_in_both_versions_are_left_out_and_said_so():
    mixed = _rows("A", "B", 3, 0, 0)  # A000–A002 also got version B
    data, cr = _case(_rows("A", "A", 50, 10, 2), _rows("B", "B", 50, 20, 3), mixed)
    row = ab_tests(demo_plan(), data, cr).iloc[0]
    assert (row["customers"], row["ref_customers"]) == (50, 47)
    assert row["note"].startswith("3 位客户收到了不止一个版本")


def test_channels_without_a_test_and_control_customers_are_ignored():
    data, cr = _case(_rows("A", "A", 40, 10, 1), _rows("B", "B", 40, 20, 2), _rows("W", "", 30, 5, 1, "wecom"),
                     _rows("S", "A", 20, 20, 20, "phone"))
    cr.loc[cr["customer_id"].str.startswith("B"), "control"] = True  # a held-out customer is not in any test
    assert ab_tests(demo_plan(), data, cr).empty
    cr["control"] = False
    out = ab_tests(demo_plan(), data, cr)
    assert set(out["channel"]) == {"sms"} and set(out["channel_name"]) == {"短信"}


def test_no_interactions_or_no_variant_column_is_an_empty_frame():
    data, cr = _case(_rows("A", "A", 10, 1, 1))
    assert ab_tests(demo_plan(), {}, cr).empty
    assert ab_tests(demo_plan(), {"interactions": data["interactions"].drop(columns="variant")}, cr).empty


def test_display_frame_reads_as_a_sentence():
    data, cr = _case(_rows("A", "A", 100, 20, 5), _rows("B", "B", 100, 45, 8))
    shown = display_frame(ab_tests(demo_plan(), data, cr))
    assert shown.iloc[0]["客户口径"] == "45.0% vs 20.0%"
    assert shown.iloc[0]["最小可检测效应"] == "15.8 个百分点"

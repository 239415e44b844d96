"""The channel plan's cost against the budget's promotion lines (template 3 reconciliation)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import build_plan

from planlib.plan.schema import Plan
from planlib.stages.execution import budget


def make_plan(lines) -> Plan:
    return build_plan(
        channels={"catalogue": [
            {"id": "sms", "name": "短信", "cost_per_contact": 0.05, "reach_rate": 90.0, "open_rate": 30.0,
             "response_rate": 8.0},
            {"id": "phone", "name": "电话", "cost_per_contact": 1.5, "reach_rate": 60.0, "open_rate": 100.0,
             "response_rate": 40.0},
            {"id": "wecom", "name": "社群", "cost_per_contact": 0.5, "reach_rate": 70.0, "open_rate": 45.0,
             "response_rate": 25.0}]},
        budget={"limit": 10000.0, "lines": lines},
    )


COSTS = pd.DataFrame({"channel": ["sms", "phone", "sms"], "cost": [50.0, 300.0, 50.4]})


def test_every_channel_and_line_is_matched_and_mismatches_explained():
    plan = make_plan([
        {"category": "推广费", "detail": "短信", "planned": 100.0, "channel": "sms"},
        {"category": "推广费", "detail": "社群广告", "planned": 200.0, "channel": "wecom"},
        {"category": "推广费", "detail": "其他推广", "planned": 100.0},
        {"category": "物料费", "detail": "海报", "planned": 999.0},
    ])
    table, warnings = budget.reconcile(plan, COSTS)
    rows = table.set_index("channel_name")
    assert rows.loc["短信", "state"] == "一致"  # 100.4 against 100: within 1 元
    assert rows.loc["电话", "state"] == "预算未单列" and pd.isna(rows.loc["电话", "budget_planned"])
    assert (rows.loc["社群", "channel_cost"], rows.loc["社群", "difference"], rows.loc["社群", "state"]) == (0, 200, "预算有余")
    assert rows.loc["未指定渠道的推广费", "budget_planned"] == 100
    total = rows.loc["合计"]
    assert (total["channel_cost"], total["budget_planned"]) == (400.4, 400)  # 物料费 is not promotion
    assert total["state"] == "一致"
    assert warnings == ["渠道计划中电话的成本 300 元在预算中没有单列的推广费明细(由未指定渠道的推广费承担)。",
                        "社群的渠道成本 0 元低于预算明细 200 元(差 200 元)。"]


def test_total_mismatch_is_reported():
    plan = make_plan([{"category": "推广费", "detail": "短信", "planned": 50.0, "channel": "sms"}])
    table, warnings = budget.reconcile(plan, COSTS[COSTS["channel"] == "sms"])
    assert table.iloc[-1]["state"] == "预算不足" and table.iloc[-1]["difference"] == pytest.approx(-50.4)
    assert warnings[-1].startswith("渠道计划成本合计 100 元超出推广费预算 50 元(差 50 元)")


def test_no_channel_plan_and_no_promotion_lines_reconcile_trivially():
    table, warnings = budget.reconcile(make_plan([]), pd.DataFrame(columns=["channel", "cost"]))
    assert warnings == [] and table["channel_name"].tolist() == ["合计"]


def test_the_plan_says_which_budget_categories_pay_for_channels():
    from planlib.plan.budget_lines import is_promotion

    plan = make_plan([{"category": "媒介费", "planned": 800.0}, {"category": "推广费", "planned": 200.0},
                      {"category": "物料费", "planned": 100.0}])
    assert [is_promotion(line, plan.budget) for line in plan.budget.lines] == [False, True, False]
    media = plan.model_copy(update={"budget": plan.budget.model_copy(update={"channel_categories": ["媒介费"]})})
    assert [is_promotion(line, media.budget) for line in media.budget.lines] == [True, False, False]

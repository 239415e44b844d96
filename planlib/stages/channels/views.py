"""Stage 03 tables: the channel catalogue, the budget and reach check, and the optimiser's result."""

from __future__ import annotations

import pandas as pd

from planlib.plan.schema import Plan
from planlib.publish import display as show
from planlib.stages.channels import charts
from planlib.stages.channels import mix as channel_mix

# Per-table header overrides where a column means something else than in planlib.plan.labels.
CHANNEL_LABELS = {"frequency": "频次", "content": "内容"}
CHANNEL_FORMATS = {"expected_reached": "int", "expected_responses": "int", "customers_contacted": "int",
                   "contacts": "int"}
PER_TIER_COLUMNS = ["audience", "goal", "strategy", "channels", "content", "frequency"]
CHANNEL_PLAN_COLUMNS = ["audience", "channel_name", "content", "frequency", "audience_size",
                        "customers_contacted", "contacts", "cost", "expected_reached", "expected_responses",
                        "cost_per_response", "rate_source"]


def channel_catalogue(plan: Plan) -> pd.DataFrame:
    rows = [{"渠道": c.name, "代码": c.id, "单次成本(元)": c.cost_per_contact, "固定成本(元)": c.fixed_cost,
             "触达率(%)": c.reach_rate, "打开率(%)": c.open_rate, "响应率(%)": c.response_rate}
            for c in plan.channels.catalogue]
    return pd.DataFrame(rows)


def channel_summary(summary: dict) -> dict[str, str]:
    yes_no = {True: "是", False: "否"}
    participation = "; ".join(
        f"{a['audience']} 约 {a['expected_participation']:.1f}%" for a in summary["audiences"]
        if a.get("expected_participation") is not None)
    return {
        "渠道成本合计": f"{summary['channel_cost']:,.0f} 元(其中固定成本 {summary['fixed_cost']:,.0f} 元)",
        "推广费预算": f"{summary['promotion_budget']:,.0f} 元",
        "渠道成本在推广费预算内": yes_no[bool(summary["within_promotion_budget"])],
        "渠道成本 + 其他预算": f"{summary['planned_total']:,.0f} 元 / 上限 {summary['budget_limit']:,.0f} 元",
        "整体在预算内": yes_no[bool(summary["fits_budget"])],
        "触达上限全部满足": yes_no[bool(summary["caps_ok"])],
        "预计参与率": participation or "—",
    }


def show_optimiser(plan_table: pd.DataFrame, mix: channel_mix.MixResult, optimizer: dict) -> None:
    """The optimiser's answer beside the manual plan, or why there is none (disabled, infeasible)."""
    if mix.ok:
        comparison = channel_mix.comparison(plan_table, mix.mix)
        show.show_findings(channel_mix.findings(optimizer), kind="info")
        show.show_table(channel_mix.comparison_display(comparison), title="手工方案与优化方案(人数×每人触达次数)",
                        formats=dict.fromkeys(["manual_responses", "optimised_responses", "change_responses"],
                                              "{:,.1f}"))
        show.figure(charts.channel_mix(comparison))
        show.show_table(channel_mix.constraint_display(mix.constraints, optimizer["objective"]), title="约束与影子价格",
                        columns=channel_mix.CONSTRAINT_DISPLAY)
        show.show_findings(optimizer["manual_violations"], ok="手工方案满足优化时的全部约束。")
    elif optimizer["status"] == "disabled":
        show.show_note("计划关闭了渠道组合优化(channels.optimizer.enabled: false)。", "info")
    else:
        show.show_findings(["渠道组合无解:没有任何组合能同时满足全部约束。", *optimizer["infeasible"]], kind="error")

"""planlib.publish.charts: a CJK font is found and every chart draws Chinese text without warnings."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager

from planlib.errors import PlanError
from planlib.publish import charts, display
from planlib.stages.channels import charts as channels_charts
from planlib.stages.execution import charts as execution_charts
from planlib.stages.goals import charts as goals_charts
from planlib.stages.needs import charts as needs_charts
from planlib.stages.review import charts as review_charts

HAN = re.compile(r"[\u4e00-\u9fff]")


def tiers() -> pd.DataFrame:
    return pd.DataFrame({
        "tier": ["高价值客户", "潜力客户", "新客户", "流失风险客户"], "customers": [120, 480, 900, 650],
        "share": [0.056, 0.223, 0.419, 0.302], "avg_monetary": [9000.0, 3000, 800, 400],
        "monetary_share": [0.38, 0.34, 0.17, 0.11], "goal": "", "needs": "", "strategy": "",
    })


def customers() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({"r_score": rng.integers(1, 6, 500), "f_score": rng.integers(1, 6, 500)})


def channel_plan() -> pd.DataFrame:
    return pd.DataFrame({
        "audience": "沉睡中价值客户", "channel": ["wecom", "phone", "sms"],
        "channel_name": ["企业微信社群", "电话邀约", "短信"], "audience_size": 400,
        "customers_contacted": 400, "contacts": [3200, 400, 1600], "cost": [1600.0, 2000, 160],
        "expected_reached": [380, 300, 390], "expected_responses": [120.0, 90, 0],
    })


def tasks() -> pd.DataFrame:
    return pd.DataFrame({
        "task_id": ["T1", "T2", "T3", "T4"], "phase": ["前期准备", "前期准备", "中期执行", "后期跟进"],
        "name": ["客户数据筛选与分层", "活动物料设计(海报/礼品)", "\"30天挑战计划\"启动(社群打卡)", "客户满意度调研"],
        "owner": ["市场部经理", "设计专员", "客服专员", "市场部经理"],
        "start": pd.to_datetime(["2024-04-01", "2024-04-06", "2024-04-16", "2024-05-06"]),
        "end": pd.to_datetime(["2024-04-05", "2024-04-10", "2024-04-30", "2024-05-10"]),
        "duration_days": [5, 5, 15, 5], "depends_on": [[], ["T1"], ["T2"], ["T3"]], "issues": "",
    })


def budget() -> pd.DataFrame:
    return pd.DataFrame({
        "category": ["物料费", "物料费", "礼品费", "推广费", "人力成本"], "detail": "",
        "planned": [1000.0, 2000, 3000, 2000, 1000], "actual": [1000.0, 1800, 3200, 1700, np.nan],
        "variance": 0.0, "share": 0.0, "note": "",
    })


def kpis() -> pd.DataFrame:
    return pd.DataFrame({
        "kpi": ["participation_rate", "repurchase_30d", "cost_per_participant", "nps", "csat", "budget_variance"],
        "name": ["目标客户参与率", "活动后30天复购率", "单客户成本", "NPS 净推荐值", "满意度平均评分", "预算差异"],
        "dimension": "", "unit": "", "direction": ["higher", "higher", "lower", "higher", "higher", "info"],
        "target": [70, 12, 50, 50, 4.5, 0], "actual": [65, 15, 46, -10, np.nan, -300],
        "status": ["未达成", "超达成", "达成", "未达成", "无数据", "—"], "suggestion": "",
    })


CHARTS = {
    "timeline": lambda: goals_charts.timeline(
        [("预热期", "2024-04-01", "2024-04-15"), ("执行期", "2024-04-16", "2024-06-15"),
         ("复盘期", "2024-06-16", "2024-06-30")], ("2024-04-01", "2024-06-30")),
    "tier_sizes": lambda: needs_charts.tier_sizes(tiers()),
    "rf_heatmap": lambda: needs_charts.rf_heatmap(customers()),
    "channel_costs": lambda: channels_charts.channel_costs(channel_plan()),
    "gantt": lambda: execution_charts.gantt(tasks(), milestones=[("活动启动", "2024-04-16")],
                                  checkpoints=[("中期检查", "2024-04-23")]),
    "workload": lambda: execution_charts.workload(tasks()),
    "budget_chart": lambda: execution_charts.budget_chart(budget()),
    "kpi_attainment": lambda: review_charts.kpi_attainment(kpis()),
    "funnel": lambda: review_charts.funnel(pd.DataFrame({"step": ["目标客户", "触达", "打开", "参与"],
                                                  "customers": [400, 380, 250, 0]})),
}


def titles(fig) -> str:
    parts = [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
    return " ".join(p for p in parts if p)


def test_setup_finds_a_simplified_chinese_font():
    family = charts.setup()
    assert family in charts.CJK_FAMILIES
    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    font = font_manager.get_font(path)
    charmap = font.get_charmap()
    assert all(ord(ch) in charmap for ch in "客户分层与需求分析达成")
    assert charts.setup() == family  # idempotent


def test_setup_looks_for_the_font_once(monkeypatch):
    # how long the later calls take: benchmarks/bench_hotpaths.py
    family = charts.setup()

    def no_second_search(*args, **kwargs):
        raise AssertionError("setup() searched the fonts again")

    monkeypatch.setattr(font_manager, "findfont", no_second_search)
    monkeypatch.setattr(font_manager, "get_font", no_second_search)
    assert [charts.setup() for _ in range(3)] == [family] * 3


def test_missing_font_is_a_plan_error_saying_what_to_install(monkeypatch):
    monkeypatch.setattr(charts, "_state", {})
    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such Font SC",))
    monkeypatch.setattr(charts, "_FONT_DIRS", ())
    with pytest.raises(charts.FontMissingError, match="fonts-noto-cjk") as info:
        charts.setup()
    assert isinstance(info.value, PlanError)


@pytest.mark.parametrize("name", CHARTS)
def test_chart_draws_chinese_without_any_warning(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would warn here
        fig = CHARTS[name]()
        png = display.png_bytes(fig)
    assert png.startswith(b"\x89PNG")
    assert len(png) < 150_000  # a dozen charts must fit a 3 MB report
    assert HAN.search(titles(fig)), titles(fig)


def test_chart_size_is_modest():
    fig = CHARTS["budget_chart"]()
    width, height = fig.get_size_inches() * display.PNG_DPI
    assert width <= 900 and height <= 600


def test_dollar_signs_and_odd_characters_in_data_labels_are_safe():
    df = tiers()
    df["tier"] = ["$高价值$", "成本 $5 与 $10", "a$b", "表情🎉\t客户"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = needs_charts.tier_sizes(df)
        display.png_bytes(fig)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0] == "$高价值$"  # shown literally, not as mathtext
    assert labels[3] == "表情 客户"  # the glyph no font has is dropped, the tab becomes a space


def test_kpi_attainment_is_direction_aware():
    assert review_charts.attainment("higher", 70, 65) == pytest.approx(65 / 70 * 100)
    assert review_charts.attainment("lower", 50, 46) == pytest.approx(50 / 46 * 100)
    assert np.isnan(review_charts.attainment("higher", 70, None))
    assert np.isnan(review_charts.attainment("info", 0, 5))
    fig = review_charts.kpi_attainment(kpis())
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()][2] == "单客户成本"
    assert "预算差异" not in [t.get_text() for t in ax.get_yticklabels()]


def test_show_displays_a_png(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    display.figure(CHARTS["funnel"]())
    assert shown and shown[0].data.startswith(b"\x89PNG")


def test_a_chart_ending_a_cell_displays_itself_as_png():
    fig = CHARTS["timeline"]()
    assert isinstance(fig, charts.Chart)
    assert fig._repr_png_().startswith(b"\x89PNG")


EMPTY = {
    "timeline": lambda: goals_charts.timeline([]),
    "tier_sizes": lambda: needs_charts.tier_sizes(tiers().iloc[0:0]),
    "rf_heatmap": lambda: needs_charts.rf_heatmap(customers().iloc[0:0]),
    "channel_costs": lambda: channels_charts.channel_costs(channel_plan().iloc[0:0]),
    "gantt": lambda: execution_charts.gantt(tasks().iloc[0:0]),
    "workload": lambda: execution_charts.workload(tasks().iloc[0:0]),
    "budget_chart": lambda: execution_charts.budget_chart(budget().iloc[0:0]),
    "kpi_attainment": lambda: review_charts.kpi_attainment(kpis().iloc[0:0]),
    "funnel": lambda: review_charts.funnel(pd.DataFrame({"step": [], "customers": []})),
}


@pytest.mark.parametrize("name", EMPTY)
def test_empty_results_draw_a_no_data_chart(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = EMPTY[name]()
        display.png_bytes(fig)
    assert HAN.search(titles(fig))
    assert "无数据" in [t.get_text() for t in fig.axes[0].texts]

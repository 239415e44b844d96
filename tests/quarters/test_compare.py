"""``planlib compare``: the trend page of a unit and the portfolio page of a quarter, from published runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from planlib.cli import main
from planlib.errors import PlanError
from planlib.quarters.compare import (
    compare,
    find_runs,
    portfolio_report,
    tier_moves,
    trend_frame,
    trend_report,
)

UNITS = {"demo": "演示零售事业部", "east": "华东<零售>事业部"}  # markup in a name must stay text


def _kpis(actual_part: float, repurchase_flag: str) -> pd.DataFrame:
    return pd.DataFrame({
        "kpi": ["participation_rate", "repurchase_30d"], "name": ["目标客户参与率", "活动后30天复购率"],
        "dimension": ["客户参与", "转化效果"], "unit": ["%", "%"], "direction": ["higher", "higher"],
        "target": [70.0, 12.0], "actual": [actual_part, 15.9], "target_text": ["≥70%", "≥12%"],
        "status": ["未达成" if actual_part < 70 else "达成", "超达成"],
        "suggestion": ["企业微信/社群只触达了实验组 340 人中的 260 人", ""], "flag": ["", repurchase_flag]})


def write_run(root: Path, unit: str, quarter: str, *, participation: float, flag: str = "", status: str = "ok",
              tiers: dict[str, str] | None = None) -> Path:
    run = root / unit / quarter
    (run / "results").mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"status": status}), encoding="utf-8")
    (run / "report.html").write_text("<html></html>", encoding="utf-8")
    res = run / "results"
    _kpis(participation, flag).to_parquet(res / "kpis.parquet")
    (res / "review_summary.json").write_text(json.dumps({
        "unit_name": UNITS[unit], "title": f"{quarter} 激活计划", "budget_limit": 10000,
        "status_counts": {"超达成": 1, "达成": int(participation >= 70), "未达成": int(participation < 70), "无数据": 0},
        "roi_incremental": {"roi": -35.0, "roi_low": -80.0, "roi_high": 10.0},
    }, ensure_ascii=False), encoding="utf-8")
    pd.DataFrame({"metric": ["repurchase", "spend"], "outcome": ["复购率", "人均消费"],
                  "comparison": ["实验组 vs 对照组"] * 2, "uplift": [4.3, 25.9], "ci_low": [-2.0, -6.3],
                  "ci_high": [10.5, 58.0], "significant": pd.array([False, False], dtype="boolean"),
                  "unit": ["%", "元"]}).to_parquet(res / "uplift.parquet")
    tiers = tiers or {"C1": "中价值客户", "C2": "中价值客户", "C3": "一般客户"}
    pd.DataFrame({"customer_id": list(tiers), "tier": list(tiers.values()),
                  "in_scope": [t == "中价值客户" for t in tiers.values()]}).to_parquet(res / "customers.parquet")
    sizes = pd.Series(list(tiers.values())).value_counts()
    pd.DataFrame({"tier": sizes.index, "customers": sizes.to_numpy()}).to_parquet(res / "tier_summary.parquet")
    pd.DataFrame({"category": ["物料费", "礼品费", "合计"], "planned": [4000.0, 6000.0, 10000.0],
                  "actual": [3900.0, 5800.0, 9700.0], "is_total": [False, False, True]}).to_parquet(res / "budget.parquet")
    pd.DataFrame({"by": "overall", "group": "整体", "kpi": ["cost_per_participant", "roi"],
                  "value": [44.1, 81.0]}).to_parquet(res / "kpi_values.parquet")
    return run


@pytest.fixture
def outputs(tmp_path) -> Path:
    root = tmp_path / "outputs"
    write_run(root, "demo", "2024Q2", participation=64.7, flag="达成但提升不显著")
    write_run(root, "demo", "2024Q3", participation=74.9,
              tiers={"C1": "中价值客户", "C2": "潜力客户", "C3": "一般客户", "C4": "新客户"})
    write_run(root, "east", "2024Q2", participation=67.7)
    write_run(root, "east", "2024Q3", participation=75.1)
    write_run(root, "east", "2024Q4", participation=80.0, status="failed")  # not published: ignored
    (root / "east" / "2024Q3.failed").mkdir()  # a later run of 2024Q3 failed
    (root / "2024Q2").mkdir()  # a batch index folder is not a unit
    return root


def test_find_runs_lists_published_ok_runs_only(outputs):
    runs = find_runs(outputs)
    assert {u: sorted(q) for u, q in runs.items()} == {"demo": ["2024Q2", "2024Q3"], "east": ["2024Q2", "2024Q3"]}
    assert runs["east"]["2024Q3"].failed_since and not runs["demo"]["2024Q3"].failed_since
    assert runs["east"]["2024Q2"].unit_name == "华东<零售>事业部"


def test_trend_frame_and_tier_moves(outputs):
    runs = find_runs(outputs)["demo"]
    trend = trend_frame(runs)
    assert trend.groupby("quarter").size().to_dict() == {"2024Q2": 2, "2024Q3": 2}
    moves = tier_moves(runs["2024Q2"].table("customers"), runs["2024Q3"].table("customers"))
    assert moves.at["中价值客户", "中价值客户"] == 1 and moves.at["中价值客户", "潜力客户"] == 1
    assert moves.at["(新客户)", "新客户"] == 1


def test_trend_page_is_self_contained_and_links_to_the_quarters(outputs):
    page = trend_report("demo", root=outputs)
    assert page == outputs / "demo" / "trend.html"
    html = page.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in html and "<script" not in html
    assert re.findall(r'href="([^"#]+)"', html) == ["2024Q2/report.html", "2024Q3/report.html"]
    assert html.count('src="data:image/png;base64,') == 2  # KPI trend, budget
    for text in ("KPI 趋势", "活动效果(与对照组比较)", "客户层级变化", "预算执行", "⚠ 15.9%", "+4.3 百分点 [-2.0, +10.5]",
                 "共 1 位客户换了层级", "2024Q2 目标客群 2 人在 2024Q3 的层级:中价值客户 1 人;潜力客户 1 人",
                 "ROI(增量,对比对照组)", "-35%(区间 -80% ~ 10%)"):
        assert text in html, text


def test_portfolio_page_has_every_unit_with_escaped_names_and_relative_links(outputs):
    trend_report("east", root=outputs)
    page = portfolio_report("2024Q3", root=outputs)
    html = page.read_text(encoding="utf-8")
    assert "华东&lt;零售&gt;事业部" in html and "<零售>" not in html
    links = re.findall(r'href="([^"#]+)"', html)
    assert "demo/2024Q3/report.html" in links and "east/2024Q3/report.html" in links
    assert "east/trend.html" in links and "demo/trend.html" not in links  # only trend pages that exist
    assert "最近一次运行失败" in html
    earlier = portfolio_report("2024Q2", root=outputs).read_text(encoding="utf-8")
    assert "企业微信/社群只触达了实验组 340 人中的 260 人" in earlier  # the missed KPI's cause
    assert earlier.count("活动后30天复购率</td>") == 1  # demo's unproven KPI is listed, east's proven one is not


def test_small_samples_are_no_finding_on_the_comparison_pages(outputs):
    res = outputs / "demo" / "2024Q3" / "results"
    kpis = pd.read_parquet(res / "kpis.parquet")
    small = pd.DataFrame({"kpi": ["aov_uplift"], "name": ["客单价提升率"], "dimension": ["转化效果"], "unit": ["%"],
                          "direction": ["higher"], "target": [5.0], "actual": [-14.3], "target_text": ["≥5%"],
                          "status": ["样本不足"], "suggestion": ["样本不足: 客单价提升率只基于 15 个样本"], "flag": [""],
                          "base": [15.0]})
    pd.concat([kpis.assign(base=200.0), small], ignore_index=True).to_parquet(res / "kpis.parquet")
    pd.DataFrame({"by": "overall", "group": "整体", "kpi": ["cost_per_participant", "roi"], "value": [44.1, 81.0],
                  "base": [12.0, 12.0]}).to_parquet(res / "kpi_values.parquet")
    trend = trend_report("demo", root=outputs).read_text(encoding="utf-8")
    portfolio = portfolio_report("2024Q3", root=outputs).read_text(encoding="utf-8")
    for html in (trend, portfolio):
        assert "样本不足(n=15,少于 30) / ≥5%" in html and "-14.3%" not in html
        assert "pl-badge-small" in html
    q3 = re.search(r"<tr><td>2024Q3</td>.*?</tr>", trend.split("预算执行")[-1]).group(0)
    assert q3.count("样本不足(n=12,少于 30)") == 2 and "81%" not in q3  # cost per participant and ROI


def test_errors_are_plan_errors_with_a_hint(outputs):
    with pytest.raises(PlanError, match="没有找到单位 west"):
        trend_report("west", root=outputs)
    with pytest.raises(PlanError, match="没有任何单位在 2023Q1"):
        portfolio_report("2023Q1", root=outputs)
    with pytest.raises(PlanError, match="格式不对"):
        portfolio_report("Q1", root=outputs)


def test_compare_without_arguments_builds_everything(outputs, capsys):
    written = compare(root=outputs)
    assert [p.relative_to(outputs).as_posix() for p in written] == [
        "demo/trend.html", "east/trend.html", "portfolio-2024Q2.html", "portfolio-2024Q3.html"]
    assert main(["compare", "--unit", "demo", "--output-root", str(outputs)]) == 0
    assert "trend.html" in capsys.readouterr().out
    assert main(["compare", "--quarter", "2023Q1", "--output-root", str(outputs)]) == 1


def test_trend_and_uplift_charts_draw_missing_values_as_such():
    from planlib.publish import charts
    from planlib.stages.review import charts as review_charts

    trend = pd.DataFrame({"quarter": ["2024Q2", "2024Q3"], "name": ["满意度", "满意度"], "unit": ["分", "分"],
                          "target": [4.5, 4.5], "actual": [4.2, float("nan")], "status": ["未达成", "无数据"]})
    fig = charts.kpi_trend(trend)
    assert [t.get_text() for t in fig.axes[0].texts] == ["4.2", "无数据"]
    assert charts.kpi_trend(trend.iloc[0:0]).axes[0].texts[0].get_text() == "无数据"
    empty = pd.DataFrame({"outcome": ["复购率"], "comparison": ["实验组 vs 对照组"], "uplift": [float("nan")],
                          "ci_low": [float("nan")], "ci_high": [float("nan")], "significant": [pd.NA], "unit": ["%"]})
    assert review_charts.uplift_ci(empty).axes[0].texts[0].get_text() == "无数据"

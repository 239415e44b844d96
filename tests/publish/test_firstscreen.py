"""planlib.publish.firstscreen and the report's 结论先行 screen and approval cover."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from planlib.data import results
from planlib.publish import firstscreen as F
from planlib.publish.report import build_report
from publish.test_report import COVER, parse, write_run

ATTACK = "<img src=x onerror=alert(1)>"
APPROVED = {"reviewer": "王总", "role": "客户互动委员会主任", "decision": "通过", "date": "2024-03-25",
            "comments": "", "approved": True, "required": True}


def write_results(folder: Path, *, approval: dict | None = None, overspend: bool = False,
                  design: list | None = None) -> Path:
    kpis = pd.DataFrame({
        "kpi": ["participation_rate", "repurchase_30d", "sla_rate", "nps"],
        "name": ["目标客户参与率", "活动后30天复购率", "响应及时率", f"NPS {ATTACK}"],
        "dimension": ["互动效果"] * 4, "unit": ["%", "%", "%", ""], "direction": ["higher"] * 4,
        "target": [70.0, 12.0, 95.0, 50.0], "actual": [61.3, 15.3, None, None],
        "status": ["未达成", "超达成", "样本不足", "无数据"], "suggestion": [""] * 4,
        "target_text": ["≥70%", "≥12%", "≥95%", "≥50"], "flag": ["", "达成但提升不显著", "", ""],
        "base": [341.0, 341.0, 12.0, None]})
    results.save(folder, "kpis", kpis)
    uplift = pd.DataFrame({
        "metric": ["repurchase", "spend", "repurchase"], "outcome": ["复购率", "人均消费", "复购率"],
        "comparison": ["实验组 vs 对照组", "实验组 vs 对照组", "参与客户 vs 对照组"],
        "group_customers": [341, 341, 200], "group_value": [15.3, 60.0, 20.0], "control_customers": [80, 80, 80],
        "control_value": [11.1, 55.7, 11.1], "uplift": [4.2, 4.3, 8.9], "ci_low": [-2.5, 8.0, 1.0],
        "ci_high": [10.9, 12.0, 16.0], "p_value": [0.2, 0.001, 0.01], "significant": [False, True, True],
        "unit": ["%", "元", "%"]})
    results.save(folder, "uplift", uplift)
    actual = 10600.0 if overspend else 9700.0
    results.save(folder, "budget", pd.DataFrame({
        "category": ["物料费", "礼品费", "合计"], "detail": ["海报", "U盘", ""], "planned": [4000.0, 6000.0, 10000.0],
        "actual": [3700.0, actual - 3700.0, actual], "variance": [-300.0, actual - 9700.0, actual - 10000.0],
        "share": [40.0, 60.0, 100.0], "note": ["", "", ""], "is_total": [False, False, True]}))
    results.save(folder, "actions", pd.DataFrame({
        "problem": ["已完成的事", "满意度未达成", "参与率未达70%", "NPS 未达成", "复购提升不显著"],
        "measure": ["旧措施", "更换礼品", f"增加短信提醒 {ATTACK}", "回访", "扩大样本"],
        "owner": ["张三", "待指定", "客服专员", "待指定", "待指定"],
        "due": pd.to_datetime(["2024-05-01", None, "2024-07-15", None, None]),
        "expected": [""] * 5, "status": ["done", "suggested", "open", "suggested", "suggested"],
        "origin": ["plan", "review", "plan", "review", "review"]}))
    results.save(folder, "review_summary", {
        "budget_limit": 10000, "not_proven": ["repurchase_30d"], "headlines": [],
        "approval": approval if approval is not None else {**APPROVED, "reviewer": "", "role": "", "decision": "",
                                                          "date": "", "approved": False},
        "design_check": design if design is not None else [
            {"goal_id": "G1", "goal": "复购", "effect": "repurchase", "planned_share": 20.0, "achieved_share": 19.0,
             "share_kept": True, "sample_ok": False, "power": 0.54, "mde": 10.1, "significant": False,
             "conclusion": "样本不足以对计划的变化下结论"}]})
    return folder


def test_kpis_with_target_actual_and_the_four_statuses(tmp_path):
    screen = F.build(write_results(tmp_path))
    rows = {k["name"]: k for k in screen.kpis}
    assert rows["目标客户参与率"] == {"name": "目标客户参与率", "target": "≥70%", "actual": "61.3%",
                                        "status": "未达成", "tone": "bad", "flag": ""}
    assert rows["活动后30天复购率"]["status"] == "达成" and rows["活动后30天复购率"]["flag"] == "提升不显著"
    assert rows["响应及时率"]["status"] == "样本不足" and rows["响应及时率"]["actual"] == "n=12"
    assert rows[f"NPS {ATTACK}"]["status"] == "无数据" and rows[f"NPS {ATTACK}"]["actual"] == "无数据"


def test_effect_in_plain_words_only_for_the_intent_to_treat_rows(tmp_path):
    screen = F.build(write_results(tmp_path))
    texts = [e["text"] for e in screen.effects]
    assert len(texts) == 3  # two ITT rows and the design check; the participants row is no verdict
    assert texts[0].startswith("复购率:与对照组没有可区分的差异(+4.2 个百分点") and "不能确定是活动带来的" in texts[0]
    assert texts[1].startswith("人均消费:效果真实 — 实验组比对照组高 4.3 元")
    assert "把握为 54%" in texts[2] and "未显著不代表没有效果" in texts[2]


def test_small_groups_get_no_effect_verdict(tmp_path):
    write_results(tmp_path)
    uplift = results.load(tmp_path, "uplift")
    uplift["control_customers"] = 12
    results.save(tmp_path, "uplift", uplift)
    assert all("样本不足" in e["text"] for e in F.build(tmp_path).effects[:2])


def test_budget_used_against_plan_and_overspend(tmp_path):
    assert F.build(write_results(tmp_path)).budget["text"] == "已用 9,700 元 / 计划 10,000 元(97%)"
    over = F.build(write_results(tmp_path, overspend=True))
    assert over.budget["tone"] == "bad" and over.budget["text"].endswith("超支 600 元")
    assert any(d.startswith("预算超支 600 元") for d in over.decisions)


def test_top_three_open_actions_with_owner_and_date(tmp_path):
    actions = F.build(write_results(tmp_path)).actions
    assert [a["owner"] for a in actions] == ["客服专员", "待指定", "待指定"]  # the done one is left out
    assert actions[0]["due"] == "2024-07-15" and actions[1]["due"] == "待定"


def test_decisions_for_the_reviewer(tmp_path):
    decisions = F.build(write_results(tmp_path)).decisions
    assert decisions[0].startswith("本计划尚未审批(计划中没有审批记录)")
    assert any(d.startswith("1 项 KPI 未达成(目标客户参与率)") for d in decisions)
    assert any("活动后30天复购率 已达成但提升不显著" in d for d in decisions)
    assert any(d.startswith("G1 的样本不足以检测计划的变化") for d in decisions)
    assert any(d.startswith("3 项建议行动尚无责任人") for d in decisions)


@pytest.mark.parametrize(("approval", "note"), [
    (APPROVED, ""),
    ({**APPROVED, "decision": "修改后通过"}, ""),
    ({**APPROVED, "decision": "不通过", "approved": False}, "本计划尚未审批(审批结论为“不通过”,王总 2024-03-25)"),
    ({**APPROVED, "decision": "待审批", "approved": False}, "本计划尚未审批(审批人 王总 尚未给出结论)"),
    ({**APPROVED, "reviewer": "", "decision": "", "approved": False, "required": False}, ""),
])
def test_unapproved_note(approval, note):
    assert F.unapproved(approval) == note


def test_report_opens_with_the_first_screen_and_the_approval_on_the_cover(tmp_path):
    out = build_report(write_run(write_results(tmp_path, approval=APPROVED), []), tmp_path / "report.html",
                       title="复盘", cover=COVER)
    html = out.read_text(encoding="utf-8")
    body = html[html.index("<body"):]
    assert body.index('id="first-screen"') < body.index('class="pl-cover"') < body.index('class="pl-toc"')
    cover = body[body.index('class="pl-cover"'):body.index('class="pl-toc"')]
    for text in ("审批人</th><td>王总", "职务</th><td>客户互动委员会主任", "审批结论</th><td>通过", "审批日期</th><td>2024-03-25"):
        assert text in cover, text
    assert "本计划尚未审批" not in html
    assert "onerror" not in "".join(str(a) for _, a in parse(html)) and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_report_without_approval_says_so_on_the_first_screen_and_the_cover(tmp_path):
    html = build_report(write_run(write_results(tmp_path), []), tmp_path / "report.html", title="复盘",
                        cover=COVER).read_text(encoding="utf-8")
    assert html.count("本计划尚未审批(计划中没有审批记录)") == 3  # first screen, its decision list, the cover


def test_no_first_screen_without_stage_05_results_or_for_a_pulse(tmp_path):
    notebooks = write_run(tmp_path, [])
    html = build_report(notebooks, tmp_path / "report.html", title="复盘", cover=COVER).read_text(encoding="utf-8")
    assert 'id="first-screen"' not in html and "审批人" not in html
    write_results(tmp_path)
    pulse = build_report(notebooks[:1], tmp_path / "pulse.html", title="中期检查", cover=COVER)
    assert 'id="first-screen"' not in pulse.read_text(encoding="utf-8")

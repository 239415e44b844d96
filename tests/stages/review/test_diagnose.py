"""The diagnosis rules: what explains most of a miss, with its figure, and what to do."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import demo_plan

from planlib.metrics.measure import KpiValue, compute_kpis
from planlib.stages.review.diagnose import Evidence, collect_evidence, diagnose
from stages.review.test_analysis import customers_result, frames


def _exposure(groups: list[tuple[int, int, dict]]) -> pd.DataFrame:
    """Treatment customers from (count, participants, columns) groups."""
    rows = []
    for count, took_part, columns in groups:
        rows += [{"participated": i < took_part, **columns} for i in range(count)]
    return pd.DataFrame(rows, index=[f"C{i:03d}" for i in range(len(rows))])


def _participation(exp: pd.DataFrame) -> dict:
    x = int(exp["participated"].sum())
    return {"participation_rate": KpiValue("participation_rate", x / len(exp) * 100, x, len(exp))}


def test_customers_a_channel_never_reached_explain_the_participation_miss():
    # the demo's story: 260 of 340 joined the community, 185 of them took part (71 %); of the 80 it
    # never reached only 35 did (43.8 %): 0.7·80 − 35 = 21 missing, more than the whole gap 0.7·340 − 220 = 18
    exp = _exposure([(260, 185, {"tier": "中价值客户", "wecom": True, "sms": True}),
                     (80, 35, {"tier": "中价值客户", "wecom": False, "sms": True})])
    d = diagnose("participation_rate", 70, 220 / 340 * 100, _participation(exp), demo_plan(), Evidence(exposure=exp))
    assert d.cause == ("目标客户参与率 64.7%,未达目标 ≥70%:企业微信/社群只触达了实验组 340 人中的 260 人,"
                       "未触达的 80 人参与率仅 43.8%(比目标少 21 人,足以解释全部缺口)")
    assert d.advice.startswith("对未入群的客户增加短信提醒")
    assert d.text == f"{d.cause};建议{d.advice}"


def test_the_tier_with_the_largest_shortfall_is_named_with_its_strategy():
    exp = _exposure([(100, 68, {"tier": "中价值客户", "sms": True}), (50, 10, {"tier": "潜力客户", "sms": True})])
    d = diagnose("participation_rate", 70, 52.0, _participation(exp), demo_plan(), Evidence(exposure=exp))
    # 中价值 0.7·100 − 68 = 2; 潜力 0.7·50 − 10 = 25 of the gap 0.7·150 − 78 = 27
    assert "潜力客户参与率仅 20%(50 人)(比目标少 25 人,占总缺口的 93%)" in d.cause
    assert d.advice.startswith("针对潜力客户单独调整内容与渠道(该层维护策略: 每周1次轻触达")


def test_a_losing_ab_version_is_named_with_the_better_one():
    exp = _exposure([(100, 75, {"tier": "中价值客户", "sms": True, "v:sms": "B"}),
                     (100, 40, {"tier": "中价值客户", "sms": True, "v:sms": "A"})])
    d = diagnose("participation_rate", 70, 57.5, _participation(exp), demo_plan(), Evidence(exposure=exp))
    assert "短信 A 版的客户参与率仅 40%(100 人)" in d.cause
    assert d.advice == "短信统一采用表现更好的 B 版(75%)"


def test_without_group_evidence_the_weakest_funnel_step_explains_the_miss():
    plan = demo_plan()
    values = compute_kpis(plan, frames(), customers_result())
    d = diagnose("participation_rate", 70, 30.0, values, plan)
    assert d.cause == "打开率仅 62.5%(触达 8 人中打开 5 人)" and d.advice == "增加短信提醒、调整发送时间"


def test_low_scores_name_the_theme_their_comments_mention_most():
    surveys = pd.DataFrame({
        "csat": pd.array([2, 3, 3, 1, 5, 2], dtype="Int64"), "nps": pd.array([3, 6, 5, 0, 10, 9], dtype="Int64"),
        "comment": ["礼品不实用", "礼品没什么用", "到货有点慢", "", "礼品很实用", "礼品很实用"],
        "tier": "中价值客户"})
    values = {"csat": KpiValue("csat", 3.0, 18.0, 6, parts={"low": 4}),
              "nps": KpiValue("nps", -33.3, -2, 6, parts={"promoters": 2, "detractors": 4})}
    d = diagnose("csat", 4.5, 3.0, values, demo_plan(), Evidence(surveys=surveys))
    assert d.cause == "满意度均分 3分,低于目标 ≥4.5分(4 份评分≤3分);低分(≤3分)客户的评价中提到最多的是礼品(2 条,如“礼品不实用”)"
    assert d.advice == "调研客户对礼品/权益的偏好,按偏好更换礼品"
    # detractors (NPS ≤ 6) are the first four; the praise "礼品很实用" of the two promoters is not counted
    n = diagnose("nps", 50, -33.3, values, demo_plan(), Evidence(surveys=surveys))
    assert "礼品(2 条" in n.cause
    quiet = diagnose("csat", 4.5, 3.0, values, demo_plan(), Evidence(surveys=surveys.assign(comment="")))
    assert quiet.advice == "回访低分客户了解原因,并调研客户对礼品/权益的偏好"


@pytest.mark.parametrize("actuals,expected", [
    # 10,000 planned for 3 participants: too few people
    (None, "需要至少 200 位参与客户,实际只有 3 人"),
    # 600 participants at 50 元 would cost 30,000; the line 4 overspends by 25,000: overspending
    ([1000, 1800, 3000, 26000, 1700, 1000], "超支最多的科目是礼品费(打卡小礼品(马克杯)50个(20元/个),超出 25,000 元)"),
])
def test_cost_names_overspending_or_too_few_participants(actuals, expected):
    plan = demo_plan()
    if actuals:
        for line, actual in zip(plan.budget.lines, actuals, strict=True):
            line.actual = actual
    spent = sum(line.actual for line in plan.budget.lines)
    n = 3 if actuals is None else 600
    values = {"cost_per_participant": KpiValue("cost_per_participant", spent / n, spent, n)}
    assert expected in diagnose("cost_per_participant", 50, spent / n, values, plan).cause


def test_achieved_without_proven_effect_is_a_warning_and_met_with_effect_is_silent():
    row = pd.Series({"metric": "repurchase", "uplift": 4.3, "ci_low": -2.0, "ci_high": 10.5, "significant": False})
    values = {"repurchase_30d": KpiValue("repurchase_30d", 15.9, 35, 220)}
    d = diagnose("repurchase_30d", 12, 15.9, values, demo_plan(), effect=row)
    assert d.cause.startswith("已超达成,但与对照组相比复购率提升 +4.3 百分点 [-2.0, +10.5],与0无显著差异")
    assert diagnose("repurchase_30d", 12, 15.9, values, demo_plan(), effect=row.copy().replace({False: True})) is None
    assert diagnose("repurchase_30d", 12, 15.9, values, demo_plan()) is None


def test_no_data_and_manual_actuals_say_so_plainly():
    plan = demo_plan()
    none = diagnose("csat", 4.5, None, {"csat": KpiValue("csat", None, explanation="无数据: 缺少问卷(surveys)")}, plan)
    assert none.cause.startswith("无法评估: 缺少问卷(surveys)")
    manual = diagnose("csat", 4.5, 4.0, {"csat": KpiValue("csat", None)}, plan)
    assert manual.text == "满意度平均评分(5分制) 实际 4分,未达目标 ≥4.5分;建议在复盘会上分析原因并制定改进措施"


def test_collect_evidence_on_hand_made_frames():
    plan = demo_plan()
    ev = collect_evidence(plan, frames(), customers_result())
    exp = ev.exposure
    assert len(exp) == 10 and exp["participated"].sum() == 3  # C01 C02 C03
    assert exp.loc["C01", "sms"] and exp.loc["C01", "wecom"] and not exp.loc["C03", "wecom"]
    assert exp["repurchased"].sum() == 2  # C01, C03 (C02 bought 36 days after)
    assert set(ev.surveys["customer_id"]) == {"C01", "C02", "C03", "C11", "C05"}  # in scope, in the window

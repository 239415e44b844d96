"""The diagnosis rules: what explains most of a miss, with its figure, and what to do."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from conftest import demo_plan

from planlib.metrics.measure import KpiValue, compute_kpis
from planlib.stages.review.diagnose import Evidence, collect_evidence, diagnose
from stages.review.test_analysis import customers_result, frames, judge_small_samples  # noqa: F401


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
    # the advice names the plan's other channels with the best reach, not a text keyed on "wecom"
    assert d.advice == "对未被企业微信/社群触达的 80 人改用短信、线下活动/沙龙补充触达"
    assert d.text == f"{d.cause};建议{d.advice}"


def test_the_tier_with_the_largest_shortfall_is_named_with_its_strategy():
    exp = _exposure([(100, 68, {"tier": "中价值客户", "sms": True}), (50, 10, {"tier": "潜力客户", "sms": True})])
    d = diagnose("participation_rate", 70, 52.0, _participation(exp), demo_plan(), Evidence(exposure=exp))
    # 中价值 0.7·100 − 68 = 2; 潜力 0.7·50 − 10 = 25 of the gap 0.7·150 − 78 = 27
    assert "潜力客户参与率仅 20%(50 人)(比目标少 25 人,占总缺口的 93%)" in d.cause
    assert d.advice.startswith("针对潜力客户单独调整内容与渠道(该层维护策略: 每周1次轻触达")


def test_a_group_below_the_minimum_base_is_never_named(monkeypatch):
    from planlib.plan import kpis

    monkeypatch.setattr(kpis, "MIN_BASE", 30)  # the real rule (this module's tests otherwise judge any base)
    # 12 潜力客户 of whom nobody took part would explain 0.7·12 = 8.4 of the gap 0.7·112 − 68 = 10.4:
    # a handful is no cause; the 100 中价值客户 (0.7·100 − 68 = 2) are named instead
    exp = _exposure([(100, 68, {"tier": "中价值客户", "sms": True}), (12, 0, {"tier": "潜力客户", "sms": True})])
    d = diagnose("participation_rate", 70, 68 / 112 * 100, _participation(exp), demo_plan(), Evidence(exposure=exp))
    assert "潜力客户" not in d.text
    assert "中价值客户参与率仅 68%(100 人)" in d.cause


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
    assert d.cause == "打开率仅 62.5%(触达 8 人中打开 5 人)"
    assert d.advice == "调整发送时间与标题,并用打开率更高的渠道(电话回访、线下活动/沙龙)提醒"


def test_low_scores_name_the_theme_their_comments_mention_most():
    surveys = pd.DataFrame({
        "csat": pd.array([2, 3, 3, 1, 5, 2], dtype="Int64"), "nps": pd.array([3, 6, 5, 0, 10, 9], dtype="Int64"),
        "comment": ["礼品不实用", "礼品没什么用", "到货有点慢", "", "礼品很实用", "礼品很实用"],
        "tier": "中价值客户"})
    values = {"csat": KpiValue("csat", 3.0, 18.0, 6, parts={"low": 4}),
              "nps": KpiValue("nps", -33.3, -2, 6, parts={"promoters": 2, "detractors": 4})}
    d = diagnose("csat", 4.5, 3.0, values, demo_plan(), Evidence(surveys=surveys))
    assert d.cause == ("满意度均分 3分,低于目标 ≥4.5分(4 份评分≤3分);低分(≤3分)客户的评价中提到最多的是礼品与权益"
                       "(2 条,如“礼品不实用”)")  # "不实用" is no praise
    assert d.advice == "调研客户对礼品与权益的偏好,按偏好调整"
    # detractors (NPS ≤ 6) are the first four; the praise "礼品很实用" of the two promoters is not counted
    n = diagnose("nps", 50, -33.3, values, demo_plan(), Evidence(surveys=surveys))
    assert "礼品与权益(2 条" in n.cause
    quiet = diagnose("csat", 4.5, 3.0, values, demo_plan(), Evidence(surveys=surveys.assign(comment="")))
    assert quiet.advice == "回访低分客户了解原因,按提到最多的问题整改"


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


# ------------------------------------------------------------------ nothing fitted to the demo
DEMO_WORDS = ("企业微信", "企微", "社群", "短信", "wecom", "sms", "U盘", "马克杯", "打卡", "入群", "电话", "销售代表",
              "沙龙", "30天")


def _coffee_unit():
    """A second unit with its own channels (App推送, 邮件, 外呼), products (咖啡豆, 保温杯) and a
    14-day attribution window: 200 in-scope customers, 40 held out, 160 treatment; of the 100 the App
    reaches half take part, of the 60 it never reaches nobody."""
    import numpy as np

    from planlib.plan.schema import Plan

    plan = Plan.model_validate({
        "meta": {"unit": "coffee", "unit_name": "华南咖啡事业部", "quarter": "2024Q2", "title": "常客回流计划",
                 "owner": "经理", "period": {"start": date(2024, 4, 1), "end": date(2024, 6, 30)}},
        "scope": {"segment": "常客"},
        "goals": [{"id": "G1", "name": "回流", "metric": "participation_rate", "segment": "常客", "target": 90.0,
                   "direction": "increase", "deadline": date(2024, 6, 30)}],
        "data": {"customers": {"path": "c.csv"}, "transactions": {"path": "t.csv"}},
        "segmentation": {"tiers": [{"name": "常客", "strategy": "每月1次新品试饮邀请"},
                                   {"name": "新客", "strategy": "首月每周1次冲泡指南"}]},
        "channels": {"catalogue": [
            {"id": "app_push", "name": "App推送", "cost_per_contact": 0.01, "reach_rate": 80.0, "open_rate": 20.0,
             "response_rate": 5.0},
            {"id": "email", "name": "邮件", "cost_per_contact": 0.02, "reach_rate": 90.0, "open_rate": 15.0,
             "response_rate": 3.0},
            {"id": "outbound", "name": "外呼", "cost_per_contact": 2.0, "reach_rate": 50.0, "open_rate": 100.0,
             "response_rate": 30.0}]},
        "budget": {"limit": 20000.0, "lines": [
            {"category": "样品费", "detail": "咖啡豆试饮装", "planned": 5000.0, "actual": 9000.0},
            {"category": "推广费", "detail": "邮件模板设计", "planned": 3000.0, "actual": 2500.0}]},
        "kpis": [{"kpi": k, "target": t} for k, t in (
            ("participation_rate", 90), ("reach_rate", 99), ("open_rate", 95), ("engagement_rate", 95),
            ("repurchase_30d", 95), ("csat", 4.9), ("nps", 90), ("response_sla_rate", 99), ("complaint_rate", 0.1),
            ("churn_rate", 1), ("repurchase_rate", 95), ("aov_uplift", 80), ("cost_per_participant", 200),
            ("roi", 5000))],
        "review": {"campaign": "coffee-back", "attribution_days": 14},
    })
    ids = [f"K{i:03d}" for i in range(200)]
    cr = pd.DataFrame({"customer_id": ids, "tier": ["常客" if i % 2 == 0 else "新客" for i in range(200)], "in_scope": True,
                       "control": [i % 5 == 4 for i in range(200)]})
    treat = [c for c, ctl in zip(ids, cr["control"], strict=True) if not ctl]
    rows = []
    for i, c in enumerate(treat):
        for channel in ("app_push", "email") if i < 100 else ("email",):
            opened = i % 2 == 0
            rows.append({"customer_id": c, "campaign": "coffee-back", "channel": channel, "variant": "",
                         "sent_at": pd.Timestamp("2024-04-10 09:00"),
                         "opened_at": pd.Timestamp("2024-04-10 12:00") if opened else pd.NaT,
                         "clicked_at": pd.Timestamp("2024-04-10 12:05") if opened and i % 4 == 0 else pd.NaT,
                         "responded_at": pd.Timestamp("2024-04-12") if i < 100 and opened else pd.NaT})
    inter = pd.DataFrame(rows)
    rng = np.random.default_rng(5)
    tx = pd.DataFrame({"customer_id": ids * 2,
                       "order_date": [pd.Timestamp("2024-01-15")] * 200 + [pd.Timestamp("2024-04-20")] * 200,
                       "amount": np.r_[rng.uniform(80, 120, 200), rng.uniform(60, 100, 200)]})
    tx = tx[(tx.index % 3 != 0) | (tx.index < 200)].reset_index(drop=True)
    tx.insert(0, "order_id", [f"O{i}" for i in range(len(tx))])
    comments = ["保温杯漏水"] * 20 + ["咖啡豆不新鲜"] * 12 + ["还行"] * 8 + ["很满意"] * 40
    surveys = pd.DataFrame({"customer_id": ids[:80], "survey_date": pd.Timestamp("2024-05-05"),
                            "csat": pd.array([2] * 40 + [5] * 40, dtype="Int64"),
                            "nps": pd.array([3] * 40 + [10] * 40, dtype="Int64"), "comment": comments})
    tickets = pd.DataFrame({"ticket_id": [f"T{i}" for i in range(60)], "customer_id": ids[:60],
                            "created_at": pd.Timestamp("2024-05-01 10:00"),
                            "first_response_at": [pd.Timestamp("2024-05-01 10:30")] * 30
                            + [pd.Timestamp("2024-05-01 10:01")] * 30,
                            "resolved_at": pd.NaT, "is_complaint": [True] * 20 + [False] * 40})
    return plan, {"interactions": inter, "transactions": tx, "surveys": surveys, "tickets": tickets}, cr


def test_the_diagnosis_of_another_unit_uses_its_own_words_and_none_of_the_demo(monkeypatch):
    from planlib.plan import kpis
    from planlib.stages.review import views
    from planlib.stages.review.analysis import action_plan, analyse

    monkeypatch.setattr(kpis, "MIN_BASE", 30)  # the real rule: every base here is at least 30
    plan, data, cr = _coffee_unit()
    r = analyse(plan, data, cr)
    table = r.table.set_index("kpi")
    assert (table["status"] == "未达成").sum() >= 12, table[["status", "actual"]]
    texts = [*r.table["name"], *r.table["suggestion"], *r.summary["headlines"],
             *action_plan(plan, r.table)["优化措施"].astype(str), *views.kpi_targets(plan).astype(str).to_numpy().ravel()]
    for word in DEMO_WORDS:
        assert not [t for t in texts if word in t], word
    # its own words instead: the label follows its 14-day window, channels and comments are its own
    assert table.loc["repurchase_30d", "name"] == "活动后14天复购率"
    assert "首次参与当天起 14 天内" in views.kpi_targets(plan).set_index("核心指标").loc["活动后14天复购率", "计算方法"]
    assert "App推送只触达了实验组 160 人中的 100 人" in table.loc["participation_rate", "suggestion"]
    assert "改用邮件、外呼补充触达" in table.loc["participation_rate", "advice"]
    # no theme of the plan fits "保温杯漏水": the term low scorers' comments share most is named
    assert "提到最多的是“保温杯漏水”(20 条" in table.loc["csat", "suggestion"]
    assert table.loc["csat", "advice"] == "回访提到“保温杯漏水”的客户,核实原因并制定整改措施"
    assert "超支最多的科目是样品费(咖啡豆试饮装" in table.loc["cost_per_participant", "suggestion"]


def test_the_plan_brings_its_own_comment_themes_and_praise(monkeypatch):
    surveys = pd.DataFrame({"csat": pd.array([2, 2, 3, 1], dtype="Int64"), "nps": pd.array([3, 2, 5, 0], dtype="Int64"),
                            "comment": ["保温杯漏水", "杯盖漏水", "豆子香味一般", "漏水但很好看"], "tier": "常客"})
    values = {"csat": KpiValue("csat", 2.0, 8.0, 4, parts={"low": 4})}
    plan = demo_plan(review={"comment_themes": [{"name": "杯具质量", "keywords": ["漏水", "杯盖"],
                                                 "advice": "联系供应商更换密封圈"}],
                             "praise_words": ["很好看"]})
    d = diagnose("csat", 4.5, 2.0, values, plan, Evidence(surveys=surveys))
    assert "提到最多的是杯具质量(2 条" in d.cause  # "漏水但很好看" is praise by this plan's words
    assert d.advice == "联系供应商更换密封圈"


def test_a_typo_in_a_diagnosis_template_is_a_bug_not_a_fallback(monkeypatch):
    from planlib.stages.review import diagnose as rules

    monkeypatch.setitem(rules.KPI_ADVICE, "churn_rate", "流失率 {actul},建议召回")
    values = {"churn_rate": KpiValue("churn_rate", 60.0, 3, 5)}
    with pytest.raises(KeyError, match="actul"):
        diagnose("churn_rate", 30, 60.0, values, demo_plan())


def test_frequent_term_prefers_the_longest_of_equally_frequent_terms():
    from planlib.stages.review.diagnose import frequent_term

    texts = pd.Series(["到货太慢了", "这次到货太慢", "包装破了", "很快"])
    assert frequent_term(texts) == "到货太慢"
    assert frequent_term(pd.Series(["一次", "两次不同"])) is None

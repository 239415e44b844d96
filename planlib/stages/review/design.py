"""Closing the loop: the outcome against the evaluation design registered before the quarter.

The proposal (``planlib proposal``) promised a control share and judged, for every goal compared
against the control group, whether its targeted change (baseline → target) could be detected at
80 % power and 5 % two-sided significance. Stage 05 asks the same questions of what happened:

* was the control share kept (planned ``review.control_share`` vs the control group compared)?
* was the sample as planned (the customers compared vs the customers the planned change needed)?
* at the sample achieved, how likely was the planned change to be detected (its power), and
  what is the smallest effect the comparison could detect (MDE)?

and says in plain words what a non-significant result means: with enough power, the effect is
probably smaller than planned; without it, the comparison could not tell — not "no effect".
The power math is :mod:`planlib.metrics.power`, the one the proposal used.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from planlib.metrics import power
from planlib.plan.kpis import CATALOGUE, MIN_BASE, SMALL_SAMPLE, too_small
from planlib.plan.schema import Plan
from planlib.stages.review.uplift import effect_of, interval_text

COLUMNS = ["goal_id", "goal", "effect", "planned_share", "achieved_share", "share_kept", "n_treated",
           "n_control", "needed", "sample_ok", "planned_change", "mde", "power", "observed", "significant",
           "unit", "conclusion"]
LABELS = {"goal": "目标", "share_text": "对照组比例(计划 / 实际)", "sample_text": "样本(实际 / 检测计划效果所需)",
          "change_text": "计划的变化", "mde_text": "实际样本可检测的最小效应", "power_text": "计划效果被检测到的把握(功效)",
          "observed": "实际提升 [95%置信区间]"}
SETTINGS_TEXT = ("功效按策划书的约定计算:双侧 α = 5%,功效 80%(与 statsmodels 的 NormalIndPower 一致);"
                 "对照组比例与计划相差 2 个百分点以内(或在抽样误差 3 倍标准差以内)视为按计划保持。"
                 "功效达到 80% 而未显著:效果很可能小于计划;功效不足 80% 而未显著:样本不足以下结论,不等于没有效果。")
SHARE_TOLERANCE_PP = 2.0  # the hash draw gives about the share: within 2 points (or 3 binomial sd) counts as kept


def _baselines(goals: pd.DataFrame | None) -> dict[str, float]:
    if goals is None or goals.empty:
        return {}
    return {str(r.goal_id): float(r.baseline) for r in goals.itertuples() if not pd.isna(r.baseline)}


def share_kept(planned: float, achieved: float, n: int) -> bool:
    """Whether the control share compared is the planned one up to the hash draw's spread."""
    sd = math.sqrt(planned * (1 - planned) / n) if n > 0 else 0.0
    return abs(achieved - planned) <= max(SHARE_TOLERANCE_PP / 100, 3 * sd)


def spend_mde(row: pd.Series) -> float | None:
    """The smallest spend difference (yuan per customer) the Welch comparison could detect at 80 % power,
    from its standard error (the 95 % interval's half width / 1.96)."""
    if pd.isna(row["ci_low"]) or pd.isna(row["ci_high"]):
        return None
    se = (float(row["ci_high"]) - float(row["ci_low"])) / (2 * stats.norm.isf(power.ALPHA / 2))
    return (stats.norm.isf(power.ALPHA / 2) + stats.norm.ppf(power.POWER)) * se


def design_check(plan: Plan, effects: pd.DataFrame, goals: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per goal judged against the control group: the design's promises against the outcome.

    ``effects`` is the uplift frame (:func:`planlib.stages.review.uplift.uplift`); ``goals`` is stage 01's
    result "goals" (the baselines measured from the data; the plan's ``baseline`` otherwise).
    Shares, changes and MDEs of repurchase are in percent / percentage points, of spend in yuan.
    """
    baselines = _baselines(goals)
    planned_share = plan.review.control_share / 100
    rows = []
    for goal in plan.goals:
        kpi = CATALOGUE[goal.metric]
        if kpi.effect is None:
            continue
        row = dict.fromkeys(COLUMNS)
        row.update(goal_id=goal.id, goal=goal.name, effect=kpi.effect, planned_share=planned_share * 100,
                   unit="百分点" if kpi.effect == "repurchase" else "元")
        effect = effect_of(effects, kpi.effect)
        if effect is None or pd.isna(effect["group_customers"]) or pd.isna(effect["control_customers"]):
            row["conclusion"] = "无数据:没有与对照组的比较(缺少交易或客户数据),无法检查评估设计。"
            rows.append(row)
            continue
        n1, n0 = int(effect["group_customers"]), int(effect["control_customers"])
        n = n1 + n0
        achieved = n0 / n if n else 0.0
        row.update(n_treated=n1, n_control=n0, achieved_share=achieved * 100,
                   share_kept=share_kept(planned_share, achieved, n) if planned_share > 0 else None,
                   observed=interval_text(effect),
                   significant=None if pd.isna(effect["significant"]) else bool(effect["significant"]))
        if kpi.effect == "repurchase":
            _proportion(row, goal.target, baselines.get(goal.id, goal.baseline), planned_share, achieved, n)
        else:
            row["mde"] = spend_mde(effect)
        row["conclusion"] = conclusion(row, effect)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("planned_share", "achieved_share", "planned_change", "mde", "power"):
        frame[col] = frame[col].astype("float64")
    for col in ("n_treated", "n_control", "needed"):
        frame[col] = frame[col].astype("Int64")
    for col in ("share_kept", "sample_ok", "significant"):
        frame[col] = frame[col].astype("boolean")
    return frame


def _proportion(row: dict, target: float, baseline: float | None, planned: float, achieved: float, n: int) -> None:
    """Power at the achieved split for the planned change, the MDE there and the sample the change needed."""
    if baseline is None or not (0 <= baseline <= 100 and 0 <= target <= 100) or baseline == target:
        return
    row["planned_change"] = target - baseline
    if n < 2 or not (0 < achieved <= 0.5):
        return
    d = power.design_proportion_goal(baseline / 100, target / 100, n, achieved)
    row.update(power=d.power_at_target, mde=d.mde_pp)
    if 0 < planned <= 0.5:
        needed = power.design_proportion_goal(baseline / 100, target / 100, n, planned).audience_needed
        row.update(needed=needed, sample_ok=n >= needed if needed is not None else None)


def _pp(v: float | None) -> str:
    return "—" if v is None or pd.isna(v) else f"{abs(v):.1f} 个百分点"


def conclusion(row: dict, effect: pd.Series) -> str:
    """What the comparison means in plain words, given the power the design promised."""
    parts = []
    if row["share_kept"] is False:
        parts.append(f"对照组比例偏离计划(计划 {row['planned_share']:.0f}%,实际 {row['achieved_share']:.1f}%),"
                     "请核对对照组是否被误触达或抽取有误。")
    if row["n_control"] == 0 or row["planned_share"] == 0:
        return "".join(parts) + "没有对照组,无法判断效果是否由活动带来。"
    if too_small(min(row["n_treated"], row["n_control"])):
        return "".join(parts) + f"{SMALL_SAMPLE}(某组不足 {MIN_BASE} 人),不下结论。"
    if row["significant"] is None:
        return "".join(parts) + "无法判断:没有可用的效果估计。"
    if row["effect"] == "spend":
        mde = "—" if row["mde"] is None else f"{row['mde']:,.0f} 元"
        if row["significant"]:
            return "".join(parts) + f"效果真实:实验组人均消费与对照组的差异 {row['observed']},在 95% 置信水平下显著。"
        return "".join(parts) + (f"按实际样本只能可靠检测到约 {mde} 以上的人均消费差异;实际差异 {row['observed']} "
                                 "低于此值,无法确认活动带来了消费增长(不等于没有效果)。")
    planned, mde, p = row["planned_change"], row["mde"], row["power"]
    if row["significant"]:
        word = "高" if effect["uplift"] > 0 else "低"
        return "".join(parts) + (f"效果真实:实验组复购率比对照组{word} {abs(float(effect['uplift'])):.1f} 个百分点"
                                 f"({row['observed']}),在 95% 置信水平下显著。")
    if planned is None or pd.isna(planned) or p is None or pd.isna(p):
        return "".join(parts) + (f"与对照组无显著差异({row['observed']});计划没有可检验的基线或目标,"
                                 f"实际样本可检测的最小效应为 {_pp(mde)}。")
    if p >= power.POWER:
        return "".join(parts) + (f"按实际样本(实验 {row['n_treated']:,} / 对照 {row['n_control']:,} 人),计划的变化"
                                 f"({_pp(planned)})有 {p:.0%} 的把握被检测到,但没有检测到显著差异({row['observed']}):"
                                 f"活动的真实效果很可能小于计划,最多约 {_pp(mde)}。")
    needed = "" if row["needed"] is None or pd.isna(row["needed"]) else f",检测它约需 {int(row['needed']):,} 人"
    return "".join(parts) + (f"按实际样本(实验 {row['n_treated']:,} / 对照 {row['n_control']:,} 人),计划的变化"
                             f"({_pp(planned)})只有 {p:.0%} 的把握被检测到{needed};可检测的最小效应为 {_pp(mde)}。"
                             f"未显著({row['observed']})不代表没有效果:样本不足以对计划的变化下结论。")


def display_frame(check: pd.DataFrame) -> pd.DataFrame:
    """The check as reviewers read it: one column per goal, planned against achieved and the power (the plain
    conclusion is shown below the table, :func:`planlib.stages.review.views.show_design_check`)."""
    def share(r) -> str:
        if pd.isna(r.achieved_share):
            return f"{r.planned_share:.0f}% / —"
        kept = "" if pd.isna(r.share_kept) else ("(按计划)" if r.share_kept else "(偏离计划)")
        return f"{r.planned_share:.0f}% / {r.achieved_share:.1f}%{kept}"

    def sample(r) -> str:
        if pd.isna(r.n_treated):
            return "—"
        got = f"{int(r.n_treated) + int(r.n_control):,} 人(实验 {int(r.n_treated):,} / 对照 {int(r.n_control):,})"
        if pd.isna(r.needed):
            return got
        return f"{got} / {int(r.needed):,} 人" + ("" if pd.isna(r.sample_ok) else ("(足够)" if r.sample_ok else "(不足)"))

    def mde(r) -> str:
        if pd.isna(r.mde):
            return "—"
        return f"{r.mde:.1f} 个百分点" if r.effect == "repurchase" else f"人均 {r.mde:,.0f} 元"

    columns = {
        LABELS["goal"]: [r.goal for r in check.itertuples()],
        LABELS["share_text"]: [share(r) for r in check.itertuples()],
        LABELS["sample_text"]: [sample(r) for r in check.itertuples()],
        LABELS["change_text"]: [_pp(v) if e == "repurchase" else "—(目标不是人均消费差)"
                                for v, e in zip(check["planned_change"], check["effect"], strict=True)],
        LABELS["mde_text"]: [mde(r) for r in check.itertuples()],
        LABELS["power_text"]: ["—" if pd.isna(p) else f"{p:.0%}" for p in check["power"]],
        LABELS["observed"]: list(check["observed"].fillna("无数据")),
    }
    # one column per goal, one row per question: goal names and conclusions are long, the figures short
    return pd.DataFrame({"检查项": list(columns), **{gid: [v[i] for v in columns.values()]
                                                   for i, gid in enumerate(check["goal_id"])}})


def summary_rows(check: pd.DataFrame) -> list[dict]:
    """The check as JSON-safe rows for the result "review_summary" (read by the report's first screen)."""
    out = []
    for r in check.itertuples():
        out.append({"goal_id": r.goal_id, "goal": r.goal, "effect": r.effect,
                    "planned_share": None if pd.isna(r.planned_share) else float(r.planned_share),
                    "achieved_share": None if pd.isna(r.achieved_share) else float(r.achieved_share),
                    "share_kept": None if pd.isna(r.share_kept) else bool(r.share_kept),
                    "sample_ok": None if pd.isna(r.sample_ok) else bool(r.sample_ok),
                    "power": None if pd.isna(r.power) else float(r.power),
                    "mde": None if pd.isna(r.mde) else float(r.mde),
                    "significant": None if pd.isna(r.significant) else bool(r.significant),
                    "conclusion": r.conclusion})
    return out

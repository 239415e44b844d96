"""Each stage's list tables in a real JupyterLab, driven through Debian's headless Chromium.

One test per stage, as a planner works a table: edit a cell of a row, add a row and fill it, delete
a row, pick from a drop-down that shows names (提升, 潜力客户, 短信(sms) …), use a multi-select
(chips of 前置任务 / 可用渠道 / 旅程阶段 / 所属层级) where the stage has one, press 保存 — then read
the quarter file on disk: the codes are written (``sms``, ``increase``, ``T6``), never the labels,
and the plan still passes ``planlib validate``.

Fixtures (JupyterLab server, Chromium, a project copy per test) are in ``conftest.py``; the
planner's steps in ``browserkit.py``. Screenshots go to test-artifacts/forms/.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from forms.browserkit import add_chip, add_row, delete_row, open_form, pick, remove_chip, save, set_text, shot
from planlib.plan.planfile import load_plan

pytestmark = pytest.mark.browser


def _saved(page, form, project: Path, stage: str) -> dict:
    """Press 保存, wait for the kernel's confirmation, check the plan validates; the file as written."""
    from playwright.sync_api import expect

    expect(form.locator(".pl-summary")).to_contain_text("整个计划通过校验")
    shot(page, f"{stage}-tables")
    save(form)
    expect(form.locator(".pl-status")).to_contain_text("已保存", timeout=30_000)
    expect(form.locator(".pl-state")).to_contain_text("✓ 已保存", timeout=30_000)  # a late change saved too
    plan = project / "parameters" / "demo" / "2024Q2.yaml"
    load_plan(plan)  # what `planlib validate` reads
    result = subprocess.run([str(Path(sys.executable).with_name("planlib")), "validate", str(plan)],
                            capture_output=True, text=True, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    return YAML(typ="safe").load(plan.read_text(encoding="utf-8"))


def test_goals_table(page, lab, project, nb_root):
    form = open_form(page, lab, project, nb_root, "01_goals")
    set_text(form, "goals-2-name", "季度内目标客户满意度平均评分提升到4.5分(表格中修改)")
    add_row(form, "goals")
    set_text(form, "goals-3-id", "G4")
    set_text(form, "goals-3-name", "季度内潜力客户触达率达到80%")
    pick(form, "goals-3-metric", "互动触达率(reach_rate)")
    pick(form, "goals-3-segment", "潜力客户")  # tiers and segments the plan defines
    set_text(form, "goals-3-target", "80")
    pick(form, "goals-3-direction", "提升")
    set_text(form, "goals-3-deadline", "2024-06-30")  # a date picker: yyyy-mm-dd
    delete_row(form, "meta-phases", 2)
    data = _saved(page, form, project, "01_goals")
    assert data["goals"][2]["name"] == "季度内目标客户满意度平均评分提升到4.5分(表格中修改)"
    assert data["goals"][3] == {"id": "G4", "name": "季度内潜力客户触达率达到80%", "metric": "reach_rate",
                                "segment": "潜力客户", "target": 80, "direction": "increase",
                                "deadline": date(2024, 6, 30)}
    assert [p["name"] for p in data["meta"]["phases"]] == ["预热期", "执行期"]


def test_needs_tables(page, lab, project, nb_root):
    from playwright.sync_api import expect

    form = open_form(page, lab, project, nb_root, "02_needs")
    set_text(form, "segmentation-tiers-0-strategy", "每月1次非促销关怀(表格中修改)")
    delete_row(form, "segmentation-tiers", 2)  # 新客户
    # 层级变动's order still names the deleted tier: kept, marked, removed by the planner
    expect(form.locator(".pl-f-segmentation-movement-order div.jupyter-widget-tag",
                        has_text="新客户(不在可选范围)")).to_have_count(1)
    remove_chip(form, "segmentation-movement-order", "新客户(不在可选范围)")
    add_row(form, "segmentation-segments")
    set_text(form, "segmentation-segments-1-name", "活跃高价值客户")
    add_chip(form, "segmentation-segments-1-tiers", "高价值客户")
    set_text(form, "segmentation-segments-1-recency_days", "<30")
    pick(form, "segmentation-clv-model", "MBG/NBD")
    seg = _saved(page, form, project, "02_needs")["segmentation"]
    assert [t["name"] for t in seg["tiers"]] == ["高价值客户", "潜力客户", "流失风险客户", "中价值客户"]
    assert seg["tiers"][0]["strategy"] == "每月1次非促销关怀(表格中修改)"
    assert seg["movement"]["order"] == ["高价值客户", "潜力客户", "中价值客户", "一般客户", "流失风险客户"]
    assert seg["segments"][1] == {"name": "活跃高价值客户", "tiers": ["高价值客户"], "recency_days": "<30"}
    assert seg["clv"] == {"model": "mbgnbd"}


def test_channels_tables(page, lab, project, nb_root):
    form = open_form(page, lab, project, nb_root, "03_channels")
    set_text(form, "channels-plan-0-content", "社群打卡与专属优惠(表格中修改)")
    delete_row(form, "channels-plan", 1)  # the phone row
    add_row(form, "channels-plan")
    pick(form, "channels-plan-2-audience", "沉睡中价值客户")
    pick(form, "channels-plan-2-channel", "APP 推送(app_push)")  # the name shown, the code kept
    set_text(form, "channels-plan-2-contacts_per_customer", "2")
    add_chip(form, "channels-plan-2-journey", "购买")
    remove_chip(form, "channels-rules-0-allowed", "微信公众号(wechat_oa)")
    add_chip(form, "channels-rules-0-allowed", "直播(live)")
    channels = _saved(page, form, project, "03_channels")["channels"]
    assert [row["channel"] for row in channels["plan"]] == ["wecom", "sms", "app_push"]
    assert channels["plan"][0]["content"] == "社群打卡与专属优惠(表格中修改)"
    assert channels["plan"][2] == {"audience": "沉睡中价值客户", "channel": "app_push", "contacts_per_customer": 2,
                                   "journey": ["购买"]}
    assert channels["rules"][0]["allowed"] == ["wecom", "app_push", "sms", "phone", "live"]


def test_execution_tables(page, lab, project, nb_root):
    form = open_form(page, lab, project, nb_root, "04_execution")
    set_text(form, "tasks-2-name", "客户分组与电话邀约(表格中修改)")
    add_row(form, "tasks")
    set_text(form, "tasks-6-id", "T7")
    pick(form, "tasks-6-phase", "后期跟进")
    set_text(form, "tasks-6-name", "满意度回访")
    set_text(form, "tasks-6-owner", "客服专员")  # suggested from the owners already in the plan
    set_text(form, "tasks-6-start", "2024-05-11")
    set_text(form, "tasks-6-end", "2024-05-15")
    add_chip(form, "tasks-6-depends_on", "T6 客户满意度调研")
    delete_row(form, "budget-lines", 5)  # 人力成本
    pick(form, "budget-lines-4-channel", "短信(sms)")
    data = _saved(page, form, project, "04_execution")
    assert data["tasks"][2]["name"] == "客户分组与电话邀约(表格中修改)"
    assert data["tasks"][6] == {"id": "T7", "phase": "后期跟进", "name": "满意度回访", "owner": "客服专员",
                                "start": date(2024, 5, 11), "end": date(2024, 5, 15), "depends_on": ["T6"]}
    assert [line["category"] for line in data["budget"]["lines"]] == ["物料费", "物料费", "礼品费", "礼品费", "推广费"]
    assert data["budget"]["lines"][4]["channel"] == "sms"


def test_review_tables(page, lab, project, nb_root):
    form = open_form(page, lab, project, nb_root, "05_review")
    set_text(form, "kpis-3-target", "60")
    delete_row(form, "kpis", 5)  # nps
    add_row(form, "review-actions")
    set_text(form, "review-actions-1-problem", "满意度未达4.5分")
    set_text(form, "review-actions-1-measure", "回访低分客户")
    set_text(form, "review-actions-1-owner", "市场部经理")
    set_text(form, "review-actions-1-due", "2024-07-31")
    pick(form, "review-actions-1-status", "已完成")
    data = _saved(page, form, project, "05_review")
    assert [k["kpi"] for k in data["kpis"]] == ["participation_rate", "repurchase_30d", "csat",
                                                "cost_per_participant", "response_sla_rate"]
    assert data["kpis"][3]["target"] == 60
    assert data["review"]["actions"][1] == {"problem": "满意度未达4.5分", "measure": "回访低分客户",
                                            "owner": "市场部经理", "due": date(2024, 7, 31), "status": "done"}

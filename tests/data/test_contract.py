"""The data contract (planlib.data.contract): what each part of the report needs, and the readiness table."""

from __future__ import annotations

import shutil

from conftest import ROOT

from planlib.cli import main
from planlib.data import contract
from planlib.plan.kpis import CATALOGUE
from planlib.plan.planfile import load_plan

ALL = set(contract.SOURCES)


def test_every_part_names_real_sources_and_columns():
    from planlib.data.tables import TABLES

    needs = [*contract.SECTIONS, *(contract.kpi_need(k) for k in CATALOGUE)]
    for need in needs:
        assert set(need.sources) <= ALL, need.id
        for column in need.columns:
            source, name = column.split(".")
            assert name in {c.name for c in TABLES[source]}, (need.id, column)
    assert {n.stage for n in contract.SECTIONS} == set(contract.STAGE_TITLES)


def test_orders_alone_feed_the_segmentation_but_not_the_funnel():
    have = contract.available(lambda name: name == "transactions")
    assert have == {"transactions", "customers"}  # the customer list is derived from the orders
    assert set(contract.gaps("02_needs", have)) == {"needs.complaints"}  # only tier rules on complaints need tickets
    gaps = contract.gaps("05_review", have)
    assert gaps["review.funnel"] == "无数据: 缺少互动记录(interactions) — 在计划的 data: 下添加 interactions"
    assert "review.uplift_itt" not in gaps
    assert contract.gaps("05_review", ALL) == {}


def test_a_missing_column_is_named_with_its_usual_header():
    reason = contract.gap("review.abtests", ALL, {"interactions": ("variant",)})
    assert reason is not None and "互动记录「版本」列(variant)" in reason
    # a list needs a name or a phone, not both
    assert contract.gap("needs.names", ALL, {"customers": ("phone",)}) is None
    derived = contract.gap("needs.names", ALL, {"customers": ("name", "phone")}, derived=True)
    assert "交易表(客户名单由交易表生成)" in derived and "订单导出中加入" in derived


def _orders_only_plan(folder, orders: str | None):
    target = folder / "parameters" / "shop"
    shutil.copytree(ROOT / "parameters" / "shop", target)
    base = (target / "base.yaml").read_text(encoding="utf-8")
    base = base.replace("    style: orders_export\n", "").replace("  demo:\n    seed: 20240620\n    customers: 1500\n", "")
    base = base.replace("../../outputs/demo_data/shop/orders.xlsx", "orders.csv")
    (target / "base.yaml").write_text(base, encoding="utf-8")
    if orders is not None:
        (target / "orders.csv").write_text(orders, encoding="utf-8")
    return target / "2024Q2.yaml"


def test_readiness_reads_the_header_and_says_why_not(tmp_path):
    plan = _orders_only_plan(tmp_path, "导出于 2024-07-01\n客户编号,下单日期,消费金额\nC1,2024年4月1日,￥100\n")
    loaded = load_plan(plan)
    table = contract.readiness(loaded.plan, loaded.base_dir).set_index("part")
    assert table.loc["RFM 评分、客户分层、目标客群与对照组", "ok"]
    names = table.loc["分层名单与示例中的姓名、手机号"]
    assert not names["ok"] and "客户名称" in names["reason"]
    funnel = table.loc["KPI 目标客户参与率(participation_rate)"]
    assert not funnel["ok"] and "interactions" in funnel["reason"]
    assert table.loc["KPI 客户复购率(repurchase_rate)", "ok"]


def test_validate_fails_when_the_orders_lack_a_required_column(tmp_path, capsys):
    plan = _orders_only_plan(tmp_path, "客户编号,金额\nC1,100\n")
    assert main(["validate", str(plan)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1  # once, for the orders — not again for the customer list derived from them
    assert "交易表 orders.csv: 表头中缺少必需的列 order_date" in err[0]


def test_validate_warns_about_ids_written_differently_in_two_files(tmp_path, capsys):
    plan = _orders_only_plan(tmp_path, "订单编号,客户编号,下单日期,消费金额\n"
                                       + "".join(f"O{i},{i},2024-04-01,10\n" for i in range(1, 30)))
    base = plan.parent / "base.yaml"
    base.write_text(base.read_text(encoding="utf-8").replace(
        "  transactions:\n", "  customers:\n    path: customers.csv\n  transactions:\n"), encoding="utf-8")
    (plan.parent / "customers.csv").write_text("客户编号\n" + "".join(f"{i:05d}\n" for i in range(1, 30)),
                                               encoding="utf-8")
    assert main(["validate", str(plan)]) == 0  # a warning: the run itself stops with the full count
    err = capsys.readouterr().err
    assert "注意: 客户编号(客户表与交易表): 交易表的客户编号没有前导零" in err


def test_readme_lists_every_part_and_kpi_of_the_contract():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## 数据要求"):readme.index("## 批量运行")]
    for need in contract.SECTIONS:
        assert need.title in section, need.title
    for kpi in CATALOGUE:
        assert f"`{kpi}`" in section, kpi


def test_validate_refuses_tier_rules_on_complaints_without_tickets(tmp_path, capsys):
    plan = _orders_only_plan(tmp_path, "客户编号,下单日期,消费金额\nC1,2024-04-01,10\n")
    base = plan.parent / "base.yaml"
    base.write_text(base.read_text(encoding="utf-8").replace(
        '      recency_days: ">90"\n', '      recency_days: ">90"\n      complaints: ">=1"\n', 1), encoding="utf-8")
    assert main(["validate", str(plan)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "segmentation.tiers: 分层规则用到投诉次数(complaints),但缺少服务工单(tickets)" in err[0]


def test_a_funnel_without_open_times_is_partly_computed():
    reason = contract.gap("review.funnel", ALL, {"interactions": ("opened_at",)})
    assert reason.startswith("部分环节无数据: 缺少互动记录「打开时间」列(opened_at)")
    assert contract.gap("review.funnel", {"transactions"}).startswith("无数据: 缺少互动记录")

"""A unit with nothing but an order export (parameters/shop): validate, run all five stages from the
XLSX and from the GBK CSV, and get a report that says 无数据 with the reason wherever data is missing."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import ROOT

from planlib.cli import main
from planlib.data import results

pytestmark = pytest.mark.slow


def _copy_unit(folder, export: str):
    target = folder / "parameters" / "shop"
    shutil.copytree(ROOT / "parameters" / "shop", target)
    base = (target / "base.yaml").read_text(encoding="utf-8")
    assert "demo_data/shop/orders.xlsx" in base
    base = base.replace("demo_data/shop/orders.xlsx", f"demo_data/shop/{export}")
    base = base.replace("customers: 1500", "customers: 600")  # smaller company, same shape
    (target / "base.yaml").write_text(base, encoding="utf-8")
    return target / "2024Q2.yaml"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("export, encoding", [("orders.xlsx", "—"), ("orders.csv", "gb18030")])
def test_orders_only_unit_runs_end_to_end(tmp_path, capsys, export, encoding):
    plan = _copy_unit(tmp_path, export)
    out = tmp_path / "outputs"
    assert main(["run", str(plan), "--output-root", str(out)]) == 0
    data_file = tmp_path / "outputs" / "demo_data" / "shop" / export
    assert data_file.exists()
    if export.endswith(".csv"):
        data_file.read_bytes().decode("gbk")

    run_dir = out / "shop" / "2024Q2"
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    text = _text(html)
    assert "Traceback" not in html and "Error" not in text
    assert "运行状态: 已完成" in text
    # the customer list came from the orders, read with the file's encoding
    assert "客户表(由交易表生成)" in text and encoding in text
    # every section without its data says why, in the report
    assert "无数据: 缺少互动记录(interactions) — 在计划的 data: 下添加 interactions" in text
    assert "无法评估: 缺少问卷(surveys)" in text
    assert "A/B 版本" not in text  # not the misleading "no variants" note: there are no interactions at all
    # KPIs the orders can feed are figures, those they cannot are 无数据 — never a 0
    kpis = results.load(run_dir, "kpis").set_index("kpi")
    assert kpis.loc["repurchase_rate", "actual"] > 0
    assert kpis.loc["churn_rate", "actual"] > 0
    assert kpis.loc[["participation_rate", "csat"], "actual"].isna().all()
    # personal columns of the export are masked in the report
    assert not re.search(r"1[3-9]\d{9}", text)


def test_validate_prints_what_the_orders_can_feed(tmp_path, capsys):
    plan = _copy_unit(tmp_path, "orders.xlsx")
    assert main(["validate", str(plan)]) == 0
    shown = capsys.readouterr().out
    assert "✓ KPI 客户复购率(repurchase_rate)" in shown
    assert re.search(r"✗ KPI 目标客户参与率\(participation_rate\)\s+无数据:缺少互动记录\(interactions\)", shown)
    assert re.search(r"✗ 互动漏斗\(实验组\)\s+无数据", shown)


def test_the_mid_quarter_check_runs_on_an_orders_only_unit(tmp_path, capsys):
    plan = _copy_unit(tmp_path, "orders.xlsx")
    out = tmp_path / "outputs"
    assert main(["run", str(plan), "--output-root", str(out), "--as-of", "2024-05-01"]) == 0
    page = (out / "shop" / "2024Q2" / "pulse-2024-05-01.html").read_text(encoding="utf-8")
    assert "Traceback" not in page and "KeyError" not in page
    assert "中期检查" in capsys.readouterr().out

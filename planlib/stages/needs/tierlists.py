"""The sales team's customer lists: one Excel sheet per tier, masked by default.

Written with :func:`planlib.publish.xlsx.write_workbook` (IDs stay text, ``=…`` never becomes a
formula) into ``<run folder>/exports/``. Names, phones and any other personal column are masked
by :func:`planlib.run.contacts.mask_for_display` (``张*``, ``138****1234``); the unmasked list exists
only through :func:`planlib.run.contacts.export_unmasked`, which records who asked and why.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from planlib.data.masking import mask_for_display
from planlib.metrics.segment import tier_names
from planlib.plan.schema import Plan
from planlib.publish.xlsx import Sheet, write_workbook

EXPORT_DIR = "exports"
MAX_ROWS_PER_TIER = 50_000  # a sales team calls the most valuable first; the full list is results/customers
LIST_COLUMNS = ["customer_id", "name", "phone", "region", "tier", "tier_rule", "recency_days", "frequency",
                "monetary", "rfm_score", "clv", "p_alive", "expected_purchases", "complaints", "in_scope",
                "control"]
LIST_LABELS = {"clv": "CLV(元)", "p_alive": "存活概率(%)", "expected_purchases": "预计购买次数",
               "complaints": "投诉次数", "name": "客户名称", "region": "地区", "previous_tier": "上季层级",
               "movement": "变动", "previous_clv": "上季 CLV(元)"}
LIST_FORMATS = {"monetary": "money", "clv": "money", "p_alive": "pct", "expected_purchases": "float",
                "recency_days": "int", "frequency": "int", "complaints": "int", "previous_clv": "money"}


def export_path(run_dir: Path, plan: Plan) -> Path:
    return Path(run_dir) / EXPORT_DIR / f"客户分层名单_{plan.meta.unit}_{plan.meta.quarter}.xlsx"


def tier_list(customers_result: pd.DataFrame, customers_frame: pd.DataFrame) -> pd.DataFrame:
    """Every customer with contact columns and the figures behind the tier, masked, best first."""
    contact = customers_frame.drop_duplicates("customer_id").set_index("customer_id")
    contact = contact[[c for c in ("name", "phone", "region") if c in contact]]
    out = customers_result.join(contact, on="customer_id")
    out = out.assign(p_alive=out["p_alive"] * 100) if "p_alive" in out else out
    out = out.sort_values(["clv", "monetary", "customer_id"], ascending=[False, False, True], na_position="last")
    return mask_for_display(out[[c for c in LIST_COLUMNS if c in out]].reset_index(drop=True), "customers")


def export_tier_lists(customers_result: pd.DataFrame, customers_frame: pd.DataFrame, run_dir: Path,
                      plan: Plan, *, tier_summary: pd.DataFrame | None = None,
                      moves: pd.DataFrame | None = None, max_rows: int = MAX_ROWS_PER_TIER) -> Path:
    """Write the masked lists (an overview sheet, one sheet per tier, tier movement) and return the path.

    Each tier sheet holds at most ``max_rows`` customers, highest CLV first (Excel's own limit is
    about a million rows, and the writer manages some 80,000 cells a second here).
    """
    listing = tier_list(customers_result, customers_frame)
    sheets = []  # write_workbook makes the names valid and unique, whatever a tier is called
    if tier_summary is not None:
        sheets.append(Sheet("分层汇总", tier_summary,
                            [c for c in ("tier", "rule", "customers", "share", "avg_monetary", "monetary_share",
                                         "goal", "needs", "strategy") if c in tier_summary],
                            formats={"customers": "int", "share": "pct", "avg_monetary": "money",
                                     "monetary_share": "pct"}))
    for tier in tier_names(plan.segmentation):
        rows = listing[listing["tier"] == tier].head(max_rows)
        sheets.append(Sheet(tier, rows, labels=LIST_LABELS, formats=LIST_FORMATS))
    if moves is not None:
        changed = moves[moves["movement"] != "不变"].head(max_rows)
        contact = customers_frame.drop_duplicates("customer_id").set_index("customer_id")
        changed = changed.join(contact[[c for c in ("name", "phone") if c in contact]], on="customer_id")
        columns = [c for c in ("customer_id", "name", "phone", "previous_tier", "tier", "movement", "clv",
                               "previous_clv") if c in changed]
        sheets.append(Sheet("层级变动", mask_for_display(changed[columns], "customers"),
                            labels=LIST_LABELS, formats=LIST_FORMATS))
    title = f"{plan.meta.unit_name} {plan.meta.quarter} 客户分层名单(已脱敏)"
    return write_workbook(export_path(run_dir, plan), sheets, title=title)


def describe_export(path: Path, customers_result: pd.DataFrame, plan: Plan) -> dict[str, str]:
    """What the planner needs to know about the exported file, for :func:`planlib.publish.display.show_kv`."""
    sheets = "、".join(tier_names(plan.segmentation))
    return {
        "文件": f"{EXPORT_DIR}/{Path(path).name}",
        "位置": f"本次运行目录 outputs/{plan.meta.unit}/{plan.meta.quarter}/ 下",
        "内容": f"{len(customers_result):,} 位客户;每个层级一个工作表({sheets}),按 CLV 从高到低,"
                f"每层最多 {MAX_ROWS_PER_TIER:,} 行;另有分层汇总与层级变动",
        "脱敏": "姓名、手机号等个人信息已脱敏(张*、138****1234);需要完整名单请走 pii.export_unmasked 申请并留痕",
    }

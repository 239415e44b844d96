"""``planlib export-contacts``: the one unmasked export of a customer list.

Everything shown elsewhere is masked (:mod:`planlib.data.masking`). Sales teams sometimes need the real list (names and phone numbers to call).
:func:`export_unmasked` writes it as an ``.xlsx`` in a ``private/`` subfolder —
never into the report — and appends who, when and why to ``private/export-log.jsonl``. It is
written by :func:`planlib.publish.xlsx.write_workbook` like every other workbook: text stays text
(a name ``=HYPERLINK(…)`` is never a formula), cells that start like a formula are neutralised.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from planlib.data.masking import personal_columns
from planlib.errors import PlanError
from planlib.publish.xlsx import Sheet, write_workbook

PRIVATE_DIR = "private"
EXPORT_LOG = "export-log.jsonl"


class ExportRefused(PlanError):
    """An unmasked export was asked for without saying who and why, or into the report."""


def export_unmasked(df: pd.DataFrame, folder: Path, *, name: str, requested_by: str, reason: str,
                    user: str | None = None) -> Path:
    """Write ``df`` unmasked to ``folder/private/<name>.xlsx`` and log who, when and why.

    ``folder`` is best the unit's output folder (``outputs/<unit>``): a full re-run replaces the
    quarter's run folder. The report never reads ``private/``. ``requested_by`` (the person asking, e.g. the sales
    lead) and ``reason`` are required: an export nobody can account for is refused. The log line
    names the file, the rows and the personal columns, never their values.
    """
    if not str(requested_by).strip() or not str(reason).strip():
        raise ExportRefused("导出未脱敏名单必须写明申请人(requested_by)和用途(reason),本次没有导出")
    if not name or Path(name).name != name or name.startswith("."):
        raise ExportRefused(f"导出文件名 {name!r} 无效:只写文件名,不含路径")
    folder = Path(folder) / PRIVATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    out = folder / (name if name.endswith(".xlsx") else f"{name}.xlsx")
    write_workbook(out, [Sheet("名单", df, labels={"name": "客户名称"})], title="客户名单(未脱敏)", mode=0o600)
    record = {
        "time": datetime.now().astimezone().isoformat(timespec="seconds"),
        "user": user or getpass.getuser(),
        "requested_by": str(requested_by).strip(),
        "reason": str(reason).strip(),
        "file": out.name,
        "rows": len(df),
        "personal_columns": sorted(map(str, personal_columns(df, "customers"))),
    }
    with (folder / EXPORT_LOG).open("a", encoding="utf-8") as log:
        log.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out


def export_contacts(plan_path: Path, *, segment: str | None, requested_by: str, reason: str,
                    output_root: Path | None = None) -> Path:
    """``planlib export-contacts``: the unmasked contact list of one segment (default: the plan's
    target group, without its control group) from the plan's last successful run."""
    from planlib.data import results
    from planlib.data.load import customers_from_transactions, load_source
    from planlib.metrics.segment import find_segment, segment_mask
    from planlib.plan.planfile import load_plan
    from planlib.run.stage import project_root

    loaded = load_plan(plan_path)
    plan, meta = loaded.plan, loaded.plan.meta
    root = Path(output_root) if output_root else project_root(loaded.path.parent) / "outputs"
    customers = results.load(root / meta.unit / meta.quarter, "customers")
    name = segment or plan.scope.segment
    member = segment_mask(customers, find_segment(plan.segmentation, name)).to_numpy()
    if segment is None:
        member = member & ~customers["control"].to_numpy(dtype=bool)  # the control group is not contacted
    chosen = customers.loc[member, ["customer_id", "tier"]]
    if plan.data.customers is not None:
        contacts = load_source("customers", plan.data.customers, loaded.base_dir).frame
    else:  # an orders-only plan: names and phones as the order export has them
        contacts = customers_from_transactions(load_source("transactions", plan.data.transactions, loaded.base_dir)).frame
    table = chosen.merge(contacts, on="customer_id", how="left")
    from planlib.run.folder import output_errors, refuse_links

    with output_errors(root / meta.unit):
        refuse_links(root / meta.unit, root / meta.unit / PRIVATE_DIR)  # never written through a link
        return export_unmasked(table, root / meta.unit, name=f"{meta.quarter}-{name}", requested_by=requested_by,
                               reason=reason)

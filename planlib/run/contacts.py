"""Which columns hold personal information, masking them for display, and the one unmasked export.

Personal columns are declared here, per canonical table (:data:`PII_COLUMNS`, beside the
canonical columns of :mod:`planlib.data.tables`), and by header for the extra columns an export may
carry (身份证号, 邮箱, 地址 … kept under their own headers by :mod:`planlib.data.load`). Every frame
that comes from customer data is masked with :func:`mask_for_display` before it is shown; the
maskers themselves live in :mod:`planlib.data.masking`.

Sales teams sometimes need the real list (names and phone numbers to call).
:func:`export_unmasked` writes it as an ``.xlsx`` in a ``private/`` subfolder —
never into the report — and appends who, when and why to ``private/export-log.jsonl``.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from planlib.data.masking import mask_frame
from planlib.data.tables import normalise_header
from planlib.errors import PlanError

# Canonical columns of planlib.data.tables that hold personal information → masking kind
# (name, phone, id, email, all — see planlib.data.masking.MASKERS).
PII_COLUMNS: dict[str, dict[str, str]] = {
    "customers": {"name": "name", "phone": "phone"},
    "transactions": {},
    "interactions": {},
    "surveys": {},
    "tickets": {},
}

# Headers (as planlib.data.tables.normalise_header sees them) of personal columns that are not
# canonical: exports carry them, data.py keeps them as extra columns.
PII_HEADERS: dict[str, str] = {
    **dict.fromkeys(("客户名称", "客户姓名", "姓名", "会员姓名", "联系人", "收货人", "customer_name",
                     "contact_name", "full_name"), "name"),
    **dict.fromkeys(("手机号", "手机", "手机号码", "电话", "联系电话", "电话号码", "移动电话", "收货电话",
                     "phone", "mobile", "tel", "phone_number"), "phone"),
    **dict.fromkeys(("身份证号", "身份证", "身份证号码", "证件号", "证件号码", "身份证件号", "id_card",
                     "id_number", "idcard", "id_no"), "id"),
    **dict.fromkeys(("邮箱", "电子邮箱", "电子邮件", "邮件地址", "email", "e-mail", "mail"), "email"),
    **dict.fromkeys(("地址", "住址", "家庭住址", "联系地址", "收货地址", "详细地址", "通讯地址", "address",
                     "street", "home_address"), "all"),
}

PRIVATE_DIR = "private"
EXPORT_LOG = "export-log.jsonl"


class ExportRefused(PlanError):
    """An unmasked export was asked for without saying who and why, or into the report."""


def personal_columns(df: pd.DataFrame, table: str | None = None) -> dict[str, str]:
    """Column → masking kind for every personal column of ``df``.

    The canonical personal columns of ``table`` (when given), then any column whose header is a
    known personal header (``身份证号``, ``邮箱``, ``客户名称`` …). Without ``table`` the canonical
    names ``name``/``phone`` are not assumed: in result tables ``name`` may be a KPI's name.
    """
    found = {c: k for c, k in PII_COLUMNS.get(table or "", {}).items() if c in df.columns}
    for column in df.columns:
        if column in found:
            continue
        key = normalise_header(column)
        if key in PII_HEADERS and (table is not None or key not in ("name", "phone", "mail", "tel")):
            found[column] = PII_HEADERS[key]
    return found


def mask_for_display(df: pd.DataFrame, table: str | None = None) -> pd.DataFrame:
    """A copy of ``df`` with every personal column masked (see :func:`personal_columns`)."""
    return mask_frame(df, personal_columns(df, table))


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
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        df.to_excel(tmp, index=False, engine="openpyxl")
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
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
    from planlib.data.load import load_source
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
    contacts = load_source("customers", plan.data.customers, loaded.base_dir).frame
    table = chosen.merge(contacts, on="customer_id", how="left")
    return export_unmasked(table, root / meta.unit, name=f"{meta.quarter}-{name}", requested_by=requested_by,
                           reason=reason)

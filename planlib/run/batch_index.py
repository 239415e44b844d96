"""The batch index page: one offline HTML page per quarter listing every plan of a batch.

``outputs/<quarter>/index.html`` shows each plan's status, its key KPIs and a link to its
report — or, for a failed plan, to the failed report and the notebook of the failing stage.
Same rules as the stage report: no script, nothing loaded from elsewhere, every text escaped.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from planlib.publish import display
from planlib.publish.display import badge, esc
from planlib.publish.files import write_text_atomic
from planlib.publish.report import _check_self_contained

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
STATUS = {"ok": "成功", "failed": "失败", "skipped": "未变化,沿用上次结果"}
PAGE_CSS = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC",
  "WenQuanYi Micro Hei",sans-serif;margin:0;background:#f3f5f8;color:#1d2b3a}
main{max-width:1200px;margin:24px auto;background:#fff;padding:28px 36px;border-radius:6px}
h1{font-size:22px;margin:0 0 6px}.sub{color:#6b7480;margin:0 0 18px;font-size:13px}
.pl-state-ok{color:#2e8b57;font-weight:600}.pl-state-failed{color:#c0392b;font-weight:600}
.pl-state-skipped{color:#6b7480}.pl-kpis span{margin-right:10px;white-space:nowrap}
a{color:#1f6fb2}
"""


def _kpis(folder: Path) -> str:
    path = folder / "results" / "kpis.parquet"
    if not path.exists():
        return "—"
    table = pd.read_parquet(path)
    items = []
    for row in table.itertuples():
        value = "无数据" if pd.isna(row.actual) else f"{row.actual:,.1f}".removesuffix(".0") + (row.unit or "")
        items.append(f"<span>{esc(row.name)} {esc(value)} {badge(row.status)}</span>")
    return f'<div class="pl-kpis">{"".join(items)}</div>'


def _link(target: Path, page_dir: Path, text: str) -> str:
    href = quote(os.path.relpath(target, page_dir))
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def write_index(outcomes: list, page: Path) -> Path:
    """Write one index page for ``outcomes`` (all of one quarter) at ``page``."""
    page.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for o in outcomes:
        folder = Path(o.folder) if o.folder else None
        links = []
        if folder and (folder / "report.html").exists():
            links.append(_link(folder / "report.html", page.parent, "失败报告" if o.status == "failed" else "复盘报告"))
        if o.status == "failed" and folder and o.failed_stage:
            links.append(_link(folder / f"{o.failed_stage}.ipynb", page.parent, f"出错的笔记本 {o.failed_stage}"))
        detail = esc(o.error) if o.status == "failed" else (_kpis(folder) if folder else "—")
        rows.append(
            f"<tr><td>{esc(o.unit)}</td><td>{esc(Path(o.plan).name)}</td>"
            f'<td class="pl-state-{esc(o.status)}">{esc(STATUS.get(o.status, o.status))}</td>'
            f'<td class="pl-num">{o.seconds:.1f}</td><td>{" · ".join(links) or "—"}</td><td>{detail}</td></tr>')
    counts = defaultdict(int)
    for o in outcomes:
        counts[o.status] += 1
    summary = ",".join(f"{STATUS.get(k, k)} {v} 个" for k, v in counts.items())
    quarter = outcomes[0].quarter if outcomes else ""
    html = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(quarter)} 批量运行</title><style>{PAGE_CSS}{display.CSS}</style></head>
<body><main><h1>{esc(quarter)} 批量运行结果</h1>
<p class="sub">共 {len(outcomes)} 个计划:{esc(summary)} · 生成时间 {datetime.now():%Y-%m-%d %H:%M}</p>
<div class="pl-scroll"><table class="pl-table"><thead><tr><th>单位</th><th>计划文件</th><th>状态</th>
<th class="pl-num">耗时(秒)</th><th>链接</th><th>关键指标 / 失败原因</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></div></main></body></html>
"""
    _check_self_contained(html, relative_links=True)
    return write_text_atomic(page, html)


def write_indexes(outcomes: list, output_root: Path | None) -> list[Path]:
    """One page per quarter present in the batch: ``<output_root>/<quarter>/index.html``."""
    from planlib.run.stage import project_root

    by_quarter: dict[str, list] = defaultdict(list)
    for outcome in outcomes:
        by_quarter[outcome.quarter].append(outcome)
    pages = []
    for quarter, group in by_quarter.items():
        root = Path(output_root) if output_root else project_root(Path(group[0].plan).parent) / "outputs"
        pages.append(write_index(group, root / quarter / "index.html"))
    return pages

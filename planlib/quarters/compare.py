"""``planlib compare``: quarter-over-quarter reports from published runs.

- :func:`trend_report`: one unit across its quarters — KPI actuals against targets, the effect
  against the control group, how customers moved between tiers, and budget use;
  written to ``<root>/<unit>/trend.html``.
- :func:`portfolio_report`: one quarter across units — units × KPIs with 达成情况, linking to each
  unit's report; written to ``<root>/portfolio-<quarter>.html``.

Both read only the published runs' results (``<root>/<unit>/<quarter>/results``), never a plan or
data file, and are self-contained offline HTML with the stage report's look and CSP: the only
links are relative links to the runs' own reports.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from planlib.errors import PlanError
from planlib.metrics.measure import fmt
from planlib.plan.kpis import SMALL_SAMPLE, small_sample_text, too_small
from planlib.publish import charts, display
from planlib.publish.display import badge, esc
from planlib.publish.files import write_text_atomic
from planlib.publish.report import TEMPLATES, _Checker
from planlib.stages.execution import charts as execution_charts

QUARTER = re.compile(r"^[0-9]{4}Q[1-4]$")  # ASCII digits only: ２０２４Q2 is not a quarter
UNIT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_NUMBERS = "一二三四五六七八九十"
_SAFE_LINK = re.compile(r"^a href='(?!/)(?![^']*\.\.)[A-Za-z0-9_./-]+\.html(#[A-Za-z0-9_-]+)?'$")


@dataclass
class Run:
    """One published run: ``<root>/<unit>/<quarter>/`` with its results."""

    unit: str
    quarter: str
    folder: Path
    failed_since: bool = False  # a later run of this plan failed (``<quarter>.failed/`` exists)
    _cache: dict = field(default_factory=dict, repr=False)

    def table(self, name: str) -> pd.DataFrame | None:
        if name not in self._cache:
            path = self.folder / "results" / f"{name}.parquet"
            self._cache[name] = pd.read_parquet(path) if path.exists() else None
        return self._cache[name]

    @cached_property
    def summary(self) -> dict:
        path = self.folder / "results" / "review_summary.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    @property
    def unit_name(self) -> str:
        return self.summary.get("unit_name") or self.unit

    @property
    def title(self) -> str:
        return self.summary.get("title") or f"{self.unit} {self.quarter}"


def find_runs(root: Path) -> dict[str, dict[str, Run]]:
    """unit → quarter → :class:`Run` for every published run under ``root`` whose manifest says ok."""
    found: dict[str, dict[str, Run]] = {}
    root = Path(root)
    if not root.is_dir():
        return found
    for unit_dir in sorted(p for p in root.iterdir() if p.is_dir() and UNIT.match(p.name)):
        for folder in sorted(p for p in unit_dir.iterdir() if p.is_dir() and QUARTER.match(p.name)):
            manifest = folder / "manifest.json"
            try:
                ok = json.loads(manifest.read_text(encoding="utf-8")).get("status") == "ok"
            except (OSError, ValueError):
                ok = False
            if ok:
                failed = (unit_dir / f"{folder.name}.failed").exists()
                found.setdefault(unit_dir.name, {})[folder.name] = Run(unit_dir.name, folder.name, folder, failed)
    return found


# ------------------------------------------------------------------ small HTML helpers (escaped here)
def _table(headers: list[str], rows: list[list[str]], title: str | None = None, numeric: set[int] = frozenset(),
           cls: str = "") -> str:
    """A pl-table whose cells are HTML fragments already escaped by the caller."""
    num = ' class="pl-num"'
    head = "".join(f"<th{num if i in numeric else ''}>{esc(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{num if i in numeric else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    if not rows:
        body = f'<tr><td class="pl-na" colspan="{len(headers)}">无数据</td></tr>'
    top = f'<div class="pl-title">{esc(title)}</div>' if title else ""
    return (f'<div class="pl-block">{top}<div class="pl-scroll"><table class="pl-table {cls}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div></div>")


def _link(text: str, href: str) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def _value(v: object, unit: str) -> str:
    return fmt(None if v is None or pd.isna(v) else float(v), unit)


def _kpi_cell(row: pd.Series | None) -> str:
    if row is None:
        return '<span class="pl-na">—</span>'
    flag = "⚠ " if str(row.get("flag", "") or "") else ""
    actual = _value(row["actual"], row["unit"])
    if row["status"] == SMALL_SAMPLE:  # no ratio to read off a handful
        actual = small_sample_text(row["base"]) if not pd.isna(row.get("base")) else SMALL_SAMPLE
    sub = f"{flag}{actual} / {row.get('target_text') or _value(row['target'], row['unit'])}"
    return f'{badge(row["status"])}<span class="pl-cell-sub">{esc(sub)}</span>'


def _image(fig) -> dict:
    return {"kind": "image", "data": base64.b64encode(display.png_bytes(fig)).decode("ascii"), "alt": "图表"}


def _html(fragment: str) -> dict:
    return {"kind": "html", "html": Markup(fragment)}  # noqa: S704 — built from escaped parts above


def _effect_text(run: Run, metric: str) -> tuple[str, str]:
    from planlib.stages.review.uplift import effect_of, interval_text, verdict

    frame = run.table("uplift")
    row = None if frame is None else effect_of(frame, metric)
    if row is None or pd.isna(row["uplift"]):
        return "无数据", "—"
    return interval_text(row), verdict(row)


# ------------------------------------------------------------------ the page
def _render(out: Path, *, kicker: str, title: str, cover: list[tuple[str, str]], links: list[tuple[str, str]],
            sections: list[dict]) -> Path:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    css = (TEMPLATES / "planlib_report" / "static" / "report.css").read_text(encoding="utf-8")
    html = env.get_template("planlib_compare.html.j2").render(
        kicker=kicker, title=title, cover=cover, links=links, sections=sections,
        numbers=[_NUMBERS[i] if i < len(_NUMBERS) else str(i + 1) for i in range(len(sections))],
        generated=datetime.now().strftime("%Y-%m-%d %H:%M"), report_css=Markup(css),
        display_css=Markup(display.CSS))
    checker = _Checker()
    checker.feed(html)
    checker.close()
    problems = [p for p in checker.problems if not _SAFE_LINK.match(p)]
    if problems:  # something outside our escaped fragments got in: a bug
        raise RuntimeError(f"comparison page is not self-contained: {problems[:5]}")
    return write_text_atomic(out, html)


def _default_root(root: Path | None) -> Path:
    from planlib.run.stage import project_root

    return Path(root) if root else project_root() / "outputs"


# ------------------------------------------------------------------ (a) one unit across quarters
def trend_frame(runs: dict[str, Run]) -> pd.DataFrame:
    """Template 4 of every quarter stacked: quarter, kpi, name, unit, target, actual, status, flag."""
    parts = []
    for quarter, run in sorted(runs.items()):
        kpis = run.table("kpis")
        if kpis is not None:
            parts.append(kpis.assign(quarter=quarter))
    if not parts:
        return pd.DataFrame(columns=["quarter", "kpi", "name", "unit", "target", "actual", "status"])
    return pd.concat(parts, ignore_index=True)


def tier_moves(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Customers by tier last quarter (rows) × tier this quarter (columns); 新增 / 不在名单 for the rest."""
    a = before.set_index(before["customer_id"].astype(str))["tier"]
    b = after.set_index(after["customer_id"].astype(str))["tier"]
    both = pd.concat([a.rename("before"), b.rename("after")], axis=1)
    both["before"] = both["before"].fillna("(新客户)")
    both["after"] = both["after"].fillna("(不在名单)")
    return pd.crosstab(both["before"], both["after"])


def _kpi_section(trend: pd.DataFrame, quarters: list[str]) -> dict:
    names = list(dict.fromkeys(trend["name"]))
    rows = []
    for name in names:
        part = trend[trend["name"] == name].set_index("quarter")
        rows.append([esc(name)] + [_kpi_cell(part.loc[q] if q in part.index else None) for q in quarters])
    blocks = [_image(charts.kpi_trend(trend)), _html(_table(["指标", *quarters], rows, "各季度达成情况(实际 / 目标)"))]
    return {"title": "KPI 趋势", "intro": "每个指标各季度的实际值与目标;⚠ 表示已达成但与对照组相比提升不显著。",
            "blocks": blocks}


def _effect_section(runs: dict[str, Run]) -> dict:
    rows = []
    for quarter, run in sorted(runs.items()):
        for metric, label in (("repurchase", "复购率"), ("spend", "人均消费")):
            interval, verdict = _effect_text(run, metric)
            rows.append([esc(quarter), esc(label), esc(interval), esc(verdict)])
    return {"title": "活动效果(与对照组比较)",
            "intro": "实验组与对照组之差(意向处理比较)及 95% 置信区间;区间包含 0 的提升不能归功于活动。",
            "blocks": [_html(_table(["季度", "结果指标", "提升 [95%置信区间]", "结论"], rows))]}


def _tier_section(runs: dict[str, Run]) -> dict:
    quarters = sorted(runs)
    sizes = {}
    for q in quarters:
        summary = runs[q].table("tier_summary")
        if summary is not None:
            sizes[q] = summary.set_index("tier")["customers"]
    blocks = []
    if sizes:
        frame = pd.DataFrame(sizes).fillna(0).astype(int)
        rows = [[esc(t)] + [esc(f"{v:,}") for v in frame.loc[t]] for t in frame.index]
        blocks.append(_html(_table(["层级", *frame.columns], rows, "各季度层级人数", numeric=set(range(1, len(quarters) + 1)))))
    for prev, cur in zip(quarters, quarters[1:], strict=False):
        a, b = runs[prev].table("customers"), runs[cur].table("customers")
        if a is None or b is None:
            continue
        moves = tier_moves(a, b)
        changed = sum(int(moves.at[r, c]) for r in moves.index for c in moves.columns
                      if r != c and not r.startswith("(") and not c.startswith("("))
        rows = [[esc(r)] + [esc(f"{int(v):,}") for v in moves.loc[r]] for r in moves.index]
        title = f"{prev} → {cur} 层级变化(行:{prev} 层级,列:{cur} 层级;共 {changed:,} 位客户换了层级)"
        blocks.append(_html(_table(["上季层级 \\ 本季层级", *moves.columns], rows, title,
                                   numeric=set(range(1, len(moves.columns) + 1)))))
        scope = a[a["in_scope"].astype(bool)]
        if not scope.empty:
            dest = b.set_index(b["customer_id"].astype(str))["tier"].reindex(scope["customer_id"].astype(str))
            counts = dest.fillna("(不在名单)").value_counts()
            text = ";".join(f"{t} {n} 人" for t, n in counts.items())
            blocks.append(_html(display.html_note(f"{prev} 目标客群 {len(scope):,} 人在 {cur} 的层级:{text}。", "info")))
    if not blocks:
        blocks.append(_html(display.html_note("没有层级数据(阶段 02 的结果缺失)。", "warn")))
    return {"title": "客户层级变化", "intro": "层级按各季度计划的规则在季度开始前一天计算;矩阵中对角线以外的客户换了层级。",
            "blocks": blocks}


def _budget_section(runs: dict[str, Run]) -> dict:
    rows, bars = [], []
    for quarter, run in sorted(runs.items()):
        budget = run.table("budget")
        values = run.table("kpi_values")
        lines = budget[~budget["is_total"].astype(bool)] if budget is not None and "is_total" in budget else budget
        planned = None if lines is None else float(lines["planned"].sum())
        actual = None if lines is None or lines["actual"].isna().all() else float(lines["actual"].sum())

        rows_overall = None if values is None else values[values["by"] == "overall"].set_index("kpi")

        def kv(kpi: str, unit: str, rows_overall=rows_overall) -> str:
            if rows_overall is None or kpi not in rows_overall.index or pd.isna(rows_overall.at[kpi, "value"]):
                return _value(None, unit)
            if "base" in rows_overall.columns and too_small(rows_overall.at[kpi, "base"]):
                return small_sample_text(rows_overall.at[kpi, "base"])
            return _value(rows_overall.at[kpi, "value"], unit)

        limit = run.summary.get("budget_limit")
        use = None if actual is None or not planned else actual / planned * 100
        inc = run.summary.get("roi_incremental") or {}
        rows.append([esc(quarter), esc(_value(limit, "元")), esc(_value(planned, "元")), esc(_value(actual, "元")),
                     esc(_value(use, "%")), esc(kv("cost_per_participant", "元/人")), esc(kv("roi", "%")),
                     esc(_value(inc.get("roi"), "%") + (f"(区间 {_value(inc['roi_low'], '%')} ~ {_value(inc['roi_high'], '%')})"
                                                     if inc else ""))])
        bars.append({"category": quarter, "planned": planned, "actual": actual})
    blocks = [_html(_table(["季度", "预算上限", "计划预算", "实际支出", "预算使用率", "单客户成本", "ROI(毛收入)",
                            "ROI(增量,对比对照组)"], rows, numeric={1, 2, 3, 4, 5, 6, 7}))]
    if bars:
        blocks.insert(0, _image(execution_charts.budget_chart(pd.DataFrame(bars))))
    return {"title": "预算执行", "intro": "计划预算与实际支出(实际支出未填的明细不计入),单客户成本与 ROI 来自各季度的复盘;"
                      "毛收入 ROI 计入参与客户归因窗口内的全部消费,增量 ROI 只计入实验组比对照组多出的消费。",
            "blocks": blocks}


def trend_report(unit: str, *, root: Path | None = None) -> Path:
    """Write ``<root>/<unit>/trend.html``: the unit's KPIs, effects, tiers and budget across its quarters."""
    root = _default_root(root)
    runs = find_runs(root).get(unit)
    if not runs:
        raise PlanError(f"{root / unit}: 没有找到单位 {unit} 的已发布运行结果 — 请先运行 planlib run 该单位的计划")
    quarters = sorted(runs)
    last = runs[quarters[-1]]
    trend = trend_frame(runs)
    sections = [_kpi_section(trend, quarters), _effect_section(runs), _tier_section(runs), _budget_section(runs)]
    cover = [("单位", f"{last.unit_name}({unit})"), ("季度", "、".join(quarters)),
             ("各季度计划", ";".join(f"{q} {runs[q].title}" for q in quarters))]
    failed = [q for q in quarters if runs[q].failed_since]
    if failed:
        cover.append(("注意", f"{'、'.join(failed)} 的最近一次运行失败,本页使用其上一次成功的结果"))
    links = [(f"{q} 复盘报告", f"{q}/report.html") for q in quarters]
    return _render(root / unit / "trend.html", kicker="季度趋势报告", title=f"{last.unit_name} 季度趋势",
                   cover=cover, links=links, sections=sections)


# ------------------------------------------------------------------ (b) one quarter across units
def portfolio_report(quarter: str, *, root: Path | None = None) -> Path:
    """Write ``<root>/portfolio-<quarter>.html``: every unit's template 4 of ``quarter`` side by side."""
    root = _default_root(root)
    if not QUARTER.match(quarter):
        raise PlanError(f"季度 {quarter!r} 的格式不对 — 请写成 2024Q2 这样的形式")
    runs = {unit: quarters[quarter] for unit, quarters in find_runs(root).items() if quarter in quarters}
    if not runs:
        raise PlanError(f"{root}: 没有任何单位在 {quarter} 有已发布的运行结果 — 请先运行各单位的计划")
    tables = {unit: run.table("kpis") for unit, run in runs.items()}
    names = list(dict.fromkeys(n for t in tables.values() if t is not None for n in t["name"]))
    rows, notes = [], []
    for unit, run in runs.items():
        kpis = tables[unit]
        by_name = {} if kpis is None else {r["name"]: r for _, r in kpis.iterrows()}
        counts = run.summary.get("status_counts", {})
        done = counts.get("超达成", 0) + counts.get("达成", 0)
        head = f'<span class="pl-unit">{_link(run.unit_name, f"{unit}/{quarter}/report.html")}</span>'
        if (root / unit / "trend.html").exists():
            head += f'<span class="pl-cell-sub">{_link("季度趋势", f"{unit}/trend.html")}</span>'
        if run.failed_since:
            head += '<span class="pl-cell-sub">⚠ 最近一次运行失败</span>'
        interval, verdict = _effect_text(run, "repurchase")
        rows.append([head, esc(f"{done} / {len(by_name)}"), f'{esc(verdict)}<span class="pl-cell-sub">{esc(interval)}</span>']
                    + [_kpi_cell(by_name.get(n)) for n in names])
        if kpis is not None:
            for r in kpis[(kpis["status"] == "未达成") | (kpis.get("flag", "") != "")].itertuples():
                notes.append([esc(run.unit_name), esc(r.name), badge(r.status), esc(r.suggestion)])
    blocks = [_html(_table(["单位", "达成 / 评估", "复购提升(与对照组)", *names], rows,
                           f"{quarter} 各单位 KPI 达成情况(实际 / 目标)", cls="pl-wrap"))]
    sections = [{"title": "各单位 KPI 达成情况", "intro": "点击单位名称打开该单位本季度的复盘报告;⚠ 表示已达成但与对照组相比提升不显著。",
                 "blocks": blocks},
                {"title": "未达成与待验证的指标", "intro": "各单位复盘给出的原因与建议(来自各自的活动效果评估表)。",
                 "blocks": [_html(_table(["单位", "指标", "达成情况", "分析与改进建议"], notes))]}]
    cover = [("季度", quarter), ("单位", "、".join(f"{r.unit_name}({u})" for u, r in runs.items()))]
    links = [(f"{r.unit_name} 复盘报告", f"{u}/{quarter}/report.html") for u, r in runs.items()]
    return _render(root / f"portfolio-{quarter}.html", kicker="单位组合概览", title=f"{quarter} 各单位复盘概览",
                   cover=cover, links=links, sections=sections)


def compare(units: list[str] | None = None, quarters: list[str] | None = None, *,
            root: Path | None = None) -> list[Path]:
    """Build the trend pages of ``units`` and the portfolio pages of ``quarters``; with neither, all of them."""
    root = _default_root(root)
    if not units and not quarters:
        found = find_runs(root)
        if not found:
            raise PlanError(f"{root}: 没有找到任何已发布的运行结果 — 请先运行 planlib run")
        units = sorted(found)
        quarters = sorted({q for qs in found.values() for q in qs})
    written = [trend_report(u, root=root) for u in units or []]  # trends first: portfolios link to them
    written += [portfolio_report(q, root=root) for q in quarters or []]
    return written

"""The data contract: which sources and columns each part of the report needs.

One table (:data:`SECTIONS`, plus every KPI of :mod:`planlib.plan.kpis` through its ``needs`` and
``columns``) says what each stage section reads. The only source a plan must have is
``transactions``; the customer list is derived from it when ``data.customers`` is absent, so a
need for ``customers`` is met by the orders (their personal columns — 客户名称, 手机号 — count as the
customer table's).

Two uses:

* a stage asks :func:`gaps` which of its sections lack their inputs and shows each reason as
  无数据 with the source or column to add — never a crash, never a 0;
* ``planlib validate`` calls :func:`readiness`, which reads only each source's header and a few
  rows (:func:`peek`), and prints which sections and KPIs can be computed and why not.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from planlib.data.readers import AUTO_ENCODINGS, HEADER_SEARCH_ROWS, check_data_file, file_format, find_header
from planlib.data.tables import TABLES, match_headers
from planlib.errors import DataError, PlanError
from planlib.plan.kpis import CATALOGUE
from planlib.plan.schema import Data, Plan

SOURCES = ("customers", "transactions", "interactions", "surveys", "tickets")
SOURCE_NAMES = {"customers": "客户表", "transactions": "交易表", "interactions": "互动记录",
                "surveys": "问卷", "tickets": "服务工单"}
STAGE_TITLES = {"01_goals": "01 项目背景与目标", "02_needs": "02 客户分层与需求分析", "03_channels": "03 互动渠道选择",
                "04_execution": "04 实施计划", "05_review": "05 效果评估与复盘"}


@dataclass(frozen=True)
class Need:
    """One part of the report and the data it reads (``columns`` as ``source.column``)."""

    id: str
    stage: str
    title: str
    sources: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    without: str = ""  # what the report shows instead when the data is missing
    partial: bool = False  # without one of ``columns`` the rest of the section is still computed


SECTIONS: tuple[Need, ...] = (
    Need("goals.smart", "01_goals", "SMART 检查", without="只检查计划文字与日期"),
    Need("goals.baselines", "01_goals", "基线测算(未填写基线的目标)", ("transactions",),
         without="按各目标指标所需的数据测算,缺数据的目标显示“无法测算”与原因"),
    Need("needs.rfm", "02_needs", "RFM 评分、客户分层、目标客群与对照组", ("transactions",)),
    Need("needs.clv", "02_needs", "客户终身价值与流失风险(BG/NBD + Gamma-Gamma)", ("transactions",)),
    Need("needs.names", "02_needs", "分层名单与示例中的姓名、手机号", ("customers",),
         ("customers.name", "customers.phone"), without="名单只有客户编号"),
    Need("needs.complaints", "02_needs", "分层规则中的投诉次数(complaints)", ("tickets",),
         ("tickets.is_complaint",), without="分层规则不能使用 complaints"),
    Need("needs.movement", "02_needs", "层级变动(与上季度比较)", ("transactions",),
         without="还需要上一季度已发布的运行结果"),
    Need("channels.rates", "03_channels", "渠道效果参数(由历史互动估计)", ("interactions",),
         ("interactions.opened_at", "interactions.responded_at"), without="使用计划中填写的渠道触达/打开/响应率",
         partial=True),
    Need("channels.plan", "03_channels", "渠道计划测算、预算检查与组合优化", ("transactions",)),
    Need("execution.all", "04_execution", "甘特图、关键路径、预算与导出", without="只用计划文件"),
    Need("review.funnel", "05_review", "互动漏斗(实验组)", ("interactions",),
         ("interactions.opened_at", "interactions.clicked_at", "interactions.responded_at"), partial=True),
    Need("review.by_channel", "05_review", "分渠道漏斗与分渠道 KPI", ("interactions",)),
    Need("review.by_tier", "05_review", "分层漏斗", ("interactions",)),
    Need("review.uplift_itt", "05_review", "与对照组比较:实验组 vs 对照组", ("transactions",)),
    Need("review.uplift_participants", "05_review", "与对照组比较:参与客户 vs 对照组", ("interactions", "transactions"),
         ("interactions.responded_at",)),
    Need("review.abtests", "05_review", "A/B 测试", ("interactions",), ("interactions.variant",)),
    Need("review.cost", "05_review", "单客户成本与 ROI", ("interactions", "transactions"),
         ("interactions.responded_at",)),
)
_BY_ID = {n.id: n for n in SECTIONS}


def kpi_need(kpi: str) -> Need:
    k = CATALOGUE[kpi]
    return Need(f"kpi.{kpi}", "05_review", f"KPI {k.name}", tuple(k.needs), tuple(k.columns))


def available(has: Callable[[str], bool] | Data) -> set[str]:
    """The sources a plan has (``customers`` counts when it can be derived from the orders).

    ``has`` is the plan's ``data`` section or a stage's ``ctx.has_data``.
    """
    if isinstance(has, Data):
        found = {name for name in SOURCES if getattr(has, name) is not None}
    else:
        found = {name for name in SOURCES if has(name)}
    if "transactions" in found:
        found.add("customers")
    return found


def _header(source: str, column: str) -> str:
    return next((c.aliases[0] for c in TABLES[source] if c.name == column), column)


def missing(need: Need, sources: Iterable[str], absent: Mapping[str, Iterable[str]] | None = None,
            derived: bool = False) -> str | None:
    """Why ``need`` cannot be met (Chinese, with the fix), or None when it can.

    ``absent``: source → canonical columns its file lacks (``measure.absent_columns``, or :func:`peek`);
    ``derived``: the customer list is made from the orders, so its columns are the order export's.
    """
    have = set(sources)
    lacking = [s for s in need.sources if s not in have]
    if lacking:
        names = "、".join(f"{SOURCE_NAMES[s]}({s})" for s in lacking)
        return f"缺少{names} — 在计划的 data: 下添加 {'、'.join(lacking)}"
    absent = absent or {}
    gone = [c for c in need.columns if c.split(".")[1] in set(absent.get(c.split(".")[0], ()))]
    if need.id == "needs.names" and len(gone) < len(need.columns):
        return None  # a name or a phone is enough for a list
    if gone:
        def where(source: str) -> str:
            return "交易表(客户名单由交易表生成)" if derived and source == "customers" else SOURCE_NAMES[source]

        cols = "、".join(f"{where(c.split('.')[0])}「{_header(*c.split('.'))}」列({c.split('.')[1]})" for c in gone)
        if derived and all(c.startswith("customers.") for c in gone):
            return f"缺少{cols} — 在订单导出中加入这些列(列名如 客户名称、手机号),或在 data: 下添加 customers 客户表"
        return f"缺少{cols} — 在导出中加入该列,或用 columns: 映射已有的列"
    return None


def gaps(stage: str, sources: Iterable[str], absent: Mapping[str, Iterable[str]] | None = None,
         derived: bool = False) -> dict[str, str]:
    """Section id → ``无数据: <reason>`` for every section of ``stage`` that lacks its inputs."""
    have = set(sources)
    out = {}
    for need in SECTIONS:
        if need.stage == stage and (reason := missing(need, have, absent, derived)) is not None:
            some = need.partial and set(need.sources) <= have  # only columns are missing
            out[need.id] = f"{'部分环节' if some else ''}无数据: {reason}" + (f";{need.without}" if need.without and not some else "")
    return out


def gap(section: str, sources: Iterable[str], absent: Mapping[str, Iterable[str]] | None = None,
        derived: bool = False) -> str | None:
    """``无数据: <reason>`` for one section, or None when its data is there."""
    return gaps(_BY_ID[section].stage, sources, absent, derived).get(section)


def stage_gaps(stage: str, ctx) -> dict[str, str]:
    """:func:`gaps` for a running stage: ``ctx`` is its ``run.stage.StageContext`` (``has_data``,
    ``load_notes`` of the sources read so far, ``plan``)."""
    absent = {name: tuple(getattr(note, "absent", ())) for name, note in ctx.load_notes.items()}
    return gaps(stage, available(ctx.has_data), absent, derived=ctx.plan.data.customers is None)


def goal_gaps(ctx) -> list[str]:
    """One line per goal whose KPI the plan's data cannot feed (stage 01): the review will say 无数据."""
    have = available(ctx.has_data)
    absent = {name: tuple(getattr(note, "absent", ())) for name, note in ctx.load_notes.items()}
    out = []
    for goal in ctx.plan.goals:
        reason = missing(kpi_need(goal.metric), have, absent, derived=ctx.plan.data.customers is None)
        if reason is not None:
            out.append(f"目标 {goal.id} 的指标「{CATALOGUE[goal.metric].name}」无法由数据计算,复盘时为无数据: {reason}"
                       "(或在 kpis 中手工填写实际值)")
    return out


# ---------------------------------------------------------------------------------- peeking at files
PEEK_BYTES = 64 * 1024
PEEK_ROWS = 50


@dataclass
class Peek:
    """What the top of one source file holds: its header, the canonical columns found, a few rows."""

    name: str
    label: str
    headers: list[str]
    found: set[str]  # canonical columns recognised
    sample: pd.DataFrame  # canonical column → text, up to PEEK_ROWS rows
    problem: str = ""

    @property
    def absent(self) -> tuple[str, ...]:
        return tuple(c.name for c in TABLES[self.name] if c.name not in self.found)


def peek(name: str, source, base_dir: Path, demo: bool = False) -> Peek:
    """The header and first rows of a source (CSV: the first 64 KB; XLSX: the first rows; Parquet: the schema).

    Never reads a whole file; problems are reported in ``problem``, the full load names them row by row.
    """
    if getattr(source, "url", None) is not None:
        return _peek_database(name, source, base_dir)
    label = source.path
    path = (Path(base_dir) / source.path).resolve()
    empty = Peek(name, label, [], set(), pd.DataFrame())
    if path.is_dir():  # a folder of Parquet parts: the folder checked, the first part with rows peeked
        from planlib.data.parts import folder_parts

        try:
            parts, _ = folder_parts(path, label)
        except DataError as exc:  # the line without the label the readiness row already shows
            empty.problem = "; ".join(f"{p.message} — {p.hint}" if p.hint else p.message for p in exc.problems)
            return empty
        path = _first_with_rows(parts)
        source = source.model_copy(update={"format": "parquet"})
    elif not path.is_file():
        if demo:  # the demo generator writes it on the first run, with every column
            return Peek(name, label, [], {c.name for c in TABLES[name]}, pd.DataFrame())
        empty.problem = f"找不到数据文件 {path} — 检查计划中的路径(相对于计划文件所在的目录)"
        return empty
    try:
        check_data_file(path, label)  # a FIFO, a device, a file or an XLSX unpacking past the limit: not opened
        kind = file_format(path, source, label)
    except PlanError as exc:
        empty.problem = str(exc)
        return empty
    rows: list[list[str]] = []
    if kind == "parquet":
        import pyarrow.parquet as pq

        headers = list(pq.read_schema(path).names)
        table = pq.ParquetFile(path).read_row_group(0) if pq.ParquetFile(path).num_row_groups else None
        sample = table.slice(0, PEEK_ROWS).to_pandas().astype("str") if table is not None else pd.DataFrame()
        rows = [headers, *sample.to_numpy().tolist()]
    elif kind == "xlsx":
        from openpyxl import load_workbook

        from planlib.data.xlsxread import cell_text

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            names = book.sheetnames
            sheet = 0 if source.sheet is None else source.sheet
            ws = book[names[sheet] if isinstance(sheet, int) else sheet]
            rows = [[cell_text(v) for v in row]
                    for row in ws.iter_rows(max_row=HEADER_SEARCH_ROWS + PEEK_ROWS, values_only=True)]
        except (KeyError, IndexError):
            empty.problem = f"没有工作表 {source.sheet!r}"
            return empty
        finally:
            book.close()
    else:
        with path.open("rb") as fh:
            head = fh.read(PEEK_BYTES)
            complete = not fh.read(1)
        encodings = (source.encoding,) if source.encoding != "auto" else AUTO_ENCODINGS
        best_score = -1
        for encoding in encodings:
            try:
                text = codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
            except UnicodeDecodeError:
                continue
            for delimiter in (",", "\t", ";"):
                found_rows = list(csv.reader(io.StringIO(text, newline=None), delimiter=delimiter))
                found_rows = found_rows if complete else found_rows[:-1]  # the last line may be cut off
                idx, best, _ = find_header(name, found_rows, source.columns)
                row = found_rows[idx if idx >= 0 else best] if found_rows else []
                score = len(match_headers(name, row, source.columns)) + (100 if idx >= 0 else 0)
                if score > best_score:
                    rows, best_score = found_rows, score
            if best_score >= 100:
                break
    idx, best, merged = find_header(name, rows, source.columns)
    headers = merged or (rows[idx] if idx >= 0 else rows[best] if rows else [])
    found = match_headers(name, headers, source.columns)
    if idx < 0:
        missing_cols = [c.name for c in TABLES[name] if c.required and c.name not in found.values()]
        empty.headers, empty.found = headers, set(found.values())
        shown = "、".join(h for h in headers if str(h).strip()) or "(空)"
        empty.problem = (f"表头中缺少必需的列 {'、'.join(missing_cols)}(前 {HEADER_SEARCH_ROWS} 行内;找到的列名: {shown})"
                         f" — 在计划的 columns 中加映射,例如 columns: {{实际列名: {missing_cols[0]}}}")
        return empty
    body = [(r + [""] * len(headers))[:len(headers)] for r in rows[idx + 1: idx + 1 + PEEK_ROWS]]
    sample = pd.DataFrame({target: [r[i] for r in body] for i, target in found.items()}, dtype="str")
    return Peek(name, label, headers, set(found.values()), sample)


def _first_with_rows(parts: list[Path]) -> Path:
    """The first Parquet part that has rows (Spark writes empty parts), else the first part."""
    import pyarrow.parquet as pq

    return next((p for p in parts if pq.ParquetFile(p).metadata.num_rows), parts[0])


def _peek_database(name: str, source, base_dir: Path) -> Peek:
    """A database source's columns (``LIMIT 0``: no rows are read, so no sample)."""
    from planlib.data.sql import headers_of, label_of

    label = label_of(name, source)
    try:
        headers = headers_of(name, source, Path(base_dir))
    except PlanError as exc:
        return Peek(name, label, [], set(), pd.DataFrame(), problem=str(exc))
    return Peek(name, label, headers, set(match_headers(name, headers, source.columns).values()), pd.DataFrame())


def peek_all(data: Data, base_dir: Path) -> dict[str, Peek]:
    """:func:`peek` of every configured source; a derived customer list is peeked from the orders' header."""
    out = {name: peek(name, getattr(data, name), base_dir, demo=data.demo is not None)
           for name in SOURCES if getattr(data, name) is not None}
    tx = out.get("transactions")
    if "customers" not in out and tx is not None:
        found = set(match_headers("customers", tx.headers, {}).values()) | {"customer_id"}
        if not tx.headers and not tx.problem:  # demo data still to be generated
            found = {c.name for c in TABLES["customers"]}
        # a problem with the orders is reported once, for the orders
        out["customers"] = Peek("customers", f"{tx.label}(由交易表生成)", tx.headers, found, pd.DataFrame())
    return out


def readiness(plan: Plan, base_dir: Path) -> pd.DataFrame:
    """What ``plan`` can compute from its data: one row per section and per KPI the plan uses.

    Columns: stage, part, ok (bool), reason. Reads only headers and a sample (:func:`peek_all`).
    """
    peeks = peek_all(plan.data, base_dir)
    derived = plan.data.customers is None
    sources = {name for name, p in peeks.items() if not p.problem}
    if "transactions" not in sources:
        sources.discard("customers")
    absent = {name: p.absent for name, p in peeks.items()}
    rows = []
    for name, p in peeks.items():
        if p.problem:
            rows.append(("数据", f"{SOURCE_NAMES[name]} {p.label}", False, p.problem))
    cu, tx = peeks.get("customers"), peeks.get("transactions")
    if (not derived and cu is not None and tx is not None and "customer_id" in cu.sample
            and "customer_id" in tx.sample):
        from planlib.data.ids import shape_warning

        if (warning := shape_warning(cu.sample["customer_id"], tx.sample["customer_id"])) is not None:
            rows.append(("数据提示", "客户编号(客户表与交易表)", False, warning))
    used_kpis = dict.fromkeys([g.metric for g in plan.goals] + [k.kpi for k in plan.kpis]
                              + [c.kpi for c in plan.checkpoints])
    complaints = any(t.complaints for t in plan.segmentation.tiers)
    for need in SECTIONS:
        if need.id == "needs.complaints" and not complaints:
            continue
        reason = missing(need, sources, absent, derived)
        if need.id == "needs.complaints" and reason is not None:  # stage 02 cannot apply the tier rules
            rows.append(("数据", "segmentation.tiers", False,
                         f"分层规则用到投诉次数(complaints),但{reason.split(' — ')[0]} — 在 data: 下添加 tickets"
                         "(含“是否投诉”列),或删除 complaints 条件"))
        some = need.partial and set(need.sources) <= sources
        rows.append((STAGE_TITLES[need.stage], need.title, reason is None,
                     "" if reason is None else ("部分环节" if some else "") + reason
                     + (f";{need.without}" if need.without and not some else "")))
    for kpi in used_kpis:
        reason = missing(kpi_need(kpi), sources, absent, derived)
        if kpi in ("budget_variance", "cost_per_participant", "roi") and not any(
                line.actual is not None for line in plan.budget.lines):
            reason = (reason + ";" if reason else "") + "预算明细中还没有实际支出"
        rows.append((STAGE_TITLES["05_review"], f"KPI {CATALOGUE[kpi].name}({kpi})", reason is None, reason or ""))
    return pd.DataFrame(rows, columns=["stage", "part", "ok", "reason"])


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def readiness_lines(table: pd.DataFrame) -> list[str]:
    """The readiness table as aligned text lines for the terminal."""
    width = max((_width(p) for p in table["part"]), default=0)
    lines = []
    for stage, part in table.groupby("stage", sort=False):
        lines.append(f"  {stage}")
        for row in part.itertuples():
            mark = "可计算" if row.ok else "部分可计算" if str(row.reason).startswith("部分环节") else "无数据"
            pad = " " * max(0, width - _width(row.part))
            reason = str(row.reason).removeprefix("部分环节")
            lines.append(f"    {'✓' if row.ok else '✗'} {row.part}{pad}  {mark}" + (f":{reason}" if reason else ""))
    return lines

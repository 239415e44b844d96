"""Tier movement since the previous quarter: who was upgraded, downgraded, newly at risk or lost.

The previous quarter's ``customers`` result is read from the unit's published run
(``outputs/<unit>/<previous quarter>/results/customers.parquet``; the run folder's parent is
``outputs/<unit>``). Each customer gets exactly one movement, tried in this order:

* 新进入 — not in last quarter's result (a new customer, or new in the export);
* 流失 — bought in last quarter's window, and now either left the customer table or made no
  purchase in the current window;
* 新增风险 — now in one of ``segmentation.movement.at_risk``, last quarter in none of them;
* 升级 / 降级 — moved to a tier higher / lower in ``segmentation.movement.order`` (high → low;
  by default the rule order with the default tier last);
* 不变 — same tier;
* 无法比较 — a tier that is not in this quarter's order (renamed or removed since).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from planlib.errors import PlanError
from planlib.metrics.segment import tier_names
from planlib.plan.schema import Segmentation

MOVEMENTS = ("升级", "降级", "新增风险", "流失", "新进入", "不变", "无法比较")
GONE = "(已不在客户表)"
NEW = "(上季无此客户)"
LABELS = {"previous_tier": "上季层级", "movement": "变动", "previous_clv": "上季 CLV(元)", "clv": "CLV(元)",
          "name": "客户名称", "main_paths": "主要路径"}


def previous_quarter(quarter: str) -> str:
    """``2024Q1`` → ``2023Q4``."""
    m = re.fullmatch(r"(\d{4})Q([1-4])", quarter)
    if not m:
        raise ValueError(f"not a quarter: {quarter!r}")
    year, q = int(m[1]), int(m[2])
    return f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}"


def previous_result_path(run_dir: Path, quarter: str) -> Path:
    """Where last quarter's ``customers`` result is published for the unit of ``run_dir``."""
    return Path(run_dir).resolve().parent / previous_quarter(quarter) / "results" / "customers.parquet"


def _shown(path: Path, run_dir: Path) -> str:
    """``path`` as a reviewer can find it: from the outputs folder on (``outputs/demo/2024Q1/…``), not the
    absolute path of the machine the report was made on."""
    outputs = Path(run_dir).resolve().parent.parent
    return (Path(outputs.name) / path.relative_to(outputs)).as_posix()


def load_previous(run_dir: Path, quarter: str) -> tuple[pd.DataFrame | None, str]:
    """Last quarter's customers result and a sentence saying where it came from (or why none)."""
    path = previous_result_path(run_dir, quarter)
    prev = previous_quarter(quarter)
    if not path.exists():
        return None, (f"没有找到上一季度({prev})的运行结果({_shown(path.parent.parent, run_dir)}),"
                      "本季度不做层级变动比较;"
                      f"先运行 {prev} 的计划即可在此看到升级、降级、新增风险与流失客户。")
    frame = pd.read_parquet(path)
    missing = {"customer_id", "tier"} - set(frame.columns)
    if missing:
        return None, f"上一季度({prev})的结果缺少列 {'、'.join(sorted(missing))},无法比较层级变动。"
    return frame, f"与上一季度({prev})的分层结果比较:{_shown(path, run_dir)}"


def tier_order(segmentation: Segmentation) -> list[str]:
    """Tiers from most to least valuable: ``movement.order``, else the rule order with risk tiers last."""
    names = tier_names(segmentation)
    risky = segmentation.movement.at_risk
    order = list(segmentation.movement.order) or [t for t in names if t not in risky] + list(risky)
    unknown = [t for t in [*order, *segmentation.movement.at_risk] if t not in names]
    if unknown:
        raise PlanError(f"segmentation.movement: 层级 {'、'.join(unknown)} 没有定义 — 可用的层级: {'、'.join(names)}")
    return order + [t for t in names if t not in order]


def transitions(previous: pd.DataFrame, current: pd.DataFrame, segmentation: Segmentation) -> pd.DataFrame:
    """One row per customer of either quarter: previous_tier, tier, movement (see module doc)."""
    order = tier_order(segmentation)
    rank = {t: i for i, t in enumerate(order)}
    risky = set(segmentation.movement.at_risk)
    cols = [c for c in ("customer_id", "tier", "frequency", "clv", "recency_days", "monetary") if c in current]
    prev = previous[[c for c in ("customer_id", "tier", "frequency", "clv") if c in previous]].rename(
        columns={"tier": "previous_tier", "frequency": "previous_frequency", "clv": "previous_clv"})
    moves = current[cols].merge(prev.astype({"customer_id": str}), on="customer_id", how="outer",
                                indicator=True, sort=False)
    had_purchases = moves.get("previous_frequency", pd.Series(1, index=moves.index)).fillna(0) > 0
    now_inactive = (moves["_merge"] == "right_only") | (moves["frequency"].fillna(0) == 0)
    prev_rank = moves["previous_tier"].map(rank)
    cur_rank = moves["tier"].map(rank)
    choices = [
        (moves["_merge"] == "left_only", "新进入"),
        (had_purchases & now_inactive & (moves["_merge"] != "left_only"), "流失"),
        (moves["tier"].isin(risky) & ~moves["previous_tier"].isin(risky), "新增风险"),
        (prev_rank.isna() | cur_rank.isna(), "无法比较"),
        (cur_rank < prev_rank, "升级"),
        (cur_rank > prev_rank, "降级"),
    ]
    moves["movement"] = np.select([c.to_numpy(dtype=bool) for c, _ in choices], [m for _, m in choices],
                                  default="不变")
    moves["previous_tier"] = moves["previous_tier"].fillna(NEW)
    moves["tier"] = moves["tier"].fillna(GONE)
    return moves.drop(columns="_merge").reset_index(drop=True)


def transition_matrix(moves: pd.DataFrame, segmentation: Segmentation) -> pd.DataFrame:
    """Customers by last quarter's tier (rows) × this quarter's tier (columns), with totals."""
    order = tier_order(segmentation)
    rows = [t for t in [*order, *sorted(set(moves["previous_tier"]) - set(order) - {NEW}), NEW]
            if t in set(moves["previous_tier"])]
    cols = [t for t in [*order, *sorted(set(moves["tier"]) - set(order) - {GONE}), GONE] if t in set(moves["tier"])]
    table = pd.crosstab(moves["previous_tier"], moves["tier"]).reindex(index=rows, columns=cols, fill_value=0)
    table["合计"] = table.sum(axis=1)
    table.loc["合计"] = table.sum(axis=0)
    return table.rename_axis(index="上季层级 \\ 本季层级", columns=None)


def movement_summary(moves: pd.DataFrame) -> pd.DataFrame:
    """Customers per movement, with the share and the most common from → to pairs."""
    total = len(moves)
    rows = []
    for name in MOVEMENTS:
        sub = moves[moves["movement"] == name]
        if not len(sub) and name in ("无法比较",):
            continue
        pairs = (sub.groupby(["previous_tier", "tier"], sort=False).size().sort_values(ascending=False).head(3))
        top = ";".join(f"{a}→{b} {n:,}" for (a, b), n in pairs.items())
        rows.append({"movement": name, "customers": len(sub), "share": len(sub) / total * 100 if total else np.nan,
                     "main_paths": top or "—"})
    return pd.DataFrame(rows, columns=["movement", "customers", "share", "main_paths"])


def members(moves: pd.DataFrame, customers_frame: pd.DataFrame, *, movement: str | None = None,
            previous_tier: str | None = None, tier: str | None = None, n: int | None = 10) -> pd.DataFrame:
    """The customers behind a movement or one cell of the matrix, most valuable first (not masked)."""
    keep = np.ones(len(moves), dtype=bool)
    for column, value in (("movement", movement), ("previous_tier", previous_tier), ("tier", tier)):
        if value is not None:
            keep &= (moves[column] == value).to_numpy()
    sub = moves[keep]
    names = customers_frame.drop_duplicates("customer_id").set_index("customer_id")
    out = sub.join(names[[c for c in ("name", "phone") if c in names]], on="customer_id")
    # value at stake: this quarter's CLV, or last quarter's for customers who left the table
    value = out["clv"] if "clv" in out else pd.Series(np.nan, index=out.index)
    if "previous_clv" in out:
        value = value.fillna(out["previous_clv"])
    out = out.assign(_value=value).sort_values(["_value", "customer_id"], ascending=[False, True],
                                               na_position="last")
    columns = [c for c in ("customer_id", "name", "phone", "previous_tier", "tier", "movement", "clv",
                           "previous_clv", "recency_days") if c in out]
    out = out[columns].reset_index(drop=True)
    return out if n is None else out.head(n)


class Comparison:
    """Everything the workbook shows about tier movement; empty frames when there is no previous run."""

    def __init__(self, note: str, moves: pd.DataFrame | None, segmentation: Segmentation):
        self.note = note
        self.found = moves is not None
        self.moves = moves if moves is not None else pd.DataFrame(
            columns=["customer_id", "previous_tier", "tier", "movement"])
        self.matrix = transition_matrix(self.moves, segmentation) if self.found else pd.DataFrame()
        self.summary = movement_summary(self.moves) if self.found else pd.DataFrame(
            columns=["movement", "customers", "share", "main_paths"])

    def examples(self, customers_frame: pd.DataFrame, n: int = 5,
                 kinds: tuple[str, ...] = ("升级", "降级", "新增风险", "流失")) -> pd.DataFrame:
        """The ``n`` most valuable customers behind each movement (not masked: mask for display)."""
        parts = [members(self.moves, customers_frame, movement=k, n=n) for k in kinds] if self.found else []
        parts = [p for p in parts if len(p)]
        if not parts:
            return pd.DataFrame(columns=["customer_id", "name", "phone", "previous_tier", "tier", "movement"])
        return pd.concat(parts, ignore_index=True)


def compare(run_dir: Path, quarter: str, current: pd.DataFrame, segmentation: Segmentation) -> Comparison:
    """Compare this quarter's customers result with last quarter's published one, if any."""
    previous, note = load_previous(run_dir, quarter)
    moves = transitions(previous, current, segmentation) if previous is not None else None
    return Comparison(note, moves, segmentation)

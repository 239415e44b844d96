"""The audience sizes the plan's data-dependent checks need, read as stages 02 and 03 read them.

:mod:`planlib.plan.analysis` compares the channel plan's cost with the budget lines and its reach
with the contact caps; both need how many customers each audience holds, which only the customer
data can tell. The plan package sits below the data, so this module (used by ``planlib validate``
and the planner forms) reads the data, computes the ``customers`` table exactly as stage 02 does
and counts the audiences exactly as stage 03 does. When the data cannot be read the answer is a
sentence saying why, and those checks are reported as not done rather than passed.
"""

from __future__ import annotations

import os
from pathlib import Path

from planlib.errors import PlanError
from planlib.plan.analysis import AudienceData
from planlib.plan.schema import Plan


def audience_data(plan: Plan, base_dir: Path) -> AudienceData | str:
    """The audiences' sizes from the plan's customer data, or why they cannot be computed."""
    from planlib.data.demo import ensure_demo_data
    from planlib.data.load import customers_from_transactions, load_source
    from planlib.metrics.customers import customers_result
    from planlib.stages.channels.plan import audience_tiers, sizes_of, tier_sizes

    if plan.data.transactions is None:
        return "渠道成本与触达上限未核对:计划没有配置交易数据(data.transactions),无法得知各对象的客户数"
    if any(src is not None and src.url is not None for src in (plan.data.customers, plan.data.transactions)):
        # validate only asks a database whether it answers (LIMIT 0): reading whole tables here would
        # make it as slow as stage 02, and a server that is down would be waited for twice
        return "渠道成本与触达上限未核对:客户数据来自数据库,validate 不读取整表;阶段 03 运行时核对"
    try:
        from planlib.metrics.customers import engine_for

        if engine_for(plan, base_dir) != "pandas":  # a large file: stage 02 aggregates it underneath
            return "渠道成本与触达上限未核对:交易数据量大,validate 不读取全部订单;阶段 03 运行时核对"
    except (PlanError, OSError) as exc:
        return f"渠道成本与触达上限未核对:读取客户数据失败({exc})"
    try:
        ensure_demo_data(plan.data, base_dir)
        sources = {name: load_source(name, src, base_dir) for name in ("customers", "transactions", "tickets")
                   if (src := getattr(plan.data, name)) is not None}
        if "customers" not in sources:
            sources["customers"] = customers_from_transactions(sources["transactions"])
        tickets = sources["tickets"].frame if "tickets" in sources else None
        customers = customers_result(sources["customers"].frame, sources["transactions"].frame, plan, tickets)
        composition = audience_tiers(customers, plan)
    except (PlanError, OSError) as exc:  # the data's problem, said in one line; a bug keeps its traceback
        return f"渠道成本与触达上限未核对:读取客户数据失败({exc})"
    return AudienceData(sizes_of(composition), composition, tier_sizes(customers))


def files_key(plan: Plan, base_dir: Path) -> tuple:
    """What the customer data files are now, as ``(path, size, mtime_ns)`` per file read.

    A planner who replaces ``customers.csv`` keeps the same settings, so a cache keyed on them
    alone would keep showing the old sizes. The size and modification time in nanoseconds change
    whenever a file is rewritten, and cost one ``stat`` each (hashing the bytes on every keystroke
    would cost as much as reading them). A folder of Parquet parts counts each part; a missing
    file is ``(path, None, None)``, so the sizes are read again once it appears.
    """
    out: list[tuple] = []
    for name in ("customers", "transactions", "tickets"):
        src = getattr(plan.data, name)
        if src is None or src.path is None:
            continue
        path = (Path(base_dir) / src.path).expanduser()
        found = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in found:
            try:
                st = os.stat(file)
            except OSError:
                out.append((str(file), None, None))
            else:
                out.append((str(file), st.st_size, st.st_mtime_ns))
    return tuple(out)


class CachedAudiences:
    """:func:`audience_data` for a form: recomputed only when what it depends on changed (the data
    settings, the segmentation, the period, the channel-plan audiences, and the data files
    themselves — :func:`files_key`), not on every keystroke."""

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self._key: str | None = None
        self._value: AudienceData | str = ""

    def __call__(self, plan: Plan) -> AudienceData | str:
        settings = (plan.data, plan.segmentation, plan.meta.period, plan.scope, plan.review.control_share,
                    sorted({r.audience for r in plan.channels.plan} | {r.audience for r in plan.channels.rules}))
        files = files_key(plan, self.base_dir)
        key = repr((settings, files))
        if key != self._key:
            self._value = audience_data(plan, self.base_dir)
            if any(size is None for _path, size, _mtime in files):  # the demo data may have just been made
                key = repr((settings, files_key(plan, self.base_dir)))
            self._key = key
        return self._value

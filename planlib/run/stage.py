"""What a stage workbook holds on to: the validated plan, its data and the run folder.

A workbook's first code cell after ``parameters`` is ``ctx = open_stage("02_needs", plan_path,
run_dir)``; its last cell is ``ctx.finish(...)``, which writes the sentinel the runner checks to
tell a stage that ran to the end from one that stopped early (``sys.exit``, a killed kernel).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import time
from collections import OrderedDict
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planlib.data import results
from planlib.errors import PlanError, ResultMissingError
from planlib.plan.planfile import LoadedPlan, load_plan
from planlib.plan.schema import Data
from planlib.publish.files import data_sha256, file_sha256
from planlib.run.paths import input_key, project_root

if TYPE_CHECKING:  # imported where used: the runner imports this module for paths only
    import pandas as pd


def resolve_plan_path(plan_path: str | Path) -> Path:
    """Find the plan file relative to the working directory, else to the project root."""
    path = Path(plan_path)
    if path.is_absolute() or path.exists():
        return path.resolve()
    candidate = project_root() / path
    if candidate.exists():
        return candidate.resolve()
    raise PlanError(f"{plan_path}: 找不到计划文件 — 请检查 plan_path 参数(相对于当前目录或项目根目录)")


def default_run_dir(loaded: LoadedPlan) -> Path:
    """``outputs/<unit>/<quarter>`` under the project root: where a published run lives."""
    meta = loaded.plan.meta
    return project_root(loaded.path.parent) / "outputs" / meta.unit / meta.quarter


# Parsed sources kept by this process (one kernel runs all stages of a plan, often several
# plans): stages 01, 02 and 05 read the same files, and parsing them — encodings, header
# mapping, a check of every cell — costs far more than recognising them by their bytes.
# Small (one plan's sources) so a batch worker's memory stays bounded.
_SOURCE_CACHE: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
_SOURCE_CACHE_SIZE = 5


def _load_cached(name: str, source: Any, base_dir: Path) -> tuple[Any, str | None]:
    """``data.load_source`` remembered by the file's content and the source's settings, with
    the hash of the bytes it was read from (what the stage records as its input).

    Each caller gets its own copies of the frames (a fraction of the parse), so a stage that
    changes its frame in place never changes what the next stage reads. A pipe or a device is
    refused before it is opened (:func:`~planlib.publish.files.file_sha256`).
    """
    from planlib.data.load import load_source

    if source.url is not None:
        return load_source(name, source, base_dir), None  # a database is read each time (it may change)
    path = (Path(base_dir) / source.path).expanduser().resolve()
    try:
        digest = data_sha256(path)  # a folder of Parquet parts: all its files
    except OSError:
        return load_source(name, source, base_dir), None  # its own clear message for a missing file
    key = (name, source.model_dump_json(), f"{path}:{digest}")
    if key not in _SOURCE_CACHE:
        _SOURCE_CACHE[key] = load_source(name, source, base_dir)
        while len(_SOURCE_CACHE) > _SOURCE_CACHE_SIZE:
            _SOURCE_CACHE.popitem(last=False)
    _SOURCE_CACHE.move_to_end(key)
    found = _SOURCE_CACHE[key]
    return (dataclasses.replace(found, frame=found.frame.copy(), excluded=found.excluded.copy(),
                                rows=found.rows.copy()), digest)


_PLAN_CACHE: dict[Path, tuple[tuple[tuple[Path, str], ...], LoadedPlan]] = {}


def _load_plan_cached(path: Path) -> LoadedPlan:
    """``load_plan``, remembered while the plan file and every base it extends are unchanged.

    The five stages of a run each open the same plan in one kernel; reading and validating it
    (YAML with line numbers, the schema, cross-field checks) costs 40 times the hash check.
    A plan edited between two stages — in JupyterLab, say — is read again. Each caller gets
    its own deep copy.
    """
    found = _PLAN_CACHE.get(path)
    if found is not None:
        files, loaded = found
        try:
            unchanged = all(file_sha256(f) == digest for f, digest in files)
        except OSError:
            unchanged = False
        if unchanged:
            return _own_copy(loaded)
    loaded = load_plan(path)  # invalid plans raise here every time, never cached
    try:
        _PLAN_CACHE.clear()  # one plan at a time: a batch worker's memory stays flat
        _PLAN_CACHE[path] = (tuple((f, file_sha256(f)) for f in loaded.files), loaded)
    except OSError:
        pass
    return _own_copy(loaded)


def _plan_hashes(loaded: LoadedPlan) -> dict[str, str]:
    """The hashes of the plan files a stage read (as remembered with the parsed plan)."""
    root = project_root(loaded.path.parent)
    found = _PLAN_CACHE.get(loaded.path)
    if found is not None:
        return {input_key(f, root): digest for f, digest in found[0]}
    try:
        return {input_key(f, root): file_sha256(f) for f in loaded.files}
    except OSError:
        return {}


def _own_copy(loaded: LoadedPlan) -> LoadedPlan:
    return dataclasses.replace(loaded, plan=loaded.plan.model_copy(deep=True), data=copy.deepcopy(loaded.data),
                               files=list(loaded.files))


class StageContext:
    """The plan, data and run folder of one stage, with typed reads and writes of results."""

    def __init__(self, stage: str, loaded: LoadedPlan, run_dir: Path):
        if stage not in results.STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {results.STAGES}")
        self.stage = stage
        self.loaded = loaded
        self.plan = loaded.plan
        self.run_dir = Path(run_dir)
        self.started = time.perf_counter()
        self._frames: dict[str, pd.DataFrame] = {}
        self.load_notes: dict[str, Any] = {}
        # database sources read without loading their rows (:meth:`source`): their fingerprints
        self._fingerprints: dict[str, dict] = {}
        self._underneath: dict[str, dict] = {}  # sources aggregated where they are (record_source)
        # database sources read underneath without a fingerprint of their own: fingerprinted in
        # finish() unless the figures brought one (record_source) — a content hash is a full scan
        self._fingerprint_later: set[str] = set()
        # path → sha256 of every file this stage read (plan files, data): kept in the sentinel,
        # so the runner and --resume know which inputs each stage's results depend on
        self.inputs: dict[str, str] = _plan_hashes(loaded)

    @property
    def title(self) -> str:
        return results.STAGE_TITLES[self.stage]

    @cached_property
    def _sources(self) -> dict[str, Any]:
        from planlib.data.demo import ensure_demo_data

        ensure_demo_data(self.plan.data, self.loaded.base_dir)
        return {
            name: getattr(self.plan.data, name)
            for name in ("customers", "transactions", "interactions", "surveys", "tickets")
            if getattr(self.plan.data, name) is not None
        }

    def _derived(self, name: str) -> bool:
        # without data.customers the customer list comes from the orders (data.load.customers_from_transactions)
        return name == "customers" and name not in self._sources and "transactions" in self._sources

    def has_data(self, name: str) -> bool:
        return name in self._sources or self._derived(name)

    def data(self, name: str) -> pd.DataFrame:
        """The canonical frame of data source ``name`` (loaded once per stage)."""
        if name not in self._frames:
            if self._derived(name):
                from planlib.data.load import customers_from_transactions

                if (listed := self._customer_list_underneath()) is not None:
                    self._frames[name] = listed
                    return listed
                self.data("transactions")
                loaded = customers_from_transactions(self.load_notes["transactions"])
                self._frames[name], self.load_notes[name] = loaded.frame, loaded
                return self._frames[name]
            if name not in self._sources:
                raise PlanError(f"{self.loaded.path}: data.{name}: 计划未配置该数据源 — 请在 data: 下添加 {name}")
            loaded, digest = _load_cached(name, self._sources[name], self.loaded.base_dir)
            if digest is not None:
                path = self.loaded.resolve(self._sources[name].path)
                self.inputs[input_key(path, project_root(self.loaded.path.parent))] = digest
            self._frames[name] = loaded.frame
            self.load_notes[name] = loaded
        return self._frames[name]

    def _customer_list_underneath(self) -> pd.DataFrame | None:
        """The customer list derived from orders that are not loaded (a large file or a database):
        the IDs of stage 02's ``customers`` result, as stage 02 listed them — loading every order
        only to list its customers would defeat the per-customer path. None: load the orders."""
        from planlib.metrics.customers import customer_list, source_label, sources_underneath

        if "transactions" not in sources_underneath(self.plan, self.loaded.base_dir):
            return None
        try:
            ids = self.load("customers")["customer_id"]
        except ResultMissingError:  # stage 02 has not run in this folder: the loader lists them
            return None
        self._fingerprint_later.add("transactions")  # a database source's fingerprint, as reading it would record
        self._hash_input("transactions")  # a file's hash: the list follows the orders
        return customer_list(ids, source_label(self._sources["transactions"]))

    def source(self, name: str) -> Any:
        """The plan's data source ``name`` for a reader that does not load it through :meth:`data`
        (the per-customer figures pushed down into the database, :mod:`planlib.data.aggregate`).

        A database source's fingerprint (count and content hash, computed in the database) is
        recorded here as :meth:`data` records it, so ``--resume`` and ``--stage`` know this stage
        depends on that source's rows.
        """
        if name not in self._sources:
            raise PlanError(f"{self.loaded.path}: data.{name}: 计划未配置该数据源 — 请在 data: 下添加 {name}")
        source = self._sources[name]
        if source.url is not None and name not in self._fingerprints:
            from planlib.data.sql import source_fingerprint

            self._fingerprints[name] = source_fingerprint(name, source, self.loaded.base_dir)
        return source

    def all_data(self, skip: tuple[str, ...] = ()) -> dict[str, pd.DataFrame]:
        """Every source's frame, but those in ``skip``: sources read underneath instead (stage 02's
        per-customer path, ``metrics.customers.engine_for``). A skipped file is still hashed as
        this stage's input (``--resume`` must notice it changed); a customer list that would be
        derived from skipped transactions is left out too."""
        for name in skip:
            self._hash_input(name)
        return {name: self.data(name) for name in ("customers", *self._sources)
                if self.has_data(name) and name not in skip and not (self._derived(name) and "transactions" in skip)}

    def data_with_orders(self) -> dict[str, Any]:
        """:meth:`all_data`, the orders as :class:`planlib.metrics.orders.Orders`: the loaded frame
        (``FrameOrders``), or — a large file, a folder of Parquet parts or a database
        (``metrics.customers.engine_for``) — ``SourceOrders``, which computes what each figure asks
        where the rows are and never loads them all. Such a source is hashed (a file) or
        fingerprinted (a database) as this stage's input and listed in :meth:`load_report`.
        """
        from planlib.metrics.customers import source_label, sources_underneath
        from planlib.metrics.orders import FrameOrders, SourceOrders

        skip = sources_underneath(self.plan, self.loaded.base_dir)
        data: dict[str, Any] = self.all_data(skip=skip)
        if "transactions" in skip:
            source = self._sources["transactions"]
            self._fingerprint_later.add("transactions")
            data["transactions"] = SourceOrders(source, self.loaded.base_dir)
            self._underneath.setdefault("transactions", {
                "name": "transactions", "rows": "—", "engine": "database" if source.url is not None else "duckdb",
                "path": source_label(source), "answers": True})
        elif "transactions" in data:
            data["transactions"] = FrameOrders(data["transactions"])
        return data

    def _hash_input(self, name: str) -> None:
        source = self._sources.get(name)
        if source is None or source.url is not None:
            return
        path = self.loaded.resolve(source.path)
        with contextlib.suppress(OSError):  # the reader names a missing file
            self.inputs[input_key(path, project_root(self.loaded.path.parent))] = data_sha256(path)

    def record_source(self, note: dict | None) -> None:
        """A source read underneath (``NeedsAnalysis.source_note``): a row of the load report, and
        its database fingerprint in the sentinel. None (the orders were loaded) records nothing.

        The fingerprint is the one computed with the figures, in their snapshot
        (:func:`planlib.data.aggregate.customer_figures`): asking the database again here would
        count rows written after the figures were computed, and the manifest would describe data
        the stage never aggregated."""
        if note is not None:
            self._underneath[note["name"]] = note
            if note.get("fingerprint"):
                self._fingerprints[note["name"]] = note["fingerprint"]
            self.source(note["name"])  # checks the source exists (and fingerprints one read without figures)

    def load_report(self) -> pd.DataFrame:
        """What each loaded source held: rows kept, encoding and rows set aside with why."""
        rows = []
        for name, loaded in self.load_notes.items():
            reasons = loaded.excluded["reason"].value_counts() if len(loaded.excluded) else {}
            title = Data.model_fields[name].title or name
            title += "(由交易表生成)" if getattr(loaded, "derived_from", None) else ""
            rows.append({
                "source": title, "rows": len(loaded.frame),
                "path": loaded.path.name if loaded.path is not None else loaded.fingerprint["source"],
                "encoding": loaded.encoding or "—", "excluded": len(loaded.excluded),
                "excluded_reasons": ";".join(f"{r} {n} 行" for r, n in dict(reasons).items()) or "—",
            })
        for name, note in self._underneath.items():
            if note.get("answers"):  # SourceOrders: each figure computed where the rows are
                how = {"database": "各项指标在数据库中计算,未整表读入",
                       "duckdb": "各项指标由 DuckDB 计算,未整表读入"}[note["engine"]]
            else:
                how = {"database": "由数据库按客户汇总,未整表读入", "duckdb": "由 DuckDB 按客户汇总,未整表读入"}.get(
                    note["engine"], "读入全部行后按客户汇总")  # pandas: the fast path declined the file
            rows.append({
                "source": f"{Data.model_fields[name].title or name}({how})",
                "rows": note["rows"], "path": Path(note["path"]).name if note["engine"] != "database" else note["path"],
                "encoding": "—", "excluded": "无数据",
                "excluded_reasons": "按客户汇总时合计行、空行直接排除,不单独计数",
            })
        import pandas as pd

        return pd.DataFrame(rows, columns=["source", "path", "rows", "encoding", "excluded", "excluded_reasons"])

    def load(self, name: str) -> Any:
        """A result written by an earlier stage of this run."""
        return results.load(self.run_dir, name)

    def save(self, name: str, value: pd.DataFrame | dict) -> Path:
        if results.SPECS[name].stage != self.stage:
            raise ValueError(f"result {name!r} belongs to stage {results.SPECS[name].stage}")
        return results.save(self.run_dir, name, value)

    def finish(self, **figures: Any) -> dict:
        """Write the stage's sentinel; the runner counts a stage as done only if this ran."""
        for name in sorted(self._fingerprint_later - set(self._fingerprints)):
            self.source(name)
        record = {
            "stage": self.stage,
            "finished_at": datetime.now().isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - self.started, 3),
            "figures": figures,
            # database sources this stage read: masked URL and query, rows, content hash — the one
            # fingerprint ``--resume``/``--stage`` compare (data.sql.fingerprint_of, computed in the
            # database); rows loaded win over a bare fingerprint
            "sources": {**self._fingerprints,
                        **{name: note.fingerprint for name, note in self.load_notes.items() if note.fingerprint}},
            "inputs": self.inputs,
        }
        folder = results.results_dir(self.run_dir)
        folder.mkdir(parents=True, exist_ok=True)
        sentinel_path(self.run_dir, self.stage).write_text(
            json.dumps(record, ensure_ascii=False, indent=2, default=results._json_default), encoding="utf-8"
        )
        return record


def sentinel_path(run_dir: Path, stage: str) -> Path:
    return results.results_dir(run_dir) / f"{stage}.done.json"


def open_stage(stage: str, plan_path: str | Path, run_dir: str | Path | None = None) -> StageContext:
    """Load and validate the plan and bind it to a run folder.

    ``run_dir`` is given by ``planlib run`` (a staging folder); left as ``None`` in JupyterLab,
    it is the plan's published folder ``outputs/<unit>/<quarter>``. Charts get their Chinese font here,
    so a workbook never sets it up itself.
    """
    from planlib.publish import charts

    charts.setup()
    loaded = _load_plan_cached(resolve_plan_path(plan_path))
    folder = Path(run_dir) if run_dir else default_run_dir(loaded)
    return StageContext(stage, loaded, folder)


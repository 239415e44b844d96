"""A folder of Parquet parts as one source everywhere (planlib/data/parts.py): the loader that
stages 01/05, the pulse and the proposal use (``load_source``), ``planlib validate``, and the
run's input hashes — with the checks and messages a single Parquet file gets."""

from __future__ import annotations

import pandas as pd
import pytest

from planlib.cli import main
from planlib.data.load import load_source
from planlib.errors import DataError
from planlib.plan.schema import DataSource
from tests.data.test_aggregate import HEADERS, TRICKY
from tests.data.test_contract import _orders_only_plan

ROWS = [r for r in TRICKY if r[0]]  # with an order id


def _parts(folder, frame: pd.DataFrame, parts: int = 3, empty: bool = True):
    """``frame`` split over Parquet parts (the last in a Hive-style subfolder, so the sorted parts
    keep the rows' order; one empty, as Spark writes them) plus the writer's bookkeeping files,
    which are skipped."""
    (folder / "year=2024").mkdir(parents=True)
    step = -(-len(frame) // parts)
    for i in range(parts):
        where = folder / "year=2024" if i == parts - 1 else folder
        frame.iloc[i * step:(i + 1) * step].to_parquet(where / f"part-{i}.parquet", index=False)
    if empty:
        frame.iloc[:0].to_parquet(folder / "part-9.parquet", index=False)
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-1.parquet.crc").write_text("x")


def _orders(rows=ROWS, headers=HEADERS) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=headers, dtype=str)
    return frame.assign(**{headers[2]: pd.to_datetime(frame[headers[2]], format="mixed"), headers[3]: frame[headers[3]].astype(float)})


def _one_line(name: str, source: DataSource, base) -> str:
    with pytest.raises(DataError) as caught:
        load_source(name, source, base)
    assert len(caught.value.problems) == 1 and caught.value.__cause__ is None
    return str(caught.value)


# ---------------------------------------------------------------------------------- loading
def test_a_folder_loads_like_the_single_parquet_file(tmp_path):
    """Chinese headers recognised as aliases, typed columns kept, a ``columns:`` mapping applied:
    the folder's frame is the single file's, row for row."""
    frame = _orders().rename(columns={"客户编号": "会员账号"})
    frame.to_parquet(tmp_path / "orders.parquet", index=False)
    _parts(tmp_path / "orders", frame)
    mapping = {"会员账号": "customer_id"}
    single = load_source("transactions", DataSource(path="orders.parquet", columns=mapping), tmp_path)
    folder = load_source("transactions", DataSource(path="orders", columns=mapping), tmp_path)
    pd.testing.assert_frame_equal(folder.frame, single.frame)
    assert folder.columns == single.columns and folder.columns["customer_id"] == "会员账号"
    assert folder.absent == single.absent and folder.path == (tmp_path / "orders").resolve()
    assert folder.frame.attrs["source"] == "orders" and len(folder.frame) == len(ROWS)


def test_a_folder_is_checked_like_a_parquet_file(tmp_path):
    """A missing column is one line naming the folder (not one per part); a wrong ``columns:``
    entry is named; a bad cell names its part and its row there."""
    _parts(tmp_path / "orders", _orders().drop(columns=["下单日期"]))
    text = _one_line("transactions", DataSource(path="orders"), tmp_path)
    assert text.startswith("orders: 第 1 行(表头): 缺少必需的列 order_date") and "columns:" in text
    text = _one_line("transactions", DataSource(path="orders", columns={"日期": "order_date"}), tmp_path)
    assert "columns: 日期: order_date" in text and "没有列 '日期'" in text

    bad = _orders().assign(消费金额=None)
    _parts(tmp_path / "nulls", bad.iloc[:4].assign(消费金额=[1.0, 2.0, None, 4.0]), parts=2, empty=False)
    with pytest.raises(DataError) as caught:
        load_source("transactions", DataSource(path="nulls"), tmp_path)
    assert "nulls/year=2024/part-1.parquet: 第 2 行, 列「消费金额」: 缺少值" in str(caught.value)


@pytest.mark.parametrize(("make", "expected"), [
    (lambda folder: None, "文件夹 {folder} 里没有 Parquet 文件"),
    (lambda folder: (folder / "notes.csv").write_text("a\n"), "里除了 Parquet 文件还有 notes.csv"),
    (lambda folder: _orders().drop(columns=["订单编号"]).to_parquet(folder / "part-5.parquet", index=False),
     "中的 part-5.parquet 与 part-1.parquet 的列不一致: 缺少列 订单编号"),
    (lambda folder: _orders().assign(消费金额=lambda f: f["消费金额"].astype(str)).to_parquet(
        folder / "part-5.parquet", index=False), "string,而不是 double"),
    (lambda folder: (folder / "part-5.parquet").write_text("订单编号,客户编号\n"), "中的 part-5.parquet 不是可读的 Parquet 文件"),
], ids=["empty", "other file", "missing column", "other type", "not parquet"])
def test_a_folder_that_is_not_one_table_is_one_line(tmp_path, make, expected):
    folder = tmp_path / "orders"
    if "没有 Parquet" in expected:
        folder.mkdir()
    else:
        _orders().iloc[:5].to_parquet((folder.mkdir() or folder) / "part-1.parquet", index=False)
    make(folder)
    text = _one_line("transactions", DataSource(path="orders"), tmp_path)
    assert expected.format(folder=folder.resolve()) in text and " — " in text  # the fix after the dash
    assert text.startswith("orders: ")


def test_a_folder_of_empty_parts_has_no_orders(tmp_path):
    _orders().iloc[:0].to_parquet((tmp_path / "orders").mkdir() or tmp_path / "orders" / "part-0.parquet")
    assert "Parquet 分片都没有数据行" in _one_line("transactions", DataSource(path="orders"), tmp_path)


def test_a_customer_in_two_parts_is_named_with_both(tmp_path):
    customers = pd.DataFrame({"客户编号": ["C1", "C2", "C3", "C2"], "客户名称": ["甲", "乙", "丙", "乙"]})
    _parts(tmp_path / "customers", customers, parts=2, empty=False)
    with pytest.raises(DataError) as caught:
        load_source("customers", DataSource(path="customers"), tmp_path)
    text = str(caught.value)
    assert "客户编号重复: 1 个编号" in text
    assert "客户编号 C2: 出现在part-0.parquet 第 3 行、year=2024/part-1.parquet 第 3 行" in text


# ---------------------------------------------------------------------------------- validate and runs
def _folder_plan(tmp_path, frame: pd.DataFrame):
    plan = _orders_only_plan(tmp_path, None)
    base = plan.parent / "base.yaml"
    base.write_text(base.read_text(encoding="utf-8").replace("path: orders.csv", "path: orders"), encoding="utf-8")
    _parts(plan.parent / "orders", frame)
    return plan


def _demo_orders(n: int = 60) -> pd.DataFrame:
    return _orders([(f"O{i}", f"C{i % 20}", f"2024-0{1 + i % 6}-{1 + i % 27:02d}", str(10 + i)) for i in range(n)])


def test_validate_accepts_a_folder_and_reads_its_header(tmp_path, capsys):
    plan = _folder_plan(tmp_path, _demo_orders())
    assert main(["validate", str(plan)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "校验通过" in out and "✓ RFM 评分、客户分层、目标客群与对照组" in out


def test_validate_names_a_folder_that_is_not_one_table(tmp_path, capsys):
    plan = _folder_plan(tmp_path, _demo_orders())
    frame = _demo_orders().rename(columns={"消费金额": "金额"})
    frame.to_parquet(plan.parent / "orders" / "part-7.parquet", index=False)
    assert main(["validate", str(plan)]) != 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "交易表 orders: " in err[0] and "交易表 orders: 文件夹 " in err[0] and "part-7.parquet 与 part-0.parquet 的列不一致: 缺少列 消费金额" in err[0]


def test_a_stage_reads_a_folder_and_records_all_its_parts_as_its_input(tmp_path):
    """Stages 01/05 load the folder through ``ctx.data``; its hash (every file in it) is the
    stage's input, so adding a part makes ``--resume``/``--stage`` see a changed input."""
    from planlib.plan.planfile import load_plan
    from planlib.run.folder import changed_input, input_hashes
    from planlib.run.stage import StageContext

    plan = _folder_plan(tmp_path, _demo_orders())
    loaded = load_plan(plan)
    ctx = StageContext("01_goals", loaded, tmp_path / "run")
    assert len(ctx.data("transactions")) == 60
    started = input_hashes(loaded, [])
    assert ctx.inputs.items() <= started.items()
    folder_key = next(k for k in ctx.inputs if k.endswith("orders"))
    assert changed_input(loaded, ctx.inputs) is None
    _demo_orders(5).to_parquet(plan.parent / "orders" / "part-8.parquet", index=False)
    assert changed_input(loaded, ctx.inputs) == (plan.parent / "orders").resolve()
    assert input_hashes(loaded, [])[folder_key] != started[folder_key]
    assert len(StageContext("05_review", loaded, tmp_path / "run").data("transactions")) == 65


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_stage_02s_per_customer_path_refuses_the_same_folders_with_the_same_line(tmp_path, engine):
    """DuckDB's ``read_parquet([...])`` and the loader refuse parts with other columns alike
    (DuckDB alone would read them by the first part's schema, or fail with its own English)."""
    from planlib.data.aggregate import customer_purchases

    _parts(tmp_path / "orders", _orders())
    _orders().drop(columns=["订单编号"]).to_parquet(tmp_path / "orders" / "part-5.parquet", index=False)
    with pytest.raises(DataError) as caught:
        customer_purchases(DataSource(path="orders"), tmp_path, as_of="2024-03-31", window_days=None, engine=engine)
    assert len(caught.value.problems) == 1
    assert "part-5.parquet 与 part-0.parquet 的列不一致: 缺少列 订单编号" in str(caught.value)


@pytest.mark.slow
def test_planlib_run_from_a_folder_publishes_what_the_csv_run_does(demo_run, tmp_path):
    """All five stages read the orders from a folder of parts (stages 01/05 load it, stage 02
    through the same loader): tiers, CLV and KPIs equal the CSV run's; the manifest names the
    folder with the size of all its parts."""
    import json

    from conftest import make_small_demo

    from planlib.data.demo import ensure_demo_data
    from planlib.data.results import load
    from planlib.plan.planfile import load_plan
    from planlib.run.runner import run_plan

    csv_result = demo_run[0]
    plan = make_small_demo(tmp_path)
    loaded = load_plan(plan)
    ensure_demo_data(loaded.plan.data, loaded.base_dir)
    orders = pd.read_csv(loaded.resolve(loaded.plan.data.transactions.path), dtype=str, keep_default_na=False,
                         encoding="utf-8-sig")
    _parts(plan.parent / "orders", orders)
    base = plan.parent / "base.yaml"
    base.write_text(base.read_text(encoding="utf-8").replace(loaded.plan.data.transactions.path, "orders"),
                    encoding="utf-8")
    result = run_plan(plan, output_root=tmp_path / "outputs", log=lambda line: None)
    assert result.status == "ok" == csv_result.status, result.stages
    for name in ("customers", "tier_summary", "segments", "kpi_values"):
        pd.testing.assert_frame_equal(load(result.folder, name), load(csv_result.folder, name), obj=name)
    manifest = json.loads((result.folder / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in manifest["data"] if e["source"] == "transactions")
    parts = [p for p in (plan.parent / "orders").rglob("*") if p.is_file()]
    assert entry["path"] == str((plan.parent / "orders").resolve()) and entry["bytes"] == sum(p.stat().st_size for p in parts)

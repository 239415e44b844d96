"""Inputs of ``bench_needs.py``: a CRM order export of any size, written in chunks.

One pass writes, for ``rows`` orders and ``rows // 10`` customers (at least 100):

* ``transactions_<rows>.csv`` — as planners get it: UTF-8 with BOM, Chinese headers, order IDs,
  customer IDs with a leading letter, timestamps and amounts as text, 2 % refunds;
* ``transactions_<rows>.parquet`` — the same rows typed (text IDs, ``timestamp[s]``, ``float64``),
  row groups of :data:`ROW_GROUP` rows, as a warehouse unload writes them;
* ``transactions_<rows>_parts/part-NNN.parquet`` — the same rows again as :data:`PARTS` files (a
  folder of Parquet files read as one source);
* ``customers_<rows>.csv`` — the customer table (with personal columns, as exports have them).

Why chunks: 100M orders as one in-memory table (the first version of this generator) would need
tens of GB; here memory is one chunk (:data:`CHUNK_ROWS` rows, a few hundred MB) plus the
customer IDs and the buyer weights (≈ 0.25 GB at 10M customers). Each chunk draws from its own
seeded generator (seed, first row), so the files depend only on ``rows`` and :data:`VERSION`.

Inputs are reused when ``inputs_<rows>.json`` says they were written by this :data:`VERSION` and
all four are present; otherwise they are written again (to ``.tmp`` names, renamed at the end,
so an interrupted run never leaves a half file that looks complete).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

VERSION = 2  # bump when the rows change: inputs of another version are written again
SEED = 20240401
CHUNK_ROWS = 2_000_000
ROW_GROUP = 1_000_000
PARTS = 8
TX_SCHEMA = pa.schema([("订单编号", pa.string()), ("客户编号", pa.string()), ("下单日期", pa.timestamp("s")),
                       ("消费金额", pa.float64())])


@dataclass(frozen=True)
class Inputs:
    rows: int
    csv: Path
    parquet: Path
    folder: Path
    customers: Path

    def source(self, kind: str) -> Path:
        """The transactions file (or folder) for ``kind``: csv, parquet or folder."""
        return {"csv": self.csv, "parquet": self.parquet, "folder": self.folder}[kind]


def paths(folder: Path, rows: int) -> Inputs:
    return Inputs(rows, folder / f"transactions_{rows}.csv", folder / f"transactions_{rows}.parquet",
                  folder / f"transactions_{rows}_parts", folder / f"customers_{rows}.csv")


def _stamp(folder: Path, rows: int) -> Path:
    return folder / f"inputs_{rows}.json"


def generate(folder: Path, rows: int, log=print) -> Inputs:
    """Write (or reuse) the inputs for ``rows`` orders in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = paths(folder, rows)
    stamp = _stamp(folder, rows)
    wanted = {"version": VERSION, "rows": rows, "seed": SEED, "chunk_rows": CHUNK_ROWS, "parts": PARTS}
    present = stamp.exists() and all(p.exists() for p in (out.csv, out.parquet, out.folder, out.customers))
    if present and {k: v for k, v in json.loads(stamp.read_text()).items() if k in wanted} == wanted:
        return out
    t0 = time.perf_counter()
    stamp.unlink(missing_ok=True)
    customers = max(rows // 10, 100)
    ids = _customer_ids(customers)
    # a few heavy buyers and many occasional ones, as in retail: gamma weights, drawn by their CDF
    # (np.random.Generator.choice(p=...) would rebuild the 10M-entry CDF for every chunk)
    cdf = np.cumsum(np.random.default_rng(SEED).gamma(0.6, 1.0, customers))
    cdf /= cdf[-1]
    tmp_folder = out.folder.with_name(out.folder.name + ".tmp")
    shutil.rmtree(tmp_folder, ignore_errors=True)
    tmp_folder.mkdir()
    tmp = {p: p.with_name(p.name + ".tmp") for p in (out.csv, out.parquet, out.customers)}
    with tmp[out.csv].open("wb") as csv_fh, pq.ParquetWriter(tmp[out.parquet], TX_SCHEMA) as whole:
        csv_fh.write(b"\xef\xbb\xbf")  # Excel's "CSV UTF-8"
        text_schema = pa.schema([(f.name, pa.string()) for f in TX_SCHEMA])
        with pacsv.CSVWriter(csv_fh, text_schema, write_options=pacsv.WriteOptions(quoting_style="none")) as csv:
            part_rows = -(-rows // PARTS)
            for part, start in enumerate(range(0, rows, part_rows)):
                stop = min(start + part_rows, rows)
                with pq.ParquetWriter(tmp_folder / f"part-{part:03d}.parquet", TX_SCHEMA) as piece:
                    for lo in range(start, stop, CHUNK_ROWS):
                        typed = _orders(lo, min(lo + CHUNK_ROWS, stop), ids, cdf)
                        whole.write_table(typed, row_group_size=ROW_GROUP)
                        piece.write_table(typed, row_group_size=ROW_GROUP)
                        csv.write_table(_as_text(typed))
    _write_customers(tmp[out.customers], ids)
    for done, path in tmp.items():
        done.unlink(missing_ok=True)
        path.replace(done)
    shutil.rmtree(out.folder, ignore_errors=True)
    tmp_folder.replace(out.folder)
    stamp.write_text(json.dumps({**wanted, "seconds": round(time.perf_counter() - t0, 1)}))
    log(f"# generated {rows:,} orders / {customers:,} customers in {time.perf_counter() - t0:.0f} s → {folder}")
    return out


def _customer_ids(n: int) -> pa.Array:
    """C00000000, C00000001, …: text IDs with a leading letter, as CRM systems write them."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string()), 8, "0")
    return pc.binary_join_element_wise("C", digits, "")


def _orders(lo: int, hi: int, ids: pa.Array, cdf: np.ndarray) -> pa.Table:
    """Orders ``lo``…``hi - 1``, typed; the same rows whatever the chunking around them."""
    n = hi - lo
    rng = np.random.default_rng([SEED, lo])
    who = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)
    day = np.datetime64("2022-01-01") + rng.integers(0, 820, n).astype("timedelta64[D]")
    stamp = day.astype("datetime64[s]") + rng.integers(8 * 3600, 22 * 3600, n).astype("timedelta64[s]")
    amount = np.round(rng.gamma(2.0, 150.0, n), 2)
    amount[rng.random(n) < 0.02] *= -1
    order_ids = pc.binary_join_element_wise(
        "O", pc.cast(pa.array(np.arange(lo, hi, dtype=np.int64)), pa.string()), "")
    return pa.Table.from_arrays([order_ids, ids.take(pa.array(who)), pa.array(stamp, pa.timestamp("s")),
                                 pa.array(amount)], schema=TX_SCHEMA)


def _as_text(typed: pa.Table) -> pa.Table:
    """The export's text: ``2023-05-01 14:03:09`` and ``123.45`` as the CRM writes them."""
    return pa.Table.from_arrays([typed.column(i).cast(pa.string()) for i in range(typed.num_columns)],
                                names=typed.column_names)


def _write_customers(path: Path, ids: pa.Array) -> None:
    n = len(ids)
    idx = np.arange(n)
    schema = pa.schema([(c, pa.string()) for c in ("客户编号", "客户名称", "手机号", "地区", "注册日期")])
    with path.open("wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        with pacsv.CSVWriter(fh, schema, write_options=pacsv.WriteOptions(quoting_style="none")) as out:
            for lo in range(0, n, CHUNK_ROWS):
                i = idx[lo:lo + CHUNK_ROWS]
                out.write_table(pa.Table.from_arrays([
                    ids.slice(lo, len(i)),
                    pa.array(np.char.add("张", (i % 97).astype("U2"))),
                    pa.array(np.char.add("138", np.char.zfill((i % 10**8).astype("U8"), 8))),
                    pa.array(np.array(["华东", "华南", "华北", "西南"])[i % 4]),
                    pa.array(np.full(len(i), "2021-06-01")),
                ], schema=schema))

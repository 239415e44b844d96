"""RFM from per-customer purchases computed underneath (DuckDB or the source database).

The switch for large or database transaction sources: instead of loading every order into pandas
and calling :func:`planlib.metrics.segment.rfm_table`, a stage calls :func:`rfm_table_from_source`,
which lets :func:`planlib.data.aggregate.customer_purchases` compute one row per customer where
the rows are and scores them exactly as ``rfm_table`` does (same columns, same
:func:`~planlib.metrics.segment.quantile_scores`). The purchase definition is the one of
:mod:`planlib.data.aggregate` (order id, else customer + day; refunds net against their order; a
fully refunded order is not a purchase).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from planlib.data.aggregate import customer_purchases
from planlib.metrics.segment import scored
from planlib.plan.schema import DataSource


def rfm_from_purchases(customers: pd.DataFrame, purchases: pd.DataFrame, *, levels: int) -> pd.DataFrame:
    """The columns of :func:`~planlib.metrics.segment.rfm_table` for each customer of ``customers``.

    ``purchases`` is :func:`planlib.data.aggregate.customer_purchases`' frame; customers without a
    row there have frequency 0, monetary 0 and no recency; rows of unknown customers are ignored.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from planlib.data.load import _has_duplicates

    ids = customers["customer_id"]
    ids = ids.drop_duplicates() if _has_duplicates(ids) else ids  # the loader's customers are unique
    # Each customer's row in ``purchases`` looked up in pyarrow: pandas' reindex turned 10M
    # pyarrow-backed IDs into Python strings and a hash table (+1.4 GB at 10M customers, issue 17).
    found = pc.index_in(pa.array(ids, from_pandas=True), value_set=pa.array(purchases["customer_id"], from_pandas=True))
    pos = pc.fill_null(found, -1).to_numpy(zero_copy_only=False)
    has = pos >= 0
    at = pos[has]

    def column(name: str, empty, dtype) -> np.ndarray:
        out = np.full(len(ids), empty, dtype=dtype)
        out[has] = purchases[name].to_numpy(dtype=dtype)[at]
        return out

    frequency = column("frequency", 0, np.int64)
    monetary = np.round(column("monetary", 0.0, float), 2)
    recency = column("recency_days", np.nan, float)
    last = column("last_purchase", np.datetime64("NaT"), "datetime64[ns]")
    ids = pd.Index(ids)
    return scored(ids, last, recency, frequency, monetary, levels)


def rfm_table_from_source(customers: pd.DataFrame, transactions: DataSource, base_dir: Path, *, as_of: date,
                          window_days: int, levels: int, engine: str = "auto") -> tuple[pd.DataFrame, str]:
    """RFM of ``customers`` from the transactions source, and the engine that aggregated it.

    ``engine``: ``"auto"`` (database sources pushed down; CSV/Parquet from
    :data:`planlib.data.aggregate.DUCKDB_MIN_BYTES` in DuckDB; else pandas), ``"duckdb"`` or
    ``"pandas"``.
    """
    purchases, used = customer_purchases(transactions, base_dir, as_of=as_of, window_days=window_days,
                                         engine=engine)
    return rfm_from_purchases(customers, purchases, levels=levels), used

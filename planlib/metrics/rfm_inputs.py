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
    ids = pd.Index(customers["customer_id"].drop_duplicates())
    # Only the four columns scored are carried to the customers' order (10M customers: each a copy).
    per = purchases.set_index("customer_id")[["frequency", "monetary", "recency_days", "last_purchase"]].reindex(ids)
    frequency = per["frequency"].fillna(0).to_numpy(dtype=np.int64)
    monetary = np.round(per["monetary"].fillna(0.0).to_numpy(dtype=float), 2)
    recency = per["recency_days"].to_numpy(dtype=float)
    return scored(ids, per["last_purchase"].astype("datetime64[ns]").to_numpy(), recency, frequency, monetary,
                  levels)


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

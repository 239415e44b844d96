"""What a purchase is: the one definition behind RFM frequency/monetary, recency and the lifetime model.

* **Key.** A purchase is an order: the rows of one customer sharing an ``order_id`` when the export
  has that column (a row whose order id is empty falls back to the next rule); without order ids,
  all rows of one customer on one day.
* **Amount.** The net of its rows: line items add up, refund rows (negative amounts) with the same
  key subtract, whatever day they are dated (an order id ties a refund to its order; without
  order ids a refund can only offset the same customer's purchase of the same day).
* **Date.** The first day with a positive row of the purchase.
* **Not a purchase.** A key whose net amount is ≤ 0: a fully refunded order, a refund whose
  order is not in the export, zero-amount rows.
* **As of.** Rows dated after ``as_of`` are not known yet and are ignored, refunds included (an
  order refunded after ``as_of`` was a purchase on ``as_of``). Rows without a known customer,
  a date or an amount are ignored.

:func:`purchases` is the public form (one row per purchase, for any caller such as the KPI
values of :mod:`planlib.metrics.measure`); :func:`purchase_arrays` is the same on customer
positions, for the vectorised RFM and lifetime code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PURCHASE_COLUMNS = ["customer_id", "purchase_key", "purchase_date", "amount"]


@dataclass(frozen=True)
class PurchaseArrays:
    """One entry per purchase: customer position, day (days since 1970-01-01), net amount, key."""

    pos: np.ndarray  # int64, position of the customer
    day: np.ndarray  # int64, first day with a positive row
    amount: np.ndarray  # float64, net amount (> 0)
    key: np.ndarray  # object: the order id, or None when the purchase is a customer's day

    def __len__(self) -> int:
        return len(self.pos)


def _days(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    days = pd.to_datetime(values).to_numpy().astype("datetime64[D]")
    valid = ~np.isnat(days)
    return days.astype(np.int64), valid


def _order_codes(transactions: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, pa.Array] | None:
    """Each selected row's order-id code (−1 where empty) and the ids coded; None without the column.

    pyarrow's dictionary encoding is several times faster than pandas hashing Python strings.
    """
    if "order_id" not in transactions.columns:
        return None
    column = transactions["order_id"]
    ids = pa.array(column if len(rows) == len(column) else column.iloc[rows], from_pandas=True)
    if isinstance(ids, pa.ChunkedArray):  # e.g. read by pyarrow's CSV reader: one dictionary for all
        ids = ids.combine_chunks()
    if not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
        ids = pc.cast(ids, pa.string())
    ids = pc.if_else(pc.equal(ids, ""), pa.scalar(None, ids.type), ids)
    encoded = ids.dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary


def purchase_arrays(transactions: pd.DataFrame, positions: np.ndarray,
                    as_of: date | None = None) -> PurchaseArrays:
    """The purchases of ``transactions`` (canonical columns), customers given as ``positions`` (−1 unknown)."""
    day, dated = _days(transactions["order_date"])
    amount = transactions["amount"].to_numpy(dtype=float, na_value=np.nan)
    positions = np.asarray(positions, dtype=np.int64)
    use = (positions >= 0) & dated & ~np.isnan(amount)
    if as_of is not None:
        use &= day <= np.datetime64(as_of, "D").astype(np.int64)
    rows = np.flatnonzero(use)
    pos, day, amount = positions[rows], day[rows], amount[rows]
    if not len(rows):
        empty = np.zeros(0, dtype=np.int64)
        return PurchaseArrays(empty, empty, np.zeros(0), np.zeros(0, dtype=object))
    order = _order_codes(transactions, rows)
    # sub-key within a customer: the order id's code, or (no order id) K + the day
    day0 = int(day.min())
    if order is None:
        sub, n_codes = day - day0, 0
    else:
        codes, uniques = order
        n_codes = len(uniques)
        sub = np.where(codes >= 0, codes, n_codes + (day - day0))
    width = np.int64(n_codes + int(day.max()) - day0 + 1)
    group, keys = pd.factorize(pos * width + sub)
    net = np.bincount(group, weights=amount, minlength=len(keys))
    first = np.full(len(keys), np.iinfo(np.int64).max)
    positive = amount > 0
    np.minimum.at(first, group[positive], day[positive])
    real = net > 1e-9  # cents: a refund that cancels its order to the fen leaves no purchase
    keys = keys[real]
    key_pos = (keys // width).astype(np.int64)
    key_sub = keys % width
    label = np.full(len(keys), None, dtype=object)
    if order is not None:
        has = key_sub < n_codes
        label[has] = uniques.take(pa.array(key_sub[has])).to_numpy(zero_copy_only=False)
    return PurchaseArrays(key_pos, first[real], np.round(net[real], 2), label)


def purchases(transactions: pd.DataFrame, as_of: date | None = None) -> pd.DataFrame:
    """One row per purchase: customer_id, purchase_key, purchase_date, amount (net, > 0).

    ``purchase_key`` is the order id, or the purchase day (``YYYY-MM-DD``) when the export has no
    order id for it; (customer_id, purchase_key) is unique. Sorted by customer, date, key.
    """
    ids = pd.Index(pd.unique(transactions["customer_id"].dropna().to_numpy()))
    p = purchase_arrays(transactions, ids.get_indexer(transactions["customer_id"]), as_of)
    when = p.day.astype("datetime64[D]")
    key = np.where(pd.isna(p.key), np.datetime_as_string(when), p.key).astype(object)
    out = pd.DataFrame({
        "customer_id": pd.Series(ids.to_numpy()[p.pos], dtype=str),
        "purchase_key": pd.Series(key, dtype=str),
        "purchase_date": pd.to_datetime(when).astype("datetime64[ns]"),
        "amount": p.amount,
    })
    return out.sort_values(["customer_id", "purchase_date", "purchase_key"], ignore_index=True)[PURCHASE_COLUMNS]

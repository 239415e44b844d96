"""The one purchase definition (planlib.metrics.purchases): orders netted with their refunds."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from planlib.metrics.purchases import PURCHASE_COLUMNS, purchase_arrays, purchases


def _tx(rows, order_ids=True):
    tx = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_date", "amount"])
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    return tx if order_ids else tx.drop(columns="order_id")


ROWS = [
    ("o1", "A", "2024-01-01", 100.0),
    ("o1", "A", "2024-01-01", 20.0),  # second line of o1
    ("o1", "A", "2024-01-09", -30.0),  # partial refund of o1, another day
    ("o2", "A", "2024-01-01", 60.0),  # second order on the same day
    ("o3", "A", "2024-02-01", 45.5),
    ("o3", "A", "2024-02-03", -45.5),  # o3 refunded in full
    ("r7", "B", "2024-01-05", -10.0),  # refund of an order not in the export
    ("o4", "B", "2024-01-06", 0.0),  # zero amount
    ("o5", "B", "2024-01-07", 15.0),
    ("o6", "C", None, 99.0),  # no date: ignored
]


def test_orders_are_netted_with_their_refunds():
    got = purchases(_tx(ROWS))
    assert list(got.columns) == PURCHASE_COLUMNS
    assert got[["customer_id", "purchase_key", "amount"]].values.tolist() == [
        ["A", "o1", 90.0], ["A", "o2", 60.0], ["B", "o5", 15.0]]
    assert got["purchase_date"].tolist() == [pd.Timestamp("2024-01-01")] * 2 + [pd.Timestamp("2024-01-07")]


def test_without_order_id_column_a_purchase_is_customer_and_day():
    got = purchases(_tx(ROWS, order_ids=False))
    # A on 01-01: o1 + o2 lines = 180; the refunds of other days match no purchase of theirs
    assert got[["customer_id", "purchase_key", "amount"]].values.tolist() == [
        ["A", "2024-01-01", 180.0], ["A", "2024-02-01", 45.5], ["B", "2024-01-07", 15.0]]


def test_empty_order_ids_fall_back_to_the_day():
    rows = [("o1", "A", "2024-01-01", 10.0), ("", "A", "2024-01-01", 5.0), (None, "A", "2024-01-01", -5.0),
            ("", "A", "2024-01-02", 7.0)]
    got = purchases(_tx(rows))
    assert got[["purchase_key", "amount"]].values.tolist() == [["o1", 10.0], ["2024-01-02", 7.0]]


def test_as_of_ignores_later_rows_refunds_included():
    tx = _tx(ROWS)
    got = purchases(tx, as_of=date(2024, 2, 2))  # o3's refund is on 02-03: o3 still a purchase
    assert got["purchase_key"].tolist() == ["o1", "o2", "o3", "o5"]
    assert got["amount"].tolist() == [90.0, 60.0, 45.5, 15.0]
    early = purchases(tx, as_of=date(2024, 1, 5))  # o1's refund not yet known
    assert early.loc[early["purchase_key"] == "o1", "amount"].item() == 120.0


def test_arrays_use_positions_and_skip_unknown_customers():
    tx = _tx(ROWS)
    positions = np.where(tx["customer_id"] == "A", 1, -1)
    p = purchase_arrays(tx, positions)
    assert sorted(zip(p.pos.tolist(), p.key.tolist(), p.amount.tolist(), strict=True)) == [(1, "o1", 90.0), (1, "o2", 60.0)]
    none = purchase_arrays(tx, np.full(len(tx), -1))
    assert len(none) == 0


def test_order_ids_in_chunked_arrow_columns():
    tx = _tx(ROWS[:6])
    chunks = pa.chunked_array([tx["order_id"].iloc[:3].tolist(), tx["order_id"].iloc[3:].tolist()])
    tx["order_id"] = pd.Series(pd.arrays.ArrowStringArray(chunks))
    assert purchases(tx)[["purchase_key", "amount"]].values.tolist() == [["o1", 90.0], ["o2", 60.0]]

"""The orders as the KPI figures read them, wherever the rows are.

Every figure of stages 01 and 05, the pulse and the proposal that reads the orders asks one of
three questions, never for the rows themselves:

* :meth:`Orders.purchases_in` — per customer, how many purchases (:mod:`planlib.metrics.purchases`:
  an order netted with its refunds whatever day they are dated, dated on its first day of sale,
  not a purchase when fully refunded) fall in each of some windows, and their net amount
  (repurchase rate, churn, order value, uplift of spend over a window);
* :meth:`Orders.row_sums` — per customer, the net of the rows dated in a window and whether one of
  them is a sale (uplift and the proposal's spread of spend: refunds count on their own day);
* :meth:`Orders.rows_of` — the rows of a few customers (the campaign's participants) in a window:
  what they bought in the days after they answered.

So the answers can come from pandas (:class:`FrameOrders`, the orders loaded: small files, and the
reference) or be computed where the orders are (:class:`SourceOrders`: DuckDB over a large
CSV/Parquet file or a folder of Parquet parts, or the source database), and pandas holds one row
per customer, or the rows of the participants only. Both give the same figures (tests/metrics/test_orders.py).

Windows are ``(first_day, last_day)``, both days included, whole days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from planlib.metrics.purchases import purchases

Window = tuple[date, date]
ROW_COLUMNS = ["customer_id", "order_id", "order_date", "amount"]


def _day(value) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def window_columns(name: str) -> tuple[str, str]:
    """The two columns :meth:`Orders.purchases_in` gives a window: ``n_<name>``, ``amount_<name>``."""
    return f"n_{name}", f"amount_{name}"


class Orders:
    """The three questions the figures ask of the orders (see the module docstring).

    ``until``: the orders as known at the end of that day — later rows, refunds included, are not
    there (the pulse's view of the quarter on a past day). None: every row.
    """

    until: date | None = None

    def purchases_in(self, windows: Mapping[str, Window]) -> pd.DataFrame:
        """One row per customer with a purchase: ``customer_id`` (str) and, per window name ``w``,
        ``n_w`` (int64: purchases whose day falls in the window) and ``amount_w`` (float: their net
        amounts in yuan, 0 without one). Sorted by customer_id."""
        raise NotImplementedError

    def row_sums(self, start: date, end: date) -> pd.DataFrame:
        """One row per customer with a row dated in ``[start, end]``: ``customer_id`` (str),
        ``spend`` (float: the sum of those rows' amounts, refunds subtracting on their own day) and
        ``bought`` (bool: one of them has an amount above 0). Sorted by customer_id."""
        raise NotImplementedError

    def rows_of(self, customers: Iterable[str], start: date, end: date) -> pd.DataFrame:
        """The rows of ``customers`` dated in ``[start, end]``, columns :data:`ROW_COLUMNS`
        (``order_date`` may be the day only: every figure reads days)."""
        raise NotImplementedError

    def prepare(self, windows: Iterable[Window]) -> None:
        """A hint: :meth:`purchases_in` will be asked for these windows (one pass for all of them
        where a pass is costly). Does nothing for loaded orders."""


class FrameOrders(Orders):
    """The answers from the loaded orders (canonical transactions, ``docs/CONTRACTS.md``)."""

    def __init__(self, frame: pd.DataFrame, until: date | None = None):
        if until is not None:
            cut = pd.Timestamp(until) + pd.Timedelta(days=1)
            frame = frame[~(frame["order_date"] >= cut)]  # an unknown date stays, as the loader left it
        self.frame, self.until = frame, until
        self._purchases: pd.DataFrame | None = None

    @property
    def bought(self) -> pd.DataFrame:
        """One row per purchase (:func:`planlib.metrics.purchases.purchases`), computed once."""
        if self._purchases is None:
            self._purchases = purchases(self.frame)
        return self._purchases

    def purchases_in(self, windows: Mapping[str, Window]) -> pd.DataFrame:
        p = self.bought
        ids = pd.Index(pd.unique(p["customer_id"])).sort_values()
        out = pd.DataFrame({"customer_id": pd.Series(ids.to_numpy(), dtype="str")})
        pos = ids.get_indexer(p["customer_id"])
        day = p["purchase_date"]
        for name, (start, end) in windows.items():
            inside = ((day >= _day(start)) & (day <= _day(end))).to_numpy()
            n_col, amount_col = window_columns(name)
            out[n_col] = np.bincount(pos[inside], minlength=len(ids)).astype(np.int64)
            # float also when no purchase falls in the window (bincount of no weights gives int64)
            out[amount_col] = np.bincount(pos[inside], weights=p["amount"].to_numpy()[inside],
                                          minlength=len(ids)).astype(float)
        return out

    def _dated(self, start: date, end: date) -> pd.DataFrame:
        day = pd.to_datetime(self.frame["order_date"]).dt.normalize()
        return self.frame[(day >= _day(start)) & (day <= _day(end))]

    def row_sums(self, start: date, end: date) -> pd.DataFrame:
        rows = self._dated(start, end)
        rows = rows[rows["customer_id"].notna() & rows["amount"].notna()]
        grouped = rows.assign(customer_id=rows["customer_id"].astype(str), sale=rows["amount"] > 0).groupby(
            "customer_id", sort=True)
        out = pd.DataFrame({"spend": grouped["amount"].sum().astype(float), "bought": grouped["sale"].any()})
        return out.rename_axis("customer_id").reset_index().astype({"customer_id": "str", "bought": bool})

    def rows_of(self, customers: Iterable[str], start: date, end: date) -> pd.DataFrame:
        rows = self._dated(start, end)
        wanted = pd.Index(pd.unique(pd.Series(list(customers), dtype="str")))
        rows = rows[rows["customer_id"].astype(str).isin(wanted)]
        out = pd.DataFrame({c: rows[c] for c in ROW_COLUMNS if c in rows.columns})
        if "order_id" not in out.columns:
            out.insert(1, "order_id", pd.Series(pd.NA, index=out.index, dtype="str"))
        return out[ROW_COLUMNS].reset_index(drop=True)


_WRAPPED: list[FrameOrders] = []  # the last few frames wrapped, newest last (see orders_of)
_WRAPPED_KEPT = 2


def orders_of(data: Mapping[str, object]) -> Orders | None:
    """The ``transactions`` entry of a stage's data as :class:`Orders` (a loaded frame is wrapped;
    None when the plan has no orders).

    The wrapper of the same frame is reused, so its purchases are computed once for the many
    figures asked of one frame (every tier, every baseline window, every pulse day); only the last
    :data:`_WRAPPED_KEPT` frames are kept, to hold no frame the caller has let go for long.
    """
    found = data.get("transactions")
    if found is None or isinstance(found, Orders):
        return found
    for wrapped in _WRAPPED:
        if wrapped.frame is found:
            return wrapped
    wrapped = FrameOrders(found)
    _WRAPPED.append(wrapped)
    del _WRAPPED[:-_WRAPPED_KEPT]
    return wrapped


def lookback(window: Window, days: int) -> Window:
    """The ``days`` days just before ``window`` starts."""
    return window[0] - timedelta(days=days), window[0] - timedelta(days=1)


class SourceOrders(Orders):
    """The answers computed where the orders are (:mod:`planlib.data.windows`: DuckDB or the source
    database), pandas holding one row per customer (or the participants' rows).

    When the fast path declines (a value it would read differently from the loader, see
    :mod:`planlib.data.aggregate`), the orders are loaded once and answered as :class:`FrameOrders`
    — the loader then names every bad cell, or says the file is too large to load.
    """

    def __init__(self, source, base_dir: Path, until: date | None = None, engine: str = "auto"):
        self.source, self.base_dir, self.until, self.engine = source, Path(base_dir), until, engine
        self._windows: dict[Window, pd.DataFrame] = {}  # one window's n/amount per customer, by window
        self._wanted: set[Window] = set()
        self._loaded: FrameOrders | None = None
        self._rows: tuple | None = None  # the last rows_of: (start, end, customers, rows)

    def prepare(self, windows: Iterable[Window]) -> None:
        self._wanted.update(tuple(w) for w in windows)

    def _fallback(self) -> FrameOrders:
        if self._loaded is None:
            from planlib.data.load import load_source

            frame = load_source("transactions", self.source, self.base_dir).frame
            self._loaded = FrameOrders(frame, self.until)
        return self._loaded

    def purchases_in(self, windows: Mapping[str, Window]) -> pd.DataFrame:
        from planlib.data import windows as underneath
        from planlib.data.aggregate import FastPathDeclined

        if self._loaded is not None:
            return self._loaded.purchases_in(windows)
        missing = {tuple(w) for w in windows.values()} - set(self._windows)
        if missing:  # one pass for every window asked or announced and not computed yet
            todo = sorted(missing | (self._wanted - set(self._windows)))
            names = {f"w{i}": w for i, w in enumerate(todo)}
            try:
                found = underneath.purchases_in(self.source, self.base_dir, names, until=self.until,
                                                engine=self.engine).set_index("customer_id")
            except FastPathDeclined:
                return self._fallback().purchases_in(windows)
            for key, w in names.items():
                self._windows[w] = found[list(window_columns(key))].set_axis(["n", "amount"], axis=1)
        parts = {name: self._windows[tuple(w)] for name, w in windows.items()}
        index = next(iter(parts.values())).index if parts else pd.Index([], dtype="str")
        out = pd.DataFrame({"customer_id": pd.Series(index.to_numpy(), dtype="str")})
        for name, part in parts.items():
            n_col, amount_col = window_columns(name)
            part = part.reindex(index)  # every pass returns the same customers; reindex costs nothing then
            out[n_col] = part["n"].fillna(0).astype(np.int64).to_numpy()
            out[amount_col] = part["amount"].fillna(0.0).astype(float).to_numpy()
        return out

    def row_sums(self, start: date, end: date) -> pd.DataFrame:
        from planlib.data import windows as underneath
        from planlib.data.aggregate import FastPathDeclined

        if self._loaded is None:
            try:
                return underneath.row_sums(self.source, self.base_dir, start, end, until=self.until,
                                           engine=self.engine)
            except FastPathDeclined:
                pass
        return self._fallback().row_sums(start, end)

    def rows_of(self, customers: Iterable[str], start: date, end: date) -> pd.DataFrame:
        from planlib.data import windows as underneath
        from planlib.data.aggregate import FastPathDeclined

        wanted = pd.Index(pd.unique(pd.Series(list(customers), dtype="str")))
        if self._loaded is None:
            cached = self._rows
            if cached is not None and cached[0] <= start and end <= cached[1] and wanted.isin(cached[2]).all():
                # stage 05 asks for all participants, then for each tier's and channel's: a pass each
                # over 100M orders for rows already here
                rows = cached[3]
                day = rows["order_date"].dt.normalize()
                return rows[rows["customer_id"].isin(wanted) & (day >= _day(start)) & (day <= _day(end))
                            ].reset_index(drop=True)
            try:
                rows = underneath.rows_of(self.source, self.base_dir, list(wanted), start, end, until=self.until,
                                          engine=self.engine)
            except FastPathDeclined:
                return self._fallback().rows_of(wanted, start, end)
            self._rows = (start, end, wanted, rows)
            return rows
        return self._fallback().rows_of(wanted, start, end)

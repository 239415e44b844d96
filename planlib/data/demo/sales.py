"""Purchases of the demo company: each profile's buying rhythm, refunds, and the RFM rule that
picks a campaign's target group.

Orders are parallel arrays (customer index, day, amount). Refunds are negative rows dated a few
days after the order they refund and carry that order's ``uid``, so they are written with that
order's number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planlib.data.demo.clock import FIRST_DAY, LAST_DAY, day
from planlib.data.demo.people import People

BASE, HAZARD, CAMPAIGN = 0, 1, 2  # where an order came from (see planlib.data.demo.story)

# profile: (days between purchases: low, high), share that stops buying, median order value (元)
_RHYTHM = {
    "vip": ((18, 35), 0.08, 550.0),
    "regular": ((55, 140), 0.30, 650.0),
    "occasional": ((120, 300), 0.40, 220.0),
    "new": ((30, 150), 0.25, 260.0),
}
REFUND_SHARE = 0.03


@dataclass
class Orders:
    cust: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    tag: np.ndarray
    uid: np.ndarray  # own serial for an order; the refunded order's serial for a refund

    @classmethod
    def empty(cls) -> Orders:
        return cls(*(np.empty(0, dtype=t) for t in (np.int64, np.int64, float, np.int8, np.int64)))

    def __add__(self, other: Orders) -> Orders:
        return Orders(*(np.concatenate([a, b]) for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[np.ndarray, ...]:
        return self.cust, self.day, self.amount, self.tag, self.uid

    def keep(self, mask: np.ndarray) -> Orders:
        return Orders(*(a[mask] for a in self.astuple()))


class OrderBook:
    """Creates orders with fresh serial numbers and their refunds."""

    def __init__(self):
        self._next = 0

    def orders(self, rng, cust: np.ndarray, days: np.ndarray, amount: np.ndarray, tag: int) -> Orders:
        """Orders for ``cust`` on ``days`` (dropped past the export cut-off), plus their refunds."""
        keep = days <= LAST_DAY
        cust, days, amount = cust[keep], days[keep], np.round(amount[keep], 2)
        uid = np.arange(self._next, self._next + len(cust), dtype=np.int64)
        self._next += len(cust)
        made = Orders(cust, days, amount, np.full(len(cust), tag, dtype=np.int8), uid)
        return made + self._refunds(rng, made)

    @staticmethod
    def _refunds(rng, made: Orders) -> Orders:
        hit = rng.random(len(made.cust)) < REFUND_SHARE
        full = rng.random(hit.sum()) < 0.7
        share = np.where(full, 1.0, rng.uniform(0.2, 0.8, hit.sum()))
        refund = Orders(
            made.cust[hit], made.day[hit] + 1 + rng.integers(0, 14, hit.sum()),
            -np.round(made.amount[hit] * share, 2), made.tag[hit], made.uid[hit],
        )
        return refund.keep(refund.day <= LAST_DAY)


def _poisson_days(rng, cust, lo, hi, rate):
    """Purchase days of independent Poisson processes, one per customer, on [lo, hi]."""
    length = np.maximum(hi - lo + 1, 0)
    k = rng.poisson(rate * length)
    idx = np.repeat(cust, k)
    days = np.repeat(lo, k) + np.floor(rng.random(k.sum()) * np.repeat(length, k)).astype(np.int64)
    return idx, days


def _lognormal(rng, median, sigma, size):
    return median * np.exp(rng.normal(0.0, sigma, size))


def _split_total(rng, cust, k, total):
    """Split ``total[i]`` over ``k[i]`` orders with random (Dirichlet) shares."""
    idx = np.repeat(cust, k)
    weights = rng.gamma(2.0, 1.0, k.sum())
    sums = np.bincount(np.repeat(np.arange(len(cust)), k), weights=weights, minlength=len(cust))
    return idx, weights / np.repeat(sums, k) * np.repeat(total, k)


def base_orders(rng: np.random.Generator, book: OrderBook, people: People) -> Orders:
    """Every customer's purchases as their profile would make them, before any campaign."""
    prof, join = people.profile, people.join_day
    start = np.maximum(join, FIRST_DAY)
    out = Orders.empty()
    for name, ((lo_gap, hi_gap), churn, median) in _RHYTHM.items():
        c = np.flatnonzero(prof == name)
        rate = 1.0 / rng.uniform(lo_gap, hi_gap, len(c))
        lo = start[c] + (1 if name == "new" else 0)
        stop = np.where(rng.random(len(c)) < churn, rng.integers(lo, LAST_DAY + 1), LAST_DAY)
        idx, days = _poisson_days(rng, c, lo, stop, rate)
        level = np.zeros(len(prof))
        level[c] = _lognormal(rng, median, 0.3, len(c))  # some customers buy dearer than others
        out = out + book.orders(rng, idx, days, level[idx] * _lognormal(rng, 1.0, 0.5, len(idx)), BASE)

    # New customers buy on (or just after) the day they join; one-timers never come back.
    for name, median, cap in (("new", 260.0, 1990.0), ("one_timer", 160.0, 950.0)):
        c = np.flatnonzero(prof == name)
        days = join[c] + rng.integers(0, 4 if name == "new" else 21, len(c))
        out = out + book.orders(rng, c, days, np.clip(_lognormal(rng, median, 0.6, len(c)), 20, cap), BASE)

    # Dormant mid-value groups: normal buyers with 1,200–9,000 元 in the year before they went
    # quiet, at least two orders (so they never count as one-time churn risks).
    for name, hist_end, first, last in (
        ("dormant_q2", "2023-03-10", "2023-04-10", "2023-09-15"),
        ("dormant_q3", "2023-06-20", "2023-07-10", "2023-12-15"),
    ):
        c = np.flatnonzero(prof == name)
        idx, days = _poisson_days(rng, c, start[c], day(hist_end), 1.0 / rng.uniform(50, 100, len(c)))
        out = out + book.orders(rng, idx, days, _lognormal(rng, 300.0, 0.5, len(idx)), BASE)
        k = 2 + rng.binomial(4, 0.35, len(c))
        total = np.clip(_lognormal(rng, 2800.0, 0.45, len(c)), 1200, 9000)
        idx, amount = _split_total(rng, c, k, total)
        days = rng.integers(day(first), day(last) + 1, len(idx))
        if name == "dormant_q3":
            # Their last order falls in late 2023: active at the end of Q1 2024 (recency < 180
            # days), dormant by the end of Q2 2024.
            is_last = np.cumsum(k) - 1
            days[is_last] = rng.integers(day("2023-10-20"), day(last) + 1, len(c))
            days = np.minimum(days, np.repeat(days[is_last], k))
        out = out + book.orders(rng, idx, days, amount, BASE)
    return out


def dormant_mid_value(n: int, orders: Orders, as_of: int) -> np.ndarray:
    """Customers the demo plan's segment ``沉睡中价值客户`` selects on ``as_of``.

    Mirrors parameters/demo/base.yaml: RFM over the 365 days up to ``as_of``, tiers matched top
    down, then tier 中价值客户 (monetary 1,000–10,000) with recency ≥ 180 days.
    """
    upto = orders.day <= as_of
    # a purchase is an order netted with its refunds (planlib.metrics.purchases); refunds share its uid
    uid, inverse = np.unique(orders.uid[upto], return_inverse=True)
    net = np.bincount(inverse, weights=orders.amount[upto], minlength=len(uid))
    positive = orders.amount[upto] > 0
    when = np.full(len(uid), np.iinfo(np.int64).max)
    np.minimum.at(when, inverse[positive], orders.day[upto][positive])
    who = np.zeros(len(uid), dtype=np.int64)
    who[inverse] = orders.cust[upto]
    real = net > 1e-9
    cust, when, net = who[real], when[real], net[real]
    last = np.full(n, -10**6, dtype=np.int64)
    np.maximum.at(last, cust, when)
    recency = as_of - last
    window = when > as_of - 365
    freq = np.bincount(cust[window], minlength=n)
    money = np.bincount(cust[window], weights=net[window], minlength=n)
    earlier = (
        ((recency < 30) & (freq >= 5) & (money >= 5000))
        | ((recency < 30) & (freq >= 2) & (freq <= 4) & (money >= 2000) & (money <= 5000))
        | ((recency < 7) & (freq == 1) & (money < 2000))
        | ((recency > 90) & (freq == 1) & (money < 1000))
    )
    return ~earlier & (money >= 1000) & (money <= 10000) & (recency >= 180)


def quiet_orders(rng, book: OrderBook, cust: np.ndarray, start: int, per_30_days: float) -> Orders:
    """Occasional purchases of formerly dormant customers: ``per_30_days`` chance a month."""
    rate = -np.log1p(-per_30_days) / 30.0
    idx, days = _poisson_days(rng, cust, np.full(len(cust), start), np.full(len(cust), LAST_DAY), rate)
    return book.orders(rng, idx, days, _lognormal(rng, 380.0, 0.5, len(idx)), HAZARD)

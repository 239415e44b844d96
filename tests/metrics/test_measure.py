"""The KPI engine's windows (planlib.metrics.measure): an N-day window holds exactly N calendar days."""

from __future__ import annotations

import pandas as pd
from stages.review.test_analysis import CAMP, make_plan

from planlib.metrics.measure import compute_kpis, within_days


def test_within_days_counts_exactly_n_days_from_the_first_day():
    first = pd.Timestamp("2024-04-10")
    days = pd.Series(pd.to_datetime(["2024-04-09 23:59", "2024-04-10 00:00", "2024-05-09 23:59", "2024-05-10 00:00"]))
    assert within_days(days, first, 30).tolist() == [False, True, True, False]  # 04-10 … 05-09 = 30 days


def test_a_30_day_attribution_window_does_not_take_in_a_31st_day():
    # one participant who first responded on 04-10; orders on day 30 (05-09) and day 31 (05-10)
    cr = pd.DataFrame({"customer_id": ["P", "Q"], "in_scope": True, "control": False})
    inter = pd.DataFrame({"customer_id": ["P", "Q"], "campaign": CAMP, "channel": "sms", "variant": "",
                          "sent_at": pd.Timestamp("2024-04-01"), "opened_at": pd.NaT, "clicked_at": pd.NaT,
                          "responded_at": pd.to_datetime(["2024-04-10 18:00", "2024-04-10 18:00"])})
    tx = pd.DataFrame({"order_id": ["O1", "O2"], "customer_id": ["P", "Q"],
                       "order_date": pd.to_datetime(["2024-05-09 20:00", "2024-05-10 08:00"]), "amount": [100.0, 50.0]})
    plan = make_plan(budget={"limit": 1000, "lines": [{"category": "物料费", "planned": 100, "actual": 100}]})
    values = compute_kpis(plan, {"interactions": inter, "transactions": tx}, cr, kpis=["repurchase_30d", "roi"])
    assert plan.review.attribution_days == 30
    assert (values["repurchase_30d"].numerator, values["repurchase_30d"].denominator) == (1, 2)  # P, not Q
    assert values["roi"].parts["revenue"] == 100.0

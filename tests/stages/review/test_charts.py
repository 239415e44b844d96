"""Stage 05 charts: what they draw, read back from the figure's texts."""

from __future__ import annotations

import re

from planlib.metrics.measure import KpiValue
from planlib.stages.review import charts
from planlib.stages.review.funnel import funnel_from_values


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_unknown_funnel_counts_are_drawn_as_no_data_never_zero():
    # participation and repurchase could not be computed (no responded_at column): NA, not 0
    values = {
        "reach_rate": KpiValue("reach_rate", 80.0, 80, 100, parts={"treatment": 100}),
        "open_rate": KpiValue("open_rate", 50.0, 40, 80),
        "engagement_rate": KpiValue("engagement_rate", 75.0, 30, 40),
        "participation_rate": KpiValue("participation_rate", None, explanation="无数据: 缺少列"),
        "repurchase_30d": KpiValue("repurchase_30d", None, explanation="无数据: 缺少列"),
    }
    steps = funnel_from_values(values)
    assert steps["customers"].isna().tolist() == [False, False, False, False, True, True]
    texts = _texts(charts.funnel(steps))
    assert "100 人" in texts and "30 人" in texts
    assert not any(t == "0 人" for t in texts), texts
    assert texts.count("无数据") == 2
    # the rate beside an unknown step is unknown too, never 0 %
    assert not any(re.search(r"(?<![\d.])0\.0%", t) for t in texts), texts
    assert sum("较上一步" in t for t in texts) == 3  # 触达, 打开, 互动

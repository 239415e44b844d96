"""Which budget lines pay for the channels: one rule read by stage 03, stage 04 and the proposal.

A line pays for channels when it names a channel, or when its category is one of the plan's
``budget.channel_categories`` (推广费 unless the plan says otherwise).
"""

from __future__ import annotations

from typing import Any

PROMOTION_CATEGORY = "推广费"  # the default of budget.channel_categories


def is_promotion(line: Any, budget: Any) -> bool:
    """A budget line the channel plan spends (``budget`` is the plan's ``budget`` section)."""
    return line.channel is not None or line.category in budget.channel_categories

"""Which budget lines pay for the channels: one rule read by stage 03, stage 04 and the plan checks."""

from __future__ import annotations

PROMOTION_CATEGORY = "推广费"


def is_promotion(line) -> bool:
    """A budget line the channel plan spends: it names a channel or is in category 推广费."""
    return line.channel is not None or line.category == PROMOTION_CATEGORY

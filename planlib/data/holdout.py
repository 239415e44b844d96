"""Deterministic control-group assignment.

A customer's membership in a campaign's held-out control group depends only on the campaign
code and the customer id (a hash), never on row order or a random state, so the demo
generator, the review stage and next quarter's run all agree on who was held out.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def control_mask(customer_ids: pd.Series, campaign: str, share_pct: float) -> np.ndarray:
    """True for customers held out of ``campaign`` as its control group (``share_pct`` % of them)."""
    threshold = share_pct / 100.0

    def draw(customer_id: str) -> float:
        digest = hashlib.sha256(f"{campaign}:{customer_id}".encode()).hexdigest()
        return int(digest[:12], 16) / float(16**12)

    return np.fromiter((draw(str(c)) < threshold for c in customer_ids), dtype=bool,
                       count=len(customer_ids))

"""Channel effect rates per audience: estimated from last quarter's interactions, else the plan's.

The channel model (see :mod:`planlib.stages.channels.plan`) needs three rates per channel: reach (the share
of an audience that can be reached on the channel at all), open (per message sent to a reached
customer) and response (per opened message). This module decides, for every (audience,
channel), where each rate comes from, in this order:

1. ``数据·对象`` — interactions of the audience's own members before the plan period;
2. ``数据·全部客户`` — interactions of all customers before the plan period;
3. ``计划·层级`` — the plan's per-tier rates (``tier_rates``), weighted by the audience's tiers;
4. ``计划`` — the catalogue's default rate.

A data estimate is used only with at least ``channels.estimate.min_messages`` observations,
and its count is shown next to it. Only events before the plan start count (no peeking into the
period being planned). Open = opened messages / messages sent; response = responded / opened;
reach needs a broadcast campaign (``broadcast_campaigns``, e.g. the monthly newsletter that goes
to every follower): reached = members who got it on the channel / members who had joined by its
last send. Without a broadcast campaign on a channel, reach stays the plan's value: a targeted
campaign's recipients say nothing about who else could have been reached.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from planlib.metrics.segment import find_segment, segment_mask
from planlib.plan.schema import Plan

METRICS = ("reach", "open", "response")
SOURCE_AUDIENCE, SOURCE_ALL, SOURCE_PLAN_TIER, SOURCE_PLAN = "数据·对象", "数据·全部客户", "计划·层级", "计划"
COLUMNS = ["audience", "channel", "channel_name",
           *[f"{m}_{part}" for m in METRICS for part in ("rate", "source", "n")]]


def audiences(plan: Plan) -> list[str]:
    """Audiences the channel stage plans for: channel-plan rows first, then constraint rules."""
    return list(dict.fromkeys([*(r.audience for r in plan.channels.plan),
                               *(r.audience for r in plan.channels.rules)]))


def members(customers_result: pd.DataFrame, plan: Plan, audience: str) -> pd.Series:
    """Boolean mask of an audience's members (control group included) in the customers result."""
    return segment_mask(customers_result, find_segment(plan.segmentation, audience))


def _plan_rate(channel, metric: str, tiers: dict[str, int]) -> tuple[float, str]:
    """Catalogue rate, or the tier-weighted mix of the plan's per-tier rates (percent)."""
    default = getattr(channel, f"{metric}_rate")
    total = sum(tiers.values())
    overrides = {t: getattr(r, f"{metric}_rate") for t, r in channel.tier_rates.items()}
    if not total or not any(overrides.get(t) is not None for t in tiers):
        return float(default), SOURCE_PLAN
    mixed = sum(n * (overrides.get(t) if overrides.get(t) is not None else default) for t, n in tiers.items())
    return float(mixed / total), SOURCE_PLAN_TIER


def _window(plan: Plan) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(plan.meta.period.start)
    return start - timedelta(days=plan.channels.estimate.lookback_days), start


def _observations(plan: Plan, interactions: pd.DataFrame) -> pd.DataFrame:
    """Messages sent in the look-back window, with their outcomes before the plan start as flags."""
    lo, start = _window(plan)
    sent = interactions["sent_at"]
    rows = interactions.loc[(sent >= lo) & (sent < start)]
    opened = rows["opened_at"].notna() & (rows["opened_at"] < start)
    responded = rows["responded_at"].notna() & (rows["responded_at"] < start) & opened
    return pd.DataFrame({"customer_id": rows["customer_id"].astype(str).to_numpy(),
                         "campaign": rows["campaign"].astype(str).to_numpy(),
                         "channel": rows["channel"].astype(str).to_numpy(),
                         "sent_at": rows["sent_at"].to_numpy(),
                         "opened": opened.to_numpy(), "responded": responded.to_numpy()})


def _counts(obs: pd.DataFrame, ids: pd.Index | None, join: pd.Series | None,
            broadcast: set[str]) -> dict[str, dict[str, tuple[int, int]]]:
    """Per channel: metric → (successes, observations) among ``ids`` (None: everybody)."""
    if ids is not None:
        obs = obs[obs["customer_id"].isin(ids)]
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for ch, rows in obs.groupby("channel", sort=False):
        found = {"open": (int(rows["opened"].sum()), len(rows)),
                 "response": (int(rows["responded"].sum()), int(rows["opened"].sum()))}
        wide = rows[rows["campaign"].isin(broadcast)]
        if len(wide) and join is not None:
            pool = join if ids is None else join[join.index.isin(ids)]
            # customers without a join date count as always there
            eligible = pool.index[(pool.isna() | (pool <= wide["sent_at"].max())).to_numpy()]
            found["reach"] = (wide.loc[wide["customer_id"].isin(eligible), "customer_id"].nunique(), len(eligible))
        out[str(ch)] = found
    return out


def estimate_rates(plan: Plan, customers_result: pd.DataFrame, interactions: pd.DataFrame | None = None,
                   customers: pd.DataFrame | None = None, composition: dict[str, dict[str, int]] | None = None
                   ) -> pd.DataFrame:
    """Effective reach/open/response rate (percent) per audience × catalogue channel, with source and n.

    ``interactions`` (canonical frame) enables the data estimates; ``customers`` (canonical, with
    ``join_date``) lets broadcast campaigns measure reach; ``composition`` (audience → tier →
    contactable customers, from :func:`planlib.stages.channels.plan.audience_tiers`) weights per-tier plan
    rates. ``*_n`` is the number of observations behind a data estimate (messages for open,
    opened messages for response, customers for reach) and 0 for plan values.
    """
    settings = plan.channels.estimate
    use_data = settings.enabled and interactions is not None and len(interactions) > 0
    obs = _observations(plan, interactions) if use_data else None
    join = None
    if use_data and customers is not None and "join_date" in customers:
        # who existed when a broadcast went out
        known = customers.assign(customer_id=customers["customer_id"].astype(str)).drop_duplicates("customer_id")
        join = known.set_index("customer_id")["join_date"]
    broadcast = set(settings.broadcast_campaigns)
    everyone = _counts(obs, None, join, broadcast) if use_data else {}
    rows = []
    for aud in audiences(plan):
        ids = pd.Index(customers_result.loc[members(customers_result, plan, aud).to_numpy(), "customer_id"]
                       .astype(str))
        own = _counts(obs, ids, join, broadcast) if use_data else {}
        tiers = (composition or {}).get(aud) or {}
        for ch in plan.channels.catalogue:
            row = {"audience": aud, "channel": ch.id, "channel_name": ch.name}
            for m in METRICS:
                for source, found in ((SOURCE_AUDIENCE, own), (SOURCE_ALL, everyone)):
                    k, n = found.get(ch.id, {}).get(m, (0, 0))
                    if n >= settings.min_messages:
                        row.update({f"{m}_rate": k / n * 100, f"{m}_source": source, f"{m}_n": n})
                        break
                else:
                    rate, source = _plan_rate(ch, m, tiers)
                    row.update({f"{m}_rate": rate, f"{m}_source": source, f"{m}_n": 0})
            rows.append(row)
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.astype({**{f"{m}_rate": float for m in METRICS}, **{f"{m}_n": np.int64 for m in METRICS}})


def display_table(rates: pd.DataFrame) -> pd.DataFrame:
    """One text cell per rate, e.g. ``20.8% · 数据·对象 n=2,634`` or ``60.0% · 计划``."""
    def cell(rate: float, source: str, n: int) -> str:
        return f"{rate:.1f}% · {source}" + (f" n={n:,}" if n else "")

    out = rates[["audience", "channel_name"]].copy()
    for m in METRICS:
        out[m] = [cell(r, s, n) for r, s, n in zip(rates[f"{m}_rate"], rates[f"{m}_source"], rates[f"{m}_n"],
                                                  strict=True)]
    return out

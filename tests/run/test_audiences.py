"""The audience sizes the forms' channel checks use follow the customer data files, not only the settings."""

from __future__ import annotations

import os

import pandas as pd
from conftest import make_small_demo

from planlib.plan.analysis import AudienceData
from planlib.plan.planfile import load_plan
from planlib.run.audiences import CachedAudiences, audience_data, files_key


def _sizes(found: AudienceData | str) -> dict[str, int]:
    assert isinstance(found, AudienceData), found
    return found.sizes


def test_replacing_the_customer_file_changes_the_sizes_the_form_shows(tmp_path):
    plan_path = make_small_demo(tmp_path, customers=300)
    plan = load_plan(plan_path).plan
    cache = CachedAudiences(plan_path.parent)
    first = _sizes(cache(plan))  # reads (and here first makes) the demo data
    assert sum(first.values()) > 0
    assert cache(plan) is cache(plan)  # unchanged files and settings: not read again

    # the planner replaces the transactions export by one with half the customers (same settings)
    orders = plan_path.parent / plan.data.transactions.path
    frame = pd.read_csv(orders, dtype=str, encoding="utf-8-sig")
    kept = sorted(frame["客户编号"].unique())[::2]
    frame[frame["客户编号"].isin(kept)].to_csv(orders, index=False, encoding="utf-8-sig")
    customers = plan_path.parent / plan.data.customers.path
    people = pd.read_csv(customers, dtype=str, encoding="utf-8-sig")
    people[people["客户编号"].isin(kept)].to_csv(customers, index=False, encoding="utf-8-sig")

    after = _sizes(cache(plan))
    assert after == _sizes(audience_data(plan, plan_path.parent))  # what validate computes from the new files
    assert after != first


def test_the_key_changes_with_size_or_mtime(tmp_path):
    plan_path = make_small_demo(tmp_path, customers=300)
    plan = load_plan(plan_path).plan
    audience_data(plan, plan_path.parent)  # makes the demo files
    before = files_key(plan, plan_path.parent)
    assert all(size for _path, size, _mtime in before)
    orders = plan_path.parent / plan.data.transactions.path
    st = orders.stat()
    os.utime(orders, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # same bytes, rewritten later
    assert files_key(plan, plan_path.parent) != before

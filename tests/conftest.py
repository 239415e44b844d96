"""Shared fixtures. Paths are resolved from this file, never from the working directory."""

from __future__ import annotations

import os
import shutil
import subprocess
from copy import deepcopy
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from planlib.plan.planfile import load_plan
from planlib.plan.schema import Plan
from planlib.run.runner import run_plan

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# ---------------------------------------------------------------------------------- test plans
# The smallest valid plan: one tier 全部, one SMS channel, one goal; tests merge their own sections in.
MINIMAL_PLAN: dict[str, Any] = {
    "meta": {"unit": "t", "unit_name": "测试", "quarter": "2024Q2", "title": "测试计划", "owner": "经理",
             "period": {"start": date(2024, 4, 1), "end": date(2024, 6, 30)}},
    "scope": {"segment": "全部"},
    "goals": [{"id": "G1", "name": "目标", "metric": "csat", "segment": "全部", "target": 4.5,
               "direction": "increase", "deadline": date(2024, 6, 30)}],
    "data": {"customers": {"path": "c.csv"}, "transactions": {"path": "t.csv"}},
    "segmentation": {"tiers": [{"name": "全部"}]},
    "channels": {"catalogue": [{"id": "sms", "name": "短信", "cost_per_contact": 0.05, "reach_rate": 90.0,
                                "open_rate": 30.0, "response_rate": 8.0}]},
    "budget": {"limit": 1000.0},
    "review": {"campaign": "camp"},
}


def deep_merge(base: dict, over: dict) -> dict:
    """``base`` with ``over`` merged in: mappings merge key by key, anything else (lists too) replaces."""
    out = dict(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def plan_dict(**sections: Any) -> dict:
    """:data:`MINIMAL_PLAN` with ``sections`` deep-merged in (a fresh copy each call)."""
    return deepcopy(deep_merge(MINIMAL_PLAN, sections))


def build_plan(**sections: Any) -> Plan:
    """The validated :func:`plan_dict`."""
    return Plan.model_validate(plan_dict(**sections))


def goal(**fields: Any) -> dict:
    """The minimal plan's goal G1 with ``fields`` changed."""
    return {**MINIMAL_PLAN["goals"][0], **fields}


RFM_SEGMENTATION: dict[str, Any] = {
    "rfm": {"window_days": 90, "levels": 3},
    "tiers": [
        {"name": "高价值", "recency_days": "<30", "frequency": ">=2", "needs": "专属服务", "strategy": "每月关怀"},
        {"name": "活跃", "frequency": ">=1", "needs": "优惠", "strategy": "每周推送"},
        {"name": "空层", "monetary": ">=1000000"},
    ],
    "default_tier": {"name": "一般", "needs": "促销信息"},
    "segments": [{"name": "沉睡活跃", "tiers": ["活跃"], "recency_days": ">=20"}],
}


def rfm_plan(**segmentation: Any) -> Plan:
    """The stage 02 test plan: three tiers (空层 matches no one), a default tier and the segment 沉睡活跃
    (half of it held out); ``segmentation`` replaces keys of :data:`RFM_SEGMENTATION`."""
    return build_plan(scope={"segment": "沉睡活跃"},
                      goals=[goal(metric="repurchase_30d", segment="沉睡活跃", target=12.0)],
                      segmentation={**RFM_SEGMENTATION, **segmentation}, review={"control_share": 50.0})


@cache
def _demo_data() -> dict:
    return load_plan(ROOT / "parameters" / "demo" / "2024Q2.yaml").data


def demo_dict() -> dict:
    """The demo plan (2024Q2 over its base) as plain data (a fresh copy each call)."""
    return deepcopy(_demo_data())


def demo_plan(**sections: Any) -> Plan:
    """The demo plan with ``sections`` deep-merged in."""
    return Plan.model_validate(deepcopy(deep_merge(_demo_data(), sections)))


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def demo_plan_path() -> Path:
    return ROOT / "parameters" / "demo" / "2024Q2.yaml"


def make_small_demo(folder: Path, customers: int = 800, unit: str = "demo") -> Path:
    """Copy the demo plan into ``folder/parameters/<unit>`` with a smaller generated company.

    Another ``unit`` gets its own code, data folder and seed, as a second business unit would.
    """
    target = folder / "parameters" / unit
    target.mkdir(parents=True)
    (folder / "workbooks").mkdir(exist_ok=True)  # a project folder, as planlib recognises one
    base = (ROOT / "parameters/demo/base.yaml").read_text(encoding="utf-8")
    base = base.replace("customers: 5000", f"customers: {customers}")
    if unit != "demo":
        base = base.replace("unit: demo", f"unit: {unit}").replace("demo_data/demo/", f"demo_data/{unit}/")
    (target / "base.yaml").write_text(base, encoding="utf-8")
    shutil.copy(ROOT / "parameters/demo/2024Q2.yaml", target / "2024Q2.yaml")
    return target / "2024Q2.yaml"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    plan = make_small_demo(folder)
    lines: list[str] = []
    result = run_plan(plan, output_root=folder / "outputs", log=lines.append)
    return result, folder, lines


@pytest.fixture
def read_only():
    """Return a function that makes a folder read-only, for real: a read-only bind mount of it
    onto itself when running as root (root ignores permissions), else its permissions."""
    mounted: list[Path] = []
    changed: list[Path] = []

    def make(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
            mounted.append(path)
            subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        else:
            for folder, _dirs, _files in os.walk(path):
                os.chmod(folder, 0o555)
                changed.append(Path(folder))
        with pytest.raises(OSError):  # the test below relies on it
            (path / ".probe").write_text("x", encoding="utf-8")
        return path

    yield make
    for path in reversed(mounted):
        subprocess.run(["umount", str(path)], check=False)
    for path in changed:
        os.chmod(path, 0o755)

"""The demo generator: deterministic files, realistic shapes, and the 2024Q2 plan's story."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planlib.data.demo import FILES, HEADERS, ensure_demo_data, generate
from planlib.data.holdout import control_mask
from planlib.data.load import load_all
from planlib.plan.schema import Data, DataSource, DemoData

CAMPAIGN = "2024Q2-reactivation"


def _read(paths: dict[str, Path], name: str) -> pd.DataFrame:
    return pd.read_csv(paths[name], dtype=str, encoding="utf-8-sig", keep_default_na=False)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict[str, Path]:
    return generate(tmp_path_factory.mktemp("demo600"), n_customers=600)


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """The default demo (seed 20240401, 5,000 customers) as plain string tables."""
    paths = generate(tmp_path_factory.mktemp("demo5000"))
    tables = {name: _read(paths, name) for name in FILES}
    tx = tables["transactions"]
    tx["amount"] = tx["消费金额"].astype(float)
    tx["date"] = pd.to_datetime(tx["下单日期"])
    it = tables["interactions"]
    for col in ("发送时间", "打开时间", "点击时间", "响应时间"):
        it[col] = pd.to_datetime(it[col].replace("", None))
    return tables


def _dormant_mid_value(tables, as_of: str) -> list[str]:
    """The demo plan's segment, recomputed from the files the way stage 02 reads base.yaml."""
    as_of = pd.Timestamp(as_of)
    ids = tables["customers"]["客户编号"]
    tx = tables["transactions"][tables["transactions"]["date"] <= as_of]
    # purchases as planlib.metrics.purchases defines them: orders netted with their refunds
    tx = tx.assign(first=tx["date"].where(tx["amount"] > 0))
    orders = tx.groupby(["客户编号", "订单编号"], as_index=False).agg(amount=("amount", "sum"), date=("first", "min"))
    orders = orders[orders["amount"] > 1e-9]
    last = orders.groupby("客户编号")["date"].max()
    recency = (as_of - last).dt.days.reindex(ids).fillna(10**6)
    window = orders[orders["date"] > as_of - pd.Timedelta(days=365)]
    freq = window.groupby("客户编号").size().reindex(ids).fillna(0)
    money = window.groupby("客户编号")["amount"].sum().reindex(ids).fillna(0)
    earlier = (
        ((recency < 30) & (freq >= 5) & (money >= 5000))
        | ((recency < 30) & freq.between(2, 4) & money.between(2000, 5000))
        | ((recency < 7) & (freq == 1) & (money < 2000))
        | ((recency > 90) & (freq == 1) & (money < 1000))
    )
    return list(ids[(~earlier & money.between(1000, 10000) & (recency >= 180)).to_numpy()])


def test_same_seed_gives_byte_identical_files(tmp_path, small):
    again = generate(tmp_path / "again", n_customers=600)
    for name in FILES:
        assert again[name].read_bytes() == small[name].read_bytes(), name
    other = generate(tmp_path / "other", n_customers=600, seed=7)
    assert other["transactions"].read_bytes() != small["transactions"].read_bytes()


def test_files_look_like_excel_exports(small):
    for name, path in small.items():
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name  # UTF-8 with BOM
        assert b"\r\n" in raw
        assert list(_read(small, name).columns) == HEADERS[name]


def test_customers_scale_and_look_real(small):
    customers = _read(small, "customers")
    assert len(customers) == 600
    assert customers["客户编号"].str.fullmatch(r"C\d{6}").all()
    assert customers["客户编号"].is_unique
    assert customers["手机号"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert customers["手机号"].is_unique
    assert customers["客户名称"].str.fullmatch(r"[\u4e00-\u9fff]{2,4}").all()
    assert customers["地区"].nunique() > 5


def test_transactions_span_two_years_with_refunds(small):
    tx = _read(small, "transactions")
    amount = tx["消费金额"].astype(float)
    assert len(tx) > 4 * 600
    assert tx["下单日期"].min() == "2022-07-01" and tx["下单日期"].max() <= "2024-09-30"
    assert 0.01 < (amount < 0).mean() < 0.06
    assert (tx["消费金额"].str[-3:] != ".00").mean() > 0.9  # amounts carry cents
    refunds = tx[amount < 0]
    # a refund carries the number of the order it refunds (planlib.metrics.purchases nets them)
    assert set(refunds["订单编号"]) <= set(tx["订单编号"][amount > 0])


def test_interaction_times_are_ordered(small):
    it = _read(small, "interactions")
    sent, opened, clicked, responded = (
        pd.to_datetime(it[c].replace("", None)) for c in ("发送时间", "打开时间", "点击时间", "响应时间")
    )
    assert (opened.isna() | (opened >= sent)).all()
    assert (clicked.isna() | (opened.notna() & (clicked >= opened))).all()
    assert (responded.isna() | (opened.notna() & (responded >= opened))).all()
    assert (responded.isna() | clicked.isna() | (responded >= clicked)).all()
    assert it.loc[it["渠道"] != "sms", "版本"].eq("").all()


def test_control_group_gets_no_campaign_messages(story):
    target = pd.Series(_dormant_mid_value(story, "2024-03-31"))
    held_out = control_mask(target, CAMPAIGN, 20)
    it = story["interactions"]
    reached = set(it.loc[it["活动代码"] == CAMPAIGN, "客户编号"])
    assert 330 <= len(target) <= 480  # about 400 dormant mid-value customers
    assert held_out.sum() > 50
    assert reached == set(target[~held_out])  # exactly the treatment group, no control customer


def test_story_of_the_2024q2_plan(story):
    target = pd.Series(_dormant_mid_value(story, "2024-03-31"))
    held_out = control_mask(target, CAMPAIGN, 20)
    treatment, control = target[~held_out], target[held_out]
    it = story["interactions"]
    campaign = it[it["活动代码"] == CAMPAIGN]
    first = campaign.dropna(subset=["响应时间"]).groupby("客户编号")["响应时间"].min()

    participation = len(first) / len(treatment)
    assert 0.55 <= participation < 0.70  # misses the 70 % target
    assert 180 <= len(first) <= 240  # ~9,700 元 / participants ≈ 46 元/人
    assert 9700 / len(first) < 50

    bought = story["transactions"].query("amount > 0")

    def rate(anchors: pd.Series) -> float:
        day0 = anchors.dt.normalize()
        m = bought.merge(day0.rename("anchor"), left_on="客户编号", right_index=True)
        m = m[(m["date"] > m["anchor"]) & (m["date"] <= m["anchor"] + pd.Timedelta(days=30))]
        return m["客户编号"].nunique() / len(anchors)

    repurchase = rate(first)
    control_rate = rate(pd.Series(first.median(), index=control.to_numpy()))
    assert 0.12 < repurchase < 0.22  # beats the 12 % target
    assert 0.02 <= control_rate <= 0.09 < repurchase

    sms = campaign[campaign["渠道"] == "sms"].groupby("版本")["打开时间"].apply(lambda s: s.notna().mean())
    assert sms["A"] < 0.25 and sms["B"] > 0.38

    sv = story["surveys"]
    q2 = sv[sv["客户编号"].isin(target) & sv["调查日期"].between("2024-04-01", "2024-06-30")]
    csat = pd.to_numeric(q2["CSAT"].replace("", None)).dropna()
    nps = pd.to_numeric(q2["NPS"].replace("", None)).dropna()
    assert len(q2) >= 80
    assert 4.1 <= csat.mean() < 4.5  # misses 4.5
    assert 25 <= ((nps >= 9).mean() - (nps <= 6).mean()) * 100 <= 45

    tk = story["tickets"]
    wait = pd.to_datetime(tk["首次响应时间"]) - pd.to_datetime(tk["创建时间"])
    assert 0.95 <= (wait <= pd.Timedelta(minutes=5)).mean() <= 0.98
    assert 0.01 <= tk["是否投诉"].eq("是").mean() <= 0.06


def test_background_newsletter_gives_channel_rates(story):
    it = story["interactions"]
    news = it[it["活动代码"] == "newsletter"]
    assert set(news["渠道"]) == {"wechat_oa", "app_push"}
    opened = news.groupby("渠道")["打开时间"].apply(lambda s: s.notna().mean())
    assert 0.15 < opened["wechat_oa"] < 0.35 and 0.04 < opened["app_push"] < 0.12
    assert news["发送时间"].min() < pd.Timestamp("2022-08-01")


def _data(folder: str, **demo) -> Data:
    return Data(
        demo=DemoData(**demo) if demo else None,
        **{name: DataSource(path=f"{folder}/{name}.csv") for name in FILES},
    )


def test_ensure_demo_data_writes_only_missing_files(tmp_path):
    data = _data("out/demo", seed=20240401, customers=600)
    written = ensure_demo_data(data, tmp_path)
    folder = tmp_path / "out" / "demo"
    assert sorted(p.name for p in written) == sorted(FILES.values())
    # no temporary folder left behind, only the files and the generator's stamp
    assert sorted(p.name for p in folder.iterdir()) == sorted([*FILES.values(), ".planlib-demo.json"])
    assert ensure_demo_data(data, tmp_path) == []

    before = (folder / "surveys.csv").read_bytes()
    (folder / "surveys.csv").unlink()
    (folder / "customers.csv").write_text("客户编号\nC1\n", encoding="utf-8")  # a planner's own file
    assert ensure_demo_data(data, tmp_path) == [folder / "surveys.csv"]
    assert (folder / "surveys.csv").read_bytes() == before
    assert (folder / "customers.csv").read_text(encoding="utf-8") == "客户编号\nC1\n"


def test_ensure_demo_data_replaces_its_own_stale_files_only(tmp_path):
    ensure_demo_data(_data("d", seed=1, customers=300), tmp_path)
    folder = tmp_path / "d"
    (folder / "tickets.csv").write_text("工单编号,客户编号,创建时间\n", encoding="utf-8")  # edited by hand
    old = (folder / "transactions.csv").read_bytes()
    written = ensure_demo_data(_data("d", seed=2, customers=300), tmp_path)
    assert folder / "transactions.csv" in written and folder / "tickets.csv" not in written
    assert (folder / "transactions.csv").read_bytes() != old
    assert (folder / "tickets.csv").read_text(encoding="utf-8").startswith("工单编号,客户编号,创建时间")
    assert ensure_demo_data(_data("d", seed=2, customers=300), tmp_path) == []


def test_ensure_demo_data_does_nothing_without_demo(tmp_path):
    assert ensure_demo_data(_data("out"), tmp_path) == []
    assert not (tmp_path / "out").exists()


def test_an_orders_export_demo_whose_orders_are_in_a_database_generates_nothing(tmp_path):
    """The shop unit pointed at a database keeps its ``demo:`` section: there is no file to write."""
    data = Data(demo=DemoData(style="orders_export", customers=300),
                transactions=DataSource(url="duckdb:///shop.duckdb", table="orders"))
    assert ensure_demo_data(data, tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_demo_files_load_as_canonical_tables(tmp_path):
    data = _data("d", customers=600)
    ensure_demo_data(data, tmp_path)
    loaded = load_all(data, tmp_path)
    assert set(loaded) == set(FILES)
    for result in loaded.values():
        assert result.excluded.empty and result.absent == ()
    assert len(loaded["customers"].frame) == 600
    tx = loaded["transactions"].frame
    assert tx["amount"].dtype == np.float64 and (tx["amount"] < 0).any()
    assert str(loaded["interactions"].frame["responded_at"].dtype) == "datetime64[ns]"

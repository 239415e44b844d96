"""The orders-only demo export (planlib.data.demo.orders_export): real-shaped, deterministic, readable."""

from __future__ import annotations

import pytest

from planlib.data.demo.campaigns import CAMPAIGNS
from planlib.data.demo.orders_export import write_orders_export
from planlib.data.demo.story import simulate
from planlib.data.load import load_all
from planlib.plan.schema import Data


@pytest.fixture(scope="module")
def company():
    frames = simulate(7, 200, tuple(CAMPAIGNS))
    return frames["customers"], frames["transactions"]


@pytest.mark.parametrize("name", ["orders.xlsx", "orders.csv"])
def test_the_export_is_messy_but_loads_and_gives_the_customer_list(tmp_path, company, name):
    customers, transactions = company
    path = write_orders_export(tmp_path / name, customers, transactions)
    if name.endswith(".csv"):
        text = path.read_bytes().decode("gbk")  # GBK, not UTF-8
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")
        assert text.splitlines()[0].startswith("演示商城 订单明细")  # a title row above the header
        assert "合计" in text and "￥" in text and "年" in text and "订单编号" not in text
    loaded = load_all(Data.model_validate({"transactions": {"path": name}}), tmp_path)
    tx = loaded["transactions"]
    assert tx.header_row == 3  # title row and a blank row above it
    assert list(tx.excluded["reason"]) == ["合计行"]
    assert len(tx.frame) == len(transactions)
    assert tx.frame["amount"].sum() == pytest.approx(transactions["消费金额"].astype(float).sum())
    assert tx.frame["order_id"].isna().all() and "order_id" in tx.absent
    assert (tx.frame["amount"] < 0).any()  # refunds are there, as -￥…
    derived = loaded["customers"].frame
    assert len(derived) == transactions["客户编号"].nunique()
    assert derived["phone"].notna().all() and derived["name"].notna().all()  # personal columns kept (masked on display)


def test_same_seed_same_bytes(tmp_path, company):
    a = write_orders_export(tmp_path / "a" / "orders.xlsx", *company).read_bytes()
    b = write_orders_export(tmp_path / "b" / "orders.xlsx", *company).read_bytes()
    assert a == b

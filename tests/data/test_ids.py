"""Customer IDs across files (planlib.data.ids): one clear stop instead of silently dropped orders."""

from __future__ import annotations

import pandas as pd
import pytest

from planlib.data.ids import check_ids_match
from planlib.data.load import load_source
from planlib.errors import DataError
from planlib.plan.schema import DataSource


def _files(folder, n=200, zeros_in_orders=False, stray=0):
    ids = [f"{i:05d}" for i in range(1, n + 1)]
    customers = "客户编号,客户名称\n" + "".join(f"{c},客户{c}\n" for c in ids)
    orders = [f"O{i},{c if zeros_in_orders else int(c)},2024-04-{1 + i % 28:02d},100\n" for i, c in enumerate(ids)]
    orders += [f"S{i},99999{i},2024-04-01,10\n" for i in range(stray)]
    (folder / "customers.csv").write_text(customers, encoding="utf-8")
    (folder / "orders.csv").write_text("订单编号,客户编号,下单日期,消费金额\n" + "".join(orders), encoding="utf-8")


def _load(folder, **tx_settings):
    cu = load_source("customers", DataSource(path="customers.csv"), folder).frame
    tx = load_source("transactions", DataSource(path="orders.csv", **tx_settings), folder).frame
    return cu, tx


def test_lost_leading_zeros_stop_with_one_line_naming_cause_examples_and_fix(tmp_path):
    _files(tmp_path)
    cu, tx = _load(tmp_path)
    with pytest.raises(DataError) as err:
        check_ids_match(cu, tx)
    problems = err.value.problems
    assert len(problems) == 1
    line = str(problems[0])
    assert "\n" not in line
    assert "orders.csv" in line and "customers.csv" in line
    assert "200 / 200 行交易" in line
    assert "交易表 '1' ↔ 客户表 '00001'" in line  # examples from both files side by side
    assert "前导零" in line and "data.transactions.pad_ids: 5" in line


def test_pad_ids_is_the_fix(tmp_path):
    _files(tmp_path)
    cu, tx = _load(tmp_path, pad_ids=5)
    assert tx["customer_id"].iloc[0] == "00001"
    check_ids_match(cu, tx)  # every order matches now


def test_a_few_unknown_customers_are_tolerated_but_not_more_than_one_percent(tmp_path):
    _files(tmp_path, zeros_in_orders=True, stray=2)  # 2 of 202 rows ≈ 0.99 %
    check_ids_match(*_load(tmp_path))
    _files(tmp_path, zeros_in_orders=True, stray=3)  # 3 of 203 ≈ 1.5 %
    with pytest.raises(DataError, match="超过 1%"):
        check_ids_match(*_load(tmp_path))


def test_ids_are_compared_after_the_same_normalisation_in_every_file(tmp_path):
    cu = pd.DataFrame({"customer_id": ["C001", "C002"]})
    tx = pd.DataFrame({"customer_id": ["Ｃ００１", "C 002"]})  # full width and a space
    check_ids_match(cu, tx)


def test_excel_float_ids_are_named(tmp_path):
    cu = pd.DataFrame({"customer_id": [str(i) for i in range(1, 50)]})
    tx = pd.DataFrame({"customer_id": [f"{i}.0" for i in range(1, 50)]})
    with pytest.raises(DataError, match="小数"):
        check_ids_match(cu, tx)


def test_validate_sees_the_shapes_from_a_sample():
    from planlib.data.ids import shape_warning

    warning = shape_warning(pd.Series(["00001", "00002"]), pd.Series(["17", "23"]))
    assert "交易表的客户编号没有前导零" in warning and "data.transactions.pad_ids: 5" in warning
    assert shape_warning(pd.Series(["00001"]), pd.Series(["00017"])) is None
    assert "科学计数法" in shape_warning(pd.Series(["C1"]), pd.Series(["1.10101E+17"]))
    assert shape_warning(pd.Series(["C001"]), pd.Series(["C017"])) is None


def test_validate_sees_a_file_where_only_some_ids_lost_their_zeros():
    from planlib.data.ids import shape_warning

    warning = shape_warning(pd.Series(["000001", "000002"]), pd.Series(["000107", "84"]))
    assert "交易表 '84'" in warning and "data.transactions.pad_ids: 6" in warning
    assert "data.customers.pad_ids: 5" in shape_warning(pd.Series(["17", "00023"]), pd.Series(["00001", "00002"]))


def test_member_of_agrees_with_pandas_isin():
    import numpy as np

    from planlib.data.ids import member_of

    values = pd.Series(["C1", "c1", None, "", "C２", "C3", "C1"], dtype="str")
    of = pd.Index(["C1", "", "C3", "X"])
    assert member_of(values, of).tolist() == [True, False, False, True, False, True, True]
    assert member_of(values, of).tolist() == values.isin(of).tolist()
    assert member_of(pd.Series([1, 2, 3]), [2]).tolist() == [False, True, False]  # not text: pandas' way
    assert member_of(pd.Series([], dtype="str"), of).dtype == np.bool_

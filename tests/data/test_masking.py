"""Masking personal information for display (planlib.data.masking)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planlib.data.masking import (
    mask_email,
    mask_frame,
    mask_id,
    mask_name,
    mask_names,
    mask_phone,
    mask_phones,
)


@pytest.mark.parametrize("raw", ["13812341234", "+86 138 1234 1234", "0086-13812341234", "138-1234-1234",
                                 "8613812341234", "１３８１２３４１２３４", " 13812341234 "])
def test_mobile_numbers(raw):
    assert mask_phone(raw) == "138****1234"


@pytest.mark.parametrize("raw", ["12345", "010-12345678", "12812341234", "phone"])
def test_unrecognised_phones_are_masked_whole(raw):
    assert mask_phone(raw) == "****"


@pytest.mark.parametrize(("raw", "masked"), [
    ("张三", "张*"), ("张三丰", "张**"), ("欧阳娜娜", "欧阳**"), ("司马光", "司马*"), ("欧阳", "欧*"),
    ("张", "*"), (" 李四 ", "李*"), ("John Smith", "J*********"),
])
def test_names_keep_the_surname(raw, masked):
    assert mask_name(raw) == masked


def test_id_numbers_and_emails():
    assert mask_id("110101199003070021") == "110***********0021"
    assert mask_id("11010119900307002x") == "110***********002X"
    assert mask_id("110101900307002") == "110********7002"
    assert mask_id("A123") == "****"
    assert mask_email("zhangsan@example.com") == "z***@example.com"
    assert mask_email("not an email") == "****"


def test_empty_values_stay_empty():
    assert mask_phone("") == "" and mask_name(None) is None
    masked = mask_names(pd.Series(["张三", None, ""], dtype=object))
    assert masked.iloc[0] == "张*" and pd.isna(masked.iloc[1]) and masked.iloc[2] == ""


def test_phone_numbers_stored_as_numbers():
    assert mask_phones(pd.Series([13812341234.0, np.nan])).iloc[0] == "138****1234"


def test_mask_frame_returns_a_masked_copy():
    df = pd.DataFrame({"customer_id": ["C1"], "name": ["王小明"], "phone": ["13900001111"],
                       "id_no": ["110101199003070021"]})
    out = mask_frame(df, {"name": "name", "phone": "phone", "id_no": "id"})
    assert out.iloc[0].tolist() == ["C1", "王**", "139****1111", "110***********0021"]
    assert df["name"].iloc[0] == "王小明"  # the original is untouched
    assert mask_frame(df)["phone"].iloc[0] == "139****1111"  # canonical columns by default
    with pytest.raises(ValueError, match="unknown masking kind"):
        mask_frame(df, {"name": "surname"})
    with pytest.raises(KeyError):
        mask_frame(df, {"mobile": "phone"})


def test_mask_frame_on_100k_rows():
    # how long it takes: benchmarks/bench_hotpaths.py
    n = 100_000
    df = pd.DataFrame({"name": ["欧阳娜娜", "张三"] * (n // 2), "phone": ["13812341234"] * n})
    out = mask_frame(df)
    assert out["name"].iloc[0] == "欧阳**" and out["phone"].iloc[-1] == "138****1234"


@pytest.mark.parametrize(("raw", "masked"), [
    ("110105 19491231 002X", "110***********002X"), ("110105-19491231-002x", "110***********002X"),
    ("１１０１０５１９４９１２３１００２Ｘ", "110***********002X"), ("1.10105E+17", "****"),
])
def test_id_numbers_are_normalised_before_masking(raw, masked):
    assert mask_id(raw) == masked


@pytest.mark.parametrize(("mask", "value"), [
    (mask_phone, "138****1234"), (mask_id, "110***********002X"), (mask_name, "张*"),
    (mask_email, "z***@example.com"), (mask_name, "欧阳**"),
])
def test_masking_twice_hides_nothing_more(mask, value):
    assert mask(value) == value


def test_personal_columns_are_declared_per_table_and_by_header():
    from planlib.data.masking import PII_COLUMNS, personal_columns
    from planlib.data.tables import TABLES

    for table, columns in PII_COLUMNS.items():
        canonical = {c.name for c in TABLES[table]}
        assert set(columns) <= canonical, table
    assert set(PII_COLUMNS) == set(TABLES)
    df = pd.DataFrame(columns=["customer_id", "name", "phone", "region", "身份证号", "电子邮箱", "收货地址 ",
                               "客户名称", "金额"])
    assert personal_columns(df, "customers") == {
        "name": "name", "phone": "phone", "身份证号": "id", "电子邮箱": "email", "收货地址 ": "all",
        "客户名称": "name"}
    # in result tables "name" may be a KPI's name: only declared tables mask canonical names
    assert personal_columns(pd.DataFrame(columns=["name", "target"])) == {}


def test_loaded_customers_are_masked_for_display(tmp_path):
    from planlib.data.load import load_source
    from planlib.data.masking import mask_for_display
    from planlib.plan.schema import DataSource

    (tmp_path / "c.csv").write_text(
        "客户编号,客户名称,手机号,身份证号,邮箱,地址\n"
        "C1,张三,+86 138-1234-1234,110105194912310021,zhang@example.com,北京市朝阳区1号\n"
        "C2,欧阳娜娜,１３９００００１１１１,A12345,not-mail,\n", encoding="utf-8")
    loaded = load_source("customers", DataSource(path="c.csv"), tmp_path).frame
    shown = mask_for_display(loaded, "customers")
    assert shown[["name", "phone", "身份证号", "邮箱", "地址"]].to_numpy().tolist() == [
        ["张*", "138****1234", "110***********0021", "z***@example.com", "****"],
        ["欧阳**", "139****1111", "****", "****", ""],
    ]
    assert loaded["phone"].iloc[0] == "+86 138-1234-1234"  # analysis keeps the real values


def test_unmasked_export_is_explicit_logged_and_private(tmp_path):
    import json

    from openpyxl import load_workbook

    from planlib.errors import PlanError
    from planlib.run.contacts import ExportRefused, export_unmasked

    df = pd.DataFrame({"customer_id": ["C1"], "name": ["张三"], "phone": ["13812341234"]})
    with pytest.raises(ExportRefused, match="申请人"):
        export_unmasked(df, tmp_path, name="call-list", requested_by="", reason="电话邀约")
    with pytest.raises(PlanError, match="文件名"):
        export_unmasked(df, tmp_path, name="../report", requested_by="销售部 王经理", reason="电话邀约")
    assert not (tmp_path / "private").exists()

    out = export_unmasked(df, tmp_path, name="call-list", requested_by="销售部 王经理", reason="T3 电话邀约",
                          user="planner")
    assert out == tmp_path / "private" / "call-list.xlsx"
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    rows = list(load_workbook(out).active.values)
    assert rows == [("客户编号", "客户名称", "手机号"), ("C1", "张三", "13812341234")]
    [record] = [json.loads(line) for line in (tmp_path / "private/export-log.jsonl").read_text().splitlines()]
    assert record["requested_by"] == "销售部 王经理" and record["reason"] == "T3 电话邀约"
    assert record["user"] == "planner" and record["rows"] == 1 and record["file"] == "call-list.xlsx"
    assert record["personal_columns"] == ["name", "phone"] and "13812341234" not in json.dumps(record)
    assert "time" in record

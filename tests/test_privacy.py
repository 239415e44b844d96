"""Masking personal information for display (planlib.privacy)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from planlib.privacy import mask_email, mask_frame, mask_id, mask_name, mask_names, mask_phone, mask_phones


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


def test_mask_frame_is_vectorised_enough():
    n = 100_000
    df = pd.DataFrame({"name": ["欧阳娜娜", "张三"] * (n // 2), "phone": ["13812341234"] * n})
    start = time.perf_counter()
    out = mask_frame(df)
    assert time.perf_counter() - start < 3
    assert out["name"].iloc[0] == "欧阳**" and out["phone"].iloc[-1] == "138****1234"

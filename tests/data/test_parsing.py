"""Value parsers for messy exports (planlib.data.parsing)."""

from __future__ import annotations

import pandas as pd

from planlib.data.parsing import missing_mask, parse_bool, parse_datetime, parse_int, parse_money


def s(*values: str) -> pd.Series:
    return pd.Series(values, dtype="str")


def test_money_in_the_forms_exports_write():
    values, bad = parse_money(s("1200", "￥1,200", "¥1,200.50", "1,200", "(1,200)", "１２０.５", "-3.5",
                                "1200元", "RMB 99", ""))
    assert values.tolist()[:9] == [1200, 1200, 1200.5, 1200, -1200, 120.5, -3.5, 1200, 99]
    assert pd.isna(values.iloc[9]) and not bad.any()


def test_money_that_cannot_be_read_is_marked():
    values, bad = parse_money(s("abc", "1.2.3", "inf", "NA", "12"))
    assert bad.tolist() == [True, True, True, False, False]
    assert values.iloc[4] == 12


def test_dates_and_times():
    values, bad = parse_datetime(s("2024-04-01", "2024/4/1", "2024年4月1日", "2024.4.1", "2024-04-01 10:05",
                                   "2024/4/1 10:05:09", "2024年4月1日 10时05分", "２０２４-０４-０１", "45383", ""))
    assert not bad.any()
    assert str(values.dtype) == "datetime64[ns]"
    day = pd.Timestamp("2024-04-01")
    assert values.tolist()[:4] == [day] * 4
    assert values.iloc[4] == values.iloc[6] == pd.Timestamp("2024-04-01 10:05")
    assert values.iloc[5] == pd.Timestamp("2024-04-01 10:05:09")
    assert values.iloc[7] == day and values.iloc[8] == day  # Excel serial day 45383
    assert pd.isna(values.iloc[9])


def test_impossible_dates_are_marked():
    _, bad = parse_datetime(s("2024-02-30", "明天", "2024-04-01", "-"))
    assert bad.tolist() == [True, True, False, False]


def test_mixed_time_zones_do_not_crash():
    values, bad = parse_datetime(s("2024-04-01T10:00:00+08:00", "2024-04-01"))
    assert bad.tolist() == [True, False]
    assert values.iloc[1] == pd.Timestamp("2024-04-01")


def test_integers_in_range():
    values, bad = parse_int(s("10", "4.0", "７", "", "NA", "11", "4.5", "x"), 0, 10)
    assert str(values.dtype) == "Int64"
    assert values.tolist()[:3] == [10, 4, 7]
    assert bad.tolist() == [False, False, False, False, False, True, True, True]


def test_booleans():
    values, bad = parse_bool(s("是", "否", "1", "0", "true", "FALSE", "Y", "n", "", "也许"))
    assert values.tolist() == [True, False, True, False, True, False, True, False, False, False]
    assert bad.tolist() == [False] * 9 + [True]


def test_missing_placeholders():
    assert missing_mask(s("", "NA", "n/a", "-", "null", "0", "NA123")).tolist() == [
        True, True, True, True, True, False, False]


def test_ids_are_normalised_only_where_needed():
    from planlib.data.parsing import normalise_ids

    values = s("C001", "Ｃ００１", " C 001", "C\u3000001", "NA", "000123")
    assert normalise_ids(values).tolist() == ["C001", "C001", "C001", "C001", "NA", "000123"]
    clean = s("A1", "B2")
    assert normalise_ids(clean) is clean  # the clean column is returned as it is


def test_excel_damaged_ids():
    from planlib.data.parsing import excel_damaged

    assert excel_damaged(s("1.10101E+17", "6.22202E+18", "1E+5", "C1E+5", "E+", "110101199003070021", "")).tolist() == [
        True, True, True, False, False, False, False]


def test_fast_path_keeps_exact_values():
    values, bad = parse_money(s("0.1", "-2.50", "1e3"))
    assert values.tolist() == [0.1, -2.5, 1000.0] and not bad.any()
    stamps, bad = parse_datetime(s("2024-04-01 10:05:09", "2024-04-02"))
    assert stamps.tolist() == [pd.Timestamp("2024-04-01 10:05:09"), pd.Timestamp("2024-04-02")] and not bad.any()
    values, bad = parse_money(s("inf", "1"))  # the fast cast accepts "inf"; the column is re-read and it is marked
    assert bad.tolist() == [True, False]

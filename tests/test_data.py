"""Loading data sources into canonical tables (planlib.data, .readers, .tables)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from planlib.data import load_all, load_source
from planlib.errors import DataError
from planlib.schema import Data, DataSource

DATA = Path(__file__).resolve().parent / "fixtures" / "data"


def load(name: str, path: str, base: Path = DATA, **options):
    return load_source(name, DataSource(path=path, **options), base)


def error_of(name: str, path: str, base: Path = DATA, **options) -> str:
    with pytest.raises(DataError) as info:
        load(name, path, base, **options)
    return str(info.value)


def test_utf8_bom_customers_keep_ids_as_strings():
    result = load("customers", "customers_utf8_bom.csv")
    frame = result.frame
    assert result.encoding == "utf-8-sig"
    assert list(frame.columns) == ["customer_id", "name", "phone", "region", "join_date"]
    assert frame["customer_id"].tolist() == ["000123", "NA", "C000125", "C000126"]  # zeros, "NA", stripped
    assert str(frame["customer_id"].dtype) == "str"
    assert frame["phone"].iloc[1] == "+86 139 1234 5678"
    assert pd.isna(frame["phone"].iloc[2])
    assert str(frame["join_date"].dtype) == "datetime64[ns]"
    assert frame["join_date"].iloc[:3].tolist() == list(pd.to_datetime(["2024-04-01", "2024-04-02", "2024-04-03"]))
    assert result.excluded.to_dict("records") == [{"row": 5, "reason": "空行"}]
    assert result.rows.tolist() == [2, 3, 4, 6]


def test_gbk_transactions_with_yuan_signs_and_total_row():
    result = load("transactions", "transactions_gbk.csv")
    frame = result.frame
    assert result.encoding == "gb18030"
    assert result.columns["amount"] == "订单金额(元)" and result.columns["customer_id"] == "会员编号"
    assert frame["amount"].tolist() == [1200.0, 1200.5, -300.0, 120.0]
    assert frame["order_date"].tolist()[3] == pd.Timestamp("2024-04-04 10:30")
    assert frame["customer_id"].tolist()[0] == "000123"
    assert result.excluded.to_dict("records") == [{"row": 6, "reason": "空行"}, {"row": 7, "reason": "合计行"}]


def test_explicit_wrong_encoding_is_an_error_not_mojibake():
    message = error_of("transactions", "transactions_gbk.csv", encoding="utf-8")
    assert "transactions_gbk.csv" in message and "utf-8" in message and "encoding" in message


def test_undecodable_file_is_an_error(tmp_path):
    (tmp_path / "utf16.csv").write_bytes("客户编号,客户名称\nC1,张三\n".encode("utf-16"))
    assert "无法按" in error_of("customers", "utf16.csv", tmp_path)


def test_text_that_only_gb18030_accepts_gets_an_encoding_hint(tmp_path):
    # Big5 bytes decode as GB18030, but to the wrong characters.
    (tmp_path / "big5.csv").write_bytes("客戶編號,姓名\nC1,陳大文\n".encode("big5"))
    message = error_of("customers", "big5.csv", tmp_path)
    assert "customer_id" in message and "乱码" in message


def test_title_row_above_the_header():
    result = load("transactions", "transactions_title_row.csv")
    assert result.header_row == 2
    assert result.rows.tolist() == [3, 4]
    assert result.frame["amount"].tolist() == [100.0, -20.5]


def test_bad_values_name_file_row_column_and_value():
    message = error_of("transactions", "transactions_bad_values.csv")
    lines = message.splitlines()
    assert lines[0].startswith("transactions_bad_values.csv") and "4 个单元格" in lines[0]
    assert "第 3 行, 列「下单日期」" in message and "'2024-13-01'" in message
    assert "第 4 行, 列「消费金额」" in message and "'abc'" in message
    assert "第 5 行, 列「客户编号」: 缺少值" in message
    assert "第 6 行, 列「消费金额」: 缺少值" in message
    assert "Traceback" not in message


def test_many_bad_values_show_ten_examples_and_the_count(tmp_path):
    rows = "\n".join(f"O{i},C{i},2024-04-01,{'x' if i % 2 else i}" for i in range(40))
    (tmp_path / "t.csv").write_text("订单编号,客户编号,下单日期,消费金额\n" + rows + "\n", encoding="utf-8")
    lines = error_of("transactions", "t.csv", tmp_path).splitlines()
    assert "有 20 个单元格无法使用,以下是前 10 个" in lines[0]
    assert len(lines) == 11
    assert "第 3 行" in lines[1]  # first bad cell: data row 2 (O1) is Excel row 3


def test_duplicate_customer_ids_list_ids_and_rows():
    message = error_of("customers", "customers_duplicate_ids.csv")
    assert "2 个编号出现不止一次" in message
    assert "C001: 出现在第 2、4 行" in message and "C002: 出现在第 3、6 行" in message


def test_missing_column_names_headers_found_and_suggests_mapping():
    message = error_of("customers", "customers_custom_headers.csv")
    assert "customers_custom_headers.csv" in message
    assert "customer_id" in message and "Member No、Full Name、Mobile、Tier" in message
    assert "columns" in message
    assert "乱码" not in message  # valid UTF-8: the encoding is not the problem


def test_plan_mapping_wins_and_extra_columns_stay():
    result = load("customers", "customers_custom_headers.csv",
                  columns={"Member No": "customer_id", "Full Name": "name"})
    frame = result.frame
    assert list(frame.columns) == ["customer_id", "name", "phone", "region", "join_date", "Tier"]
    assert frame["customer_id"].tolist() == ["00042", "00043"]
    assert frame["phone"].tolist() == ["13700001234", "13700005678"]  # "Mobile" by default
    assert result.absent == ("region", "join_date")
    assert frame["region"].isna().all() and str(frame["join_date"].dtype) == "datetime64[ns]"


def test_mapping_to_unknown_header_or_column_is_reported():
    message = error_of("customers", "customers_custom_headers.csv",
                       columns={"Member No": "customer_id", "Nme": "name", "Tier": "tier"})
    assert "文件中没有列 'Nme'" in message and "Member No、Full Name" in message
    assert "'tier' 不是 customers 表的标准列名" in message


def test_english_headers_and_blank_variants():
    frame = load("interactions", "interactions_english.csv").frame
    assert frame["variant"].tolist() == ["A", "", ""]
    assert frame["sent_at"].iloc[2] == pd.Timestamp("2024-04-05 20:00")
    assert frame["clicked_at"].isna().tolist() == [True, False, True]
    assert all(str(frame[c].dtype) == "datetime64[ns]" for c in ("sent_at", "opened_at", "clicked_at", "responded_at"))


def test_complaint_flags_and_slash_dates():
    frame = load("tickets", "tickets_flags.csv").frame
    assert frame["is_complaint"].tolist() == [True, False, True, False, True, False]
    assert frame["is_complaint"].dtype == bool
    assert frame["created_at"].iloc[0] == pd.Timestamp("2024-04-01 10:05")
    assert pd.isna(frame["resolved_at"].iloc[1])


def test_scores_are_nullable_integers():
    frame = load("surveys", "surveys_scores.csv").frame
    assert str(frame["nps"].dtype) == "Int64" and str(frame["csat"].dtype) == "Int64"
    assert frame["nps"].tolist()[0] == 10 and pd.isna(frame["nps"].iloc[1]) and frame["nps"].iloc[2] == 7
    assert frame["csat"].tolist() == [5, 4, 3]
    assert frame["comment"].tolist() == ["很满意", "", "价格偏高,但服务好"]


def test_out_of_range_score_is_reported(tmp_path):
    (tmp_path / "s.csv").write_text("客户编号,调查日期,NPS\nC1,2024-05-01,11\n", encoding="utf-8")
    assert "第 2 行, 列「NPS」: '11' 不是 0–10 的整数" in error_of("surveys", "s.csv", tmp_path)


def _workbook(path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "明细"
    sheet.append(["2024年4月交易明细"])
    sheet.append(["订单编号", "客户编号", "下单日期", "消费金额", "备注"])
    sheet.append(["O1", "000123", datetime(2024, 4, 1, 10, 30), 1200.5, None])
    sheet.append(["O2", 456, "2024年4月2日", "￥1,000", "补录"])
    sheet.append([None, None, None, None, None])
    sheet.append(["合计", None, None, "=SUM(D3:D4)", None])
    book.create_sheet("空表")
    book.save(path)


def test_xlsx_with_title_row_and_total_row(tmp_path):
    _workbook(tmp_path / "t.xlsx")
    for sheet in (None, "明细", 0):
        result = load("transactions", "t.xlsx", tmp_path, sheet=sheet)
        frame = result.frame
        assert result.header_row == 2 and result.encoding is None
        assert frame["customer_id"].tolist() == ["000123", "456"]
        assert frame["order_date"].tolist() == [pd.Timestamp("2024-04-01 10:30"), pd.Timestamp("2024-04-02")]
        assert frame["amount"].tolist() == [1200.5, 1000.0]
        assert frame["备注"].tolist() == ["", "补录"]
        assert result.excluded.to_dict("records") == [{"row": 5, "reason": "空行"}, {"row": 6, "reason": "合计行"}]


def test_xlsx_sheet_errors(tmp_path):
    _workbook(tmp_path / "t.xlsx")
    assert "可用的工作表: 明细、空表" in error_of("transactions", "t.xlsx", tmp_path, sheet="汇总")
    assert "没有第 5 个工作表" in error_of("transactions", "t.xlsx", tmp_path, sheet=5)
    assert "是空的" in error_of("transactions", "t.xlsx", tmp_path, sheet="空表")


def test_parquet_keeps_stored_types(tmp_path):
    pd.DataFrame({
        "customer_id": ["C1", "C2"], "order_date": pd.to_datetime(["2024-04-01", "2024-04-02"]),
        "amount": [1.5, -2.0],
    }).to_parquet(tmp_path / "t.parquet")
    frame = load("transactions", "t.parquet", tmp_path).frame
    assert frame["amount"].tolist() == [1.5, -2.0]
    assert str(frame["order_date"].dtype) == "datetime64[ns]"
    assert frame["order_id"].isna().all()


def test_format_by_suffix_and_old_excel(tmp_path):
    (tmp_path / "a.xls").write_bytes(b"\xd0\xcf")
    assert ".xlsx" in error_of("customers", "a.xls", tmp_path)
    (tmp_path / "a.dat").write_text("客户编号\nC1\n", encoding="utf-8")
    assert "format" in error_of("customers", "a.dat", tmp_path)
    assert load("customers", "a.dat", tmp_path, format="csv").frame["customer_id"].tolist() == ["C1"]


def test_tab_separated_and_empty_files(tmp_path):
    (tmp_path / "t.txt").write_text("客户编号\t客户名称\nC1\t张三\n", encoding="utf-8")
    assert load("customers", "t.txt", tmp_path).frame["name"].tolist() == ["张三"]
    (tmp_path / "e.csv").write_bytes(b"\xef\xbb\xbf\r\n")
    assert "文件是空的" in error_of("customers", "e.csv", tmp_path)


def test_missing_file_names_the_resolved_path(tmp_path):
    message = error_of("customers", "sub/none.csv", tmp_path)
    assert "sub/none.csv" in message and str(tmp_path) in message


def test_load_all_reports_problems_of_every_file_together():
    data = Data(
        customers=DataSource(path="customers_duplicate_ids.csv"),
        transactions=DataSource(path="transactions_bad_values.csv"),
        surveys=DataSource(path="surveys_scores.csv"),
    )
    with pytest.raises(DataError) as info:
        load_all(data, DATA)
    files = {p.file for p in info.value.problems}
    assert files == {"customers_duplicate_ids.csv", "transactions_bad_values.csv"}


def test_load_all_loads_present_sources_only():
    data = Data(
        customers=DataSource(path="customers_utf8_bom.csv"),
        transactions=DataSource(path="transactions_gbk.csv"),
        tickets=DataSource(path="tickets_flags.csv"),
    )
    loaded = load_all(data, DATA)
    assert list(loaded) == ["customers", "transactions", "tickets"]
    assert np.issubdtype(loaded["transactions"].frame["amount"].dtype, np.floating)

"""Loading data sources into canonical tables (planlib.data.load, .readers, .tables)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES
from openpyxl import Workbook

from planlib.data.load import load_all, load_source
from planlib.errors import DataError
from planlib.plan.schema import Data, DataSource

DATA = FIXTURES / "data"


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
    (tmp_path / "bad.csv").write_bytes(b"\x80\x80,\x80\nC1,\x80\n")
    assert "无法按" in error_of("customers", "bad.csv", tmp_path)


def test_excel_unicode_text_is_utf16_and_tab_separated(tmp_path):
    (tmp_path / "u.txt").write_bytes("客户编号\t客户名称\r\nC1\t张三\r\n".encode("utf-16"))
    result = load("customers", "u.txt", tmp_path)
    assert result.encoding == "utf-16" and result.frame["name"].tolist() == ["张三"]


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


# ---------------------------------------------------------------------------------- real-export traps
def test_xlsx_group_row_above_the_header(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["2024年4月交易明细"])
    sheet.append(["订单信息", None, "下单", "金额"])  # merged group cells: text in the first column only
    sheet.append(["订单编号", "客户编号", None, "消费金额"])  # 下单日期 merged vertically from the row above
    sheet.merge_cells("A2:B2")
    sheet.append(["O1", "C1", "2024-04-01", 100])
    book.save(tmp_path / "m.xlsx")
    result = load("transactions", "m.xlsx", tmp_path, columns={"下单": "order_date"})
    assert result.header_row == 3 and result.rows.tolist() == [4]
    assert result.frame["amount"].tolist() == [100.0] and result.columns["order_date"] == "下单"


def test_xlsx_formula_without_stored_result_names_the_cell(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["订单编号", "客户编号", "下单日期", "单价", "消费金额"])
    sheet.append(["O1", "C1", "2024-04-01", 10, "=D2*2"])  # openpyxl stores no result, as many exporters
    sheet.append(["O2", "C2", "2024-04-02", 5, 30])
    sheet.append(["合计", None, None, None, "=SUM(E2:E3)"])  # a total row: set aside, not an error
    book.save(tmp_path / "f.xlsx")
    message = error_of("transactions", "f.xlsx", tmp_path)
    assert "第 2 行, 列「消费金额」(单元格 E2): 公式 '=D2*2' 没有保存计算结果" in message
    assert "E4" not in message and "保存一次" in message


@pytest.mark.parametrize(("content", "expected"), [
    (b"\xef\xbb\xbf\xe5\xae\xa2\xe6\x88\xb7\xe7\xbc\x96\xe5\x8f\xb7\r\nC1\r\n", "实际是文本文件"),
    ("<html><table><tr><td>客户编号</td></tr></table></html>".encode(), "网页"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "旧版 Excel"),
])
def test_a_file_that_is_not_really_xlsx_says_what_it_is(tmp_path, content, expected):
    (tmp_path / "c.xlsx").write_bytes(content)
    message = error_of("customers", "c.xlsx", tmp_path)
    assert message.count("\n") == 0 and "不是 XLSX 格式" in message and expected in message


def test_declared_encoding_that_does_not_fit_names_the_one_that_does(tmp_path):
    message = error_of("transactions", "transactions_gbk.csv", encoding="utf-8")
    assert "按 gb18030 可以正确读取" in message and "encoding" in message
    (tmp_path / "u.csv").write_text("客户编号,客户名称\nC1,张三丰\nC2,李四光\n", encoding="utf-8")
    assert "按 utf-8-sig 可以正确读取" in error_of("customers", "u.csv", tmp_path, encoding="gbk")


def test_big5_is_read_as_big5_not_as_gb18030_mojibake(tmp_path):
    text = "customer_id,name,region\n" + "".join(f"C{i},陳大文{i},台北市\n" for i in range(8))
    (tmp_path / "b.csv").write_bytes(text.encode("big5"))
    result = load("customers", "b.csv", tmp_path)
    assert result.encoding == "big5" and result.frame["name"].iloc[0] == "陳大文0"
    message = error_of("customers", "b.csv", tmp_path, encoding="gb18030")
    assert "按 big5 可以正确读取" in message


def test_na_is_a_code_and_leading_zeros_stay(tmp_path):
    (tmp_path / "t.csv").write_text("订单编号,客户编号,下单日期,消费金额\nNA,NA,2024-04-01,1\nN/A,007,2024-04-02,2\n",
                                    encoding="utf-8")
    frame = load("transactions", "t.csv", tmp_path).frame
    assert frame["customer_id"].tolist() == ["NA", "007"] and frame["order_id"].tolist() == ["NA", "N/A"]


def test_ids_in_scientific_notation_are_reported_as_damaged_by_excel(tmp_path):
    (tmp_path / "c.csv").write_text("客户编号,客户名称,手机号\n1.10101E+17,张三,13800001111\nC2,李四,1.38E+10\n",
                                    encoding="utf-8")
    message = error_of("customers", "c.csv", tmp_path)
    assert "第 2 行, 列「客户编号」: '1.10101E+17' 是被 Excel 改成科学计数法的编号" in message
    assert "第 3 行, 列「手机号」" in message and "文本" in message
    book = Workbook()
    book.active.append(["客户编号", "客户名称"])
    book.active.append([110101199003070021, "张三"])  # typed into Excel as a number: 15 digits kept
    book.active.append([1001, "李四"])  # a short numeric ID is fine
    book.save(tmp_path / "c.xlsx")
    message = error_of("customers", "c.xlsx", tmp_path)
    assert "'1.10101199003070E+17' 是被 Excel 改成科学计数法的编号" in message and "第 3 行" not in message


def test_duplicate_ids_after_normalising_spaces_and_full_width(tmp_path):
    (tmp_path / "c.csv").write_text("客户编号,客户名称\nC001,张三\nＣ００１,张三\nC 002,李四\nC002 ,李四\n",
                                    encoding="utf-8")
    message = error_of("customers", "c.csv", tmp_path)
    assert "2 个编号出现不止一次" in message and "去掉空格" in message
    assert "C001: 出现在第 2、3 行" in message and "C002: 出现在第 4、5 行" in message
    (tmp_path / "t.csv").write_text("客户编号,下单日期,消费金额\nＣ００１,2024-04-01,1\n", encoding="utf-8")
    assert load("transactions", "t.csv", tmp_path).frame["customer_id"].tolist() == ["C001"]


def test_rows_with_the_wrong_number_of_cells_are_named(tmp_path):
    (tmp_path / "t.csv").write_text("客户编号,下单日期,消费金额\nC1,2024-04-01,1\nC2,2024-04-02,1,200\n",
                                    encoding="utf-8")
    message = error_of("transactions", "t.csv", tmp_path)
    assert "第 3 行: 有 4 列,表头有 3 列" in message and "引号" in message


def test_clean_columns_take_the_fast_path_and_messy_cells_the_slow_one(tmp_path):
    rows = [f"O{i},C{i % 7},2024-04-{1 + i % 28:02d} 10:00:00,{i}.5" for i in range(300)]
    rows[150] = "O150,C3,2024年4月3日,\"￥1,200\""
    (tmp_path / "t.csv").write_text("订单编号,客户编号,下单日期,消费金额\n" + "\n".join(rows) + "\n", encoding="utf-8")
    frame = load("transactions", "t.csv", tmp_path).frame
    assert frame["amount"].iloc[150] == 1200.0 and frame["order_date"].iloc[150] == pd.Timestamp("2024-04-03")
    assert frame["amount"].iloc[151] == 151.5 and frame["order_date"].iloc[0] == pd.Timestamp("2024-04-01 10:00")


# ---------------------------------------------------------------------------------- orders only
def test_without_a_customer_table_the_customer_list_comes_from_the_orders(tmp_path):
    from planlib.data.load import customers_from_transactions

    (tmp_path / "orders.csv").write_text(
        "订单编号,客户编号,下单日期,消费金额,客户名称,手机号\n"
        "O1,C2,2024-04-02,100,李四,13800000002\n"
        "O2,C1,2024-04-01,50,张三,13800000001\n"
        "O3,C2,2024-04-09,80,李四,13900000002\n"  # a newer phone number
        "O4,C1,2024-04-03,20,,\n",
        encoding="utf-8")
    loaded = load_all(Data.model_validate({"transactions": {"path": "orders.csv"}}), tmp_path)
    assert list(loaded) == ["customers", "transactions"]
    customers = loaded["customers"]
    assert customers.derived_from == "transactions"
    frame = customers.frame.set_index("customer_id")
    assert list(frame.index) == ["C2", "C1"]  # one row per customer, in order of first appearance
    assert frame.loc["C2", "phone"] == "13900000002"  # the latest non-empty value
    assert frame.loc["C1", "name"] == "张三"
    assert frame["join_date"].isna().all() and "join_date" in customers.absent  # not invented
    assert str(frame["phone"].dtype) == "str"
    # no personal columns in the export: the list still has every canonical column, empty
    bare = load_source("transactions", DataSource(path="orders.csv", columns={}), tmp_path)
    bare.frame = bare.frame[["order_id", "customer_id", "order_date", "amount"]]
    assert set(customers_from_transactions(bare).absent) == {"name", "phone", "region", "join_date"}


def test_a_plan_needs_only_transactions():
    from pydantic import ValidationError


    assert Data.model_validate({"transactions": {"path": "o.csv"}}).customers is None
    with pytest.raises(ValidationError):
        Data.model_validate({"customers": {"path": "c.csv"}})


def test_an_order_file_given_as_the_customer_table_says_to_drop_data_customers(tmp_path):
    (tmp_path / "orders.csv").write_text("订单编号,客户编号,下单日期,消费金额\nO1,C1,2024-04-01,10\nO2,C1,2024-04-02,20\n",
                                         encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_source("customers", DataSource(path="orders.csv"), tmp_path)
    assert "删除计划中的 data.customers" in str(err.value.problems[0])


def test_the_duplicate_id_check_agrees_with_pandas_on_sorted_unsorted_and_missing_ids():
    """The customers loader looks for duplicate IDs in pyarrow (pandas' ``duplicated`` was the
    loader's peak at 10M customers, issue 17); it answers as pandas does, in every arrangement."""
    from planlib.data.load import _has_duplicates

    rng = np.random.default_rng(3)
    unique = [f"C{i:05d}" for i in range(2000)]
    cases = {
        "sorted": unique, "shuffled": list(rng.permutation(unique)), "one": ["C1"], "none": [],
        "dup sorted": [*unique[:10], unique[9], *unique[10:]], "dup shuffled": list(rng.permutation([*unique, "C00042"])),
        "dup at the ends": ["Z", *unique, "Z"], "case differs": ["a", "A"], "missing twice": ["C1", None, "C2", None],
        "missing once": ["C2", None, "C1"],
    }
    for name, ids in cases.items():
        series = pd.Series(ids, dtype="str")
        assert _has_duplicates(series) == bool(series.duplicated().any()), name
    assert _has_duplicates(pd.Series(["b", "a", "b"], dtype=object))

"""The bad-input suite: every mistake a planner can make gives a clear message and loses nothing.

Each case feeds one broken input — a data export, a plan file, a form save — through the public
functions (``load_source``, ``load_plan``/``validate_files``, ``planlib validate``/``run``,
``modify_yaml``) and asserts two things: the message names the file, the row or field and what
to fix (one readable line, no traceback), and no file was changed, lost or overwritten. Runs and
kernels (timeouts, killed kernels, ``sys.exit(0)``) are covered by the runner's own tests.

Text fixtures live in ``tests/fixtures/bad/``; binary ones (XLSX, other encodings, zips) are
generated here. Cases that currently fail are marked ``xfail(strict=True)`` with the reason, so
fixing them turns the suite red until the mark is removed.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from planlib.cli import main
from planlib.data.load import load_source
from planlib.errors import DataError, PlanError, PlanValidationError
from planlib.forms.save import StalePlanError, file_digest, modify_yaml
from planlib.plan.planfile import load_plan, validate_files
from planlib.plan.schema import DataSource

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BAD = FIXTURES / "bad"
HEADER = "客户编号,客户名称,手机号,地区\n"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its content hash: what "nothing lost" is checked against."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def work(tmp_path) -> Path:
    """A copy of the bad fixtures (and the valid base plan they extend) in a temporary folder."""
    shutil.copytree(BAD, tmp_path / "bad")
    (tmp_path / "plans").mkdir()
    shutil.copy(FIXTURES / "plans" / "valid_base.yaml", tmp_path / "plans")
    return tmp_path / "bad"


def data_error(folder: Path, table: str, name: str, **options) -> str:
    """The message of loading ``name`` as ``table``; the folder must be unchanged afterwards."""
    before = snapshot(folder)
    with pytest.raises(DataError) as info:
        load_source(table, DataSource(path=name, **options), folder)
    assert snapshot(folder) == before, "loading a file must never change a file"
    message = str(info.value)
    assert name in message, "the message must name the file"
    assert "Traceback" not in message
    return message


def loaded(folder: Path, table: str, name: str, **options):
    before = snapshot(folder)
    result = load_source(table, DataSource(path=name, **options), folder)
    assert snapshot(folder) == before
    return result


def xlsx(path: Path, rows: list[list], merge: str | None = None) -> Path:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    book.save(path)
    return path


# --------------------------------------------------------------------------------- data files
def test_empty_file(work):
    assert "文件是空的" in data_error(work, "customers", "empty.csv")


def test_file_with_only_a_bom_and_blank_lines(work):
    assert "文件是空的" in data_error(work, "customers", "bom_only.csv")


def test_header_only_csv(work):
    assert "没有数据行" in data_error(work, "customers", "header_only.csv")


def test_header_only_xlsx(work):
    xlsx(work / "header_only.xlsx", [["客户编号", "客户名称"]])
    assert "没有数据行" in data_error(work, "customers", "header_only.xlsx")


def test_truncated_last_line(work):
    message = data_error(work, "customers", "truncated_line.csv")
    assert "第 4 行" in message and "表头有 4 列" in message and "分隔符" in message


def test_row_with_extra_fields(work):
    """pandas would turn the extra leading fields into the index and shift every column."""
    message = data_error(work, "customers", "extra_fields.csv")
    assert "第 3 行" in message and "有 6 列,表头有 4 列" in message and "双引号" in message


def test_unclosed_quote(work):
    message = data_error(work, "customers", "unclosed_quote.csv")
    assert "第 2 行" in message and "引号" in message


def test_carriage_return_line_ends(work):
    result = loaded(work, "customers", "cr_only.csv")
    assert result.frame["customer_id"].tolist() == ["C1", "C2"]


def test_gb18030_file_declared_as_utf8(work):
    (work / "gbk.csv").write_bytes((HEADER + "C1,张三,13800000001,北京\n").encode("gb18030"))
    message = data_error(work, "customers", "gbk.csv", encoding="utf-8")
    assert "encoding: utf-8" in message and "gb18030" in message and "auto" in message


def test_utf8_file_declared_as_gb18030(work):
    (work / "utf8.csv").write_text("customer_id,name\nC1,张三丰\nC2,李四\n", encoding="utf-8")
    message = data_error(work, "customers", "utf8.csv", encoding="gb18030")
    assert "encoding: gb18030" in message and "utf-8" in message and "auto" in message


def test_big5_export_is_not_read_as_gb18030(work):
    """GB18030 decodes Big5 bytes without error; only the expected header tells them apart."""
    (work / "big5.csv").write_bytes("客戶編號,姓名\nC1,張三\n".encode("big5"))
    result = loaded(work, "customers", "big5.csv", columns={"客戶編號": "customer_id", "姓名": "name"})
    assert result.encoding == "big5" and result.frame["name"].tolist() == ["張三"]


def test_big5_values_are_not_silently_garbled(work):
    """GB18030 decodes Big5 bytes into kana and private-use characters: rejected, and Big5 is tried."""
    (work / "big5_values.csv").write_bytes("customer_id,name\nC1,張三豐\nC2,陳大文\n".encode("big5"))
    result = loaded(work, "customers", "big5_values.csv")
    assert result.encoding == "big5" and result.frame["name"].tolist() == ["張三豐", "陳大文"]


def test_utf16_export_with_bom_is_read(work):
    """Excel's "Unicode text" export: UTF-16 with a byte-order mark."""
    (work / "utf16.csv").write_bytes((HEADER + "C1,张三,13800000001,北京\n").encode("utf-16"))
    result = loaded(work, "customers", "utf16.csv")
    assert result.frame[["customer_id", "name", "region"]].to_numpy().tolist() == [["C1", "张三", "北京"]]


def test_utf16_without_bom_is_refused(work):
    (work / "utf16le.csv").write_bytes((HEADER + "C1,张三,13800000001,北京\n").encode("utf-16-le"))
    message = data_error(work, "customers", "utf16le.csv")
    assert "另存为" in message and "CSV UTF-8" in message


def test_xlsx_that_is_a_csv(work):
    message = data_error(work, "customers", "disguised_csv.xlsx")
    assert "不是 XLSX" in message and "format 改为 csv" in message


def test_xlsx_that_is_a_zip_of_something_else(work):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("客户.txt", "C1,张三")
    (work / "archive.xlsx").write_bytes(buf.getvalue())
    message = data_error(work, "customers", "archive.xlsx")
    assert "XLSX" in message and ".xlsx" in message.split(" — ")[-1]


def test_csv_that_is_an_xlsx(work):
    xlsx(work / "real.xlsx", [["客户编号", "客户名称"], ["C1", "张三"]])
    shutil.copy(work / "real.xlsx", work / "disguised_xlsx.csv")
    message = data_error(work, "customers", "disguised_xlsx.csv")
    assert "不是 CSV" in message and "format 改为 xlsx" in message


def test_parquet_that_is_a_csv(work):
    message = data_error(work, "customers", "not_really.parquet")
    assert "不是 Parquet" in message and "format 改为 csv" in message


def test_old_excel_xls(work):
    (work / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64)
    assert "另存为 .xlsx" in data_error(work, "customers", "old.xls")


def test_unknown_extension(work):
    (work / "export.dat").write_text(HEADER, encoding="utf-8")
    assert "format: csv" in data_error(work, "customers", "export.dat")


def test_missing_file(work):
    message = data_error(work, "customers", "not_there.csv")
    assert "找不到数据文件" in message and "相对于计划文件" in message


def test_merged_title_row_above_the_header(work):
    xlsx(work / "title.xlsx", [["客户清单(2024年6月导出)", None, None], ["客户编号", "客户名称", "手机号"],
                               ["C1", "张三", 13800000001], ["C2", "李四", 13800000002]], merge="A1:C1")
    result = loaded(work, "customers", "title.xlsx")
    assert result.header_row == 2 and result.frame["customer_id"].tolist() == ["C1", "C2"]
    assert result.frame["phone"].tolist() == ["13800000001", "13800000002"]  # not 1.38e10


def test_merged_two_row_header(work):
    xlsx(work / "two_rows.xlsx", [["客户", None, "联系方式"], ["编号", "名称", "手机号"], ["C1", "张三", 13800000001]],
         merge="A1:B1")
    message = data_error(work, "customers", "two_rows.xlsx")
    assert "第 2 行(表头)" in message and "customer_id" in message and "columns:" in message
    assert "编号、名称、手机号" in message  # what the file does have


def test_headers_nobody_recognises(work):
    message = data_error(work, "customers", "unknown_headers.csv")
    assert "缺少必需的列 customer_id" in message and "编号、姓名、电话" in message
    assert "columns: {实际列名: customer_id}" in message


def test_total_row_is_set_aside_and_said(work):
    result = loaded(work, "transactions", "total_row.csv")
    assert result.frame["amount"].sum() == 300  # not 600
    assert result.excluded.to_dict("records") == [{"row": 4, "reason": "合计行"}]


def test_subtotal_rows_in_the_middle(work):
    result = loaded(work, "transactions", "subtotal_rows.csv")
    assert result.frame["customer_id"].tolist() == ["C1", "C2"]
    assert result.excluded["row"].tolist() == [3, 5] and set(result.excluded["reason"]) == {"合计行"}


def test_unreadable_values_name_row_column_and_value(work):
    message = data_error(work, "transactions", "bad_values.csv")
    assert "有 3 个单元格无法使用" in message
    assert "第 2 行, 列「下单日期」: 无法识别的日期/时间 '2024-02-30'" in message
    assert "第 3 行, 列「消费金额」: 无法识别的金额 '一百'" in message
    assert "第 4 行, 列「下单日期」: 缺少值(此列必填)" in message


def test_scores_out_of_range(work):
    message = data_error(work, "surveys", "scores_out_of_range.csv")
    assert "第 2 行, 列「NPS」: '11' 不是 0–10 的整数" in message
    assert "第 3 行, 列「满意度」: '6' 不是 1–5 的整数" in message


def test_duplicate_ids_after_trimming_spaces(work):
    message = data_error(work, "customers", "duplicate_ids_spaces.csv")
    assert "客户编号重复" in message and "客户编号 C001: 出现在第 2、3 行" in message


def test_duplicate_ids_after_full_width_normalisation(work):
    message = data_error(work, "customers", "duplicate_ids_fullwidth.csv")
    assert "客户编号重复" in message and "C001: 出现在第 2、3 行" in message


def test_ids_in_scientific_notation(work):
    message = data_error(work, "customers", "ids_scientific.csv")
    assert "第 2 行, 列「客户编号」: '1.10105E+17'" in message and "科学计数" in message
    assert "第 3 行" in message and "文本" in message


def test_18_digit_ids_stored_as_numbers_in_xlsx(work):
    """Excel keeps 15 significant digits: the id's last digits are gone and must be said so."""
    xlsx(work / "numeric_ids.xlsx", [["客户编号", "客户名称"], [110105194912310021, "张三"]])
    message = data_error(work, "customers", "numeric_ids.xlsx")
    assert "第 2 行, 列「客户编号」" in message and "科学计数" in message and "文本" in message


def test_sheet_that_does_not_exist(work):
    xlsx(work / "sheets.xlsx", [["客户编号", "客户名称"], ["C1", "张三"]])
    message = data_error(work, "customers", "sheets.xlsx", sheet="客户")
    assert "没有名为 '客户' 的工作表" in message and "可用的工作表: Sheet" in message
    assert "没有第 3 个工作表" in data_error(work, "customers", "sheets.xlsx", sheet=3)


def test_empty_sheet(work):
    xlsx(work / "blank.xlsx", [])
    assert "是空的" in data_error(work, "customers", "blank.xlsx")


def test_column_mapping_to_an_unknown_column_or_header(work):
    (work / "c.csv").write_text(HEADER + "C1,张三,13800000001,北京\n", encoding="utf-8")
    message = data_error(work, "customers", "c.csv", columns={"地区": "province"})
    assert "'province' 不是 customers 表的标准列名" in message and "可用: customer_id" in message
    message = data_error(work, "customers", "c.csv", columns={"会员等级": "region"})
    assert "文件中没有列 '会员等级'" in message and "客户编号、客户名称" in message


# --------------------------------------------------------------------------------- plan files
def plan_problems(path: Path) -> str:
    folder = path.parent.parent
    before = snapshot(folder)
    with pytest.raises(PlanValidationError) as info:
        load_plan(path)
    assert snapshot(folder) == before
    assert info.value.problems, "a validation error lists its problems"
    message = str(info.value)
    assert path.name in message
    return message


@pytest.mark.parametrize(("name", "expected"), [
    ("plan_comments_only.yaml", ["文件是空的", "复制一份"]),
    ("plan_top_level_list.yaml", [":1:", "顶层应是键值映射"]),
    ("plan_unknown_key.yaml", [":3: meta.titel: 未知的键 titel", "是不是 title"]),
    ("plan_unknown_section.yaml", [":2: budgett", "是不是 budget"]),
    ("plan_wrong_type.yaml", [":3: budget.limit", "应为数字", "'一万'"]),
    ("plan_thousands.yaml", [":3: budget.limit", "去掉千位分隔符"]),
    ("plan_impossible_date.yaml", [":3: meta.period.start", "2024-02-30 不存在", "只有 29 天"]),
    ("plan_quoted_date.yaml", [":3: meta.period.start", "去掉引号"]),
    ("plan_duplicate_key.yaml", [":4: meta.title", "出现了两次(第 3 行和第 4 行)"]),
    ("plan_tab_indent.yaml", [":3:", "Tab", "空格"]),
    ("plan_merge_key.yaml", ["合并键 <<", "extends"]),
    ("plan_goal_missing_fields.yaml", [":3: goals[0].metric: 缺少必填项", "goals[0].deadline"]),
    ("plan_cycle_a.yaml", ["extends 形成循环", "plan_cycle_b.yaml"]),
    ("plan_norway.yaml", [":3: goals[0].direction", "no", "加引号"]),
    ("plan_alias_bomb.yaml", ["内容过多", "别名"]),
])
def test_plan_file_mistakes(work, name, expected):
    message = plan_problems(work / name)
    for part in expected:
        assert part in message


@pytest.mark.parametrize("name", ["plan_python_apply.yaml", "plan_python_name.yaml"])
def test_python_tags_are_refused_and_never_run(work, monkeypatch, name):
    monkeypatch.chdir(work)
    message = plan_problems(work / name)
    assert ":3: meta.owner: 不允许使用 YAML 标签 !!python/" in message and "删除这个标签" in message
    assert not (work / "planlib-was-here").exists()


def test_plan_not_in_utf8(work):
    path = work / "plan_gbk.yaml"
    path.write_bytes("extends: ../plans/valid_base.yaml\nmeta:\n  title: 测试计划\n".encode("gbk"))
    message = plan_problems(path)
    assert ":3:" in message and "不是 UTF-8 编码" in message and "另存为 UTF-8" in message


def test_plan_that_is_a_binary_file(work):
    path = work / "plan_image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "不是 UTF-8 编码" in plan_problems(path)


def test_validate_files_reports_every_file(work):
    problems = validate_files([work / "plan_unknown_key.yaml", work / "plan_wrong_type.yaml", work / "nope.yaml"])
    files = [Path(p.file).name for p in problems]
    assert files == ["plan_unknown_key.yaml", "plan_wrong_type.yaml", "nope.yaml"]
    assert "文件不存在" in str(problems[-1])


# ------------------------------------------------------------------------------ the command line
def cli(argv: list, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.err


def test_cli_validate_prints_one_line_per_problem(work, capsys):
    code, err = cli(["validate", work / "plan_python_apply.yaml", work / "plan_thousands.yaml"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1] == "共 2 个问题,计划未通过校验。"
    assert lines[0].endswith("删除这个标签;计划文件只能写文字、数字、日期、true/false、列表和映射")
    assert "plan_thousands.yaml:3: budget.limit" in lines[1]


def test_cli_validate_a_missing_plan_and_a_folder(work, capsys):
    code, err = cli(["validate", work / "missing.yaml"], capsys)
    assert code == 2 and "missing.yaml: 文件不存在" in err
    code, err = cli(["validate", work], capsys)
    assert code == 2 and "无法读取文件" in err


def test_cli_run_with_a_broken_plan_starts_nothing_and_keeps_old_outputs(work, tmp_path, capsys):
    outputs = tmp_path / "outputs"
    old = outputs / "test" / "2024Q2"
    old.mkdir(parents=True)
    (old / "report.html").write_text("上一次成功的报告", encoding="utf-8")
    before = snapshot(tmp_path)
    code, err = cli(["run", work / "plan_wrong_type.yaml", "--output-root", outputs], capsys)
    assert code == 2 and "未开始运行" in err and "budget.limit" in err
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in outputs.rglob("*")) == ["2024Q2", "report.html", "test"]


# ---------------------------------------------------------------------------------- form saves
@pytest.fixture
def saved_plan(tmp_path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text("# 手写的注释\nmeta:\n  title: 原来的标题  # 行尾注释\nbudget:\n  limit: 1000\n", encoding="utf-8")
    return path


def set_title(title):
    def change(doc):
        doc["meta"]["title"] = title
    return change


def test_stale_form_save_is_refused_and_keeps_the_other_edit(saved_plan):
    loaded_digest = file_digest(saved_plan)
    saved_plan.write_text(saved_plan.read_text(encoding="utf-8") + "scope: {segment: 编辑器里加的}\n",
                          encoding="utf-8")
    before = saved_plan.read_bytes()
    with pytest.raises(StalePlanError) as info:
        modify_yaml(saved_plan, set_title("表单的标题"), expected_digest=loaded_digest)
    assert "plan.yaml" in str(info.value) and "重新运行表单单元格" in str(info.value)
    assert isinstance(info.value, PlanError)
    assert saved_plan.read_bytes() == before


def test_crash_during_save_leaves_the_old_file_whole(saved_plan):
    before = saved_plan.read_bytes()

    def crash(tmp):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        modify_yaml(saved_plan, set_title("新标题"), expected_digest=file_digest(saved_plan), _before_replace=crash)
    assert saved_plan.read_bytes() == before
    assert not [p for p in saved_plan.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_change_that_fails_writes_nothing(saved_plan):
    before = snapshot(saved_plan.parent)

    def bad_change(doc):
        raise KeyError("goals")

    with pytest.raises(KeyError):
        modify_yaml(saved_plan, bad_change, expected_digest=file_digest(saved_plan))
    after = snapshot(saved_plan.parent)
    assert {k: v for k, v in after.items() if not k.endswith(".lock")} == before


def test_form_save_onto_a_plan_whose_top_level_is_a_list(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("- meta\n- goals\n", encoding="utf-8")
    with pytest.raises(PlanError, match="顶层应是键值映射"):
        modify_yaml(path, set_title("x"), expected_digest=file_digest(path))
    assert path.read_text(encoding="utf-8") == "- meta\n- goals\n"


def test_form_save_keeps_comments_and_the_previous_version(saved_plan):
    before = saved_plan.read_bytes()
    modify_yaml(saved_plan, set_title("新标题"), expected_digest=file_digest(saved_plan))
    text = saved_plan.read_text(encoding="utf-8")
    assert "# 手写的注释" in text and "# 行尾注释" in text and "title: 新标题" in text and "limit: 1000" in text
    backups = list(saved_plan.parent.glob(".plan.yaml.bak/*"))
    assert [b.read_bytes() for b in backups] == [before]


def test_loaded_data_keeps_every_row_it_does_not_report(work):
    """The other side of "nothing lost": rows are either loaded or listed as set aside."""
    pd_rows = len(pd.read_csv(work / "subtotal_rows.csv", dtype=str))
    result = loaded(work, "transactions", "subtotal_rows.csv")
    assert len(result.frame) + len(result.excluded) == pd_rows


def test_form_save_onto_a_plan_with_a_yaml_syntax_error(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("meta:\n  title: a\n   owner: b\n", encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(PlanError) as info:
        modify_yaml(path, set_title("x"), expected_digest=file_digest(path))
    assert "plan.yaml" in str(info.value) and "第 3 行" in str(info.value)
    assert path.read_bytes() == before


def test_form_save_onto_a_plan_not_in_utf8(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_bytes("meta:\n  title: 测试\n".encode("gbk"))
    before = path.read_bytes()
    with pytest.raises(PlanError) as info:
        modify_yaml(path, set_title("x"), expected_digest=file_digest(path))
    assert "UTF-8" in str(info.value)
    assert path.read_bytes() == before

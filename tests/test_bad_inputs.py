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
    assert code == 2 and "这是一个文件夹,不是计划文件" in err


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

    with pytest.raises(PlanError, match="磁盘已满") as info:  # one line for the form's status, not a traceback
        modify_yaml(saved_plan, set_title("新标题"), expected_digest=file_digest(saved_plan), _before_replace=crash)
    assert "\n" not in str(info.value) and "plan.yaml" in str(info.value)
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


# =============================================================================== issue 15
# Attacks on what planlib publishes, writes and reads. Each test names the class of the issue.
def finishes(call, seconds: float = 20):
    """Run ``call`` in a daemon thread; fail (instead of hanging the suite) when it does not return."""
    import threading

    box: dict = {}

    def target():
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still reading after {seconds} s: a FIFO or a device was opened"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# ----------------------------------------------- class 1: personal data past the scan and in free text
@pytest.mark.parametrize(("text", "kind"), [
    ("电话13812345678ab请回电", "phone"),  # letters right next to the number
    ("tel13812345678", "phone"),
    ("微信wx13812345678", "phone"),
    ("138.1234.5678", "phone"),  # separators other than spaces and dashes
    ("138/1234/5678", "phone"),
    ("138_1234_5678", "phone"),
    ("138　1234　5678", "phone"),  # ideographic space
    ("138–1234–5678", "phone"),  # en dash
    ("+86.138.1234.5678", "phone"),
    ("(+86)138 1234 5678", "phone"),
    ("0086-138-1234-5678", "phone"),
    ("010-62345678", "landline"),
    ("(021)64781234", "landline"),
    ("0755 8888 6666", "landline"),
    ("+86 10 6234 5678", "landline"),
    ("0571-88886666转123", "landline"),
    ("110105491231002", "id"),  # 15-digit ID
    ("老身份证 110105-491231-002", "id"),
    ("11010519491231002x", "id"),
    ("证件11010519491231002Xab", "id"),
    ("用户@例子.中国", "email"),  # IDN
    ("zhang@例子.公司", "email"),
    ("user@münchen.de", "email"),
    ("li@example.xn--fiqs8s", "email"),
    ("ｌｉ＠example．com", "email"),
])
def test_scan_finds_personal_data_in_the_usual_chinese_formats(text, kind):
    from planlib.publish.scan import find_in_text

    assert [k for k, *_ in find_in_text(text)] == [kind]


@pytest.mark.parametrize("text", [
    "sha256 a13812345678f0e1d2c3b4a5968778695a4b3c2d1e0f", "耗时 0.13812345678 秒", "金额 13,812,345 元",
    "138****5678", "110***********002X", "z***@example.com", "2024-04-01 至 2024-06-30", "版本 1.13.8",
    "服务器 139.224.123.45", "CLV 138.12345678 元", "0.1234567890",
])
def test_scan_still_leaves_masked_values_digests_and_figures_alone(text):
    from planlib.publish.scan import find_in_text

    assert list(find_in_text(text)) == []


def test_scan_finds_full_names_of_the_customer_table(tmp_path):
    from planlib.publish.scan import customer_names, scan_html

    customers = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "name": ["欧阳娜娜", "王芳", "张*"]})
    page = tmp_path / "report.html"
    page.write_text('<section id="stage-5">\n<p>客户欧阳娜娜说礼品太少</p>\n<td>王芳</td>\n'
                    "<p>高峰期人多,王芳芳不是客户</p>\n<td>张*</td>\n", encoding="utf-8")
    found = scan_html(page, names=customer_names(customers))
    assert [(f.where, f.kind) for f in found] == [("第 2 行 (#stage-5)", "name"), ("第 3 行 (#stage-5)", "name")]
    text = "\n".join(map(str, found))
    assert "未脱敏的客户姓名" in text and "欧阳" not in text and "王" not in text


def test_findings_are_one_line_each_and_never_show_the_value(tmp_path):
    from planlib.publish.scan import PersonalDataFound, scan_html

    page = tmp_path / "report.html"
    page.write_text("<p>客户张三 13812345678 li@例子.中国 身份证110105194912310021</p>\n", encoding="utf-8")
    found = scan_html(page)
    assert sorted(f.kind for f in found) == ["email", "id", "phone"]
    for line in map(str, found):
        assert line.startswith("report.html: 第 1 行") and "\n" not in line
        for shown in ("138", "5678", "li", "例子", "110", "0021", "张三"):
            assert shown not in line.split("html: ")[-1]
    message = str(PersonalDataFound(found))
    assert "13812345678" not in message and "138****5678" not in message and "l***@" not in message


@pytest.mark.parametrize(("comment", "hidden", "kept"), [
    ("礼品太少,打我电话13812345678ab", ["13812345678"], ["礼品太少", "138****5678"]),
    ("价格贵 请联系 +86.139.0000.1111", ["139.0000.1111"], ["价格贵"]),
    ("发票寄到 li@例子.中国", ["li@例子"], ["发票寄到", "l***@例子.中国"]),
    ("身份证 11010519491231002x 退款", ["11010519491231002"], ["退款", "110***********002X"]),
    ("座机 0755-86001234 没人接", ["86001234"], ["座机", "没人接"]),
    ("客户欧阳娜娜说礼品太少", ["娜娜"], ["欧阳**", "礼品太少"]),
    ("王芳说价格贵", ["王芳"], ["王*", "价格贵"]),
])
def test_free_text_is_masked_like_every_personal_column(comment, hidden, kept):
    from planlib.data.masking import mask_for_display, mask_text

    masked = mask_text(comment, ["欧阳娜娜", "王芳"])
    for part in hidden:
        assert part not in masked
    for part in kept:
        assert part in masked
    surveys = pd.DataFrame({"customer_id": ["C1"], "comment": [comment]})
    shown = mask_for_display(surveys, "surveys")["comment"].iloc[0]
    assert hidden[0] not in shown or hidden[0] in ("娜娜", "王芳")  # names need the customer table


def test_the_diagnosis_quotes_comments_masked():
    """Stage 05 quotes the commonest low-score comment in template 4, the report and results/."""
    from planlib.stages.review.analysis import masked_comments
    from planlib.stages.review.diagnose import _theme

    comments = ["礼品太少,打我电话13812345678ab", "礼品太少,打我电话13812345678ab", "礼品太少,打我电话13812345678ab",
                "欧阳娜娜:礼品不实用", "礼品没收到 li@例子.中国"] * 3
    surveys = pd.DataFrame({"customer_id": ["C1"] * len(comments), "csat": [1] * len(comments), "comment": comments})
    customers = pd.DataFrame({"customer_id": ["C1"], "name": ["欧阳娜娜"]})
    masked = masked_comments(surveys, customers)
    text = " ".join(masked["comment"])
    assert "13812345678" not in text and "娜娜" not in text and "li@" not in text
    from conftest import demo_plan

    found = _theme(masked["comment"], demo_plan())
    assert found is not None and "13812345678" not in found[2] and "138****5678" in found[2]
    assert surveys["comment"].iloc[0].endswith("13812345678ab")  # the caller's frame is untouched


def test_review_results_quote_survey_comments_masked(tmp_path, monkeypatch):
    """Through analyse(): template 4's suggestion and results/kpis.parquet never hold the raw comment."""
    from planlib.plan import kpis

    monkeypatch.setattr(kpis, "MIN_BASE", 1)  # the hand-made scenario has 10 customers: judge them anyway
    from conftest import demo_plan
    from stages.review.test_analysis import customers_result, frames

    from planlib.data import results
    from planlib.publish.scan import customer_names, scan_files
    from planlib.stages.review.analysis import analyse

    data = frames()
    data["customers"].loc[0, "name"] = "欧阳娜娜"
    low = pd.DataFrame({"customer_id": ["C01", "C02", "C03", "C04", "C05"],
                        "survey_date": pd.to_datetime(["2024-05-20"] * 5),
                        "nps": pd.array([1] * 5, dtype="Int64"), "csat": pd.array([1] * 5, dtype="Int64"),
                        "comment": ["礼品太少 欧阳娜娜 13812345678ab"] * 3 + ["礼品太少 li@例子.中国"] * 2})
    data["surveys"] = pd.concat([data["surveys"], low], ignore_index=True)
    review = analyse(demo_plan(), data, customers_result())
    quoted = " ".join(review.table["suggestion"].astype(str))
    assert "礼品" in quoted and "138****5678" in quoted
    assert "13812345678" not in quoted and "娜娜" not in quoted
    results.save(tmp_path, "kpis", review.table)
    assert scan_files(sorted(tmp_path.rglob("*.parquet")), customer_names(data["customers"])) == []


def test_any_published_file_list_can_be_scanned(tmp_path):
    from openpyxl import Workbook as Book

    from planlib.publish.scan import published_files, scan_files, scan_run_folder

    run = tmp_path / "2024Q2.failed"
    (run / "results").mkdir(parents=True)
    (run / "exports").mkdir()
    (run / "private").mkdir()
    (run / "pulse-2024-05-01.html").write_text("<p>13812345678</p>", encoding="utf-8")
    (run / "pulse-2024-05-01.json").write_text('{"note": "回电 010-62345678"}', encoding="utf-8")
    pd.DataFrame({"kpi": ["csat"], "suggestion": ["建议回访 li@例子.中国"]}).to_parquet(run / "results" / "review.parquet")
    book = Book()
    book.active.append(["客户", "110105194912310021"])
    book.save(run / "exports" / "list.xlsx")
    (run / "private" / "contacts.html").write_text("13812345678", encoding="utf-8")  # never published
    assert all("private" not in p.parts for p in published_files(run))
    found = scan_run_folder(run)
    assert sorted((f.file, f.kind) for f in found) == [
        ("exports/list.xlsx", "id"), ("pulse-2024-05-01.html", "phone"), ("pulse-2024-05-01.json", "landline"),
        ("results/review.parquet", "email")]
    assert [f.kind for f in scan_files([run / "pulse-2024-05-01.json"])] == ["landline"]


# ----------------------------------------------- class 2: live content in files people open
FORMULA_CELLS = ["=HYPERLINK(\"http://x\",\"点我\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1+1",
                 "\r=1+1", "＝1+1"]


def test_export_contacts_keeps_formulas_as_inert_text(tmp_path):
    from openpyxl import load_workbook

    from planlib.run.contacts import export_unmasked

    df = pd.DataFrame({"customer_id": ["C1", "C2"], "name": FORMULA_CELLS[:2], "phone": ["13812341234", "+8613812341234"]})
    out = export_unmasked(df, tmp_path, name="call", requested_by="销售部 王经理", reason="电话邀约")
    sheet = load_workbook(out).active
    cells = [sheet.cell(row, 2) for row in (2, 3)]
    assert all(c.data_type == "s" and c.value.startswith("'") for c in cells)
    assert cells[0].value == "'" + FORMULA_CELLS[0]


@pytest.mark.parametrize("text", FORMULA_CELLS)
def test_every_xlsx_text_cell_starting_like_a_formula_is_neutralised(tmp_path, text):
    from openpyxl import load_workbook

    from planlib.publish.xlsx import Sheet, write_workbook

    path = write_workbook(tmp_path / "x.xlsx", [Sheet("表", pd.DataFrame({text: [text, "普通文字", -5]}))])
    sheet = load_workbook(path).active
    for cell in (sheet["A1"], sheet["A2"]):  # header and cell (openpyxl reads CR back as _x000D_)
        assert cell.data_type == "s" and cell.value.startswith("'") and cell.value.endswith(text[1:])
    assert sheet["A3"].value == "普通文字" and sheet["A4"].value == -5  # numbers stay numbers


@pytest.mark.parametrize("names", [
    ["VIP", "vip"],  # Excel compares sheet names ignoring case
    ["客户[A]", "a:b", "问*号?", "斜/杠\\"],
    ["'引号'", "it's"],
    ["很长的层级名称" * 6, "很长的层级名称" * 6 + "二"],
    ["History", "", "   "],
])
def test_any_tier_name_gives_valid_unique_sheet_names(tmp_path, names):
    from openpyxl import load_workbook

    from planlib.publish.xlsx import Sheet, write_workbook

    frame = pd.DataFrame({"a": [1]})
    path = write_workbook(tmp_path / "x.xlsx", [Sheet(n, frame) for n in names])
    titles = load_workbook(path).sheetnames
    assert len(titles) == len(names) and len({t.casefold() for t in titles}) == len(titles)
    for title in titles:
        assert 0 < len(title) <= 31 and not set(title) & set("[]:*?/\\") and title[0] != "'" != title[-1]
        assert title.casefold() != "history"


def test_tier_lists_export_whatever_the_tiers_are_called(tmp_path):
    from conftest import rfm_plan
    from openpyxl import load_workbook
    from stages.needs.test_movement import frames

    from planlib.stages.needs import tierlists

    _, current, people = frames()
    plan = rfm_plan(tiers=[{"name": "VIP", "monetary": ">=1000"}, {"name": "vip", "recency_days": ">90"},
                            {"name": "活跃/沉睡[测试]:第一批*?" + "长" * 30, "frequency": ">=1"}])
    current = current.assign(tier=["VIP", "vip", "一般", "一般", "一般", "VIP"], monetary=[10.0] * 6)
    path = tierlists.export_tier_lists(current, people, tmp_path, plan)
    assert len(load_workbook(path).sheetnames) == 4


@pytest.mark.parametrize("control", ["\x0b", "\x0c", "\x1b[31m", "\x00", "\x07", "\x7f", "\x85", "\x1f"])
def test_control_characters_never_reach_the_ics_file(control):
    import icalendar
    from stages.execution.test_exports import demo_plan

    from planlib.stages.execution import calendar as calendar_export

    plan = demo_plan()
    task = plan.tasks[0].model_copy(update={"name": f"发布{control}活动", "owner": f"张{control}经理"})
    plan = plan.model_copy(update={"tasks": [task, *plan.tasks[1:]]})
    text = calendar_export.calendar_text(plan)
    assert not [ch for ch in text if (ord(ch) < 32 and ch not in "\r\n") or 0x7f <= ord(ch) <= 0x9f]
    event = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
    assert "发布" in str(event["SUMMARY"]) and "活动" in str(event["SUMMARY"])


# ----------------------------------------------- class 3: runaway reads
def test_a_data_path_pointing_at_a_fifo_is_refused_not_read(work):
    import os

    os.mkfifo(work / "pipe.csv")
    with pytest.raises(DataError) as info:
        finishes(lambda: load_source("customers", DataSource(path="pipe.csv"), work))
    assert "pipe.csv" in str(info.value) and "不是普通文件" in str(info.value)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_data_path_pointing_at_a_device_is_refused(work, device):
    (work / "zero.csv").symlink_to(device)
    with pytest.raises(DataError, match="不是普通文件"):
        finishes(lambda: load_source("customers", DataSource(path="zero.csv"), work))


def test_data_file_size_is_bounded_and_both_sizes_are_said(work, monkeypatch):
    (work / "big.csv").write_text(HEADER + "".join(f"C{i},张三,13812341234,上海\n" for i in range(50_000)),
                                  encoding="utf-8")
    size = f"{(work / 'big.csv').stat().st_size / 1024 / 1024:.1f} MB"
    with pytest.raises(DataError) as info:
        load_source("customers", DataSource(path="big.csv"), work, max_bytes=1024 * 1024)
    message = str(info.value)
    assert "big.csv" in message and f"有 {size}" in message and "上限 1.0 MB" in message
    assert "PLANLIB_MAX_DATA_MB" in message
    monkeypatch.setenv("PLANLIB_MAX_DATA_MB", "0.5")
    with pytest.raises(DataError, match="超过上限 0.5 MB"):
        load_source("customers", DataSource(path="big.csv"), work)
    monkeypatch.setenv("PLANLIB_MAX_DATA_MB", "3")
    assert len(load_source("customers", DataSource(path="big.csv"), work).frame) == 50_000


def test_an_xlsx_that_unpacks_past_the_limit_is_refused_before_parsing(work):
    path = work / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/sharedStrings.xml", "<sst>" + "A" * (3 * 1024 * 1024) + "</sst>")
    assert path.stat().st_size < 100 * 1024  # a few KB on disk
    with pytest.raises(DataError) as info:
        load_source("customers", DataSource(path="bomb.xlsx"), work, max_bytes=1024 * 1024)
    message = str(info.value)
    assert "bomb.xlsx" in message and "解压后有 3.0 MB" in message and "上限 1.0 MB" in message


def plan_with(work: Path, name: str, text: str) -> Path:
    path = work / name
    path.write_text("extends: ../plans/valid_base.yaml\n" + text, encoding="utf-8")
    return path


def test_validate_refuses_data_files_that_are_fifos_or_devices(work):
    import os

    os.mkfifo(work / "pipe.csv")
    (work / "zero.csv").symlink_to("/dev/zero")
    path = plan_with(work, "plan_fifo.yaml", "data:\n  demo: null\n  customers: {path: pipe.csv}\n"
                                             "  transactions: {path: zero.csv}\n")
    message = finishes(lambda: plan_problems(path))
    assert "data.customers.path" in message and "data.transactions.path" in message
    assert message.count("不是普通文件") == 2


def test_a_plan_path_pointing_at_a_fifo_or_device_is_one_line(work):
    import os

    os.mkfifo(work / "plan_pipe.yaml")
    problems = finishes(lambda: validate_files([work / "plan_pipe.yaml", "/dev/zero"]))
    assert [p.message for p in problems] == ["不是普通文件(管道、设备或套接字),没有读取"] * 2


def test_a_yaml_alias_of_a_large_string_is_bounded_in_bytes(work):
    path = work / "plan_alias_string.yaml"
    path.write_text("extends: ../plans/valid_base.yaml\nmeta:\n  title: &t \"" + "长" * 300_000 + "\"\n"
                    "  departments: [" + ", ".join(["*t"] * 40) + "]\n", encoding="utf-8")
    message = plan_problems(path)
    assert "展开别名后内容超过 8.0 MB" in message and "别名" in message and len(message) < 500


def test_a_huge_plan_file_is_refused_with_its_size(work):
    path = work / "plan_huge.yaml"
    path.write_text("# " + "x" * (3 * 1024 * 1024) + "\nmeta: {}\n", encoding="utf-8")
    message = plan_problems(path)
    assert "3.0 MB" in message and "2.0 MB" in message


# ----------------------------------------------- class 6: plan file edges
@pytest.mark.parametrize(("yaml_text", "where"), [
    ("meta:\n  quarter: ２０２４Q2\n", "meta.quarter"),
    ("meta:\n  quarter: 2024Ｑ2\n", "meta.quarter"),
    ("meta:\n  quarter: 2024Q２\n", "meta.quarter"),
    ("meta:\n  quarter: \"٢٠٢٤Q2\"\n", "meta.quarter"),  # Arabic-Indic digits
    ("meta:\n  unit: ｔｅｓｔ\n", "meta.unit"),
    ("goals:\n  - {id: Ｇ１, name: x, metric: repurchase_30d, segment: 沉睡客户, target: 12, direction: increase,"
     " deadline: 2024-06-30}\n", "goals[0].id"),
])
def test_codes_are_ascii_only(work, yaml_text, where):
    message = plan_problems(plan_with(work, "plan_fullwidth.yaml", yaml_text))
    assert where in message


def test_compare_never_sees_a_full_width_quarter(work, capsys):
    path = plan_with(work, "plan_fullwidth_q.yaml", "meta:\n  quarter: ２０２４Q3\n")
    code, err = cli(["validate", path], capsys)
    assert code == 2 and "meta.quarter" in err


@pytest.mark.parametrize("argv", [
    ["compare", "--quarter", "２０２４Q3"], ["compare", "--quarter", "2024q3"], ["compare", "--unit", "../../etc"],
    ["compare", "--unit", "ｅａｓｔ"], ["new", "plan.yaml", "--quarter", "２０２４Q3"],
])
def test_codes_on_the_command_line_are_ascii_and_never_paths(tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as info:
        main([*argv, "--output-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and ("季度" in err or "单位代码" in err) and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_a_full_width_quarter_folder_is_not_a_published_quarter():
    from planlib.quarters.compare import QUARTER
    from planlib.quarters.nextquarter import parse_quarter

    assert not QUARTER.match("２０２４Q2") and QUARTER.match("2024Q2")
    with pytest.raises(PlanError, match="格式不对"):
        parse_quarter("２０２４Q3")


@pytest.mark.parametrize("char", ["\x07", "\x1b", "\x00", "\x0b", "\x0c", "\x7f", "\x80", "\ufffe"])
def test_a_control_character_in_a_plan_is_one_line_never_a_traceback(work, capsys, char):
    path = work / "plan_control.yaml"
    path.write_text(f"extends: ../plans/valid_base.yaml\n# 注释{char}里\nmeta:\n  title: x\n", encoding="utf-8")
    message = plan_problems(path)
    assert ":2:" in message and "控制字符" in message and "\n" not in message and char not in message
    code, err = cli(["validate", path], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 2  # the problem and the count


@pytest.mark.parametrize("value", [
    '"一万\\nplan_echo.yaml: 校验通过"',  # a forged success line
    '"一万\\e[2J\\e[31m"',  # ESC sequences: clear the screen, colour
    '"一万\\r校验通过"',
    '"一万\\u202e过通验校"',  # right-to-left override
])
def test_values_echoed_by_validate_are_escaped(work, capsys, value):
    path = plan_with(work, "plan_echo.yaml", f"budget:\n  limit: {value}\n")
    code, err = cli(["validate", path], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "budget.limit" in lines[0]
    assert not [ch for ch in err if ch in "\x1b\r\u202e"]
    assert not any(line.startswith("plan_echo.yaml: 校验通过") for line in lines)


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../../../../../../etc/hostname", "link_out.yaml"])
def test_extends_stays_inside_the_project_folder(work, tmp_path, capsys, target):
    (work / "link_out.yaml").symlink_to("/etc/passwd")
    path = work / "plan_extends_out.yaml"
    path.write_text(f"extends: {target}\nmeta:\n  title: x\n", encoding="utf-8")
    message = plan_problems(path)
    assert "extends" in message and "只能继承本项目文件夹" in message and "root:x:" not in message
    code, err = cli(["validate", path], capsys)
    assert code == 2 and "root:x:" not in err and "未知的键" not in err


def test_extends_inside_the_project_still_works(work):
    assert load_plan(plan_with(work, "plan_ok.yaml", "")).plan.meta.unit == "test"


# ----------------------------------------------- class 7: saving from forms
def test_saving_a_symlinked_plan_writes_through_to_its_target(tmp_path):
    real = tmp_path / "shared" / "2024Q2.yaml"
    real.parent.mkdir()
    real.write_text("meta:\n  title: 旧\n", encoding="utf-8")
    link = tmp_path / "plan.yaml"
    link.symlink_to(real)
    modify_yaml(link, set_title("新"), expected_digest=file_digest(link))
    assert link.is_symlink() and "title: 新" in real.read_text(encoding="utf-8")


def test_backups_keep_the_plans_mode_and_owner(saved_plan):
    import os
    import stat

    os.chmod(saved_plan, 0o600)
    if os.geteuid() == 0:
        os.chown(saved_plan, 4321, 4321)
    modify_yaml(saved_plan, set_title("新"), expected_digest=file_digest(saved_plan))
    [backup] = list(saved_plan.parent.glob(".plan.yaml.bak/*"))
    for path in (saved_plan, backup):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        if os.geteuid() == 0:
            assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4321), path
    assert not stat.S_IMODE(backup.parent.stat().st_mode) & 0o077  # a private plan's history is private


@pytest.mark.parametrize(("bom", "newline"), [(b"", "\r\n"), (b"\xef\xbb\xbf", "\n"), (b"\xef\xbb\xbf", "\r\n")])
def test_line_endings_and_bom_are_written_back_as_found(tmp_path, bom, newline):
    path = tmp_path / "plan.yaml"
    path.write_bytes(bom + "# 注释\nmeta:\n  title: 旧  # 行尾\nbudget:\n  limit: 1000\n".replace("\n", newline)
                     .encode("utf-8"))
    modify_yaml(path, set_title("新"), expected_digest=file_digest(path))
    data = path.read_bytes()
    assert data.startswith(bom) and (data.count(b"\xef\xbb\xbf") == (1 if bom else 0))
    body = data[len(bom):].decode("utf-8")
    assert "title: 新" in body and "# 行尾" in body
    if newline == "\r\n":
        assert body.count("\r\n") == body.count("\n") == 5
    else:
        assert "\r" not in body


def test_a_save_into_a_read_only_folder_is_one_line(saved_plan, monkeypatch):
    import errno

    from planlib.forms import save

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(saved_plan.parent))

    before = snapshot(saved_plan.parent)
    monkeypatch.setattr(save.tempfile, "mkstemp", refuse)
    with pytest.raises(PlanError) as info:
        modify_yaml(saved_plan, set_title("新"), expected_digest=file_digest(saved_plan))
    message = str(info.value)
    assert "plan.yaml" in message and "没有写入权限" in message and "\n" not in message
    assert {k: v for k, v in snapshot(saved_plan.parent).items() if not k.endswith(".lock")} == before


def test_the_form_shows_a_failed_save_in_its_status_line(tmp_path, monkeypatch):
    import errno

    from planlib.forms import save
    from planlib.forms.fields import walk
    from planlib.forms.form import PlanForm, sections_for

    plan = tmp_path / "2024Q3.yaml"
    plan.write_text("", encoding="utf-8")
    form = PlanForm(plan, sections_for("05_review"), stage="05_review")
    [editor] = [e for top in form.tops.values() for e in walk(top) if e.path == ("review", "campaign")]
    editor.input.value = "2024Q3-x"

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(save.tempfile, "mkstemp", refuse)
    assert form.save() is False
    assert "只读" in form.status.value and "2024Q3.yaml" in form.status.value


def test_a_form_on_a_fifo_plan_is_one_line_not_a_hang(tmp_path):
    import os

    from planlib.forms.source import PlanSource

    plan = tmp_path / "2024Q2.yaml"
    os.mkfifo(plan)
    with pytest.raises(PlanError, match="不是普通文件") as info:
        finishes(lambda: PlanSource(plan))
    assert "\n" not in str(info.value)
    with pytest.raises(PlanError, match="不是普通文件"):
        finishes(lambda: modify_yaml(plan, set_title("x"), expected_digest=None))


def test_a_planted_backup_folder_link_is_refused(saved_plan, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (saved_plan.parent / ".plan.yaml.bak").symlink_to(elsewhere)
    before = saved_plan.read_bytes()
    with pytest.raises(PlanError, match="符号链接"):
        modify_yaml(saved_plan, set_title("新"), expected_digest=file_digest(saved_plan))
    assert saved_plan.read_bytes() == before and not list(elsewhere.iterdir())


def test_a_base_inside_the_project_cannot_extend_outside_it(work):
    (work / "inner_base.yaml").write_text("extends: /etc/passwd\n", encoding="utf-8")
    path = work / "plan_chain_out.yaml"
    path.write_text("extends: inner_base.yaml\nmeta:\n  title: x\n", encoding="utf-8")
    with pytest.raises(PlanValidationError) as info:
        load_plan(path)
    message = str(info.value)
    assert "inner_base.yaml:1: extends" in message and "只能继承本项目文件夹" in message and "root:x:" not in message


def test_a_form_on_a_plan_extending_outside_the_project_is_refused(tmp_path):
    from planlib.forms.source import PlanSource

    project = tmp_path / "project"
    (project / "parameters" / "east").mkdir(parents=True)
    plan = project / "parameters" / "east" / "2024Q2.yaml"
    plan.write_text("extends: ../../../outside.yaml\n", encoding="utf-8")
    (tmp_path / "outside.yaml").write_text("meta: {title: 别人的文件}\n", encoding="utf-8")
    with pytest.raises(PlanError, match="只能继承本项目文件夹") as info:
        PlanSource(plan)
    assert "别人的文件" not in str(info.value)


def test_keys_echoed_by_validate_are_escaped(work, capsys):
    path = plan_with(work, "plan_key_echo.yaml", 'meta:\n  "titel\\nplan_key_echo.yaml: 校验通过\\e[8m": x\n')
    code, err = cli(["validate", path], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2 and "未知的键" in lines[0] and "\\n" in lines[0] and "\x1b" not in err


def test_a_plan_file_name_with_control_characters_is_echoed_escaped(work, capsys):
    path = plan_with(work, "ok\n\x1b[2Jplan.yaml", "")
    code = main(["validate", str(path)])
    out = capsys.readouterr().out
    [passed] = [line for line in out.splitlines() if "校验通过" in line]
    assert code == 0 and "\x1b" not in out and passed.startswith(str(work)) and "\\x1b[2J" in passed


def test_validate_never_unpacks_an_xlsx_bomb_to_peek_at_its_header(work, capsys, monkeypatch):
    with zipfile.ZipFile(work / "bomb.xlsx", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/sharedStrings.xml", "<sst>" + "A" * (3 * 1024 * 1024) + "</sst>")
    (work / "orders.csv").write_text("订单编号,客户编号,下单日期,金额\nO1,C1,2024-04-02,10\n", encoding="utf-8")
    path = plan_with(work, "plan_bomb.yaml", "data:\n  demo: null\n  customers: {path: bomb.xlsx}\n"
                                             "  transactions: {path: orders.csv}\n")
    monkeypatch.setenv("PLANLIB_MAX_DATA_MB", "1")
    code, err = cli(["validate", path], capsys)
    assert code == 2 and "解压后有 3.0 MB" in err and "上限 1.0 MB" in err

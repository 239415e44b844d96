"""Scanning executed notebooks and reports for unmasked personal data (planlib.publish.scan)."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from planlib.errors import PlanError
from planlib.publish.scan import (
    PersonalDataFound,
    check_outputs,
    find_in_text,
    scan_html,
    scan_notebook,
    scan_outputs,
)

RAW_PHONE = "13812345678"
RAW_ID = "11010519491231002X"


def kinds(text: str) -> list[str]:
    return [kind for kind, *_ in find_in_text(text)]


@pytest.mark.parametrize("text", [
    "电话 13812345678", "+86 138 1234 5678", "+86-138-1234-5678", "8613812345678", "0086 13812345678",
    "（+86）13812345678", "１３８１２３４５６７８", "tel:13812345678.", "<td>13812345678</td>",
])
def test_mobile_numbers_are_found_in_any_common_format(text):
    assert kinds(text) == ["phone"]


@pytest.mark.parametrize("text", [
    "138****5678", "订单 213812345678", "1381234567", "流水号 1381234567890", "12812345678",
    "sha256 a13812345678f0e1d2c3b4a5968778695a4b3c2d1e0f", "耗时 0.13812345678 秒", "金额 13,812,345",
])
def test_masked_or_longer_or_other_numbers_are_not_phones(text):
    assert kinds(text) == []


@pytest.mark.parametrize("text", [RAW_ID, "110105194912310021", "11010519491231002x",
                                  "110105 19491231 002X", "身份证:１１０１０５１９４９１２３１００２Ｘ"])
def test_resident_id_numbers_with_a_birth_date_are_found(text):
    assert kinds(text) == ["id"]


@pytest.mark.parametrize("text", ["110***********002X", "110105194913310021", "110105194912320021",
                                  "1101051949123100211", "000000000000000000"])
def test_masked_ids_and_impossible_dates_are_not_ids(text):
    assert "id" not in kinds(text)


def test_emails_but_not_masked_ones():
    assert kinds("联系 zhang.san+crm@example.com.cn 即可") == ["email"]
    assert kinds("z***@example.com") == []


def test_the_excerpt_never_holds_the_raw_value():
    [(kind, _, _, excerpt)] = find_in_text(f"客户 张三 的电话是 {RAW_PHONE},身份证见附件 1234567")
    assert kind == "phone" and "138****5678" in excerpt
    assert RAW_PHONE not in excerpt and "1234567" not in excerpt
    [(_, _, _, excerpt)] = find_in_text(f"id={RAW_ID}")
    assert excerpt == "id=110***********002X"


def notebook(tmp_path, cells, metadata=None):
    nb = new_notebook(cells=cells, metadata=metadata or {})
    path = tmp_path / "02_needs.ipynb"
    nbformat.write(nb, path)
    return path


def clean_cells():
    return [
        new_markdown_cell("# 客户需求"),
        new_code_cell("show_table(masked)", outputs=[new_output(
            "display_data", data={"text/html": "<td>138****5678</td><td>张*</td>",
                                  "text/plain": "表格", "image/png": "iVBORw0KGgo13812345678AAAA"})]),
    ]


def test_a_notebook_without_personal_data_is_clean(tmp_path):
    assert scan_notebook(notebook(tmp_path, clean_cells(), {"papermill": {"duration": 0.13812345678}})) == []


def test_every_place_in_a_notebook_is_scanned(tmp_path):
    params = new_code_cell(f'plan_path = "x.yaml"\ncontact = "{RAW_PHONE}"\n',
                           metadata={"tags": ["injected-parameters"]})
    html = new_code_cell("show_table(raw)", outputs=[new_output(
        "display_data", data={"text/html": f"<td>{RAW_ID}</td>", "text/plain": "表格"})])
    stream = new_code_cell("print(row)", outputs=[new_output("stream", name="stdout", text="王五 139 0000 1111\n")])
    error = new_code_cell("raise", outputs=[new_output(
        "error", ename="ValueError", evalue="bad row",
        traceback=["\x1b[0;31mValueError\x1b[0m: 行 12: 手机 +86-137-0000-2222 无效"])])
    result = new_code_cell("df", outputs=[new_output(
        "execute_result", data={"text/plain": "0    liu@example.com"}, execution_count=1)])
    path = notebook(tmp_path, [*clean_cells(), params, html, stream, error, result],
                    {"papermill": {"parameters": {"owner_phone": "13600003333"}}})
    found = scan_notebook(path)
    where = {(f.where, f.output, f.kind) for f in found}
    assert where == {
        ("笔记本元数据", "metadata", "phone"),
        ("单元格 2 [injected-parameters]", "source", "phone"),
        ("单元格 3", "text/html", "id"),
        ("单元格 4", "stream:stdout", "phone"),
        ("单元格 5", "error", "phone"),
        ("单元格 6", "text/plain", "email"),
    }
    text = "\n".join(map(str, found))
    assert all(f.file == "02_needs.ipynb" for f in found)
    for raw in (RAW_PHONE, RAW_ID, "139 0000 1111", "137-0000-2222", "13600003333", "liu@example.com"):
        assert raw not in text
    assert "110***********002X" not in text and "未脱敏的身份证号" in text  # where and which kind, never the value


def test_html_findings_name_the_line_and_section(tmp_path):
    path = tmp_path / "report.html"
    path.write_text(
        '<html><body>\n<section id="stage-1"><p>138****5678 张*</p>\n'
        f'<img src="data:image/png;base64,AAAA{RAW_PHONE}AAAA">\n</section>\n'
        f'<section id="stage-2">\n<td>&#49;3812345678</td>\n<td>{RAW_ID}</td>\n</section>\n',
        encoding="utf-8")
    found = scan_html(path)
    assert [(f.where, f.kind) for f in found] == [("第 6 行 (#stage-2)", "phone"), ("第 7 行 (#stage-2)", "id")]
    assert RAW_PHONE not in str(found)


def test_check_outputs_fails_with_the_locations(tmp_path):
    notebook(tmp_path, clean_cells())
    (tmp_path / "report.html").write_text("<p>ok</p>", encoding="utf-8")
    check_outputs(tmp_path)  # clean: no error
    private = tmp_path / "private"
    private.mkdir()
    (private / "list.html").write_text(RAW_PHONE, encoding="utf-8")  # private/ is never published
    check_outputs(tmp_path)

    (tmp_path / "report.html").write_text(f"<p>{RAW_PHONE}</p>", encoding="utf-8")
    assert len(scan_outputs(tmp_path)) == 1
    with pytest.raises(PersonalDataFound) as info:
        check_outputs(tmp_path)
    assert isinstance(info.value, PlanError)
    message = str(info.value)
    assert "report.html: 第 1 行" in message and "未脱敏的手机号" in message
    assert "138****5678" not in message and RAW_PHONE not in message
    assert "没有发布" in message


def test_the_demo_run_publishes_no_personal_data(demo_run):
    """The real stages mask what they show: the published run scans clean."""
    result, _, _ = demo_run
    assert scan_outputs(result.folder) == []


def test_redact_masks_values_in_messages():
    from planlib.publish.scan import redact

    line = f"第 3 行: 有 6 列,表头有 4 列: 'C2,李四,+86 {RAW_PHONE},{RAW_ID},li@example.com,上海'"
    assert redact(line) == "第 3 行: 有 6 列,表头有 4 列: 'C2,李四,138****5678,110***********002X,l***@example.com,上海'"
    assert redact("没有个人信息 2024-04-01 1,200 元") == "没有个人信息 2024-04-01 1,200 元"


def test_withheld_files_leave_the_published_folder(tmp_path):
    from planlib.publish.scan import withhold

    notebook(tmp_path, clean_cells())
    (tmp_path / "report.html").write_text(f"<p>{RAW_PHONE}</p>", encoding="utf-8")
    moved = withhold(tmp_path, scan_outputs(tmp_path))
    assert moved == [tmp_path / "private" / "withheld" / "report.html"]
    assert not (tmp_path / "report.html").exists() and (tmp_path / "02_needs.ipynb").exists()
    assert scan_outputs(tmp_path) == []


def test_the_demo_report_shows_no_customer_name_unmasked(demo_run):
    """Names cannot be found by pattern; compare with the demo's own customer list instead."""
    import pandas as pd

    result, folder, _ = demo_run
    customers = pd.read_csv(folder / "outputs/demo_data/demo/customers.csv", dtype=str, encoding="utf-8-sig")
    names = {n for n in customers["客户名称"].dropna() if len(n) >= 3}
    assert len(names) > 100
    for path in [result.report, *sorted(result.folder.glob("0*.ipynb"))]:
        text = path.read_text(encoding="utf-8")
        shown = sorted(n for n in names if n in text)
        assert shown == [], f"{path.name} shows customer names unmasked: {shown[:3]}"


def test_everything_the_demo_run_publishes_scans_clean_even_for_names(demo_run):
    """Results, exports and pages too, and the customers' full names (scan_run_folder + customer_names)."""
    import pandas as pd

    from planlib.publish.scan import customer_names, published_files, scan_run_folder

    result, folder, _ = demo_run
    customers = pd.read_csv(folder / "outputs/demo_data/demo/customers.csv", dtype=str, encoding="utf-8-sig")
    names = customer_names(customers)
    assert len(names.names) > 100
    assert any(p.suffix == ".parquet" for p in published_files(result.folder))
    found = scan_run_folder(result.folder, names)
    assert found == [], "\n".join(map(str, found[:10]))


def test_a_parquet_scan_finds_what_a_cell_by_cell_scan_finds(tmp_path):
    """The columns are pre-filtered in pyarrow; the findings are those of every cell checked in Python."""
    import random

    import pandas as pd

    from planlib.data.masking import NameIndex
    from planlib.publish.scan import find_in_text, scan_parquet

    rng = random.Random(7)
    tricky = ["13812345678", "客户 138-1234-5678", "１３８１２３４５６７８", "tel 010-62345678", "a@b.cn",
              "用户＠例子.中国", "张三丰来过", "John Smith called", "Smithers", "110101199003074518",
              "C0000001", "2024-01-01 12:00:00", "123456789", "138.12345678", None, ""]
    cells = [rng.choice(tricky) if rng.random() < 0.2 else f"C{rng.randrange(10**7):07d}" for _ in range(3000)]
    frame = pd.DataFrame({"customer_id": pd.Series(cells, dtype="str"), "tier": ["高价值客户"] * 3000,
                          "mixed": [1, "13812345678", None] * 1000})
    path = tmp_path / "customers.parquet"
    frame.astype({"mixed": "str"}).to_parquet(path)
    names = NameIndex(["张三丰", "John Smith"])
    found = {(f.where, f.kind) for f in scan_parquet(path, names=names)}
    expected = {(f"列 {c} 第 {row} 行", kind) for c in frame.columns
                for row, value in frame[c].astype("str").items() if isinstance(value, str)
                for kind, *_ in find_in_text(value, names)}
    assert found == expected and len(expected) > 300

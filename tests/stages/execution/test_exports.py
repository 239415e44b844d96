"""The owners' exports: the .xlsx workbook read back with openpyxl, the .ics parsed with icalendar."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import icalendar
import pandas as pd
import pytest
from conftest import demo_plan
from openpyxl import load_workbook

from planlib.plan.schema import Plan
from planlib.stages.execution import budget, schedule
from planlib.stages.execution import calendar as calendar_export
from planlib.stages.execution import exports as xlsx_export


def workbook(tmp_path: Path, plan: Plan) -> Path:
    path, cpm = schedule.critical_path(plan)
    return xlsx_export.execution_workbook(tmp_path / "out" / "plan.xlsx", schedule.tasks_table(plan),
                                          budget.budget_table(plan), cpm, schedule.checkpoints_table(plan),
                                          title=plan.meta.title)


# ---------------------------------------------------------------------------------- xlsx
def test_xlsx_has_tasks_budget_and_checkpoints_with_real_dates_and_numbers(tmp_path):
    plan = demo_plan()
    wb = load_workbook(workbook(tmp_path, plan))
    assert wb.sheetnames == ["活动执行时间表", "活动预算明细表", "检查点"]
    tasks = wb["活动执行时间表"]
    header = [c.value for c in tasks[1]]
    assert header[:6] == ["编号", "阶段", "任务内容", "负责人", "开始", "结束"]
    assert tasks.max_row == 1 + len(plan.tasks) and tasks.freeze_panes == "A2"
    assert tasks.auto_filter.ref == f"A1:N{1 + len(plan.tasks)}"
    assert tasks.cell(1, 1).font.bold and tasks.cell(1, 1).fill.fgColor.rgb.endswith("EEF2F7")
    assert tasks.column_dimensions["C"].width > tasks.column_dimensions["A"].width  # fits the Chinese task names
    first = [c.value for c in tasks[2]]
    assert first[0] == "T1" and first[3] == "市场部经理"
    assert first[4] == datetime(2024, 4, 1) and tasks.cell(2, 5).number_format == "yyyy-mm-dd"
    crit = header.index("关键路径")
    assert [tasks.cell(r, crit + 1).value for r in range(2, 8)] == ["否", "否", "是", "是", "是", "是"]
    budget = wb["活动预算明细表"]
    rows = list(budget.iter_rows(min_row=2, values_only=True))
    assert rows[-1][0] == "合计" and rows[-1][2] == 10000 and rows[-1][3] == 9700
    assert budget.cell(budget.max_row, 1).font.bold and not budget.cell(2, 1).font.bold
    assert budget.cell(2, 3).number_format == "#,##0.00"
    checks = wb["检查点"]
    assert [c.value for c in checks[1]][:4] == ["检查点", "检查日期", "指标", "预警阈值"]
    assert checks.cell(3, 4).value == "≥60%"


def test_xlsx_keeps_formula_looking_text_as_text(tmp_path):
    plan = demo_plan()
    tasks = [t.model_copy(update={"name": "=HYPERLINK(\"http://x\",\"点我\")"}) if t.id == "T1" else
             t.model_copy(update={"name": "http://example.com/活动"}) if t.id == "T2" else t for t in plan.tasks]
    plan = plan.model_copy(update={"tasks": tasks})
    path = workbook(tmp_path, plan)
    sheet = load_workbook(path)["活动执行时间表"]
    cell = sheet.cell(2, 3)
    assert cell.value.startswith("'=HYPERLINK") and cell.data_type == "s"  # text, neutralised (OWASP)
    link = sheet.cell(3, 3)
    assert link.value == "http://example.com/活动" and link.hyperlink is None  # text, not a link
    assert not list((tmp_path / "out").glob(".*tmp"))  # written atomically


# ---------------------------------------------------------------------------------- ics
def test_ics_parses_back_with_one_all_day_event_per_task():
    plan = demo_plan()
    text = calendar_export.calendar_text(plan, stamp=datetime(2024, 3, 1, 8, 0, tzinfo=UTC))
    cal = icalendar.Calendar.from_ical(text.encode("utf-8"))
    events = list(cal.walk("VEVENT"))
    tasks = [e for e in events if not str(e["SUMMARY"]).startswith("检查点")]
    assert len(tasks) == len(plan.tasks) and len(events) == len(plan.tasks) + len(plan.checkpoints)
    t4 = next(e for e in tasks if str(e["SUMMARY"]).startswith("T4 "))
    assert t4.decoded("DTSTART") == date(2024, 4, 16)
    assert t4.decoded("DTEND") == date(2024, 5, 1)  # exclusive: the day after 04-30
    assert type(t4.decoded("DTSTART")) is date  # all-day, not a date-time
    assert "负责人:客服专员" in str(t4["DESCRIPTION"]) and "前置任务:T2、T3" in str(t4["DESCRIPTION"])
    assert str(cal["VERSION"]) == "2.0" and cal["PRODID"]
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_ics_lines_are_crlf_folded_at_75_octets_and_never_split_a_character():
    plan = demo_plan()
    raw = calendar_export.calendar_text(plan).encode("utf-8")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    lines = raw.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    for line in lines:
        line.decode("utf-8")  # each physical line is valid UTF-8 on its own
    assert any(line.startswith(b" ") for line in lines)  # long Chinese descriptions were folded


def test_ics_escapes_text_and_round_trips_it():
    plan = demo_plan()
    tricky = "核对: 名单, 礼品; 路径 C:\\活动\n第二行"
    tasks = [t.model_copy(update={"done_when": tricky}) if t.id == "T1" else t for t in plan.tasks]
    text = calendar_export.calendar_text(plan.model_copy(update={"tasks": tasks}))
    assert "礼品\\; 路径 C:\\\\活动\\n第二行" in text.replace("\r\n ", "")
    cal = icalendar.Calendar.from_ical(text.encode("utf-8"))
    t1 = next(e for e in cal.walk("VEVENT") if str(e["SUMMARY"]).startswith("T1 "))
    assert f"完成标准:{tricky}" in str(t1["DESCRIPTION"])


def test_ics_uids_are_stable_per_plan_and_task():
    plan = demo_plan()
    one = calendar_export.calendar_text(plan, stamp=datetime(2024, 1, 1, tzinfo=UTC))
    moved = [t.model_copy(update={"start": date(2024, 4, 2)}) if t.id == "T1" else t for t in plan.tasks]
    two = calendar_export.calendar_text(plan.model_copy(update={"tasks": moved}), stamp=datetime(2024, 2, 1, tzinfo=UTC))

    def uids(text):
        return [str(e["UID"]) for e in icalendar.Calendar.from_ical(text.encode()).walk("VEVENT")]

    assert uids(one) == uids(two)  # a re-import updates the events instead of duplicating them
    other_unit = plan.model_copy(update={"meta": plan.meta.model_copy(update={"unit": "east"})})
    assert set(uids(calendar_export.calendar_text(other_unit))).isdisjoint(uids(one))


@pytest.mark.parametrize("text", ["a" * 200, "中" * 100, "a中" * 60, "é" * 80])
def test_fold_unfolds_to_the_original(text):
    folded = calendar_export.fold("DESCRIPTION:" + text)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == "DESCRIPTION:" + text


def test_write_calendar_writes_bytes_atomically(tmp_path):
    path = calendar_export.write_calendar(tmp_path / "x" / "tasks.ics", demo_plan())
    assert path.read_bytes().startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert pd.Series([p.name for p in path.parent.iterdir()]).tolist() == ["tasks.ics"]

"""planlib.publish.display: escaping of data and plan text, number formatting, badges."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from planlib.publish import display

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">点我</a>',
    '"><svg onload=alert(1)>',
]


def assert_inert(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "<svg" not in lowered
    assert "<a " not in lowered
    assert 'href="javascript' not in lowered


@pytest.mark.parametrize("attack", ATTACKS)
def test_table_cells_headers_and_title_are_escaped(attack):
    df = pd.DataFrame({attack: [attack, "正常"], "金额": [1.0, 2.0]})
    html = display.html_table(df, title=attack, labels={"金额": attack})
    assert_inert(html)
    assert display.esc(attack) in html


@pytest.mark.parametrize("attack", ATTACKS)
def test_kv_note_and_badge_are_escaped(attack):
    assert_inert(display.html_kv({attack: attack}, title=attack))
    for kind in display.NOTE_KINDS:
        assert_inert(display.html_note(attack, kind))
    assert_inert(display.badge(attack))


def test_callable_format_output_is_escaped_too():
    html = display.html_table(pd.DataFrame({"x": [1]}), formats={"x": lambda v: "<b>粗</b>"})
    assert "&lt;b&gt;粗&lt;/b&gt;" in html


def test_numbers_thousands_separators_and_right_alignment():
    df = pd.DataFrame({"客户数": [1234567, 12], "金额": [1234.5, 20.0], "名称": ["甲", "乙"]})
    html = display.html_table(df)
    assert '<td class="pl-num">1,234,567</td>' in html
    # one column never mixes "1,234" and "20.00": the column decides its decimals
    assert '<td class="pl-num">1,234.50</td>' in html and '<td class="pl-num">20.00</td>' in html
    assert '<th class="pl-num">金额</th>' in html
    assert "<td>甲</td>" in html


def test_whole_float_columns_show_no_decimals():
    html = display.html_table(pd.DataFrame({"planned": [1000.0, 2500.0]}))
    assert "预算金额(元)" in html  # default Chinese label for a result column
    assert ">2,500<" in html


@pytest.mark.parametrize(("value", "fmt", "expected"), [
    (70, "pct", "70.0%"),
    (0.7, "frac", "70.0%"),
    (1234.567, "money", "1,234.57"),
    (1234.567, "{:,.1f} 元", "1,234.6 元"),
    (0.123, ".0%", "12%"),
    (3, "int", "3"),
    (np.nan, "pct", "—"),
    (None, None, "—"),
    (pd.NaT, None, "—"),
    (math.inf, None, "∞"),
    (True, None, "是"),
    (np.int64(5000), None, "5,000"),
    (pd.Timestamp("2024-04-01"), None, "2024-04-01"),
    (pd.Timestamp("2024-04-01 09:30"), None, "2024-04-01 09:30"),
    (["T1", "T2"], None, "T1、T2"),
])
def test_format_value(value, fmt, expected):
    assert display.format_value(value, fmt) == expected


def test_status_column_becomes_distinct_badges():
    df = pd.DataFrame({"name": ["a", "b", "c", "d"], "status": ["超达成", "达成", "未达成", None]})
    html = display.html_table(df)
    for cls in ("over", "met", "missed", "nodata"):
        assert f"pl-badge-{cls}" in html
    colours = [display.STATUS_COLORS[s] for s in ("超达成", "达成", "未达成", "无数据")]
    assert len(set(colours)) == 4
    for colour in colours:
        assert colour in display.CSS


def test_rows_beyond_max_rows_are_counted():
    html = display.html_table(pd.DataFrame({"n": range(120)}), max_rows=50)
    assert html.count("<tr>") == 51  # header + 50 rows
    assert "另有 70 行未显示(共 120 行)" in html


def test_empty_frame_says_no_data():
    assert "无数据" in display.html_table(pd.DataFrame({"a": []}))


def test_meaningful_index_is_shown():
    df = pd.DataFrame({"客户数": [3]}, index=pd.Index(["高价值客户"], name="tier"))
    html = display.html_table(df)
    assert "<th>所属层级</th>" in html and "高价值客户" in html


def test_unknown_note_kind_is_a_bug():
    with pytest.raises(ValueError):
        display.html_note("x", kind="fatal")


def test_show_functions_publish_html(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    display.show_table(pd.DataFrame({"a": [1]}), title="表")
    display.show_kv({"a": 1})
    display.show_note("好", "ok")
    assert len(shown) == 3
    assert all("<style>" in s["text/html"] and "pl-" in s["text/html"] for s in shown)


def test_columns_pick_and_order():
    df = pd.DataFrame({"a": [1], "b": [2], "c": [3]})
    html = display.html_table(df, columns=["c", "a"])
    assert html.index(">c<") < html.index(">a<") and ">b<" not in html


@pytest.mark.parametrize("attack", ATTACKS)
def test_findings_list_escaped_or_ok_note(attack):
    html = display.html_findings([attack, "预算超支 1,200 元"])
    assert_inert(html)
    assert "共 2 项" in html and "pl-note-warn" in html
    assert "pl-note-ok" in display.html_findings([], ok="全部通过")
    assert display.html_findings([]) == ""
    assert "<li>" not in display.html_findings(["只有一项"], kind="info")

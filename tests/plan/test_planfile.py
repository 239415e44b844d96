"""Loading plan files: YAML traps, extends, schema errors in Chinese, cross-field checks."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import FIXTURES

from planlib.errors import PlanValidationError, Problem
from planlib.plan.planfile import load_plan, validate_files

PLANS = FIXTURES / "plans"


def problems_of(path: str | Path) -> list[Problem]:
    with pytest.raises(PlanValidationError) as info:
        load_plan(PLANS / path if isinstance(path, str) else path)
    return info.value.problems


def the_problem(path: str | Path) -> Problem:
    problems = problems_of(path)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def test_demo_plan_loads_clean(demo_plan_path):
    loaded = load_plan(demo_plan_path)
    assert loaded.path == demo_plan_path
    assert loaded.files == [demo_plan_path, demo_plan_path.parent / "base.yaml"]
    assert loaded.base_dir == demo_plan_path.parent
    assert loaded.plan.meta.unit == "demo" and loaded.plan.meta.quarter == "2024Q2"
    assert loaded.resolve("a/../b.csv") == demo_plan_path.parent / "b.csv"
    assert "extends" not in loaded.data


def test_digest_is_stable_and_follows_the_content():
    first, again = load_plan(PLANS / "valid_base.yaml"), load_plan(PLANS / "valid_base.yaml")
    assert len(first.digest) == 64 and first.digest == again.digest
    assert load_plan(PLANS / "leading_zero_text.yaml").digest != first.digest


def test_extends_chains_merges_mappings_and_replaces_lists():
    loaded = load_plan(PLANS / "extends_chain.yaml")
    assert [f.name for f in loaded.files] == ["extends_chain.yaml", "override.yaml", "valid_base.yaml"]
    meta = loaded.plan.meta
    assert (meta.title, meta.owner, meta.unit) == ("链式继承的计划", "覆盖后的负责人", "test")
    assert [t.id for t in loaded.plan.tasks] == ["T9"]


def test_core_tags_are_honoured():
    loaded = load_plan(PLANS / "core_tags.yaml")
    assert loaded.plan.meta.owner == "12"
    assert loaded.plan.budget.limit == 1000.0


def test_leading_zero_stays_text_in_a_text_field():
    assert load_plan(PLANS / "leading_zero_text.yaml").plan.meta.owner == "0123"


@pytest.mark.parametrize(
    ("fixture", "file", "line", "where", "message", "hint"),
    [
        ("thousands_separator.yaml", "thousands_separator.yaml", 3, "budget.limit", "'1,200'", "写成 1200"),
        ("leading_zero.yaml", "leading_zero.yaml", 5, "budget.limit", "'0800'", "写成 800"),
        ("impossible_date.yaml", "impossible_date.yaml", 3, "meta.period.end", "2024-02-30 不存在", "29 天"),
        ("duplicate_key.yaml", "duplicate_key.yaml", 5, "meta.owner", "第 3 行和第 5 行", "只保留后一处"),
        ("flow_comma.yaml", "flow_comma.yaml", 5, "budget.lines[0].加购10个", "未知的键",
         "写成 note: '参与人数超预期,加购10个'"),
        ("syntax_error.yaml", "syntax_error.yaml", 5, "", "方括号没有配对", "[ ]"),
        ("extends_missing.yaml", "extends_missing.yaml", 1, "extends", "no_such_base.yaml 不存在", "相对于本文件"),
        ("extends_cycle_a.yaml", "extends_cycle_b.yaml", 1, "extends",
         "extends_cycle_a.yaml → extends_cycle_b.yaml → extends_cycle_a.yaml", "删除其中一个 extends"),
        ("extends_bad_base.yaml", "bad_base.yaml", 5, "review.sla_minutes", "'五分钟'", "写成数字"),
    ],
)
def test_one_mistake_one_problem(fixture, file, line, where, message, hint):
    problem = the_problem(fixture)
    assert Path(problem.file).name == file
    assert (problem.line, problem.where) == (line, where)
    assert message in problem.message
    assert hint in problem.hint


def test_syntax_error_names_where_the_bracket_opened():
    assert "第 4 行" in the_problem("syntax_error.yaml").message


def test_norway_booleans_are_reported_unless_quoted():
    problems = problems_of("norway.yaml")
    assert [(p.line, p.where) for p in problems] == [(3, "meta.owner"), (4, "meta.departments[1]")]
    assert "'NO'" in problems[0].hint and "true 或 false" in problems[0].hint


def test_dates_in_other_formats_get_the_iso_spelling():
    problems = problems_of("loose_date.yaml")
    assert [(p.line, p.where) for p in problems] == [(4, "meta.period.start"), (5, "meta.period.end")]
    assert "写成 2024-04-01" in problems[0].hint
    assert "写成 2024-06-30" in problems[1].hint


def test_unknown_keys_get_did_you_mean_or_the_valid_keys():
    typo, text = problems_of("unknown_key.yaml")
    assert (typo.line, typo.where, typo.hint) == (3, "meta.titel", "是不是 title?")
    assert (text.line, text.where) == (4, "meta.负责部门")
    assert "加引号" in text.hint and "unit_name" in text.hint


def test_explicit_tags_are_refused_and_never_constructed(tmp_path):
    problems = problems_of("python_tag.yaml")
    assert [(p.line, p.where) for p in problems] == [(3, "meta.owner"), (4, "meta.title")]
    assert "!!python/object/apply:os.system" in problems[0].message
    assert "!foo" in problems[1].message

    marker = tmp_path / "constructed"
    plan = tmp_path / "plan.yaml"
    shutil.copy(PLANS / "valid_base.yaml", tmp_path)
    plan.write_text("extends: valid_base.yaml\nmeta:\n"
                    f"  owner: !!python/object/apply:os.mkdir ['{marker}']\n", encoding="utf-8")
    assert the_problem(plan).where == "meta.owner"
    assert not marker.exists()


def test_missing_required_fields_name_the_chinese_title():
    problems = {p.where: p for p in problems_of("missing_fields.yaml")}
    owner = problems["meta.owner"]
    assert (owner.line, owner.message) == (2, "缺少必填项「负责人」(owner)")
    assert owner.hint == "在 meta 下加上 owner: …"
    assert problems["scope"].line is None and problems["scope"].hint == "在文件顶层加上 scope: …"
    assert set(problems) == {"meta.owner", "scope", "goals", "data", "segmentation", "channels", "budget", "review"}


def test_wrong_types_each_get_a_chinese_message_and_hint():
    problems = problems_of("wrong_types.yaml")
    got = {p.where: (p.line, p.message, p.hint) for p in problems}
    assert len(problems) == len(got) == 9
    assert got["meta.unit"][0] == 3 and "east-retail" in got["meta.unit"][2]
    assert got["meta.quarter"][2] == "例如 2024Q2"
    assert "写成列表,例如 [市场部]" in got["meta.departments"][2]
    assert got["meta.currency"][1] == "「币种」的取值 'RMB' 不在可选范围内" and "CNY" in got["meta.currency"][2]
    assert got["budget.limit"][2] == "去掉引号,写成 1000"
    assert "写成 70" in got["budget.lines[0].planned"][2]
    assert got["segmentation.tiers[0].frequency"][1] == "条件 '五次以上' 无法识别"
    assert "整数" in got["segmentation.rfm.window_days"][1]
    assert got["data.customers.sheet"][1] == "「工作表」应为文字或整数,实际是 1.5"


def test_several_mistakes_are_all_reported_once():
    problems = problems_of("several_mistakes.yaml")
    assert [(p.line, p.where) for p in problems] == [
        (3, "meta.titel"),
        (4, "meta.owner"),
        (5, "meta.period.end"),
        (5, "meta.period.start"),
        (7, "budget.limit"),
        (9, "budget.lines[0].planned"),
        (9, "budget.lines[0].加购10个"),
        (11, "review.control_share"),
        (12, "review.campaign"),
    ]
    assert all(p.file.endswith("several_mistakes.yaml") and p.hint for p in problems)


def test_cross_field_problems_carry_file_and_line():
    problems = problems_of("cross_field.yaml")
    assert [(p.line, p.where) for p in problems] == [
        (4, "tasks[1].phase"),
        (4, "tasks[1].depends_on[0]"),
        (7, "budget.lines"),
        (8, "budget.lines[0].channel"),
    ]
    assert "是不是 中期执行?" in problems[0].hint
    assert "是不是 sms?" in problems[3].hint


def test_missing_data_files_are_problems_without_demo_data():
    problems = problems_of("missing_data_files.yaml")
    assert [(Path(p.file).name, p.line, p.where) for p in problems] == [
        ("valid_base.yaml", 23, "data.customers.path"),
        ("valid_base.yaml", 24, "data.transactions.path"),
    ]
    assert str(PLANS / "customers.csv") in problems[0].message and "data.demo" in problems[0].hint


def test_a_missing_file_is_one_problem():
    problem = the_problem(PLANS / "no_such_plan.yaml")
    assert problem.message == "文件不存在" and problem.line is None


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("meta:\n  owner: 张三\n".encode("gbk"), 2, "文件不是 UTF-8 编码"),
        (b"", None, "文件是空的"),
        (b"- meta\n", 1, "文件顶层应是键值映射"),
        (b"meta:\n\towner: x\n", 2, "Tab"),
    ],
)
def test_unusable_files(tmp_path, content, line, message):
    path = tmp_path / "plan.yaml"
    path.write_bytes(content)
    problem = the_problem(path)
    assert problem.line == line and message in problem.message


def test_validate_files_collects_every_file():
    assert validate_files([PLANS / "valid_base.yaml"]) == []
    problems = validate_files([PLANS / "thousands_separator.yaml", PLANS / "valid_base.yaml", PLANS / "nope.yaml"])
    assert [(Path(p.file).name, p.where) for p in problems] == [
        ("thousands_separator.yaml", "budget.limit"),
        ("nope.yaml", ""),
    ]


def test_error_text_is_one_line_per_problem():
    with pytest.raises(PlanValidationError) as info:
        load_plan(PLANS / "norway.yaml")
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert "norway.yaml:3: meta.owner: " in lines[0]


def test_wrong_values_each_get_a_chinese_message_and_hint():
    got = {p.where: (p.line, p.message, p.hint) for p in problems_of("wrong_values.yaml")}
    assert list(got) == ["meta.language", "background.market", "channels.catalogue",
                         "channels.contact_caps.高价值客户", "data.customers.sheet"]
    assert got["meta.language"][2] == "是不是 en?可选: zh / en"
    assert got["background.market"][1:] == ("「市场环境」不能为空", "填写内容,或删除这一行使用默认值")
    assert got["channels.catalogue"][1] == "「渠道目录」至少要有 1 项,现在有 0 项"
    assert "70 表示 70%" in got["channels.contact_caps.高价值客户"][2]
    assert got["data.customers.sheet"][1] == "「工作表」应为文字或整数,实际是 一组键值"


def test_a_value_overriding_a_reported_base_value_is_still_checked():
    problems = problems_of("extends_norway.yaml")
    assert [(Path(p.file).name, p.line, p.where) for p in problems] == [
        ("extends_norway.yaml", 4, "meta.owner"),
        ("norway.yaml", 3, "meta.owner"),
        ("norway.yaml", 4, "meta.departments[1]"),
    ]
    assert problems[0].hint == "加引号,写成 '123'"


def test_schema_and_cross_field_problems_are_listed_together(tmp_path):
    # a misspelt key (schema) and a task ending before it starts (cross-field): both in one go
    valid = (PLANS / "valid_base.yaml").read_text(encoding="utf-8")
    plan = tmp_path / "plan.yaml"
    plan.write_text(valid, encoding="utf-8")
    loaded = load_plan(plan).plan
    assert loaded.tasks, "the fixture needs a task to break"
    task = loaded.tasks[0]
    bad = valid.replace(f"end: {task.end}", f"end: {task.start - timedelta(days=3)}", 1)
    assert bad != valid
    bad = bad.replace("meta:\n", "meta:\n  titel: 拼错了键名\n", 1)
    plan.write_text(bad, encoding="utf-8")
    messages = [f"{p.where} {p.message}" for p in problems_of(plan)]
    assert any("titel" in m for m in messages), messages
    assert any(m.startswith("tasks[0]") and "早于" in m for m in messages), messages


def test_a_missing_required_value_gives_no_invented_cross_field_problems():
    problems = problems_of("missing_fields.yaml")
    assert all("早于" not in p.message for p in problems)

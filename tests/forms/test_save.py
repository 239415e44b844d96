"""Saving a plan file: comments and order kept, atomic, locked, stale-safe, versions kept."""

from __future__ import annotations

import difflib
import multiprocessing
import os
import shutil
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from planlib.forms.save import StalePlanError, backup_dir, file_digest, merge_into, modify_yaml, plan_lock


@pytest.fixture
def plan(tmp_path, fixtures) -> Path:
    path = tmp_path / "2024Q2.yaml"
    shutil.copy(fixtures / "forms" / "commented.yaml", path)
    return path


def _changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_comments_order_and_quotes_survive_and_only_changed_lines_differ(plan):
    before = plan.read_text(encoding="utf-8")

    def change(doc):
        merge_into(doc, "budget", {"limit": 12000, "lines": [{"category": "物料费", "planned": 1000},
                                                              {"category": "礼品费", "planned": 3500}]})
        merge_into(doc, "meta", {"quarter": "2024Q2", "title": "带引号的标题",
                                 "period": {"start": YAML().load("2024-04-01"), "end": YAML().load("2024-06-30")}})

    modify_yaml(plan, change, expected_digest=file_digest(plan))
    after = plan.read_text(encoding="utf-8")
    assert _changed_lines(before, after) == [
        "-  limit: 10000", "+  limit: 12000",
        "-    - {category: 礼品费, planned: 3000}", "+    - {category: 礼品费, planned: 3500}",
    ]


def test_removed_keys_and_rows_go_and_new_ones_are_appended(plan):
    def change(doc):
        merge_into(doc, "budget", {"limit": 10000, "lines": [{"category": "物料费", "planned": 1000}],
                                   "note": "新增"})

    modify_yaml(plan, change, expected_digest=file_digest(plan))
    data = YAML(typ="safe").load(plan.read_text(encoding="utf-8"))
    assert data["budget"] == {"limit": 10000, "lines": [{"category": "物料费", "planned": 1000}], "note": "新增"}
    assert list(data) == ["extends", "meta", "zeta_last", "budget", "counter"]
    assert "# 手写的文件头注释:保存后必须还在" in plan.read_text(encoding="utf-8")


def test_stale_digest_refuses_and_leaves_the_file_alone(plan):
    loaded = file_digest(plan)
    plan.write_text(plan.read_text(encoding="utf-8") + "# 别人刚加的\n", encoding="utf-8")
    changed = plan.read_bytes()
    with pytest.raises(StalePlanError, match="已被修改"):
        modify_yaml(plan, lambda doc: merge_into(doc, "counter", 5), expected_digest=loaded)
    assert plan.read_bytes() == changed


def test_two_forms_loaded_together_second_save_is_refused(plan):
    loaded = file_digest(plan)
    modify_yaml(plan, lambda doc: merge_into(doc, "counter", 1), expected_digest=loaded)
    with pytest.raises(StalePlanError):
        modify_yaml(plan, lambda doc: merge_into(doc, "counter", 2), expected_digest=loaded)
    assert YAML(typ="safe").load(plan.read_text(encoding="utf-8"))["counter"] == 1


def test_crash_between_write_and_replace_leaves_previous_file_intact(plan):
    before = plan.read_bytes()

    def crash(tmp: Path) -> None:
        assert tmp.read_bytes() != before  # the new content was written (and fsynced) ...
        raise OSError("simulated crash")  # ... but never renamed over the plan

    with pytest.raises(OSError, match="simulated crash"):
        modify_yaml(plan, lambda doc: merge_into(doc, "counter", 9), expected_digest=file_digest(plan),
                    _before_replace=crash)
    assert plan.read_bytes() == before
    assert not [p for p in plan.parent.iterdir() if p.name.endswith(".tmp")]


def test_permissions_are_kept(plan):
    os.chmod(plan, 0o600)
    modify_yaml(plan, lambda doc: merge_into(doc, "counter", 1), expected_digest=file_digest(plan))
    assert stat.S_IMODE(plan.stat().st_mode) == 0o600


def test_last_versions_are_kept_beside_the_file(plan):
    contents = []
    for i in range(1, 8):
        contents.append(plan.read_bytes())
        modify_yaml(plan, lambda doc, i=i: merge_into(doc, "counter", i), expected_digest=file_digest(plan),
                    keep=3)
    kept = sorted(backup_dir(plan).iterdir())
    assert [p.read_bytes() for p in kept] == contents[-3:]


def test_a_new_file_is_created_when_none_was_expected(tmp_path):
    path = tmp_path / "new.yaml"
    modify_yaml(path, lambda doc: merge_into(doc, "meta", {"quarter": "2024Q3"}), expected_digest=None)
    assert YAML(typ="safe").load(path.read_text(encoding="utf-8")) == {"meta": {"quarter": "2024Q3"}}


def _increment(path: Path) -> None:
    modify_yaml(path, lambda doc: doc.__setitem__("counter", doc["counter"] + 1), check=False, keep=2)


def _increment_many(path: str, n: int) -> None:
    for _ in range(n):
        _increment(Path(path))


def test_400_concurrent_updates_from_threads_lose_nothing(plan):
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(_increment, [plan] * 400))
    text = plan.read_text(encoding="utf-8")
    assert YAML(typ="safe").load(text)["counter"] == 400
    assert "# 行尾注释" in text


def test_400_concurrent_updates_from_processes_lose_nothing(plan):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_increment_many, args=(str(plan), 100)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert YAML(typ="safe").load(plan.read_text(encoding="utf-8"))["counter"] == 400


def test_lock_is_exclusive_across_descriptors(plan):
    import fcntl

    from planlib.forms.save import lock_path

    with plan_lock(plan):
        fd = os.open(lock_path(plan), os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)


@pytest.mark.parametrize("text", [
    "meta:\n  quarter: 2024Q2\ngoals:\n- id: G1  # 顶格的列表\n  target: 12\n- id: G2\n  target: 70\n",
    "meta:\n    quarter: 2024Q2\ngoals:\n    - id: G1  # 四格缩进\n      target: 12\n    - id: G2\n      target: 70\n",
    "meta:\n  quarter: 2024Q2\ngoals:\n  - id: G1  # 演示文件的写法\n    target: 12\n  - id: G2\n    target: 70\n",
])
def test_the_files_own_indentation_is_kept(tmp_path, text):
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    modify_yaml(path, lambda doc: doc["goals"][1].__setitem__("target", 75), expected_digest=file_digest(path))
    assert path.read_text(encoding="utf-8") == text.replace("target: 70", "target: 75")


def test_a_file_of_comments_only_keeps_them(tmp_path):
    path = tmp_path / "new.yaml"
    path.write_text("# 新计划\n# 第二行\n", encoding="utf-8")
    modify_yaml(path, lambda doc: merge_into(doc, "review", {"campaign": "x"}), expected_digest=file_digest(path))
    assert path.read_text(encoding="utf-8") == "# 新计划\n# 第二行\nreview:\n  campaign: x\n"


GOALS = """goals:
  - id: G1
    name: 复购
    target: 12

  - id: G2
    name: 满意度
    target: 4.5

# 渠道计划(手写注释)
channels:
  budget: 100
"""


@pytest.mark.parametrize("rows, expected", [
    # a row added: it goes inside the list, the blank line and comment before the next section stay
    ([{"id": "G1", "name": "复购", "target": 12}, {"id": "G2", "name": "满意度", "target": 4.5},
      {"id": "G3", "name": "新目标", "target": 1}],
     GOALS.replace("    target: 4.5\n", "    target: 4.5\n  - id: G3\n    name: 新目标\n    target: 1\n")),
    # the last row deleted: the gap before the next section stays too
    ([{"id": "G1", "name": "复购", "target": 12}],
     GOALS.replace("\n  - id: G2\n    name: 满意度\n    target: 4.5\n", "")),
])
def test_rows_added_or_deleted_at_the_end_keep_the_gap_before_the_next_section(tmp_path, rows, expected):
    path = tmp_path / "plan.yaml"
    path.write_text(GOALS, encoding="utf-8")
    modify_yaml(path, lambda doc: merge_into(doc, "goals", rows), check=False)
    assert path.read_text(encoding="utf-8") == expected

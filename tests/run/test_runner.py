"""End to end: `planlib run` executes the five workbooks with papermill on a small demo.

One successful run (session fixture) is shared by the assertions; failure tests copy it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, make_small_demo

from planlib.cli import main
from planlib.data import results
from planlib.errors import PlanError
from planlib.run.batch import _unchanged_since_success
from planlib.run.folder import plan_lock
from planlib.run.runner import run_plan

pytestmark = pytest.mark.slow


def test_run_publishes_all_five_stages(demo_run):
    result, folder, lines = demo_run
    assert result.ok, [s.__dict__ for s in result.stages]
    published = folder / "outputs" / "demo" / "2024Q2"
    assert result.folder == published
    for stage in results.STAGES:
        nb = nbformat.read(published / f"{stage}.ipynb", as_version=4)
        assert nb.metadata["papermill"]["parameters"]["run_dir"]  # papermill's own record
        assert (published / "results" / f"{stage}.done.json").exists()
    assert any("05_review" in line for line in lines)
    assert not list((folder / "outputs" / "demo").glob(".*staging*"))


def test_manifest_records_parameters_versions_and_timings(demo_run):
    result, _, _ = demo_run
    manifest = json.loads((result.folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "ok"
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["parameters_sha256"])
    assert {"papermill", "nbconvert", "pandas", "python"} <= set(manifest["versions"])
    assert [s["stage"] for s in manifest["stages"]] == list(results.STAGES)
    assert all(s["status"] == "ok" and s["seconds"] > 0 for s in manifest["stages"])


def test_stages_hand_over_real_figures(demo_run):
    result, _, _ = demo_run
    customers = results.load(result.folder, "customers")
    assert len(customers) == 800 and customers["tier"].notna().all()
    assert customers["in_scope"].sum() > 20 and customers.loc[customers["control"], "in_scope"].all()
    kpis = results.load(result.folder, "kpis").set_index("kpi")
    assert set(kpis.index) >= {"participation_rate", "repurchase_30d", "csat", "cost_per_participant"}
    judged = kpis[kpis["status"] != "样本不足"]  # 800 customers: some KPIs rest on fewer than 30 (MIN_BASE)
    assert judged["actual"].notna().all() and len(judged) >= 3
    assert set(kpis["status"]) <= {"超达成", "达成", "未达成", "样本不足"}
    assert (kpis["status"] == "未达成").any() and kpis["status"].isin(["达成", "超达成"]).any()


def test_report_has_every_stage_and_no_code(demo_run):
    result, _, _ = demo_run
    html = result.report.read_text(encoding="utf-8")
    for title in results.STAGE_TITLES.values():
        assert title in html
    assert "<script" not in html.lower()
    assert "open_stage(" not in html and "plan_path" not in html  # no code, no parameters cell
    assert "活动效果评估表" in html and "data:image/png;base64" in html
    assert result.report.stat().st_size < 3_000_000


def test_failed_stage_keeps_last_good_report(demo_run, tmp_path):
    result, folder, _ = demo_run
    work = tmp_path / "w"
    shutil.copytree(folder, work)
    published = work / "outputs" / "demo" / "2024Q2"
    good = (published / "report.html").read_bytes()
    # a CRM export with an amount nobody can read makes stage 01 fail while loading it
    tx = work / "outputs" / "demo_data" / "demo" / "transactions.csv"
    lines = tx.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[5].split(",")
    cells[-1] = "一千二"
    lines[5] = ",".join(cells)
    tx.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")

    failed = run_plan(work / "parameters/demo/2024Q2.yaml", output_root=work / "outputs", log=lambda _: None)
    assert not failed.ok
    assert failed.folder == work / "outputs" / "demo" / "2024Q2.failed"
    assert [s.status for s in failed.stages] == ["failed", "skipped", "skipped", "skipped", "skipped"]
    assert "一千二" in failed.stages[0].error and "第 6 行" in failed.stages[0].error
    assert (published / "report.html").read_bytes() == good  # the last good report is untouched
    banner = (failed.folder / "report.html").read_text(encoding="utf-8")
    assert "失败" in banner and "一千二" in banner
    link = re.search(r'href="#(cell-id=[^"]+)"', banner)  # the banner links to the failing cell
    assert link and f'id="{link.group(1)}"' in banner
    nb = nbformat.read(failed.folder / "01_goals.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))


def test_rerun_one_stage_reuses_earlier_results(demo_run, tmp_path, capsys):
    result, folder, _ = demo_run
    work = tmp_path / "w"
    shutil.copytree(folder, work)
    before = (work / "outputs/demo/2024Q2/results/customers.parquet").read_bytes()
    code = main(["run", str(work / "parameters/demo/2024Q2.yaml"), "--stage", "03",
                 "--output-root", str(work / "outputs")])
    assert code == 0
    out = capsys.readouterr().out
    assert "03_channels" in out and "02_needs" not in out and "report.html" in out
    manifest = json.loads((work / "outputs/demo/2024Q2/manifest.json").read_text(encoding="utf-8"))
    assert [s["status"] for s in manifest["stages"]] == ["reused", "reused", "ok", "reused", "reused"]
    assert (work / "outputs/demo/2024Q2/results/customers.parquet").read_bytes() == before


def test_second_concurrent_run_is_refused(tmp_path):
    with plan_lock(tmp_path, "2024Q2"), pytest.raises(PlanError, match="正在另一个进程中运行"), \
            plan_lock(tmp_path, "2024Q2"):
        pass


def test_cli_refuses_an_invalid_plan_before_running(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("meta:\n  titel: x\n", encoding="utf-8")
    assert main(["run", str(bad), "--output-root", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "meta.titel" in err and "title" in err and "未开始运行" in err
    assert not (tmp_path / "out").exists()


def test_papermill_cli_runs_one_workbook_with_the_run_parameters(demo_run, tmp_path):
    """papermill's own conventions still hold: `papermill NB OUT -f parameters.yaml`."""
    import subprocess
    import sys

    result, _, _ = demo_run
    out = tmp_path / "03.ipynb"
    papermill = Path(sys.executable).with_name("papermill")
    done = subprocess.run([str(papermill), str(ROOT / "workbooks/03_channels.ipynb"), str(out),
                           "-f", str(result.folder / "parameters.yaml"), "--no-progress-bar"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "plan_path" in injected[0].source
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))


def test_export_contacts_is_explicit_logged_and_kept_out_of_the_report(demo_run, tmp_path, capsys):
    result, folder, _ = demo_run
    work = tmp_path / "w"
    shutil.copytree(folder, work)
    plan = work / "parameters/demo/2024Q2.yaml"
    code = main(["export-contacts", str(plan), "--requested-by", "销售部 张经理", "--reason", "Q2 电话邀约",
                 "--output-root", str(work / "outputs")])
    assert code == 0, capsys.readouterr().err
    private = work / "outputs/demo/private"
    [xlsx] = private.glob("2024Q2-*.xlsx")
    import pandas as pd

    table = pd.read_excel(xlsx, dtype=str)
    assert len(table) > 0 and table["手机号"].str.fullmatch(r"1[3-9]\d{9}").all()  # unmasked, on purpose
    log = json.loads((private / "export-log.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert log["requested_by"] == "销售部 张经理" and log["reason"] == "Q2 电话邀约" and log["rows"] == len(table)
    assert "private" not in (work / "outputs/demo/2024Q2/report.html").read_text(encoding="utf-8")
    with pytest.raises(SystemExit):  # who and why are required
        main(["export-contacts", str(plan), "--output-root", str(work / "outputs")])


def test_each_stage_records_what_it_read_and_reuse_needs_it_unchanged(demo_run, tmp_path, capsys):
    _, folder, _ = demo_run
    work = tmp_path / "w"
    shutil.copytree(folder, work)
    plan = work / "parameters/demo/2024Q2.yaml"
    root = work / "outputs"
    args = ["run", str(plan), "--stage", "03", "--output-root", str(root)]
    manifest_path = root / "demo/2024Q2/manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    stages = {s["stage"]: s["inputs"] for s in manifest["stages"]}
    tx = root / "demo_data/demo/transactions.csv"
    # recorded relative to the project, so a copied project recognises its own inputs
    assert "parameters/demo/2024Q2.yaml" in stages["01_goals"] and "parameters/demo/base.yaml" in stages["03_channels"]
    assert "outputs/demo_data/demo/transactions.csv" in stages["01_goals"]
    assert "outputs/demo_data/demo/transactions.csv" in stages["05_review"]
    assert all(str(ROOT / "workbooks" / f"{s}.ipynb") in stages[s] for s in results.STAGES)
    assert _unchanged_since_success(plan, root)

    assert main(args) == 0  # nothing changed: stage 03 re-runs, the others are reused with their record
    again = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert {s["stage"]: s["inputs"] for s in again["stages"]} == stages
    assert [s["status"] for s in again["stages"]] == ["reused", "reused", "ok", "reused", "reused"]
    assert _unchanged_since_success(plan, root)
    capsys.readouterr()

    original = tx.read_bytes()
    tx.write_bytes(original[:original.rstrip(b"\n").rindex(b"\n") + 1])  # the CRM export was refreshed
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"{tx}: 自阶段 01_goals 上次运行以来已修改" in err and "去掉 --stage" in err
    assert len(err.strip().splitlines()) == 1
    assert not _unchanged_since_success(plan, root)
    tx.write_bytes(original)
    assert _unchanged_since_success(plan, root)

    plan.write_text(plan.read_text(encoding="utf-8").replace("{kpi: nps, target: 50}", "{kpi: nps, target: 55}"), encoding="utf-8")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"{plan}: 自阶段 01_goals 上次运行以来已修改" in err and "请完整运行所有阶段" in err
    assert json.loads(manifest_path.read_text(encoding="utf-8")) == again  # nothing re-run, nothing published
    assert not _unchanged_since_success(plan, root)  # and --resume runs it

    # one stage that ran on another version of the plan is enough for --resume to run it again
    plan.write_text(plan.read_text(encoding="utf-8").replace("{kpi: nps, target: 55}", "{kpi: nps, target: 50}"), encoding="utf-8")
    assert _unchanged_since_success(plan, root)
    again["stages"][3]["inputs"][str(plan)] = "0" * 64
    manifest_path.write_text(json.dumps(again), encoding="utf-8")
    assert not _unchanged_since_success(plan, root)


def test_a_read_only_output_folder_is_one_line_for_every_command(demo_run, tmp_path, capsys, read_only):
    result, folder, _ = demo_run
    work = tmp_path / "w"
    shutil.copytree(folder, work)
    plan = str(work / "parameters/demo/2024Q2.yaml")
    empty = read_only(work / "empty")
    outputs = str(read_only(work / "outputs"))  # the published run is there to read; nothing can be written
    for args in (["run", plan, "--output-root", str(empty)],
                 ["run", plan, "--as-of", "2024-05-01", "--output-root", outputs],
                 ["export-contacts", plan, "--requested-by", "销售部 张经理", "--reason", "电话邀约",
                  "--output-root", outputs],
                 ["compare", "--unit", "demo", "--output-root", outputs]):
        assert main(args) == 1, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, (args, err)
        assert "无法写入输出" in err and str(work) in err and ("只读" in err or "权限" in err), (args, err)


def test_personal_data_in_any_published_file_fails_the_run_and_later_plans_still_run(tmp_path, capsys):
    # a phone number in the plan's own title reaches the cover, the first screen, the .ics and the
    # results: none of them is published, the failed folder holds the reasons only, and the next
    # plan on the same command line runs
    first = make_small_demo(tmp_path, customers=300)
    text = first.read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("  title:"))
    first.write_text(text.replace(title, title + " 联系 138-1234-5678"), encoding="utf-8")
    second = make_small_demo(tmp_path, customers=300, unit="east")
    out = tmp_path / "outputs"
    code = main(["run", str(first), str(second), "--output-root", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "StopIteration" not in err
    phone = re.compile(r"138\D{0,2}1234\D{0,2}5678")
    assert "未脱敏的手机号" in err and not phone.search(err)  # where and which kind, never the value
    failed = out / "demo" / "2024Q2.failed"
    assert not (out / "demo" / "2024Q2").exists()
    published = [p for p in failed.rglob("*") if p.is_file() and "private" not in p.relative_to(failed).parts]
    assert (failed / "report.html") in published
    for path in published:
        assert not phone.search(path.read_bytes().decode("utf-8", "replace")), path
    assert (out / "east" / "2024Q2" / "report.html").exists()


def test_names_the_plan_itself_writes_are_not_scanned_for_as_customers():
    """A customer named like a word of the plan (a task owner 王芳, a segment name) is the planner's
    text (its cost — one pass over the plan's text, not one search per customer — is not timed here)."""
    import pandas as pd

    from planlib.run.runner import names_written

    names = pd.Series(["王芳", " 李雷 ", "张三丰", "三丰", None, "", *[f"客户{i:07d}" for i in range(200_000)]])
    plan_text = ["负责人:王芳", "目标:唤醒张三丰们", "客户0000007 是示例"]
    assert names_written(names, plan_text) == {"王芳", "张三丰", "三丰", "客户0000007"}
    assert names_written(names, ["无关的文字"]) == set()

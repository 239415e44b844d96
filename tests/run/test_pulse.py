"""The mid-campaign pulse: data cut at the day, checkpoints judged on their date, overdue tasks, report."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pandas as pd
import pytest
from conftest import build_plan, goal

from planlib.cli import main
from planlib.plan.schema import Plan
from planlib.run import folder, pulse


@pytest.fixture(autouse=True)
def judge_small_samples(monkeypatch):
    """The hand-made campaign has 10 customers, below the minimum base (MIN_BASE = 30): these tests check
    the judging itself; test_a_checkpoint_on_a_handful_of_customers_is_not_judged checks the rule."""
    from planlib.plan import kpis

    monkeypatch.setattr(kpis, "MIN_BASE", 1)


def make_plan() -> Plan:
    return build_plan(
        goals=[goal(metric="participation_rate", target=70.0)],
        checkpoints=[
            {"name": "首周参与率", "due": date(2024, 4, 10), "kpi": "participation_rate", "threshold": 60.0,
             "action": "加发短信", "owner": "客服"},
            {"name": "次周参与率", "due": date(2024, 4, 20), "kpi": "participation_rate", "threshold": 50.0,
             "action": "电话邀约"},
            {"name": "五月参与率", "due": date(2024, 5, 10), "kpi": "participation_rate", "threshold": 90.0,
             "action": "复盘"},
        ],
    )


def frames():
    ids = [f"C{i}" for i in range(10)]
    customers = pd.DataFrame({"customer_id": ids, "in_scope": True, "control": False})
    # 4 respond by 04-10, 3 more by 04-20, 2 more on 04-25 (after the pulse day of 04-22)
    answered = ["2024-04-05"] * 4 + ["2024-04-15"] * 3 + ["2024-04-25"] * 2 + [None]
    inter = pd.DataFrame({
        "customer_id": ids, "campaign": "camp", "channel": "sms", "variant": "",
        "sent_at": pd.Timestamp("2024-04-02"), "opened_at": pd.to_datetime(answered),
        "clicked_at": pd.NaT, "responded_at": pd.to_datetime(answered)})
    return {"interactions": inter.astype({c: "datetime64[ns]" for c in ["sent_at", "opened_at", "clicked_at",
                                                                         "responded_at"]})}, customers


def test_truncate_forgets_what_happened_after_the_day():
    data, _ = frames()
    cut = pulse.truncate(data, date(2024, 4, 15))["interactions"]
    assert cut["responded_at"].notna().sum() == 7  # the 04-15 answers count: the whole day is known
    late = data["interactions"].assign(sent_at=pd.Timestamp("2024-04-16"))
    assert pulse.truncate({"interactions": late}, date(2024, 4, 15))["interactions"].empty
    tx = pd.DataFrame({"order_date": pd.to_datetime(["2024-04-15 23:59", "2024-04-16 00:00", None]), "amount": [1.0, 2, 3]})
    assert pulse.truncate({"transactions": tx}, date(2024, 4, 15))["transactions"]["amount"].tolist() == [1.0, 3.0]


def test_checkpoints_are_judged_on_their_own_date():
    data, customers = frames()
    table, alerts, unjudged = pulse.checkpoint_status(make_plan(), pulse.truncate(data, date(2024, 4, 22)),
                                                      customers, date(2024, 4, 22))
    assert unjudged == []
    rows = table.set_index("checkpoint")
    # 04-10: 4 of 10 = 40 % < 60 % → alert; 04-20: 7 of 10 ≥ 50 % → met; 05-10 not yet due
    assert rows["status"].tolist() == ["未达成", "达成", "—"]
    assert rows.loc["首周参与率", "value_at_due"] == "40%" and rows.loc["首周参与率", "value_now"] == "70%"
    assert rows.loc["五月参与率", "note"] == "18 天后检查;目前低于阈值,需关注"
    assert alerts == ["首周参与率:截至 2024-04-10 目标客户参与率 40%,低于阈值 60%。"
                      "请客服在 48 小时内(最迟 2024-04-12)启动调整:加发短信"]


def test_a_due_checkpoint_without_data_is_a_warning_with_its_reason_never_an_all_clear():
    data, customers = frames()
    other = {"interactions": data["interactions"].assign(campaign="another")}  # wrong campaign code: no records
    table, alerts, unjudged = pulse.checkpoint_status(make_plan(), other, customers, date(2024, 4, 22))
    assert table["status"].tolist() == ["无法判断", "无法判断", "—"]
    assert alerts == [] and len(unjudged) == 2
    assert unjudged[0].startswith("首周参与率:截至 2024-04-10 目标客户参与率无法判断(")
    assert "没有活动 camp 的互动记录" in unjudged[0] and "请客服核对数据" in unjudged[0]
    # the reason is the one of the checkpoint's own date
    assert "2024-04-01~2024-04-10" in table.loc[0, "note"]
    block = pulse.warnings_html(alerts, unjudged, due=2)
    assert "所有已到期的检查点都达到了阈值" not in block and "无法判断" in block and "共 2 项" in block
    assert "达到了阈值" in pulse.warnings_html([], [], due=2)
    assert "还没有到期的检查点" in pulse.warnings_html([], [], due=0)


def test_a_checkpoint_on_a_handful_of_customers_is_not_judged(monkeypatch):
    from planlib.plan import kpis

    monkeypatch.setattr(kpis, "MIN_BASE", 30)
    data, customers = frames()
    table, alerts, unjudged = pulse.checkpoint_status(make_plan(), pulse.truncate(data, date(2024, 4, 22)),
                                                      customers, date(2024, 4, 22))
    # 4 of 10 = 40 % < 60 % would be an alert: on 10 customers it is no verdict either way
    assert table["status"].tolist() == ["无法判断", "无法判断", "—"] and alerts == []
    assert table.loc[0, "value_at_due"] == "40%" and "样本不足(n=10,少于 30)" in unjudged[0]


def test_progress_has_one_point_per_week_and_the_day(tmp_path):
    data, customers = frames()
    progress = pulse.kpi_progress(make_plan(), pulse.truncate(data, date(2024, 4, 22)), customers, date(2024, 4, 22))
    days = sorted(set(progress["date"]))
    assert days == [pd.Timestamp(d) for d in ("2024-04-07", "2024-04-14", "2024-04-21", "2024-04-22")]
    assert progress.loc[progress["date"] == pd.Timestamp("2024-04-22"), "value"].tolist() == [70.0] * 3


def test_carry_over_keeps_earlier_pulses(tmp_path):
    published, staging = tmp_path / "2024Q2", tmp_path / ".2024Q2.staging"
    published.mkdir()
    staging.mkdir()
    (published / "pulse-2024-05-01.html").write_text("x", encoding="utf-8")
    (published / "report.html").write_text("old", encoding="utf-8")
    folder.carry_over(published, staging)
    assert [p.name for p in staging.iterdir()] == ["pulse-2024-05-01.html"]
    folder.carry_over(tmp_path / "missing", staging)  # first run: nothing to keep


@pytest.mark.slow
def test_demo_pulse_fires_the_participation_alert(demo_run, tmp_path, capsys):
    _, folder, _ = demo_run
    work = tmp_path / "w"
    shutil.copytree(folder, work)
    plan = work / "parameters" / "demo" / "2024Q2.yaml"
    code = main(["run", str(plan), "--as-of", "2024-05-01", "--output-root", str(work / "outputs")])
    out = capsys.readouterr().out
    assert code == 0
    assert "首轮活动后参与率:截至 2024-05-01 目标客户参与率" in out and "低于阈值 60%" in out
    assert "逾期:T4" in out  # T4 ended 04-30 and was done only on 05-03
    run_dir = work / "outputs" / "demo" / "2024Q2"
    record = json.loads((run_dir / "pulse-2024-05-01.json").read_text(encoding="utf-8"))
    assert len(record["alerts"]) == 1 and record["overdue_tasks"][0].startswith("T4 ")
    assert record["unjudged"] == [] and "无法判断 0 项" in out
    html = (run_dir / "pulse-2024-05-01.html").read_text(encoding="utf-8")
    assert "中期检查 2024-05-01" in html and "首轮活动后参与率" in html and "<script" not in html.lower()
    assert (run_dir / "report.html").exists()  # the retrospective is still there, untouched
    # a day before the campaign is refused with one line
    assert main(["run", str(plan), "--as-of", "2024-03-01", "--output-root", str(work / "outputs")]) == 1
    assert "才开始" in capsys.readouterr().err


def test_a_pulse_that_would_publish_personal_data_is_refused(tmp_path, capsys):
    from conftest import make_small_demo

    plan = make_small_demo(tmp_path, customers=300)
    text = plan.read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("  title:"))
    plan.write_text(text.replace(title, title + " 联系 13812345678"), encoding="utf-8")
    out = tmp_path / "outputs"
    assert main(["run", str(plan), "--output-root", str(out), "--as-of", "2024-05-01"]) != 0
    err = capsys.readouterr().err
    assert "未脱敏的手机号" in err and "13812345678" not in err and "Traceback" not in err
    assert not list(out.rglob("pulse-*"))  # neither the page nor its JSON is left behind

"""The ``planlib`` command: a thin shell over :mod:`planlib.run.runner`, :mod:`planlib.plan.planfile` and
:mod:`planlib.proposal.build`.

A user's mistake (any :class:`~planlib.errors.PlanError`) prints readable lines and exits
non-zero; anything else is a bug and keeps its traceback. ``PLANLIB_DEBUG=1`` shows the
traceback for user errors too.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from planlib.data.results import STAGES
from planlib.errors import PlanError, PlanValidationError, escape_controls

EXIT_FAILED = 1
EXIT_INVALID = 2


def _stage_name(value: str) -> str:
    for stage in STAGES:
        if value in (stage, stage[:2], stage.lstrip("0")[:1], stage[3:]):
            return stage
    raise argparse.ArgumentTypeError(f"未知阶段 {value!r};可选: {', '.join(STAGES)}(也可写 01…05)")


def _quarter(value: str) -> str:
    """A quarter code in ASCII (``2024Q3``): full-width digits or a path never reach a file name."""
    if not re.fullmatch(r"[0-9]{4}Q[1-4]", value):
        raise argparse.ArgumentTypeError(f"季度 {escape_controls(value)!r} 的格式不对;请写成 2024Q3 这样的形式"
                                         "(半角数字和大写 Q)")
    return value


def _unit(value: str) -> str:
    """A unit code as the plan schema allows it (``east``, ``north-2``), never a path."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
        raise argparse.ArgumentTypeError(f"单位代码 {escape_controls(value)!r} 无效;只能用半角小写字母、数字、- 和 _")
    return value


def _as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期 {value!r} 无法识别;请写成 2024-05-01 这样的形式") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="planlib", description="客户互动管理策划书:校验计划文件、运行阶段工作簿、生成复盘报告")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="校验并运行计划的五个阶段,生成 outputs/<单位>/<季度>/report.html")
    run.add_argument("plans", nargs="+", type=Path, help="计划文件,例如 parameters/demo/2024Q2.yaml")
    run.add_argument("--stage", action="append", type=_stage_name, metavar="NN",
                     help="只重跑某个阶段(可重复),其余阶段沿用上次成功运行的结果")
    run.add_argument("--resume", action="store_true",
                     help="跳过计划文件、数据(文件和数据库)与工作簿都和上次成功运行相同的计划;有变化时说明哪里变了并重新运行")
    run.add_argument("--output-root", type=Path, help="输出根目录(默认为项目的 outputs/)")
    run.add_argument("--log-output", action="store_true", help="把单元格输出同步打印到终端")
    run.add_argument("--as-of", type=_as_of, metavar="YYYY-MM-DD",
                     help="中期检查:只生成该日的检查点预警与逾期任务报告 outputs/<单位>/<季度>/pulse-<日期>.html")
    run.add_argument("--pdf", action="store_true",
                     help="另存复盘报告的 PDF(A4、页码、内嵌中文字体):report.html 旁的 report.pdf")

    batch = sub.add_parser("batch", help="批量运行多个计划(路径或通配符),生成 outputs/<季度>/index.html")
    batch.add_argument("plans", nargs="+", help="计划文件或通配符,例如 'parameters/*/2024Q2.yaml'")
    batch.add_argument("--workers", type=int, default=2, help="并行的工作进程数(默认 2)")
    batch.add_argument("--resume", action="store_true", help="跳过输入未变化且上次成功的计划")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="提交到 Dask 集群,例如 tcp://10.0.0.5:8786")
    batch.add_argument("--plan-timeout", type=float, metavar="SECONDS",
                       help="每个计划所有阶段合计的最长运行时间(秒);超时的计划判为失败,其余计划继续")
    batch.add_argument("--output-root", type=Path, help="输出根目录(默认为项目的 outputs/)")

    export = sub.add_parser("export-contacts", help="导出未脱敏的客户联系名单给销售团队(记录申请人与用途,不进入报告)")
    export.add_argument("plan", type=Path)
    export.add_argument("--segment", help="客群或层级名称(默认:计划的目标客群,不含对照组)")
    export.add_argument("--requested-by", required=True, help="申请人,例如 销售部 张经理")
    export.add_argument("--reason", required=True, help="用途,例如 Q2 激活活动电话邀约")
    export.add_argument("--output-root", type=Path, help="输出根目录(默认为项目的 outputs/)")

    lab = sub.add_parser("lab", help="在项目目录启动 JupyterLab;保存时 workbooks/ 中的阶段模板不写入输出,保持提交时的样子")
    lab.epilog = "其余参数原样交给 jupyter lab,例如 planlib lab --port 8890"

    validate = sub.add_parser("validate", help="只校验计划文件,不运行(并提示按计划无法检测的目标)")
    validate.add_argument("plans", nargs="+", type=Path)

    proposal = sub.add_parser("proposal", help="生成季度开始前报批的策划书 outputs/<单位>/<季度>/proposal/(HTML、PDF、Word)")
    proposal.add_argument("plan", type=Path, help="计划文件,例如 parameters/demo/2024Q3.yaml")
    proposal.add_argument("--output-root", type=Path, help="输出根目录(默认为项目的 outputs/)")

    new = sub.add_parser("new", help="由本季度计划生成下季度计划文件(日期后移、基线取本季实际值、延续未完成的行动)")
    new.add_argument("plan", type=Path, help="本季度计划文件,例如 parameters/demo/2024Q2.yaml")
    new.add_argument("--quarter", required=True, type=_quarter, help="下季度,例如 2024Q3;文件写到同一目录的 <季度>.yaml")
    new.add_argument("--output-root", type=Path, help="读取本季度运行结果的输出根目录(默认为项目的 outputs/)")
    new.add_argument("--force", action="store_true", help="覆盖已存在的下季度文件")

    compare = sub.add_parser("compare", help="季度趋势报告(--unit)与单位组合概览(--quarter);都不写则全部生成")
    compare.add_argument("--unit", action="append", type=_unit, help="单位代码(可重复),生成 outputs/<单位>/trend.html")
    compare.add_argument("--quarter", action="append", type=_quarter, help="季度(可重复),生成 outputs/portfolio-<季度>.html")
    compare.add_argument("--output-root", type=Path, help="已发布运行结果所在的输出根目录(默认为项目的 outputs/)")
    return parser


def _new(args: argparse.Namespace) -> int:
    from planlib.quarters.nextquarter import new_plan

    result = new_plan(args.plan, args.quarter, output_root=args.output_root, force=args.force)
    print(f"已生成 {_shown(result.path)}")
    for note in result.notes:
        print(f"  - {note}")
    if not result.ok:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        print(f"共 {len(result.problems)} 个问题:新计划未通过校验,请修改后运行 planlib validate。", file=sys.stderr)
        return EXIT_INVALID
    print("校验通过。请逐项设定标有「TODO」的目标,并为复盘建议的行动指定责任人。")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from planlib.quarters.compare import compare

    for page in compare(args.unit, args.quarter, root=args.output_root):
        print(f"已生成 {_shown(page)}")
    return 0


def _validate(plans: Sequence[Path]) -> int:
    from planlib.plan.planfile import validate_files
    from planlib.run.audiences import audience_data

    notes: list[str] = []  # checks that could not run (the data cannot be read): said, never passed silently
    problems = validate_files(plans, audiences=audience_data, notes=notes)  # the same checks as the forms
    if not problems:
        problems = _database_problems(plans)
    if problems:  # the notes (checks not done yet) come once these are fixed: one thing at a time
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"共 {len(problems)} 个问题,计划未通过校验。", file=sys.stderr)
        return EXIT_INVALID
    return _readiness(plans, notes)


def _readiness(plans: Sequence[Path], notes: Sequence[str] = ()) -> int:
    """After the plan checks: which sections and KPIs each plan's data can feed (headers and a sample only).

    ``notes`` (checks the data did not allow) are said when the data is readable; when a data file is
    broken, its one line already says why, and the note would say it a second time."""
    from planlib.data.contract import readiness, readiness_lines
    from planlib.plan.planfile import load_plan
    from planlib.proposal.build import check_detectability

    code = 0
    for plan in plans:
        loaded = load_plan(plan)
        table = readiness(loaded.plan, loaded.base_dir)
        broken = table[table["stage"] == "数据"]
        for row in broken.itertuples():
            print(f"{escape_controls(plan)}: {escape_controls(row.part)}: {escape_controls(row.reason)}", file=sys.stderr)
        if len(broken):
            code = EXIT_INVALID
            continue
        for note in dict.fromkeys(notes):
            print(escape_controls(f"注意: {note}"), file=sys.stderr)
        notes = ()
        for row in table[table["stage"] == "数据提示"].itertuples():
            print(f"{escape_controls(plan)}: 注意: {escape_controls(row.part)}: {escape_controls(row.reason)}", file=sys.stderr)
        print(f"{escape_controls(plan)}: 校验通过;数据可支持的内容(只读了表头和前几行):")
        for line in readiness_lines(table[table["stage"] != "数据提示"]):
            print(escape_controls(line))
        try:  # the evaluation design reads the data before the period: a warning, never a failed validation
            warnings = check_detectability(plan)
        except PlanError as exc:
            warnings = [f"无法检查目标能否检测({exc})"]
        for warning in warnings:
            print(escape_controls(f"{plan}: 警告: {warning}"))
    return code


def _proposal(args: argparse.Namespace) -> int:
    from planlib.proposal.build import write_proposal

    result = write_proposal(args.plan, output_root=args.output_root)
    print(f"策划书已生成: {_shown(result.folder)}/")
    for path in (result.html, result.pdf, result.docx):
        print(f"  {_shown(path)}")
    print(f"评估设计: {result.verdict}")
    for warning in result.warnings:
        print(f"警告: {warning}")
    return 0


def _database_problems(plans: Sequence[Path]) -> list:
    """Each database source answers and has the needed columns (``LIMIT 0``, no rows read)."""
    from planlib.data.sql import check_sources
    from planlib.plan.planfile import load_plan

    problems = []
    for plan in plans:
        loaded = load_plan(plan)
        problems += check_sources(loaded.plan.data, loaded.base_dir)
    return problems


def _run(args: argparse.Namespace) -> int:
    from planlib.plan.planfile import validate_files
    from planlib.run.runner import run_plan

    problems = validate_files(args.plans)  # every plan checked before any kernel starts
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"共 {len(problems)} 个问题,未开始运行。", file=sys.stderr)
        return EXIT_INVALID
    if args.as_of is not None:
        if args.resume:
            raise PlanError("--resume 用于完整运行,不能与 --as-of(中期检查)同时使用")
        if args.pdf:
            raise PlanError("--pdf 只用于复盘报告,不能与 --as-of(中期检查)同时使用")
        return _pulse(args)
    if args.resume and args.stage:
        raise PlanError("--resume 跳过没有变化的整个计划,--stage 只重跑某个阶段;请只用其中一个")
    code = 0
    for plan in args.plans:
        if args.resume:
            from planlib.run.batch import resume_reason

            reason = resume_reason(Path(plan).resolve(), args.output_root)
            if reason is None:
                print(f"跳过 {plan}:输入与上次成功运行相同(包括数据库中的数据),沿用上次的报告")
                continue
            print(f"重新运行 {plan}:{escape_controls(reason)}")
        print(f"运行计划 {plan}")
        result = run_plan(plan, stages=args.stage, output_root=args.output_root,
                          log=lambda line: print(line, flush=True), log_output=args.log_output)
        if result.ok:
            print(f"完成。复盘报告: {_shown(result.report)}")
            if args.pdf:  # printed from the published report, after publishing (planlib.publish.pdf)
                from planlib.publish.pdf import write_report_pdf

                print(f"  PDF: {_shown(write_report_pdf(result.report))}")
        else:
            failed = next((r for r in result.stages if r.status == "failed"), None)
            if failed is not None:
                print(f"运行失败: {failed.stage} — {escape_controls(failed.error, keep_newlines=True)}", file=sys.stderr)
                print(f"  出错的笔记本: {_shown(result.folder / failed.notebook)}", file=sys.stderr)
            else:  # every stage ran; the run failed after them (e.g. the personal-data scan)
                print(f"运行失败: {escape_controls(result.failure, keep_newlines=True)}", file=sys.stderr)
            print(f"  失败报告: {_shown(result.report)}(上一次成功的报告保持不变)", file=sys.stderr)
            code = EXIT_FAILED
    return code


def _batch(args: argparse.Namespace) -> int:
    from planlib.run.batch import BatchInterrupted, run_batch
    from planlib.run.progress import BatchProgress

    progress = BatchProgress(args.workers)
    try:
        result = run_batch(args.plans, workers=args.workers, resume=args.resume, scheduler=args.scheduler,
                           output_root=args.output_root, progress=progress, plan_timeout=args.plan_timeout)
    except BatchInterrupted as stopped:  # Ctrl-C or SIGTERM: what finished, then main says 已中断
        _batch_summary(stopped.result)
        raise
    _batch_summary(result)
    return EXIT_FAILED if result.failed or result.problems else 0


def _batch_summary(result) -> None:
    print(f"\n{'单位':<12}{'季度':<8}{'状态':<10}{'耗时(秒)':>8}  报告")
    for o in result.outcomes:
        state = {"ok": "成功", "failed": "失败", "skipped": "跳过", "interrupted": "中断"}[o.status]
        where = o.failed_notebook if o.status == "failed" and o.failed_notebook else o.report
        print(f"{o.unit:<12}{o.quarter:<8}{state:<10}{o.seconds:>8.1f}  {_shown(where) if where else '—'}")
    for page in result.indexes:
        print(f"批量运行索引: {_shown(page)}")
    for problem in result.problems:
        print(f"错误: {problem}", file=sys.stderr)
    unfinished = sum(o.status == "interrupted" for o in result.outcomes)
    print(f"共 {len(result.outcomes)} 个计划,失败 {len(result.failed)} 个"
          + (f",未完成 {unfinished} 个" if unfinished else "") + f",用时 {result.seconds:.1f} 秒", flush=True)


def _pulse(args: argparse.Namespace) -> int:
    from planlib.run.pulse import run_pulse

    if args.stage:
        raise PlanError("--as-of 生成中期检查报告,不运行阶段工作簿;请不要同时使用 --stage")
    for plan in args.plans:
        result = run_pulse(plan, args.as_of, output_root=args.output_root)
        print(f"中期检查 {plan}(截至 {result.as_of}):预警 {len(result.alerts)} 项,"
              f"无法判断 {len(result.unjudged)} 项,逾期任务 {len(result.overdue)} 项")
        for line in [*result.alerts, *(f"无法判断:{u}" for u in result.unjudged), *(f"逾期:{t}" for t in result.overdue)]:
            print(f"  - {line}")
        print(f"报告: {_shown(result.html)}")
    return 0


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the planlib command itself, not a program calling main()
        from planlib.run.lean import skip_iri_grammar

        skip_iri_grammar()
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "lab":
        parser.error(f"无法识别的参数: {' '.join(extra)}")
    from planlib.run.signals import sigterm_as_ctrl_c

    # `kill`, a service manager or a CI timeout stops any command the way Ctrl-C does: the kernel
    # is shut down, the staging folder removed, the last good report kept, exit code 130
    with sigterm_as_ctrl_c():
        return _dispatch(args, extra)


def _dispatch(args: argparse.Namespace, extra: list[str]) -> int:
    try:
        if args.command == "validate":
            return _validate(args.plans)
        if args.command == "batch":
            return _batch(args)
        if args.command == "export-contacts":
            from planlib.run.contacts import export_contacts

            path = export_contacts(args.plan, segment=args.segment, requested_by=args.requested_by,
                                   reason=args.reason, output_root=args.output_root)
            print(f"已导出(未脱敏,仅供授权使用): {_shown(path)};记录见 {_shown(path.parent / 'export-log.jsonl')}")
            return 0
        if args.command == "new":
            return _new(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "lab":
            from planlib.forms.lab import start_lab
            from planlib.run.paths import project_root

            return start_lab(project_root(), extra)
        if args.command == "proposal":
            return _proposal(args)
        return _run(args)
    except PlanValidationError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    except PlanError as exc:
        if os.environ.get("PLANLIB_DEBUG"):
            raise
        print(f"错误: {escape_controls(exc, keep_newlines=True)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("已中断。", file=sys.stderr)
        return 130
    except OSError as exc:  # an output folder that cannot be written: one line, the path and the fix
        from planlib.run.folder import output_error

        error = output_error(exc, Path(getattr(args, "output_root", None) or "outputs"))
        if error is None or args.command in ("validate", "new") or os.environ.get("PLANLIB_DEBUG"):
            raise
        print(f"错误: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

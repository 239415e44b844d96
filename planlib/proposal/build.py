"""``planlib proposal PLAN``: write the 策划书 for approval into ``outputs/<unit>/<quarter>/proposal/``.

One source (:mod:`planlib.proposal.content`, computed from the plan and the data up to the day
before the period) in three formats: ``proposal.html`` (offline, the report's look),
``proposal.pdf`` (WeasyPrint, A4) and ``proposal.docx`` (editable Word).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from planlib.errors import PlanError
from planlib.metrics.orders import Orders
from planlib.plan.planfile import LoadedPlan, load_plan
from planlib.proposal.content import as_of_date, build
from planlib.proposal.evaluation import EvaluationDesign
from planlib.proposal.html import render_html, write_pdf
from planlib.proposal.word import write_docx
from planlib.publish.files import write_text_atomic
from planlib.publish.scan import PersonalDataFound, scan_html
from planlib.run.folder import plan_lock
from planlib.run.paths import project_root
from planlib.run.pulse import frames_as_of


def load_before_period(loaded: LoadedPlan) -> dict[str, pd.DataFrame | Orders]:
    """Every configured data source as known the day before the period (:func:`planlib.run.pulse.frames_as_of`:
    the customer list derived from the orders when the plan has no ``data.customers``, large orders
    answered where they are), so nothing inside the period is read."""
    return frames_as_of(loaded, as_of_date(loaded.plan))


@dataclass
class ProposalResult:
    folder: Path
    html: Path
    pdf: Path
    docx: Path
    verdict: str
    warnings: list[str]


def write_proposal(plan_path: str | Path, *, output_root: Path | None = None) -> ProposalResult:
    """Compute the proposal from the data before the period and write its three formats."""
    from planlib.publish import charts

    charts.setup()  # the Chinese chart font
    loaded = load_plan(plan_path)
    plan = loaded.plan
    proposal, design = build(loaded, load_before_period(loaded))
    root = Path(output_root) if output_root else project_root(loaded.path.parent) / "outputs"
    unit_dir = root / plan.meta.unit
    with plan_lock(unit_dir, plan.meta.quarter):
        folder = unit_dir / plan.meta.quarter / "proposal"
        html = render_html(proposal)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temps = {name: folder / f".{name}.tmp" for name in ("proposal.html", "proposal.pdf", "proposal.docx")}
            try:
                write_text_atomic(temps["proposal.html"], html)
                # reviewers read it: unmasked phones, ID numbers or e-mails are never written out (the PDF
                # and the Word file hold the same text as the page)
                found = scan_html(temps["proposal.html"], "proposal.html")
                if found:
                    raise PersonalDataFound(found)
                write_pdf(html, temps["proposal.pdf"])
                write_docx(proposal, temps["proposal.docx"])
                for name, temp in temps.items():
                    temp.replace(folder / name)
            finally:
                for temp in temps.values():
                    temp.unlink(missing_ok=True)
        except PermissionError as exc:
            raise PlanError(f"{folder}: 无法写入策划书({exc.strerror})— 请检查目录权限或用 --output-root 指定其他目录") from None
    return ProposalResult(folder, folder / "proposal.html", folder / "proposal.pdf", folder / "proposal.docx", design.verdict(),
                          detectability_warnings(design))


def detectability_warnings(design: EvaluationDesign) -> list[str]:
    """One Chinese line per goal that cannot be detected against the control group as planned."""
    return [f"目标 {g.goal.id}({g.goal.name}):按计划无法检测目标变化 — {g.fix or g.text}"
            for g in design.undetectable]


def check_detectability(plan_path: str | Path) -> list[str]:
    """The warnings ``planlib validate`` prints: the evaluation design from the data before the period."""
    from planlib.proposal.content import compute

    loaded = load_plan(plan_path)
    return detectability_warnings(compute(loaded, load_before_period(loaded)).design)

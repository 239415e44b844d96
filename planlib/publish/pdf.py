"""Print an offline HTML page to an A4 PDF with WeasyPrint: page numbers and the CJK fonts embedded
(fontconfig finds them, WeasyPrint embeds CID subsets). Used by ``planlib proposal`` (proposal.pdf) and
``planlib run --pdf`` (the retrospective report's report.pdf, beside report.html)."""

from __future__ import annotations

import logging
from pathlib import Path

from planlib.errors import PlanError


def write_pdf(html: str, path: Path) -> Path:
    """Print ``html`` to an A4 PDF with WeasyPrint (fonts through fontconfig, embedded as CID subsets)."""
    try:
        from weasyprint import HTML
    except OSError as exc:  # the pango libraries are Debian packages
        raise PlanError(f"无法生成 PDF:缺少 WeasyPrint 需要的系统库({exc});"
                        "请运行 make setup 或 apt-get install libpango-1.0-0 libpangoft2-1.0-0") from None
    except ImportError:
        raise PlanError("无法生成 PDF:没有安装 weasyprint;请运行 make setup 或 pip install weasyprint") from None
    # the report's CSS has screen-only properties WeasyPrint does not know; those warnings are noise here
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    HTML(string=html, base_url=None).write_pdf(str(path))
    return path


def write_report_pdf(report_html: Path) -> Path:
    """``report.pdf`` beside ``report_html`` (the published run's report), written atomically."""
    report_html = Path(report_html)
    if not report_html.exists():
        raise PlanError(f"{report_html}: 找不到复盘报告,无法生成 PDF — 请先运行 planlib run PLAN.yaml")
    out = report_html.with_suffix(".pdf")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        write_pdf(report_html.read_text(encoding="utf-8"), tmp)
        tmp.replace(out)
    except PermissionError as exc:
        raise PlanError(f"{out}: 无法写入 PDF({exc.strerror})— 请检查目录权限") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out

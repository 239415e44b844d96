"""Progress of a batch on the terminal: a live status line on a TTY, plain lines otherwise.

Cron logs and CI capture output without a terminal; they get one line per finished plan and
no carriage-return animation.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class BatchProgress:
    """Receives :func:`planlib.run.batch.run_batch` events and shows plans done/failed, stage, ETA."""

    def __init__(self, workers: int, stream: TextIO | None = None, live: bool | None = None):
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.workers = max(1, workers)
        self.total = self.todo = self.done = self.failed = self.skipped = 0
        self.running: dict[str, str] = {}
        self.started = time.perf_counter()

    def __call__(self, event: dict) -> None:
        kind = event["kind"]
        if kind == "start":
            self.total, self.todo = event["total"], event["todo"]
            self._line(f"共 {self.total} 个计划,需运行 {self.todo} 个({self.workers} 个并行)", keep=True)
        elif kind == "rerun":  # --resume: why this plan runs again (a changed file or database source)
            self._line(f"重新运行 {event['plan']}:{event['reason']}", keep=True)
        elif kind == "stage":
            self.running[event["plan"]] = event["stage"]
            self._status()
        elif kind == "done":
            outcome = event["outcome"]
            self.running.pop(outcome.plan, None)
            if outcome.status == "skipped":
                self.skipped += 1
            else:
                self.done += 1
                self.failed += outcome.status == "failed"
            mark = {"ok": "成功", "failed": "失败", "skipped": "跳过(未变化)"}[outcome.status]
            note = f" — {outcome.error}" if outcome.status == "failed" else ""
            self._line(f"[{self.done + self.skipped}/{self.total}] {mark} {outcome.unit}/{outcome.quarter}"
                       f"({outcome.seconds:.1f} 秒){note}", keep=True)
            self._status()

    def eta(self) -> float | None:
        if not self.done:
            return None
        per_plan = (time.perf_counter() - self.started) / self.done
        return per_plan * (self.todo - self.done)

    def _status(self) -> None:
        if not self.live:
            return
        eta = self.eta()
        stages = ", ".join(f"{plan.split('/')[-3] if plan.count('/') >= 2 else plan}:{stage}"
                           for plan, stage in list(self.running.items())[:3])
        text = (f"完成 {self.done}/{self.todo},失败 {self.failed}"
                + (f",运行中 {stages}" if stages else "")
                + (f",预计剩余 {eta:.0f} 秒" if eta is not None else ""))
        self._line(text, keep=False)

    def _line(self, text: str, keep: bool) -> None:
        if self.live:
            self.stream.write("\r\x1b[2K" + text + ("\n" if keep else ""))
        elif keep:
            self.stream.write(text + "\n")
        self.stream.flush()

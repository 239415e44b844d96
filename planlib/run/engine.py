"""The papermill engine that runs a stage in a :class:`~planlib.run.kernel.KernelSession`'s kernel.

Engines are papermill's extension point for how a notebook is executed. This one is papermill's
own nbclient engine with three differences:

- Given ``km``, nbclient neither starts nor stops the kernel; given ``kc`` too, it opens no
  client of its own, so one client serves the whole plan (several clients on one kernel lose
  replies once one of them disconnects).
- papermill writes the output notebook when each cell starts and again when it ends, so that
  someone watching a long notebook sees it progress. A stage's notebook sits in a staging
  folder nobody watches, and those writes (nbformat validation and JSON of a notebook that
  grows with every chart) cost about as much as a short stage computes. Here the notebook is
  written when execution starts, when it ends — successfully or not, as papermill does — and
  during a long cell every ``autosave_cell_every`` seconds (papermill's own timer, 30 s).
  The final file is the same as papermill's.
- The time limit is the stage's, not each cell's: given ``stage_deadline`` (a
  ``time.monotonic()`` value), every cell may run only until then, so three 7 s cells exceed a
  10 s limit (papermill's ``execution_timeout`` applies to each cell on its own).

Importing this module registers the engine under :data:`ENGINE_NAME`.
"""

from __future__ import annotations

import math
import time
from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
from papermill.log import logger

ENGINE_NAME = "planlib-shared-kernel"


class StageExecutionManager(NotebookExecutionManager):
    """papermill's execution bookkeeping, saving at start and end instead of at every cell."""

    _in_cell_hook = False

    def save(self, **kwargs: Any) -> None:
        if not self._in_cell_hook:
            super().save(**kwargs)

    def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        self._quietly(super().cell_start, cell, cell_index, **kwargs)

    def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        self._quietly(super().cell_complete, cell, cell_index, **kwargs)

    def _quietly(self, hook: Any, *args: Any, **kwargs: Any) -> None:
        self._in_cell_hook = True
        try:
            hook(*args, **kwargs)
        finally:
            self._in_cell_hook = False
        self.autosave_cell()  # papermill's timer: a long stage still reaches the disk


class SharedKernelEngine(NBClientEngine):
    """papermill's nbclient engine, running in a :class:`KernelSession`'s kernel and client."""

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None,
                         progress_bar: bool = True, log_output: bool = False, autosave_cell_every: int = 30,
                         **kwargs: Any) -> Any:
        # papermill's Engine.execute_notebook, with our execution manager
        nb_man = StageExecutionManager(nb, output_path=output_path, progress_bar=progress_bar,
                                       log_output=log_output, autosave_cell_every=autosave_cell_every)
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                 stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                 execution_timeout: int | None = None, session: Any = None,
                                 stage_deadline: float | None = None, **kwargs: Any) -> Any:
        if session is None or session.km is None:
            raise ValueError("SharedKernelEngine needs a started KernelSession (session=...)")
        kwargs.pop("input_path", None)
        if stage_deadline is not None:
            # nbclient asks before each cell; what is left of the stage, at least a second
            # (nbclient reads 0 as "no limit")
            kwargs["timeout_func"] = lambda _cell: max(1, math.ceil(stage_deadline - time.monotonic()))
        client = PapermillNotebookClient(
            nb_man, km=session.km, timeout=execution_timeout, startup_timeout=start_timeout,
            kernel_name=kernel_name, log=logger, log_output=log_output, stdout_file=stdout_file,
            stderr_file=stderr_file, **kwargs)
        client.kc = session.kc  # reuse the session's client instead of opening another
        return client.execute()


papermill_engines.register(ENGINE_NAME, SharedKernelEngine)

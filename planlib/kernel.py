"""One Jupyter kernel shared by the stages of a plan.

Starting a kernel and importing pandas, matplotlib and seaborn costs about 2 s per stage on the
2-core machines this runs on, several times what a stage computes. A plan's stages therefore
run in one kernel, started once, with the user namespace reset between stages so a workbook
never sees another's variables (imported modules stay loaded, which is the point). Each stage
is still executed by papermill, so every executed notebook is exactly what papermill writes.

We start the kernel and its one client ourselves and run each notebook through a papermill
engine (papermill's extension point for how notebooks are executed) that hands both to
papermill's own notebook client. Given ``km``, nbclient neither starts nor stops the kernel;
given ``kc`` too, it opens no client of its own, so one client serves the whole plan (several
clients on one kernel lose replies once one of them disconnects).
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from nbclient import NotebookClient
from nbclient.util import run_sync
from nbformat.v4 import new_code_cell, new_notebook
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger

RESET = "%reset -f"


class KernelSession:
    """A started kernel plus client; use as a context manager so the kernel always stops."""

    def __init__(self, cwd: Path, log_path: Path | None = None, kernel_name: str = "python3",
                 startup_timeout: float = 60):
        self.cwd = Path(cwd)
        self.log_path = log_path
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.km: AsyncKernelManager | None = None
        self.kc: Any = None

    def start(self) -> KernelSession:
        # The connection file goes to Jupyter's runtime dir with a recognisable name, as a
        # Jupyter server's would, rather than a nameless temp file.
        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True)
        self.km = AsyncKernelManager(kernel_name=self.kernel_name,
                                     connection_file=str(runtime / f"kernel-planlib-{uuid.uuid4().hex[:12]}.json"))
        # The kernel process's own log (start-up notices, a crash) goes to a file in the run
        # folder rather than the terminal; cell output reaches the notebook as usual.
        stream = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            run_sync(self.km.start_kernel)(cwd=str(self.cwd), stdout=stream, stderr=stream)
        finally:
            if self.log_path:
                stream.close()  # the child has its own copy of the descriptor
        self.kc = self.km.client()
        self.kc.start_channels()
        run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
        return self

    @property
    def alive(self) -> bool:
        return self.km is not None and run_sync(self.km.is_alive)()

    def reset(self, timeout: float = 30) -> None:
        """Forget the previous stage's variables (modules stay imported).

        Run through nbclient, like the stages themselves: its client drives the async channels
        on the loop it manages, where a bare ``kc.execute`` here would never be flushed.
        """
        client = NotebookClient(new_notebook(cells=[new_code_cell(RESET)]), km=self.km, timeout=timeout)
        client.kc = self.kc
        client.execute()

    def execute_kwargs(self) -> dict[str, Any]:
        """What ``papermill.execute_notebook`` needs to run a notebook in this kernel."""
        return {"engine_name": ENGINE_NAME, "session": self}

    def stop(self) -> None:
        """Shut the kernel down (if still running) and release the sockets we opened."""
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            km, self.km = self.km, None
            if run_sync(km.is_alive)():
                run_sync(km.shutdown_kernel)(now=False)
            km.context.destroy(linger=0)  # this manager's own zmq context, not the global one

    def __enter__(self) -> KernelSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SharedKernelEngine(NBClientEngine):
    """papermill's nbclient engine, running in a :class:`KernelSession`'s kernel and client."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                 stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                 execution_timeout: int | None = None, session: KernelSession | None = None,
                                 **kwargs: Any) -> Any:
        if session is None or session.km is None:
            raise ValueError("SharedKernelEngine needs a started KernelSession (session=...)")
        kwargs.pop("input_path", None)
        client = PapermillNotebookClient(
            nb_man, km=session.km, timeout=execution_timeout, startup_timeout=start_timeout,
            kernel_name=kernel_name, log=logger, log_output=log_output, stdout_file=stdout_file,
            stderr_file=stderr_file, **kwargs)
        client.kc = session.kc  # reuse the session's client instead of opening another
        return client.execute()


ENGINE_NAME = "planlib-shared-kernel"
papermill_engines.register(ENGINE_NAME, SharedKernelEngine)

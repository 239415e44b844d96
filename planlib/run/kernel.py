"""One Jupyter kernel shared by the stages of a plan.

Starting a kernel and importing pandas, matplotlib and seaborn costs about 2 s per stage on the
2-core machines this runs on, several times what a stage computes. A plan's stages therefore
run in one kernel, started once, with the user namespace reset before each stage so a workbook
never sees another's variables (imported modules stay loaded, which is the point). Each stage
is still executed by papermill (see :mod:`planlib.run.engine`), so every executed notebook is
exactly what papermill writes.

The kernel is launched as early as a run can (:meth:`KernelSession.launch`) and told to import
what the stage workbooks import while it starts (IPython's ``exec_lines``), so those imports
run on the second core while this process validates the plan and loads papermill and nbconvert;
:meth:`KernelSession.wait_ready` then waits for whatever is left. After those imports the
kernel freezes its garbage collector's view of them (:func:`gc.freeze`): the modules live as
long as the kernel, and every later collection — the one in ``%reset`` included — skips the
hundreds of thousands of objects they hold instead of walking them again.

This module needs only jupyter_client, so a run can launch the kernel before it imports
papermill, nbclient or nbconvert.
"""

from __future__ import annotations

import ast
import json
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.utils import run_sync
from jupyter_core.paths import jupyter_runtime_dir

RESET = "%reset -f"
FREEZE = "import gc as _gc; _gc.freeze(); del _gc"  # no collect first: import leaves little garbage


def workbook_imports(workbooks: Iterable[Path]) -> list[str]:
    """The top-level import statements of the workbooks' code cells, in order, each once.

    A workbook that cannot be read, or a cell that is not plain Python (a magic), is passed
    over: warming up is an optimisation, and the stage itself reports any real problem.
    """
    found: dict[str, None] = {}
    for path in workbooks:
        try:
            cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for cell in cells:
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            try:
                tree = ast.parse("".join(source) if isinstance(source, list) else source)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found.setdefault(ast.unparse(node))
    return list(found)


class KernelSession:
    """A started kernel plus client; use as a context manager so the kernel always stops.

    ``warm_up`` holds statements the kernel runs while it starts (normally
    :func:`workbook_imports` of the stage workbooks); their names are gone after the first
    :meth:`reset`, their modules stay imported.
    """

    def __init__(self, cwd: Path, log_path: Path | None = None, kernel_name: str = "python3",
                 startup_timeout: float = 60, warm_up: Iterable[str] = ()):
        self.cwd = Path(cwd)
        self.log_path = log_path
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.warm_up = list(warm_up)
        self.km: AsyncKernelManager | None = None
        self.kc: Any = None
        self.ready = False
        self.shutdown_wait = 2.0  # seconds a stopping kernel gets before jupyter_client escalates
        self._launch_error: BaseException | None = None

    def launch(self) -> KernelSession:
        """Start the kernel process and return at once; :meth:`wait_ready` waits for it.

        A failure to start (no such kernel, say) is kept and raised by :meth:`wait_ready`, so
        it fails the first stage like any other kernel problem rather than the run's set-up.
        """
        if self.km is not None:
            return self
        self.ready, self._launch_error = False, None
        # The connection file goes to Jupyter's runtime dir with a recognisable name, as a
        # Jupyter server's would, rather than a nameless temp file.
        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True)
        km = AsyncKernelManager(kernel_name=self.kernel_name,
                                connection_file=str(runtime / f"kernel-planlib-{uuid.uuid4().hex[:12]}.json"))
        # exec_lines run before the kernel answers its first request; one option per
        # statement, so one that fails (logged to the kernel log) does not stop the others.
        extra = [f"--IPKernelApp.exec_lines={line}" for line in [*self.warm_up, FREEZE]] if self.warm_up else []
        # The kernel process's own log (start-up notices, a crash) goes to a file in the run
        # folder rather than the terminal; cell output reaches the notebook as usual.
        stream = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            run_sync(km.start_kernel)(cwd=str(self.cwd), stdout=stream, stderr=stream, extra_arguments=extra)
        except Exception as exc:  # noqa: BLE001 — re-raised by wait_ready, where a stage is running
            self._launch_error = exc
            km.context.destroy(linger=0)
            return self
        finally:
            if self.log_path:
                stream.close()  # the child has its own copy of the descriptor
        self.km = km
        self.kc = km.client()
        self.kc.start_channels()
        return self

    def wait_ready(self) -> KernelSession:
        """Wait until the launched kernel answers (its warm-up imports done)."""
        if self._launch_error is not None:
            error, self._launch_error = self._launch_error, None
            raise error
        if self.km is None:
            self.launch()
            return self.wait_ready()
        if not self.ready:
            run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
            self.ready = True
        return self

    def start(self) -> KernelSession:
        """Launch the kernel and wait until it is ready."""
        return self.launch().wait_ready()

    @property
    def alive(self) -> bool:
        return self.km is not None and run_sync(self.km.is_alive)()

    def reset(self, timeout: float = 30) -> None:
        """Forget the previous stage's variables (modules stay imported).

        Run through nbclient, like the stages themselves: its client drives the async channels
        on the loop it manages, where a bare ``kc.execute`` here would never be flushed.
        """
        from nbclient import NotebookClient
        from nbformat.v4 import new_code_cell, new_notebook

        self.wait_ready()
        client = NotebookClient(new_notebook(cells=[new_code_cell(RESET)]), km=self.km, timeout=timeout)
        client.kc = self.kc
        client.execute()

    def execute_kwargs(self) -> dict[str, Any]:
        """What ``papermill.execute_notebook`` needs to run a notebook in this kernel."""
        from planlib.run.engine import ENGINE_NAME

        return {"engine_name": ENGINE_NAME, "session": self}

    def stop(self) -> None:
        """Shut the kernel down (if still running) and release the sockets we opened."""
        self.ready, self._launch_error = False, None
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            km, self.km = self.km, None
            if run_sync(km.is_alive)():
                # A kernel leaves about 40 ms after it is asked to, but shutdown_kernel checks
                # only every 0.1 s: ask, and look more often. One that does not go in time gets
                # shutdown_kernel's own escalation (SIGTERM, then SIGKILL).
                run_sync(km.interrupt_kernel)()  # as shutdown_kernel does: a busy kernel stops its cell
                run_sync(km.request_shutdown)()
                deadline = time.monotonic() + self.shutdown_wait
                while time.monotonic() < deadline and run_sync(km.is_alive)():
                    time.sleep(0.01)
                if run_sync(km.is_alive)():
                    run_sync(km.shutdown_kernel)(now=False)
                else:
                    run_sync(km.finish_shutdown)()  # reaps the process
                    run_sync(km.cleanup_resources)()  # connection file, sockets, ports
            km.context.destroy(linger=0)  # this manager's own zmq context, not the global one

    def __enter__(self) -> KernelSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""SIGTERM handled as Ctrl-C.

Python's default for SIGTERM (what `kill`, a service manager or a CI timeout sends) ends the process
on the spot: the Jupyter kernel it started is orphaned and the run's staging folder is left behind.
Raising :class:`KeyboardInterrupt` instead unwinds through the same ``finally`` blocks as Ctrl-C.
A module of its own so that the command line can install it without importing the batch runner.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _interrupt(*_args: Any) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """While a command runs, SIGTERM unwinds like Ctrl-C (workers and kernels stopped on the way)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

"""The kernel's IOPub must not drop a burst of widget messages (planlib/forms/kernelio.py).

A real ipykernel is started; a client that does not read IOPub while the cell runs (as a busy Jupyter
server) receives a burst of comm_open messages afterwards. ZeroMQ's default high-water mark drops
most of a burst this size; with ``lossless_iopub()`` every message arrives.
"""

from __future__ import annotations

import queue
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BURST = 20_000  # far more than the two 1,000-message queues and the socket buffers between them hold

BURST_CODE = f"""
import comm
for i in range({BURST}):
    comm.create_comm(target_name="pl-burst", data={{"i": i}})
print("sent")
"""


class Client:
    """The blocking calls these tests need, over planlib's own kernel session (which stops cleanly)."""

    def __init__(self, kc):
        from jupyter_core.utils import run_sync

        self.execute = kc.execute
        self.get_shell_msg = run_sync(kc.get_shell_msg)
        self.get_iopub_msg = run_sync(kc.get_iopub_msg)
        self.execute_interactive = run_sync(kc.execute_interactive)


@pytest.fixture
def kernel():
    from planlib.run.kernel import KernelSession

    with KernelSession(ROOT, startup_timeout=120) as session:  # cwd = the repo: planlib imports
        yield Client(session.kc)


def drain(kc, seen: set, said: list, pause: float = 0.0, until: str | None = None) -> None:
    """Read IOPub, ``pause`` seconds per message (a slow server), until the request ``until`` went
    idle, or else until IOPub is quiet for 10 s."""
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=10 if until is None else 600)
        except queue.Empty:
            return
        kind, content = msg["header"]["msg_type"], msg["content"]
        if kind == "comm_open" and content.get("target_name") == "pl-burst":
            seen.add(content["data"]["i"])
        elif kind == "stream":
            said.append(content["text"])
        elif (kind == "status" and until is not None and content["execution_state"] == "idle"
              and msg["parent_header"].get("msg_id") == until):
            return
        if pause:
            time.sleep(pause)


def run_burst(kc, before: str = "", reader_pause: float | None = None) -> tuple[int, list[str]]:
    """Run ``before``, then the burst; count the burst's comm_opens that arrive.

    ``reader_pause=None``: IOPub is read only once the cell has finished (a server that fell far
    behind); a number: read all along, that long per message (a slow server that keeps reading).
    Everything runs in this thread: jupyter_client's blocking calls from a second thread would
    leave an event loop per thread behind.
    """
    if before:
        reply = kc.execute_interactive(before, timeout=60)
        assert reply["content"]["status"] == "ok", reply
    seen: set[int] = set()
    said: list[str] = []
    if reader_pause is not None:
        drain(kc, seen, said)  # what ``before`` printed, so the reading starts on the burst
    msg_id = kc.execute(BURST_CODE)
    if reader_pause is not None:
        drain(kc, seen, said, reader_pause, until=msg_id)
    reply = kc.get_shell_msg(timeout=600)  # the cell ran to the end
    assert reply["content"]["status"] == "ok", reply
    drain(kc, seen, said)
    return len(seen), said


def test_lossless_iopub_delivers_every_message_of_a_burst(kernel):
    received, said = run_burst(kernel, "from planlib.forms.kernelio import lossless_iopub\n"
                                       "print(lossless_iopub(), lossless_iopub())", reader_pause=0.0005)
    assert received == BURST
    assert "sent" in "".join(said)


def test_without_it_the_kernel_drops_part_of_the_burst(kernel):
    """The mechanism the fix is for: if ipykernel stops dropping one day, kernelio can go.

    (With the fix, a client that reads nothing until the cell ends would hold the kernel's output
    up — the price of not dropping; a Jupyter server reads all the time, only slower when busy.)"""
    received, _said = run_burst(kernel)
    assert received < BURST


def test_lossless_iopub_says_why_it_did_nothing_outside_a_kernel():
    from planlib.forms.kernelio import lossless_iopub

    assert lossless_iopub() == "no kernel"  # pytest is no IPython kernel

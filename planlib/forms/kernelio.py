"""Keep the kernel from dropping a form's widget messages on their way to JupyterLab.

A stage form is a few hundred widgets; building it sends over a thousand ``comm_open`` messages in a
burst on the kernel's IOPub socket (every widget, its ``Layout`` and its style is a model). IOPub is
a ZeroMQ XPUB socket with ZeroMQ's default high-water mark of 1,000 messages per subscriber, and an
XPUB socket *drops* what it cannot queue. When the Jupyter server reads slower than the kernel
writes — a busy machine, a starved browser tab — some ``comm_open`` messages never reach the page:
JupyterLab's widget manager then fails the parents that refer to them ("widget model not found",
"Could not create child view") and the form shows without its tabs. Traced with
``benchmarks/bench_form_render.py`` (the page's record of every comm message): in a failed opening
the page received 1,333 of the form's ``comm_open`` messages and never four that its boxes referred
to. Stage 04's form sends ≈2,100 messages (1,570 ``comm_open``, the rest updates) — about what the
two 1,000-message queues and the loopback socket buffers between kernel and server hold.
The same loss was traced upstream in voila-dashboards/voila#534 ("Many widgets fail to render").

The fix here: set ``ZMQ_XPUB_NODROP`` on the kernel's IOPub socket, so a full queue makes the kernel's
IOPub thread wait for the server instead of dropping. ipykernel creates and binds that socket before
any user code runs, and a high-water mark set afterwards does not apply to connections already made;
``XPUB_NODROP`` is read on every send, so it takes effect at once. The option is set from the IOPub
thread itself (ZeroMQ sockets are not thread-safe), before any message sent after this call. The
kernel's other threads never wait: they hand messages to the IOPub thread's queue, as before.

Not written as a custom kernel launcher (a kernelspec whose app raises the high-water mark before
binding) because that would protect only kernels started by ``planlib lab``, while a planner may open
the workbooks from any JupyterLab.
"""

from __future__ import annotations

from typing import Any

_DONE: set[int] = set()  # id() of the IOPub sockets already made lossless in this process


def lossless_iopub(kernel: Any = None) -> str:
    """Make the running kernel's IOPub socket wait instead of dropping; say what was done.

    Returns ``"set"`` (now lossless), ``"already"`` (done before in this kernel) or the reason it
    could not be done: ``"no kernel"`` (plain Python, papermill's kernel is fine: its messages are
    few), ``"not XPUB"`` (a kernel other than ipykernel's), ``"no XPUB_NODROP"`` (an old libzmq).
    """
    import zmq

    if kernel is None:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
    thread = getattr(kernel, "iopub_thread", None)
    socket = getattr(thread, "socket", None)
    if socket is None or not hasattr(socket, "getsockopt"):
        return "no kernel"
    if id(socket) in _DONE:
        return "already"
    if not hasattr(zmq, "XPUB_NODROP"):
        return "no XPUB_NODROP"
    if socket.getsockopt(zmq.TYPE) not in (zmq.XPUB, zmq.PUB):
        return "not XPUB"
    # queued behind the messages already sent, ahead of the ones sent from now on
    thread.schedule(lambda: socket.setsockopt(zmq.XPUB_NODROP, 1))
    _DONE.add(id(socket))
    return "set"


__all__ = ["lossless_iopub"]

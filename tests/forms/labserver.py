"""A real JupyterLab server for the forms tests, started as `planlib lab` starts it (with its pre-save
hook), isolated in its own Jupyter folders, on a free port; stopped when the ``with`` block ends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from planlib.forms.lab import lab_argv

TOKEN = "planlib-forms-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PLANLIB_FORMS", "JPY_SESSION_NAME")}
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["MPLBACKEND"] = "Agg"
    return env


def lab_settings(home: Path, windowing: str | None = None) -> list[str]:
    """Write the user settings of a test JupyterLab under ``home``; its extra command-line options.

    No news toast (it can cover widgets); ``windowing`` sets the notebook's ``windowingMode``
    (None leaves JupyterLab's default, what a planner gets).
    """
    settings = home / "lab-settings"
    notif = settings / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True, exist_ok=True)
    (notif / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    if windowing is not None:
        tracker = settings / "@jupyterlab" / "notebook-extension"
        tracker.mkdir(parents=True, exist_ok=True)
        (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": windowing}))
    return ["--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={home / 'workspaces'}"]


@contextmanager
def running_lab(root: Path, home: Path, extra: Sequence[str] = ()) -> Iterator[str]:
    """JupyterLab serving ``root``; yields its base URL once ``/api/status`` answers."""
    port = free_port()
    log = open(home / "lab.log", "wb")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(
        lab_argv(root, ["--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
                        "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
                        "--LabApp.news_url=None", *extra]),
        env=isolated_env(home), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early: {(home / 'lab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("JupyterLab did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

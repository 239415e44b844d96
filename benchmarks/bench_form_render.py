"""Count planner forms that render with widget views missing, in a real JupyterLab and Chromium.

Opens a stage's form ``--n`` times (each opening: a fresh page, a fresh kernel, the workbook's
cells down to the form cell, exactly as ``tests/forms/browserkit.open_form`` does), then compares
what the kernel built with what the page shows:

- built:    the ``pl-f-*`` fields under ``form.widget`` in the kernel (asked through the kernel);
- rendered: the ``.pl-f-*`` elements inside the form's output, once the page has been quiet for
            ``--settle`` seconds (or ``--wait`` seconds have passed).

An opening with rendered < built is counted as *partial*; for each, the widget models of the form
that have no view (asked from JupyterLab's widget manager through ``window.jupyterapp``) and the
browser console are printed, and a screenshot is kept under test-artifacts/forms/bench/.
Every opening also records each comm message the page received or sent (``unknown_refs``: models a
widget referred to whose ``comm_open`` never reached the page — how the kernel dropping part of the
form's burst was found; see planlib/forms/kernelio.py). ``--stall`` stops the Jupyter server in
turns while the cells run (a server falling behind; it did not reproduce the loss on demand).

``--load N`` starts N busy-loop processes for the run (the loaded machine of the reports);
``--windowing default`` leaves JupyterLab's notebook windowing as a planner gets it from
``planlib lab``, ``none`` sets ``windowingMode: none`` as the browser tests did. This is a tool
for finding and showing a rendering defect, not a test: it prints counts and asserts nothing.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_form_render.py --stage 04_execution --n 30 --load 2
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import make_small_demo  # noqa: E402
from forms.browserkit import (  # noqa: E402
    ASK_KERNEL,
    CHROME_ARGS,
    CHROMIUM,
    KERNEL_COUNT,
    MISSING_VIEWS,
    RENDERED,
    STAGES,
    open_form,
)
from forms.labserver import TOKEN, lab_settings, running_lab  # noqa: E402

SHOTS = ROOT / "test-artifacts" / "forms" / "bench"

# JupyterLab's widget manager reloads every widget from the kernel (`restoreWidgets`, ipywidgets'
# `_loadFromKernel`) when it is created and whenever the kernel's connection comes back; with
# --restore-race it does so while the form cell runs, as when a notebook opens on a busy machine
RESTORE_DURING_FORM = """async () => {
    const panel = window.jupyterapp.shell.currentWidget;
    const nb = panel.content;
    const renderer = nb.rendermime.createRenderer('application/vnd.jupyter.widget-view+json');
    const manager = await renderer._manager.promise;
    nb.activeCellIndex = nb.widgets.findIndex(c => c.model.sharedModel.getSource().includes('stage_form('));
    // the kernel busy for longer than the manager waits for its answer (4 s), as with open_stage on a busy machine
    panel.sessionContext.session.kernel.requestExecute({code: 'import time; time.sleep(5)', silent: true});
    const run = window.jupyterapp.commands.execute('notebook:run-cell');
    manager.restoreWidgets(panel.context.model, {loadKernel: true, loadNotebook: false});
    await run;
}"""


# what happens to the notebook's kernel connection and widget manager while the cells run
TRACE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const t0 = performance.now();
    const events = window.__plEvents = [];
    const log = (what) => events.push(Math.round(performance.now() - t0) + 'ms ' + what);
    const ctx = panel.sessionContext;
    log('kernel ' + ctx.session.kernel.clientId);
    ctx.kernelChanged.connect((_, a) => log('kernelChanged ' + (a.oldValue && a.oldValue.clientId) + ' -> ' +
                                            (a.newValue && a.newValue.clientId)));
    ctx.connectionStatusChanged.connect((_, s) => log('connection ' + s));
    const renderer = panel.content.rendermime.createRenderer('application/vnd.jupyter.widget-view+json');
    if (!renderer._manager) { log('no widget manager factory yet'); return; }
    renderer._manager.promise.then(m => {
        log('manager restored=' + m.restoredStatus + ' kernel=' + (m.kernel && m.kernel.clientId));
        m.restored.connect(() => log('manager restored signal'));
    });
}"""


# every comm message between the page and the kernel (opened models, their references, closes, what
# the page sent), to find which referenced model never reached the page, and why
TRACE_COMMS = """() => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const t0 = performance.now();
    const log = window.__plComms = {opened: {}, closed: [], refs: [], sent: []};
    const refsOf = (x) => (JSON.stringify(x || {}).match(/IPY_MODEL_[0-9a-f]+/g) || []).map(r => r.slice(10));
    kernel.anyMessage.connect((_, {msg, direction}) => {
        const type = msg.header.msg_type, c = msg.content || {}, ms = Math.round(performance.now() - t0);
        const d = c.data || {};
        if (type === 'comm_open' && direction === 'recv') {
            log.opened[c.comm_id] = [ms, (d.state && d.state._model_name) || c.target_name];
            const refs = refsOf(d.state);
            if (refs.length) log.refs.push([ms, c.comm_id, 'open', refs]);
        } else if (type === 'comm_open') {
            log.sent.push([ms, 'open', c.comm_id, c.target_name]);
        } else if (type === 'comm_close') {
            log.closed.push([ms, direction, c.comm_id]);
        } else if (type === 'comm_msg' && direction === 'send') {
            log.sent.push([ms, d.method, c.comm_id, JSON.stringify(d.state || {}).slice(0, 120)]);
        } else if (type === 'comm_msg') {
            const refs = refsOf(d.state);
            if (refs.length) log.refs.push([ms, c.comm_id, d.method, refs]);
        }
    });
}"""

UNKNOWN_REFS = """() => {
    const log = window.__plComms;
    if (!log) return null;
    const closed = Object.fromEntries(log.closed.map(([ms, dir, id]) => [id, [ms, dir]]));
    const bad = [];
    for (const [ms, from, how, refs] of log.refs) {
        for (const id of refs) {
            const o = log.opened[id];
            if (!o || o[0] > ms || (closed[id] && closed[id][0] <= ms))
                bad.push({at: ms, from, how, ref: id, opened: o || null, closed: closed[id] || null});
        }
    }
    return {opened: Object.keys(log.opened).length, closes: log.closed.slice(0, 20), bad: bad.slice(0, 20),
            sent: log.sent.slice(0, 40)};
}"""


def _api(lab: str, path: str, method: str = "GET"):
    req = urllib.request.Request(f"{lab}{path}", method=method, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req) as r:
        body = r.read()
    return json.loads(body) if body else None


def wait_rendered(page, built: int, wait: float, settle: float) -> list[str]:
    """The rendered pl-f-* classes once all are there, or once nothing changed for ``settle`` s."""
    deadline, last, since = time.monotonic() + wait, None, time.monotonic()
    while True:
        rendered = page.evaluate(RENDERED)
        if len(rendered) >= built:
            return rendered
        if rendered != last:
            last, since = rendered, time.monotonic()
        if time.monotonic() - since > settle or time.monotonic() > deadline:
            return rendered
        time.sleep(0.25)


def server_pids(nb_root: Path) -> list[int]:
    """The Jupyter server's process (its command line names the notebook root)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "jupyter" in cmd and str(nb_root) in cmd and "ipykernel" not in cmd:
                pids.append(int(proc.name))
    return pids


class Staller:
    """Stop the Jupyter server for ``stop`` s out of every ``stop + go`` s (SIGSTOP/SIGCONT): a server
    that falls behind the kernel, as on a machine whose cores are taken — without waiting for luck."""

    def __init__(self, pids: list[int], stop: float, go: float):
        import threading

        self.pids, self.stop_s, self.go_s = pids, stop, go
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import os

        while not self.done.is_set():
            for pid in self.pids:
                os.kill(pid, signal.SIGSTOP)
            self.done.wait(self.stop_s)
            for pid in self.pids:
                os.kill(pid, signal.SIGCONT)
            self.done.wait(self.go_s)

    def __enter__(self):
        if self.stop_s > 0:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        import os

        self.done.set()
        if self.thread.is_alive():
            self.thread.join()
        for pid in self.pids:
            os.kill(pid, signal.SIGCONT)


def one_opening(browser, lab: str, project: Path, nb_root: Path, stage: str, args, i: int) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text[:300]}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {str(e)[:300]}"))
    if args.throttle > 1:
        page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": args.throttle})
    t0 = time.monotonic()
    try:
        # the form cell runs last: stalling from the start of the run covers its burst of messages
        stalls = Staller(server_pids(nb_root), args.stall, args.stall_go) if args.stall else None
        trace = f"() => {{ ({TRACE})(); ({TRACE_COMMS})(); }}"
        if stalls:
            with stalls:
                open_form(page, lab, project, nb_root, stage, before_run=trace)
        else:
            open_form(page, lab, project, nb_root, stage, before_run=trace)
        if args.restore_race:  # the form again, with the widget manager reloading meanwhile
            page.evaluate(RESTORE_DURING_FORM)
        out = page.evaluate(ASK_KERNEL, KERNEL_COUNT)
        match = re.search(r"PLCOUNT(.*)", out)
        if not match:
            return {"i": i, "error": f"kernel said: {out[-500:]}", "console": console}
        ids = json.loads(match.group(1))
        rendered = wait_rendered(page, len(ids), args.wait, args.settle)
        result = {"i": i, "built": len(ids), "rendered": len(rendered), "seconds": round(time.monotonic() - t0, 1)}
        health = page.evaluate(MISSING_VIEWS, ids)
        result["restored"], result["stale_models"] = health.get("restored"), health.get("stale")
        result["cell_outputs"] = health.get("outputs")  # the form alone: one widget output
        result["events"] = page.evaluate("() => window.__plEvents || []")
        comms = page.evaluate(UNKNOWN_REFS) or {}
        result["comms_sent"] = sorted({f"{m[1]}" for m in comms.get("sent", [])})
        result["comms_closed"], result["unknown_refs"] = len(comms.get("closes", [])), len(comms.get("bad", []))
        if len(rendered) < len(ids) or health.get("problems") or health.get("error") or \
                len(health.get("outputs") or []) != 1:
            result["diagnosis"] = health
            result["console"] = console
            result["comms"] = page.evaluate(UNKNOWN_REFS)
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{stage}-{i}.png"))
        return result
    except Exception as exc:  # a tool: one failed opening is reported and the count goes on
        return {"i": i, "error": f"{type(exc).__name__}: {str(exc)[:400]}", "console": console}
    finally:
        page.close()
        for session in _api(lab, "/api/sessions"):
            if session["path"].startswith(project.name + "/"):
                _api(lab, f"/api/sessions/{session['id']}", "DELETE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", action="append", choices=STAGES, help="repeatable; default 04_execution")
    parser.add_argument("--n", type=int, default=30, help="openings per stage")
    parser.add_argument("--load", type=int, default=0, help="busy-loop processes during the run")
    parser.add_argument("--windowing", choices=["default", "none"], default="default",
                        help="JupyterLab's notebook windowing: as planlib lab leaves it, or none")
    parser.add_argument("--throttle", type=float, default=1,
                        help="slow Chromium's JavaScript down this many times (CDP CPU throttling), "
                             "as a starved browser on a loaded machine")
    parser.add_argument("--stall", type=float, default=0,
                        help="stop the Jupyter server this many seconds at a time while the cells run "
                             "(a server that falls behind the kernel's messages)")
    parser.add_argument("--stall-go", type=float, default=0.5, help="seconds the server runs between stalls")
    parser.add_argument("--restore-race", action="store_true",
                        help="run the form cell once more while the widget manager reloads from the kernel")
    parser.add_argument("--wait", type=float, default=90, help="longest wait for all fields (s)")
    parser.add_argument("--settle", type=float, default=15, help="give up after this long without change (s)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the busy loops and the server on kill
    stages = args.stage or ["04_execution"]
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-form-render-"))
    nb_root, home = work / "root", work / "home"
    nb_root.mkdir()
    home.mkdir()
    extra = lab_settings(home, windowing=None if args.windowing == "default" else "none")
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        with running_lab(nb_root, home, extra) as lab, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
            for stage in stages:
                project = nb_root / f"p{stage[:2]}"
                (project / "workbooks").mkdir(parents=True)
                make_small_demo(project, customers=300)
                for name in STAGES:
                    shutil.copy(ROOT / "workbooks" / f"{name}.ipynb", project / "workbooks")
                results = []
                for i in range(args.n):
                    r = one_opening(browser, lab, project, nb_root, stage, args, i)
                    results.append(r)
                    print(json.dumps(r, ensure_ascii=False), flush=True)
                partial = [r for r in results if "built" in r and r["rendered"] < r["built"]]
                errors = [r for r in results if "error" in r]
                print(f"SUMMARY stage={stage} windowing={args.windowing} load={args.load} "
                      f"throttle={args.throttle} openings={args.n} partial={len(partial)} errors={len(errors)} "
                      f"built={sorted({r['built'] for r in results if 'built' in r})}", flush=True)
            browser.close()
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The built-in demo company: deterministic CRM exports that tell the demo plans' story.

:func:`generate` writes five CSV files (customers, transactions, interactions, surveys, tickets)
with the default Chinese headers of docs/CONTRACTS.md, saved as UTF-8 with BOM like an export
opened in Excel. The same seed gives byte-identical files. :func:`ensure_demo_data` creates the
files a plan with ``data.demo`` names when they are missing (or stale output of this generator).

The story (parameters/demo/2024Q2.yaml): about 8 % of customers are dormant mid-value customers
in spring 2024; the 2024Q2 reactivation campaign reaches them minus a 20 % control group,
participation falls short of its 70 % target, the 30-day repurchase rate beats its 12 %, and
satisfaction misses 4.5. A 2024Q3 retention campaign repeats the story with the review's
lessons applied (more reminders, better timing). Module layout: ``people`` (customers), ``sales`` (orders and the RFM
rule), ``campaigns`` (messages), ``service`` (surveys, tickets), ``story`` (the timeline).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from planlib.data.demo.campaigns import CAMPAIGNS, CampaignSpec
from planlib.data.demo.story import HEADERS, simulate
from planlib.plan.schema import Data

__all__ = ["CAMPAIGNS", "FILES", "HEADERS", "CampaignSpec", "ensure_demo_data", "generate"]

FILES = {name: f"{name}.csv" for name in HEADERS}


def generate(
    out_dir: Path,
    *,
    seed: int = 20240401,
    n_customers: int = 5000,
    campaigns: tuple[CampaignSpec, ...] = CAMPAIGNS,
) -> dict[str, Path]:
    """Write the demo company's five CSV exports into ``out_dir`` and return their paths.

    ``n_customers`` scales every table (about 8 % of customers form the 2024Q2 target group);
    ``campaigns`` chooses which quarter campaigns happen. Each file is written to a temporary
    name first, so a reader never sees half a file.
    """
    if n_customers < 100:
        raise ValueError("the demo needs at least 100 customers to tell its story")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in simulate(seed, n_customers, tuple(campaigns)).items():
        path = out_dir / FILES[name]
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        # Excel on Windows saves "CSV UTF-8" with a BOM and CRLF line ends.
        frame.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n")
        os.replace(tmp, path)
        paths[name] = path
    return paths


def ensure_demo_data(data: Data, base_dir: Path) -> list[Path]:
    """Create the demo files a plan names when ``data.demo`` is set and any is missing or stale.

    Paths are resolved against ``base_dir`` (the plan file's folder). A file is (re)written when
    it is missing, or when this generator wrote it for other settings (seed, customer count, or
    an older version of the generator) and nobody has touched it since; a file a planner
    replaced or edited is never overwritten. Files are generated in a temporary folder next to
    their destination and renamed into place, so a crash or two runs at once never leave
    half-written files (both runs produce the same bytes). Returns the paths written.
    """
    if data.demo is None:
        return []
    if data.demo.style == "orders_export":
        if data.transactions is None or data.transactions.path is None:
            return []  # the orders come from a database: nothing to generate
        return _ensure_orders_export(data, base_dir)
    targets = {
        name: (Path(base_dir) / source.path).resolve()
        for name in HEADERS
        if (source := getattr(data, name)) is not None and source.path is not None  # not database sources
    }
    if not targets:
        return []
    folder = targets.get("transactions", next(iter(targets.values()))).parent
    stamp_path = folder / STAMP
    stamp = _read_stamp(stamp_path)
    settings = {"generator": _fingerprint(), "seed": data.demo.seed, "customers": data.demo.customers}
    ours = {name: path for name, path in targets.items() if _written_by_us(stamp, folder, path)}
    todo = {
        name: path for name, path in targets.items()
        if not path.exists() or (name in ours and stamp.get("settings") != settings)
    }
    if not todo:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=folder))
    try:
        made = generate(tmp, seed=data.demo.seed, n_customers=data.demo.customers)
        for name, path in todo.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(made[name], path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    kept = {name: path for name, path in ours.items() if name not in todo and stamp.get("settings") == settings}
    _write_stamp(stamp_path, folder, settings, [*todo.values(), *kept.values()])
    return list(todo.values())


def _ensure_orders_export(data: Data, base_dir: Path) -> list[Path]:
    """The orders-only demo: the transactions file as a shop export (:mod:`.orders_export`)."""
    from planlib.data.demo.orders_export import write_orders_export
    from planlib.data.demo.story import simulate

    path = (Path(base_dir) / data.transactions.path).resolve()
    folder = path.parent
    stamp_path = folder / STAMP
    stamp = _read_stamp(stamp_path)
    settings = {"generator": _fingerprint(), "seed": data.demo.seed, "customers": data.demo.customers,
                "style": data.demo.style}
    ours = _written_by_us(stamp, folder, path)
    if path.exists() and not (ours and stamp.get("settings") != settings):
        return []
    frames = simulate(data.demo.seed, data.demo.customers, tuple(CAMPAIGNS))
    write_orders_export(path, frames["customers"], frames["transactions"])
    others = {name: sig for name, sig in stamp.get("files", {}).items() if stamp.get("settings") == settings
              and name != os.path.relpath(path, folder) and (folder / name).exists()}
    _write_stamp(stamp_path, folder, settings, [path, *(folder / name for name in others)])
    return [path]


# ------------------------------------------------------------------ which files are ours
STAMP = ".planlib-demo.json"  # next to the demo files: what wrote them, with which settings


def _fingerprint() -> str:
    """Changes whenever the generator's code changes, so its old output counts as stale."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")) + [Path(__file__).parents[1] / "holdout.py"]:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _signature(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


def _read_stamp(path: Path) -> dict:
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def _written_by_us(stamp: dict, folder: Path, path: Path) -> bool:
    """True when ``path`` is exactly as this generator left it (same size and modification time)."""
    recorded = stamp.get("files", {}).get(os.path.relpath(path, folder))
    return path.exists() and recorded == _signature(path)


def _write_stamp(path: Path, folder: Path, settings: dict, files: list[Path]) -> None:
    stamp = {"settings": settings, "files": {os.path.relpath(f, folder): _signature(f) for f in files}}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(stamp, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)

"""Benchmark of the stage 03 channel-mix solver: the demo's problem against larger plans.

Builds mix problems like the demo's (8 catalogue channels, frequency levels 1/2/4/8, a fixed-cost
channel, a contact cap, coverage and frequency rules per audience) for 1 audience (the demo's
size) and for more audiences, and times, in this one process:

* ``solve``      — the MILP alone (and the preferred-channel second pass);
* ``optimise``   — what the stage runs: solve, constraint table with LP duals, +1,000 元 re-solve;
* ``infeasible`` — the explanation of an infeasible variant (one re-solve per relaxable rule,
  then pairs), which is the expensive path.

Figures are medians of ``--repeat`` runs; ratios are against the 1-audience problem measured in
the same invocation. Usage::

    .venv/bin/python benchmarks/bench_optimize.py
    .venv/bin/python benchmarks/bench_optimize.py --audiences 1 5 20 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from planlib.stages.channels.optimize import MixProblem, Option, explain_infeasible, optimise, solve

CHANNELS = {  # id: (cost per contact, fixed cost, reach, p = open × response)
    "wechat_oa": (0.02, 0, 0.6, 0.025), "wecom": (0.5, 0, 0.7, 0.1125), "app_push": (0.01, 0, 0.5, 0.004),
    "sms": (0.05, 0, 0.95, 0.024), "email": (0.01, 0, 0.8, 0.0075), "phone": (1.5, 0, 0.6, 0.4),
    "offline": (30.0, 2000, 0.9, 0.6), "live": (0.2, 500, 0.4, 0.036),
}


def problem(audiences: int) -> MixProblem:
    options, sizes = [], {}
    for i in range(audiences):
        aud = f"a{i}"
        sizes[aud] = 340 + 37 * i
        for ch, (cost, _fixed, reach, p) in CHANNELS.items():
            for k in (1, 2, 4, 8):
                value = reach * (1 - (1 - p) ** k) * (1 + 0.1 * (i % 3))
                options.append(Option(aud, ch, k, value, value, cost * k, allowed=ch != "email" or i % 2 == 0,
                                      preferred=ch == "phone"))
    return MixProblem(sizes=sizes, options=tuple(options), budget=2000.0 * audiences,
                      fixed_costs={c: float(f) for c, (_, f, _, _) in CHANNELS.items() if f},
                      min_coverage={a: 0.9 for a in sizes}, max_contacts={a: 16.0 for a in sizes},
                      caps={"高价值客户": (0.7 * sum(sizes.values()), {a: 0.5 for a in sizes})})


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audiences", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = sorted(set([1, *args.audiences]))
    rows = []
    for n in sizes:
        p = problem(n)
        bad = replace(p, budget=1.0)  # coverage 90 % cannot be paid for, even by APP push
        assert solve(p).status == "optimal" and solve(bad).status == "infeasible"
        rows.append((n, len(p.options), timed(lambda p=p: solve(p), args.repeat),
                     timed(lambda p=p: optimise(p), args.repeat),
                     timed(lambda bad=bad: explain_infeasible(bad), max(1, args.repeat // 2))))
    base = rows[0]
    print(f"{'audiences':>9} {'options':>7} {'solve s':>8} {'optimise s':>10} {'infeasible s':>12}   ratios vs 1 audience")
    for n, opts, s, o, i in rows:
        print(f"{n:>9} {opts:>7} {s:>8.3f} {o:>10.3f} {i:>12.3f}   "
              f"solve ×{s / base[2]:.1f}, optimise ×{o / base[3]:.1f}, infeasible ×{i / base[4]:.1f}")


if __name__ == "__main__":
    main()

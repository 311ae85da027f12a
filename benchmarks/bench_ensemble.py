"""Timing of seed ensembles of YieldCurveAttentionRegressor: batched vs separate fits.

For each extractor, on simulated multi-family curves (5 families, 6 maturities, windows
of 10 dates, about 1,000 training windows), measures:

* one member: ``YieldCurveAttentionRegressor.fit`` (skorch training loop);
* ten members trained as one batched model: ``SeedEnsemble(batched=True).fit``;
* ten members fitted one after the other (``SeedEnsemble(batched=False, n_jobs=1)``),
  for the first extractor only unless ``--all-separate``.

The target of the batched mode is ten members in at most three times the wall time of
one member. Each entry is the median of ``--repeats`` runs after one warm-up run, with
``torch.set_num_threads(1)``. The table is printed and written as a Markdown section
(``--output``). Run::

    .venv/bin/python benchmarks/bench_ensemble.py

and, on a machine with a GPU, ``--device cuda``.
"""

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from skyield.datasets import make_nelson_siegel_curves
from skyield.ensemble import SeedEnsemble
from skyield.models import YieldCurveAttentionRegressor
from skyield.preprocessing import make_family_windows


def make_data(n_dates, seed=0):
    data = make_nelson_siegel_curves(
        n_dates=n_dates, maturities=[1, 2, 3, 5, 7, 10],
        n_families=["F1", "F2", "F3", "F4", "F5"], random_state=seed)
    windows = make_family_windows(data.curves, window=10, horizons=1)
    return windows.X, windows.y.reshape(windows.n_samples, -1), windows.families


def timed(function, repeats):
    function()  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--n-dates", type=int, default=210)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--extractors", default="attention,conv,lstm,transformer")
    parser.add_argument("--all-separate", action="store_true",
                        help="also time separate fits for every extractor")
    parser.add_argument("--output", type=Path, default=None,
                        help="write the Markdown table to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, y, families = make_data(args.n_dates)
    rows = []
    for position, extractor in enumerate(args.extractors.split(",")):
        base = YieldCurveAttentionRegressor(extractor=extractor, epochs=args.epochs,
                                            batch_size=32, device=args.device)
        one = timed(lambda: base.set_params(random_state=0).fit(X, y, families=families),
                    args.repeats)
        batched = timed(lambda: SeedEnsemble(base, n_estimators=args.members, batched=True,
                                             random_state=0).fit(X, y, families=families),
                        args.repeats)
        separate = None
        if position == 0 or args.all_separate:
            separate = timed(lambda: SeedEnsemble(base, n_estimators=args.members, n_jobs=1,
                                                  random_state=0).fit(X, y, families=families),
                             max(1, args.repeats // 2))
        rows.append((extractor, one, batched, separate))
        print(extractor, one, batched, separate, flush=True)

    load = os.getloadavg()[0]
    lines = [
        f"Command: `.venv/bin/python benchmarks/bench_ensemble.py --repeats {args.repeats} "
        f"--epochs {args.epochs}`",
        "",
        f"Data: {X.shape[0]} windows (5 simulated families, 6 maturities, windows of 10 "
        f"dates), {args.epochs} epochs, batch size 32, units 8, device {args.device}. "
        f"Machine: {os.cpu_count()} CPU cores ({platform.machine()}), Python "
        f"{platform.python_version()}, torch {torch.__version__}, one intra-op thread; "
        f"1-minute load average {load:.1f} at the end of the run.",
        "",
        f"| extractor | one member: wall (s) | {args.members} batched: wall (s) | ratio "
        f"batched / one (wall) | ratio (CPU) | {args.members} separate: wall (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for extractor, one, batched, separate in rows:
        lines.append(
            f"| {extractor} | {one[0]:.2f} | {batched[0]:.2f} | {batched[0] / one[0]:.2f} | "
            f"{batched[1] / one[1]:.2f} | "
            f"{'-' if separate is None else f'{separate[0]:.2f}'} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.output is not None:
        args.output.write_text(table + "\n")


if __name__ == "__main__":
    main()

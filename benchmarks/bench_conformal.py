"""Time of the online conformal recalibration of backtest rows (``conformalize_backtest``).

Synthetic backtest rows shaped like the two uses of the step, with a zero forecast, normal
outcomes and intervals of +/-1 (their values do not change the work):

* ``benchmark``: the main job's shape, 10 models x 333 monthly origins x horizons 1, 6,
  12 x 6 series (59,940 rows);
* ``multi-curve``: 33 curve families x 70 origins x horizons 1, 6, 12 x 9 series, for
  one model (62,370 rows) and for 10 models (623,700 rows).

Each case runs with the defaults (``method="cqr"``, groups by model, family, horizon
and series), and the benchmark shape also with ``method="cqr-r"``, pooled series
(``by=("horizon",)``), a window of 120 scores and quantile tracking
(``tracking_rate=0.1``, with ``"cqr-r"`` as the main job's ``--conformal`` uses it; also
on the multi-curve rows of 10 models, families pooled). Every case is timed in interleaved
rounds (:mod:`_timing`); medians of CPU and wall seconds are printed. One thread. Run::

    .venv/bin/python benchmarks/bench_conformal.py
"""

import argparse

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from skyield.calibration import conformalize_backtest

from _timing import interleaved, load_average, median_cpu, median_wall

HORIZONS = (1, 6, 12)


def backtest_rows(n_models, n_origins, n_series, families=None, seed=0):
    """Rows in the backtest's layout: one per (model, origin, horizon, family, series)."""
    rng = np.random.default_rng(seed)
    origins = pd.date_range("1990-01-31", periods=n_origins, freq="ME")
    axes = {"model": [f"m{i}" for i in range(n_models)], "origin": origins,
            "horizon": list(HORIZONS)}
    if families:
        axes["family"] = [f"F{i}" for i in range(families)]
    axes["series"] = [f"S{i}" for i in range(n_series)]
    rows = pd.MultiIndex.from_product(list(axes.values()), names=list(axes)).to_frame(
        index=False)
    rows["target_date"] = rows["origin"]
    for horizon in HORIZONS:
        at = rows["horizon"] == horizon
        rows.loc[at, "target_date"] = rows.loc[at, "origin"] + pd.offsets.MonthEnd(horizon)
    rows["forecast"] = 0.0
    rows["actual"] = rng.normal(size=len(rows))
    rows["lower"], rows["upper"] = -1.0, 1.0
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    benchmark = backtest_rows(10, 333, 6)
    multi_one = backtest_rows(1, 70, 9, families=33)
    multi_ten = backtest_rows(10, 70, 9, families=33)
    cases = {
        f"benchmark ({len(benchmark):,} rows), cqr":
            lambda: conformalize_backtest(benchmark, 0.95),
        f"benchmark ({len(benchmark):,} rows), cqr-r":
            lambda: conformalize_backtest(benchmark, 0.95, method="cqr-r"),
        f"benchmark ({len(benchmark):,} rows), cqr, by=('horizon',)":
            lambda: conformalize_backtest(benchmark, 0.95, by=("horizon",)),
        f"benchmark ({len(benchmark):,} rows), cqr, score_window=120":
            lambda: conformalize_backtest(benchmark, 0.95, score_window=120),
        f"benchmark ({len(benchmark):,} rows), cqr-r, tracking_rate=0.1":
            lambda: conformalize_backtest(benchmark, 0.95, method="cqr-r", tracking_rate=0.1),
        f"multi-curve, 1 model ({len(multi_one):,} rows), cqr":
            lambda: conformalize_backtest(multi_one, 0.95),
        f"multi-curve, 10 models ({len(multi_ten):,} rows), cqr":
            lambda: conformalize_backtest(multi_ten, 0.95),
        f"multi-curve, 10 models ({len(multi_ten):,} rows), cqr-r, families pooled, "
        f"tracking_rate=0.1":
            lambda: conformalize_backtest(multi_ten, 0.95, method="cqr-r", pool_families=True,
                                          tracking_rate=0.1),
    }
    before = load_average()
    with threadpool_limits(limits=1):
        times = interleaved(cases, args.rounds)
    print(f"load average {before} before, {load_average()} after; "
          f"medians of {args.rounds} rounds\n")
    print("| case | CPU s | wall s |\n|---|---:|---:|")
    for name, samples in times.items():
        print(f"| {name} | {median_cpu(samples):.3f} | {median_wall(samples):.3f} |")


if __name__ == "__main__":
    main()

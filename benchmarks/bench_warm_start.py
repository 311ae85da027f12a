"""Cost and accuracy of warm-started refits against cold refits and a single fit.

On the benchmark's default panel (GSW month-end U.S. zero curves, 1972 to 2025, maturities
1, 2, 3, 5, 7, 10 years; origins from 2000, horizons 1, 6 and 12 months, windows of 12
months) the rolling-origin backtest of :func:`skyield.model_selection.backtest` is run for

* ``LSTMAttentionRegressor`` at the benchmark registry's settings (16 units, changes, at
  most 40 epochs with early stopping): fitted once on 1972-1999 (``refit=False``), refitted
  every 12 origins from scratch, and refitted every 12 origins warm-started from the
  previous fit with each of ``--warm-epochs`` epochs (``warm_start={"epochs": ...}``);
* the one-step dynamic Nelson-Siegel model (``method="kalman"``, VAR): cold and warm
  annual refits;
* the neural state space model (4 factors, 300 x 300 network): one cold fit on the span
  to 2000-12 against one warm refit on it started from the fit to 1999-12 (26 cold
  refits are too long for a 2-core machine).

Printed: the seconds spent fitting (the sum of the backtest's ``fit_time`` over its fits),
the wall time of the whole backtest, and the RMSE per horizon next to the random walk's.
One run, one thread. Run::

    .venv/bin/python benchmarks/bench_warm_start.py
"""

import argparse
import time
import warnings

import numpy as np
import torch

from skyield.baselines import DynamicNelsonSiegel, RandomWalk
from skyield.datasets import load_gsw_zero
from skyield.model_selection import backtest
from skyield.models import LSTMAttentionRegressor, NeuralStateSpaceModel

from _timing import load_average

HORIZONS = [1, 6, 12]


def run(model, panel, **options):
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = backtest(model, panel, window=12, horizons=HORIZONS,
                           test_start="2000-01-01", **options)
    wall = time.perf_counter() - started
    fitting = results.drop_duplicates("train_end")["fit_time"].sum()
    rmse = results.groupby("horizon")["error"].apply(lambda e: np.sqrt(np.mean(e ** 2)))
    return {"fits": results["train_end"].nunique(), "fit seconds": fitting, "wall": wall,
            **{f"RMSE h={h}": rmse[h] for h in HORIZONS}}


def nnss_refit(panel):
    model = dict(n_factors=4, random_state=0)
    rows = {}
    for name, warm in (("cold fit to 2000-12", False), ("warm refit to 2000-12", True)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            previous = NeuralStateSpaceModel(**model).fit(panel.loc[:"1999-12"]) if warm \
                else None
            estimator = previous.set_params(warm_start=True) if warm else \
                NeuralStateSpaceModel(**model)
            started = time.perf_counter()
            estimator.fit(panel.loc[:"2000-12"])
        rows[name] = (time.perf_counter() - started, estimator.n_iter_,
                      estimator.log_posterior_)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-epochs", default="2,5,10",
                        help="comma-separated epochs of the warm refits")
    parser.add_argument("--skip-nnss", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    panel = load_gsw_zero("monthly", start="1972-01-01", maturities=[1, 2, 3, 5, 7, 10])
    print(f"load average at start: {load_average()}")
    lstm = LSTMAttentionRegressor(units=16, epochs=40, differences=True, early_stopping=True,
                                  patience=5, random_state=0)
    dns = DynamicNelsonSiegel(method="kalman", dynamics="var")
    rows = {
        "random walk": run(RandomWalk(), panel, refit=12),
        "lstm-attention, fit once": run(lstm, panel, refit=False),
        "lstm-attention, cold refits": run(lstm, panel, refit=12),
        **{f"lstm-attention, warm refits ({epochs} epochs)": run(
            lstm, panel, refit=12, warm_start={"epochs": int(epochs)})
           for epochs in args.warm_epochs.split(",")},
        "dns-kalman, cold refits": run(dns, panel, refit=12),
        "dns-kalman, warm refits": run(dns, panel, refit=12, warm_start=True),
    }
    columns = list(next(iter(rows.values())))
    print("| run | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(
            f"{row[c]:.4f}" if c.startswith("RMSE") else
            f"{row[c]:.1f}" if isinstance(row[c], float) else str(row[c]) for c in columns)
            + " |")
    if not args.skip_nnss:
        print("\n| NNSS | seconds | iterations | log-posterior |\n|---|---:|---:|---:|")
        for name, (seconds, n_iter, log_post) in nnss_refit(panel).items():
            print(f"| {name} | {seconds:.1f} | {n_iter} | {log_post:.1f} |")
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()

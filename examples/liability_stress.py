"""One-year 99.5% interest-rate stress of a liability run-off, and coverage backtests.

An insurer's best-estimate liability is a run-off of projected cash flows discounted on a
zero curve (Solvency II, IFRS 17). Its one-year interest-rate risk is the 99.5% quantile
of the increase in that value over the next 12 months: the loss when rates fall. This
example values a 30-year run-off on the bundled U.S. GSW zero curves and measures that
stress from the joint scenario paths of several forecasters, side by side; it then checks
how honest each forecaster's 95% intervals were out of sample.

Set-up (all fixed, see ``docs/liability-stress.md``):

* **Curves.** GSW monthly zero-coupon yields, continuously compounded, in percent, at
  1, 2, 3, 5, 7, 10, 15, 20, 25 and 30 years (all ten exist from November 1985 on),
  January 1986 to September 2025. Discount factors between these maturities come from
  linear interpolation of the zero rates; no curve point beyond 30 years is needed, so
  there is no extrapolation (no Smith-Wilson, no ultimate forward rate).
* **Liability.** 30 annual payments at t = 1 .. 30 years declining linearly,
  ``CF_t = 100 (31 - t) / 30`` (100 in year 1 down to 3.33 in year 30).
* **Spans.** Models are fitted on January 1986 .. December 2017 (the *fit span*); the
  coverage backtest forecasts from every month-end of January 2018 .. September 2025
  (origins) at 1 and 12 months; the stress is computed as of the **valuation date
  2025-09-30** from the window ending there, with the same fitted parameters (not refitted
  on data after 2017).
* **Stress.** With ``L_1(c)`` the value at 12 months of the payments still due (the one
  due at 12 months at face value) under the curve ``c`` seen at 12 months,
  ``Delta = L_1(scenario) - L_1(today's curve)``: the change in value caused by the move of
  the curve alone (roll-down and payments are the same on both sides). The stress is the
  99.5% quantile of ``Delta`` over the paths (the 0.5% quantile of the change in own funds
  ``-Delta``).

Models:

* ``DNS-VAR``: two-step dynamic Nelson-Siegel with VAR(1) factors on windows; its
  12-month paths simulate the factor VAR from the OLS factors of the valuation curve.
* ``RW+copula``: random walk with Gaussian one-month changes (variance from the fit span),
  joined across maturities by a Gaussian copula (estimated on the last 60 one-month
  windows of the fit span) and stepped forward month by month.
* ``YC_ATT``: the yield-curve attention regressor with quantile heads at 0.005 .. 0.995
  (and the median), joined by a Gaussian copula of its own PITs, stepped forward monthly.
* ``YC_ATT+CQR``: the same network fitted on the fit span's windows up to 23 windows
  before its last 60, and calibrated by conformalized quantile regression on those 60: every central interval of the quantile grid is
  widened (or narrowed) by its conformal correction, so the marginals the copula joins are
  the calibrated ones.
* ``NNSS``: neural state space model (sequence model) simulating its fitted state space.
* ``Historical``: a model-free reference, the fit span's overlapping 12-month changes of the
  curve added to the valuation curve.

Run::

    python examples/liability_stress.py --output-dir liability-output          # full
    python examples/liability_stress.py --quick --output-dir liability-quick   # CI size

Outputs: ``results.json`` (settings, stresses, coverage table, timings), ``tables.md`` and
the figures ``liability_pv.png`` (distribution of ``Delta`` per model) and
``liability_fan.png`` (fan of the 10-year yield paths). An existing non-empty output folder
is refused unless ``--overwrite`` is given, and the folder appears only once complete
(written beside it, then moved into place in one step).
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

MATURITIES = [1, 2, 3, 5, 7, 10, 15, 20, 25, 30]
COVERAGE = 0.95
HORIZONS = [1, 12]
WINDOW = 12
# Quantile heads of YC_ATT: the copula grid needs the outer levels 0.005 and 0.995.
YC_LEVELS = (0.005, 0.025, 0.05, 0.1, 0.25, 0.75, 0.9, 0.95, 0.975, 0.995)
GRID = tuple(sorted(YC_LEVELS + (0.5,)))
# The conformal variant: a central interval of coverage c needs at least c / (1 - c)
# calibration scores (99 for the 99% interval), more than the 60 calibration months, so
# its grid stops at the 95% interval and the copula route extrapolates the tails linearly
# in normal scores from the two outermost levels.
CQR_GRID = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)

FULL = dict(start="1986-01", fit_end="2017-12", test_start="2018-01", end="2025-09",
            n_paths=5000, calibration_months=60, yc_epochs=200, yc_units=16,
            nnss_hidden=(300, 300), nnss_maxiter=300, nnss_pretrain_maxiter=300)
QUICK = dict(start="2005-01", fit_end="2019-12", test_start="2020-01", end="2021-12",
             n_paths=200, calibration_months=36, yc_epochs=3, yc_units=4,
             nnss_hidden=(8, 8), nnss_maxiter=5, nnss_pretrain_maxiter=5)


def liability():
    """Payment times (years) and amounts of the linear 30-year run-off."""
    times = np.arange(1.0, 31.0)
    return times, 100.0 * (31.0 - times) / 30.0


def value_at_one_year(curves, maturities):
    """``L_1``: value at 12 months of the payments still due, curves in percent."""
    from skyield.curves import present_value

    times, flows = liability()
    curves = np.asarray(curves, dtype=float)
    cube = curves.reshape(-1, 1, curves.shape[-1])
    values = present_value(times, flows, maturities, cube, horizons=[1.0], units="percent",
                           compounding="continuous", interpolation="linear_zero")
    return values[:, 0].reshape(curves.shape[:-1])


def build_models(settings, maturities, seed, n_calibration):
    from skyield.baselines import DynamicNelsonSiegel, RandomWalk
    from skyield.calibration import ConformalIntervalRegressor

    models = {
        "DNS-VAR": DynamicNelsonSiegel(factors="ns", dynamics="var", method="two-step",
                                       maturities=maturities),
        "RW+copula": RandomWalk(),
    }
    try:
        from skyield.models import YieldCurveAttentionRegressor
    except ImportError as error:  # pragma: no cover - reported in the results
        warnings.warn(f"YC_ATT left out: {error}")
        return models
    yc = YieldCurveAttentionRegressor(units=settings["yc_units"], quantiles=YC_LEVELS,
                                      gamma=1, feature_range=(0.1, 0.9), dropout=0.2,
                                      epochs=settings["yc_epochs"], batch_size=32, lr=2e-3,
                                      maturities=maturities, random_state=seed)
    models["YC_ATT"] = yc
    models["YC_ATT+CQR"] = ConformalIntervalRegressor(
        yc, method="cqr", coverage=COVERAGE, calibration_size=n_calibration,
        gap=WINDOW + max(HORIZONS) - 1)
    return models


def build_nnss(settings, maturities, seed):
    from skyield.models import NeuralStateSpaceModel

    return NeuralStateSpaceModel(n_factors=4, hidden_layers=settings["nnss_hidden"],
                                 maturities=maturities, maxiter=settings["nnss_maxiter"],
                                 pretrain_maxiter=settings["nnss_pretrain_maxiter"],
                                 random_state=seed)


def coverage_table(results):
    """PICP, Kupiec and Christoffersen p-values per model, horizon and maturity."""
    from skyield.metrics import christoffersen_test, interval_hits, kupiec_test, picp

    rows = []
    for (model, horizon, series), group in results.groupby(["model", "horizon", "series"],
                                                           sort=False):
        group = group.sort_values("origin")
        y, lower, upper = (group[c].to_numpy(float) for c in ("actual", "lower", "upper"))
        hits = interval_hits(y, lower, upper)
        rows.append({
            "model": model, "horizon": int(horizon), "maturity": float(series),
            "n": int(len(group)), "picp": float(picp(y, lower, upper)),
            "width_bp": float(np.mean(upper - lower) * 100),
            "kupiec_p": float(kupiec_test(hits, COVERAGE).pvalue),
            "christoffersen_cc_p": float(christoffersen_test(hits, COVERAGE).pvalue_cc),
        })
    return pd.DataFrame(rows)


def run(settings, seed=0, output_dir=None, include_nnss=True, figures=True,
        overwrite=False):
    import torch
    from sklearn.base import clone

    from skyield.base import estimator_kind
    from skyield.datasets import load_gsw_zero
    from skyield.model_selection import backtest
    from skyield.preprocessing import make_windows
    from skyield.scenarios import fit_copula, sample_paths
    from skyield.utils import check_output_target, staged_folder

    if output_dir is not None:
        check_output_target(output_dir, overwrite)
    torch.set_num_threads(1)
    started_all = time.perf_counter()
    panel = load_gsw_zero("monthly", maturities=MATURITIES, start=settings["start"],
                          end=settings["end"])
    maturities = np.asarray(panel.columns, dtype=float)
    fit_panel = panel.loc[:settings["fit_end"]]
    valuation_date = panel.index[-1]
    today = panel.iloc[-1].to_numpy(float)
    origin_window = panel.iloc[-WINDOW:]
    windows = make_windows(fit_panel, window=WINDOW, horizons=HORIZONS)
    one_step = make_windows(fit_panel, window=WINDOW, horizons=[1])
    n_cal = settings["calibration_months"]
    cal_X, cal_y = one_step.X[-n_cal:], one_step.y[-n_cal:]
    base_value = float(value_at_one_year(today, maturities))
    value_today = float(_present_value_today(today, maturities))

    models = build_models(settings, maturities, seed, n_cal)
    frames, stress, cubes, timings, notes = [], {}, {}, {}, {}
    for name, model in models.items():
        t0 = time.perf_counter()
        res = backtest(model, panel, window=WINDOW, horizons=HORIZONS, refit=False,
                       coverage=COVERAGE, test_start=settings["test_start"])
        frames.append(res.assign(model=name))
        if estimator_kind(model) == "sequence":
            # Fitted on the fit span, then filtered on to the valuation date.
            fitted = clone(model).fit(fit_panel)
            fitted.update(panel.loc[panel.index > fit_panel.index[-1]])
            cube = sample_paths(fitted, settings["n_paths"], 12, random_state=seed)
        else:
            fitted = clone(model).fit(windows.X, windows.y)
            grid = {"YC_ATT": GRID, "YC_ATT+CQR": CQR_GRID}.get(name)
            cube = sample_paths(fitted, settings["n_paths"], 12, X=origin_window,
                                random_state=seed,
                                copula=fit_copula(fitted, cal_X, cal_y, quantile_grid=grid),
                                quantile_grid=grid)
        cubes[name] = np.asarray(cube)
        timings[name] = time.perf_counter() - t0
        print(f"{name}: {timings[name]:.1f} s", flush=True)

    if include_nnss:
        t0 = time.perf_counter()
        try:
            nnss = build_nnss(settings, maturities, seed)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = backtest(nnss, panel, horizons=HORIZONS, refit=False,
                               coverage=COVERAGE, test_start=settings["test_start"])
                fitted = build_nnss(settings, maturities, seed).fit(fit_panel)
                fitted.update(panel.loc[panel.index > fit_panel.index[-1]])
            messages = sorted({str(w.message)[:200] for w in caught})
            if messages:
                notes["NNSS"] = messages
            frames.append(res.assign(model="NNSS"))
            cubes["NNSS"] = np.asarray(sample_paths(fitted, settings["n_paths"], 12,
                                                    random_state=seed))
        except Exception as error:  # reported, never hidden
            notes["NNSS"] = [f"left out: {type(error).__name__}: {error}"]
            print(f"NNSS left out: {error}", flush=True)
        timings["NNSS"] = time.perf_counter() - t0
        print(f"NNSS: {timings['NNSS']:.1f} s", flush=True)

    # Model-free reference: the fit span's overlapping 12-month curve changes.
    changes = (fit_panel.shift(-12) - fit_panel).dropna().to_numpy(float)
    cubes["Historical"] = (today + changes)[:, None, :].repeat(12, axis=1)

    deltas = {}
    for name, cube in cubes.items():
        values = value_at_one_year(cube[:, -1], maturities)
        delta = values - base_value
        deltas[name] = delta
        stress[name] = {
            "n_paths": int(cube.shape[0]),
            "stress_995": float(np.quantile(delta, 0.995)),
            "stress_995_pct": float(100 * np.quantile(delta, 0.995) / base_value),
            "mean_delta": float(delta.mean()),
            "q005_delta": float(np.quantile(delta, 0.005)),
            "y10_q005": float(np.quantile(cube[:, -1, list(maturities).index(10.0)], 0.005)),
            "y10_median": float(np.median(cube[:, -1, list(maturities).index(10.0)])),
            "min_pv": float(values.min()),
        }

    results = pd.concat(frames, ignore_index=True)
    table = coverage_table(results)
    out = {
        "settings": {**settings, "seed": seed, "maturities": MATURITIES, "window": WINDOW,
                     "horizons": HORIZONS, "coverage": COVERAGE,
                     "valuation_date": str(valuation_date.date())},
        "valuation_curve_pct": dict(zip(MATURITIES, today.round(4).tolist())),
        "pv_today": value_today, "base_value_one_year": base_value,
        "stress": stress, "coverage": table.to_dict(orient="records"),
        "timings_s": timings, "total_s": time.perf_counter() - started_all, "notes": notes,
    }
    if output_dir is not None:
        with staged_folder(output_dir, overwrite) as staging:
            (staging / "results.json").write_text(json.dumps(out, indent=2))
            (staging / "tables.md").write_text(markdown(out, table))
            if figures:
                plot(staging, deltas, cubes, panel, maturities, stress)
    return out


def _present_value_today(curve, maturities):
    from skyield.curves import present_value

    times, flows = liability()
    return present_value(times, flows, maturities, curve, units="percent")


def markdown(out, table):
    lines = [f"Valuation date {out['settings']['valuation_date']}; PV today "
             f"{out['pv_today']:.2f}; value at 12 months on today's curve "
             f"{out['base_value_one_year']:.2f}.", "",
             "| Model | paths | 99.5% stress (increase of L_1) | % of L_1 | mean change | "
             "10Y yield 0.5% q. (%) |", "|---|---:|---:|---:|---:|---:|"]
    for name, s in out["stress"].items():
        lines.append(f"| {name} | {s['n_paths']} | {s['stress_995']:.2f} | "
                     f"{s['stress_995_pct']:.1f}% | {s['mean_delta']:+.2f} | "
                     f"{s['y10_q005']:.2f} |")
    lines += ["", "Coverage of 95% intervals, averaged over maturities (min-max of the "
              "per-maturity p-values):", "",
              "| Model | h | PICP | width (bp) | Kupiec p | Christoffersen cc p |",
              "|---|---:|---:|---:|---:|---:|"]
    for (model, h), g in table.groupby(["model", "horizon"], sort=False):
        lines.append(f"| {model} | {h} | {g.picp.mean():.3f} | {g.width_bp.mean():.0f} | "
                     f"{g.kupiec_p.min():.3f}-{g.kupiec_p.max():.3f} | "
                     f"{g.christoffersen_cc_p.min():.3f}-{g.christoffersen_cc_p.max():.3f} |")
    lines += ["", "Per maturity:", "", "| Model | h | maturity | PICP | Kupiec p | "
              "Christoffersen cc p |", "|---|---:|---:|---:|---:|---:|"]
    for r in table.itertuples():
        lines.append(f"| {r.model} | {r.horizon} | {r.maturity:g} | {r.picp:.3f} | "
                     f"{r.kupiec_p:.3f} | {r.christoffersen_cc_p:.3f} |")
    return "\n".join(lines) + "\n"


def plot(output_dir, deltas, cubes, panel, maturities, stress):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(deltas)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    bins = np.linspace(min(np.quantile(d, 0.001) for d in deltas.values()),
                       max(np.quantile(d, 0.999) for d in deltas.values()), 80)
    for name in names:
        line = ax.hist(deltas[name], bins=bins, density=True, histtype="step", label=name)
        ax.axvline(stress[name]["stress_995"], color=line[2][0].get_edgecolor(), ls="--",
                   lw=1)
    ax.set_xlabel("change in value at 12 months from the move of the curve (Delta)")
    ax.set_ylabel("density")
    ax.set_title("Liability run-off: 12-month change in value; dashed: 99.5% quantile")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(output_dir / "liability_pv.png", dpi=110)
    plt.close(fig)

    j = list(maturities).index(10.0)
    models = [n for n in names if n != "Historical"]
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.4), sharey=True)
    axes = np.atleast_1d(axes)
    history = panel[10.0].iloc[-36:]
    future = pd.date_range(panel.index[-1], periods=13, freq="ME")[1:]
    for ax, name in zip(axes, models):
        paths = cubes[name][:, :, j]
        ax.plot(history.index, history.values, color="black", lw=1)
        for lo, hi, alpha in [(0.005, 0.995, 0.2), (0.05, 0.95, 0.3), (0.25, 0.75, 0.4)]:
            ax.fill_between(future, np.quantile(paths, lo, axis=0),
                            np.quantile(paths, hi, axis=0), color="C0", alpha=alpha, lw=0)
        ax.plot(future, np.median(paths, axis=0), color="C0", lw=1)
        ax.set_title(name, fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    axes[0].set_ylabel("10-year zero yield (%)")
    fig.suptitle("10-year yield paths from the valuation date: 50/90/99% bands", fontsize=10)
    fig.tight_layout()
    fig.savefig(output_dir / "liability_fan.png", dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny CI configuration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-nnss", action="store_true", help="leave the NNSS model out")
    parser.add_argument("--output-dir", default="liability-output",
                        help="where the results and figures are written (in one step at "
                             "the end; an existing non-empty folder is refused unless "
                             "--overwrite is given)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing non-empty --output-dir")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    out = run(settings, seed=args.seed, output_dir=args.output_dir,
              include_nnss=not args.no_nnss, overwrite=args.overwrite)
    print(Path(args.output_dir, "tables.md").read_text())
    print(f"total {out['total_s']:.0f} s")


if __name__ == "__main__":
    main()

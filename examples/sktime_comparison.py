"""skyield and sktime forecasters side by side in sktime's ``evaluate``.

Monthly zero-coupon yields of the bundled Gurkaynak-Sack-Wright curves at 1, 2, 5 and 10
years are forecast 1, 6 and 12 months ahead from expanding training windows. Every model
is an sktime forecaster run through one ``evaluate`` call with the same splitter (refit
at every origin), so every model is judged on identical origins and targets:

- skyield, through :class:`skyield.sktime.SkyieldForecaster`: the random walk, dynamic
  Nelson-Siegel with AR(1) and with VAR(1) factors (two-step, Diebold and Li 2006,
  fitted on the panel as sequence models), and a scikit-learn ``Ridge`` on windows of six
  monthly changes (direct strategy);
- sktime: ``NaiveForecaster(strategy="last")``, ``VAR(maxlags=1)`` and
  ``StatsModelsARIMA(order=(1, 1, 0))`` on each maturity (the statsmodels-based ARIMA:
  pmdarima and statsforecast are optional sktime dependencies this example does not need).

The table gives the root mean squared error in basis points per horizon, pooled over the
four maturities and every origin, the share of outcomes inside the 90% prediction
intervals (all horizons; models without intervals show "-") and the seconds spent in
fitting. Origins are the forecast cutoffs: the target dates therefore differ across
horizons (Diebold and Li evaluate fixed *target* dates instead).

Results go to ``<output-dir>/results.json`` and ``<output-dir>/table.md``. An existing
non-empty output folder is refused unless ``--overwrite`` is given, and the folder appears
only once complete (written beside it, then moved into place in one step).

Run::

    python examples/sktime_comparison.py            # full: 1985-2025, monthly origins
    python examples/sktime_comparison.py --quick    # CI size, yearly origins from 2017
"""

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sktime.forecasting.arima import StatsModelsARIMA
from sktime.forecasting.model_evaluation import evaluate
from sktime.forecasting.naive import NaiveForecaster
from sktime.forecasting.var import VAR
from sktime.performance_metrics.forecasting import MeanSquaredError
from sktime.performance_metrics.forecasting.probabilistic import EmpiricalCoverage
from sktime.split import ExpandingWindowSplitter

from skyield.baselines import DynamicNelsonSiegel, RandomWalk
from skyield.compose import InChanges
from skyield.datasets import load_gsw_zero
from skyield.sktime import SkyieldForecaster
from skyield.utils import check_output_target, staged_folder

MATURITIES = [1, 2, 5, 10]
HORIZONS = [1, 6, 12]
COVERAGE = 0.9

SETTINGS = {
    "full": dict(start="1985", initial_window=240, step_length=1),
    "quick": dict(start="2012", initial_window=60, step_length=12),
}


def models():
    """The compared forecasters, by name (skyield first, then sktime's own)."""
    return {
        "RandomWalk (skyield)": SkyieldForecaster(RandomWalk(), window=1),
        "DNS ns-ar (skyield)": SkyieldForecaster(DynamicNelsonSiegel(dynamics="ar")),
        "DNS ns-var (skyield)": SkyieldForecaster(DynamicNelsonSiegel(dynamics="var")),
        # The ridge sees the 6 monthly changes inside each window of 7 months.
        "Ridge on 6 monthly changes (skyield adapter)": SkyieldForecaster(
            InChanges(Ridge(alpha=1.0)), window=7),
        "NaiveForecaster last (sktime)": NaiveForecaster(strategy="last"),
        "VAR(1) (sktime)": VAR(maxlags=1),
        "ARIMA(1,1,0) per maturity (sktime)": StatsModelsARIMA(order=(1, 1, 0)),
    }


def load_panel(start):
    """Monthly GSW zero yields (percent), indexed by monthly periods."""
    panel = load_gsw_zero(freq="monthly", maturities=MATURITIES, start=start)
    # Month-end dates fall on business days (irregular); periods carry the frequency.
    panel.index = panel.index.to_period("M")
    return panel


def _quietly(function, *args, **kwargs):
    """Call ``function``, passing on every warning but sktime's notice (on every clone
    of its own forecasters) that its data-keeping default will change."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = function(*args, **kwargs)
    for warning in caught:
        if "The default of config" not in str(warning.message):
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return value


def _evaluate(forecaster, cv, panel):
    scoring = [MeanSquaredError(square_root=True)]
    if forecaster.get_tag("capability:pred_int"):
        scoring.append(EmpiricalCoverage(coverage=COVERAGE))
    return _quietly(evaluate, forecaster, cv, panel, scoring=scoring, return_data=True)


def _scores(folds):
    squared = {h: [] for h in HORIZONS}
    inside = []
    for _, fold in folds.iterrows():
        errors = (fold["y_pred"].to_numpy() - fold["y_test"].to_numpy()) * 100.0
        for position, h in enumerate(HORIZONS):
            squared[h].extend(errors[position] ** 2)
        if "y_pred_interval" in fold and isinstance(fold["y_pred_interval"], pd.DataFrame):
            interval = fold["y_pred_interval"].to_numpy().reshape(len(HORIZONS), -1, 2)
            actual = fold["y_test"].to_numpy()
            inside.extend(((interval[..., 0] <= actual) & (actual <= interval[..., 1])).ravel())
    return {
        "rmse_bp": {str(h): float(np.sqrt(np.mean(squared[h]))) for h in HORIZONS},
        "coverage": float(np.mean(inside)) if inside else None,
        "fit_seconds": float(folds["fit_time"].sum()),
        "n_origins": int(len(folds)),
    }


def table(results):
    """The results as a Markdown table."""
    lines = ["| model | " + " | ".join(f"RMSE h={h} (bp)" for h in HORIZONS)
             + f" | {int(COVERAGE * 100)}% coverage | fit (s) |",
             "|---" * (len(HORIZONS) + 3) + "|"]
    for name, entry in results["models"].items():
        rmse = " | ".join(f"{entry['rmse_bp'][str(h)]:.1f}" for h in HORIZONS)
        coverage = "-" if entry["coverage"] is None else f"{entry['coverage']:.2f}"
        lines.append(f"| {name} | {rmse} | {coverage} | {entry['fit_seconds']:.1f} |")
    return "\n".join(lines)


def run(quick=False, output_dir="skyield-output/sktime_comparison", overwrite=False):
    """Run the comparison and write ``results.json`` and ``table.md``.

    Parameters
    ----------
    quick : bool, default=False
        CI size: data from 2012, a 5-year first window, yearly origins.
    output_dir : str or Path
        Where the results are written.
    overwrite : bool, default=False
        Whether an existing non-empty ``output_dir`` may be replaced (as a whole).

    Returns
    -------
    results : dict
        Settings, per-model scores and the total run time.
    """
    check_output_target(output_dir, overwrite)
    started = time.perf_counter()
    settings = SETTINGS["quick" if quick else "full"]
    panel = load_panel(settings["start"])
    cv = ExpandingWindowSplitter(fh=HORIZONS, initial_window=settings["initial_window"],
                                 step_length=settings["step_length"])
    results = {
        "settings": {"mode": "quick" if quick else "full", **settings,
                     "maturities": MATURITIES, "horizons": HORIZONS,
                     "first_date": str(panel.index[0]), "last_date": str(panel.index[-1])},
        "models": {},
    }
    for name, forecaster in _quietly(models).items():
        folds = _evaluate(forecaster, cv, panel)
        results["models"][name] = _scores(folds)
        cutoffs = folds["cutoff"]
    results["settings"]["first_origin"] = str(cutoffs.iloc[0])
    results["settings"]["last_origin"] = str(cutoffs.iloc[-1])
    results["seconds"] = round(time.perf_counter() - started, 1)
    with staged_folder(output_dir, overwrite) as staging:
        (staging / "results.json").write_text(json.dumps(results, indent=2))
        (staging / "table.md").write_text(table(results) + "\n")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI size (seconds)")
    parser.add_argument("--output-dir", default="skyield-output/sktime_comparison",
                        help="where results.json and table.md are written (in one step "
                             "at the end; an existing non-empty folder is refused unless "
                             "--overwrite is given)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing non-empty --output-dir")
    args = parser.parse_args(argv)
    results = run(quick=args.quick, output_dir=args.output_dir, overwrite=args.overwrite)
    settings = results["settings"]
    print(f"origins {settings['first_origin']} .. {settings['last_origin']} "
          f"({next(iter(results['models'].values()))['n_origins']}), horizons {HORIZONS}")
    print(table(results))
    print(f"\n{results['seconds']} s; results in {args.output_dir}/results.json")


if __name__ == "__main__":
    main()

"""LSTM with attention on weekly U.S. Treasury yields, 1993-2018: the study of seed 000.

Ten constant-maturity yields (3M, 6M, 1Y, 2Y, 3Y, 5Y, 7Y, 10Y, 20Y, 30Y; the bundled 1M
series is left out, as in the seed) enter 52-week windows; the models forecast the 10-year
yield for week 53 (one step) and for weeks 53-56 (a sequence of four). Two parts:

A. Out-of-sample forecasts. ``LSTMAttentionRegressor`` on yield levels and on yield
   changes (one step and sequence) and a plain ``LSTMRegressor`` (one step) are fitted on
   the windows whose targets fall in the training span, with early stopping on the most
   recent tenth of those windows. Their RMSEs over the test span are compared with the
   random walk, a weighted rolling regression (refitted in each 52-week window) and an
   ARIMA chosen by AIC on the training span (statsmodels), with Diebold-Mariano tests
   against the random walk.
B. The attention study, in the seed's setting: the attention models are fitted on every
   window of the span (a fixed number of epochs, no held-out data, as the seed's charts
   summarise attention "over the entire dataset"). The script measures how dispersed the
   attention is (normalised entropy, mass on the last two weeks, maximum attention per
   lag) for levels and changes, and where the forecast for the first week of 2014 (origin
   27 December 2013) looks relative to the 22 May 2013 taper-tantrum announcement.

Every number comes from one seed (``random_state=0``). Results go to
``<output-dir>/results.json``, the attention of part B to ``<output-dir>/attention.npz``
and the figures to ``<output-dir>/*.png``. An existing non-empty output folder is refused
unless ``--overwrite`` is given, and the folder appears only once complete (written beside
it, then moved into place in one step).

Run::

    python examples/lstm_attention_treasury.py                 # full settings
    python examples/lstm_attention_treasury.py --quick         # CI size, well under a minute
"""

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd
import torch

from skyield.baselines import RandomWalk, WeightedRollingRegression
from skyield.datasets import load_treasury_cmt
from skyield.metrics import diebold_mariano, root_mean_squared_error
from skyield.models import LSTMAttentionRegressor, LSTMRegressor
from skyield.preprocessing import make_windows
from skyield.utils import check_output_target, staged_folder

MATURITIES = ["3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "20Y", "30Y"]
TARGET_YEARS = 10.0
WINDOW = 52
ANNOUNCEMENT = pd.Timestamp("2013-05-22")
TAPER_ORIGIN = pd.Timestamp("2013-12-27")  # its week-53 target is the first week of 2014

SETTINGS = {
    "full": dict(start="1993", end="2018", train_end="2010-12-31", units=32,
                 attn_dense_nodes=16, epochs=100, patience=20, study_epochs=60,
                 batch_size=32, lr=1e-3, lstm_units=32),
    "quick": dict(start="2009", end="2015", train_end="2012-12-31", units=4,
                  attn_dense_nodes=2, epochs=2, patience=2, study_epochs=2,
                  batch_size=64, lr=1e-3, lstm_units=4),
}


def load_panel(start, end):
    """Weekly (Friday) yields of the ten maturities, in percent."""
    return load_treasury_cmt("weekly", start=start, end=end, maturities=MATURITIES)


def build_windows(panel, horizons):
    """Windows of 53 weekly levels, so that level and change models share their origins.

    The level models see the last 52 levels of each window, the change models the 52
    weekly changes inside it (``differences=True``): both attend over the same 52 weeks.
    """
    return make_windows(panel, window=WINDOW + 1, horizons=horizons, targets=[TARGET_YEARS])


def attention_model(settings, horizon, differences, target, study=False):
    """The attention model: early stopping in part A, a fixed number of epochs in part B.

    ``weight_decay=2e-5`` is the seed's Keras ``l2(1e-5)`` (Adam's coupled decay).
    """
    return LSTMAttentionRegressor(
        horizons=horizon, differences=differences, targets=target,
        units=settings["units"], attn_dense_nodes=settings["attn_dense_nodes"],
        shared_attention=False, weight_decay=2e-5, recurrent_dropout=0.1,
        recurrent_dropout_mode="sequence",  # Keras' masks: the run reported in the docs
        epochs=settings["study_epochs" if study else "epochs"],
        batch_size=settings["batch_size"], lr=settings["lr"], early_stopping=not study,
        validation_fraction=0.1, validation_gap=horizon - 1, patience=settings["patience"],
        random_state=0,
    )


def lstm_model(settings, horizon, differences, target):
    return LSTMRegressor(
        horizons=horizon, differences=differences, targets=target,
        units=settings["lstm_units"], weight_decay=2e-5, recurrent_dropout=0.1,
        recurrent_dropout_mode="sequence",
        epochs=settings["epochs"], batch_size=settings["batch_size"], lr=settings["lr"],
        early_stopping=True, validation_fraction=0.1, validation_gap=horizon - 1,
        patience=settings["patience"], random_state=0,
    )


def inputs_for(X, differences):
    """The level models see the last 52 levels of a 53-week window, the change models
    the 52 weekly changes inside it."""
    return X if differences else X[:, 1:]


def attention_summary(attention):
    """Dispersion of attention weights of shape (n, n_horizons, n_lags)."""
    n_lags = attention.shape[-1]
    entropy = -(attention * np.log(np.clip(attention, 1e-12, None))).sum(-1) / np.log(n_lags)
    mean = attention.mean(axis=(0, 1))
    return {
        "normalised_entropy": float(entropy.mean()),
        "mass_last_two_weeks": float(attention[..., -2:].sum(-1).mean()),
        "mass_last_week": float(attention[..., -1].mean()),
        "peak_mean_lag": int(n_lags - 1 - mean.argmax()),
        "max_attention_per_lag": attention.max(axis=(0, 1)).round(4).tolist(),
    }


def fit_arima(series, train_end):
    """ARIMA(p, 1, q), p, q <= 2, chosen by AIC on the training span; then filtered over the
    whole series with those parameters fixed (statsmodels)."""
    from statsmodels.tsa.arima.model import ARIMA

    values = series.to_numpy()
    n_train = int((series.index <= train_end).sum())
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in range(3):
            for q in range(3):
                result = ARIMA(values[:n_train], order=(p, 1, q)).fit()
                if best is None or result.aic < best.aic:
                    best, order = result, (p, 1, q)
        return best.apply(values), order


def arima_forecasts(full, series, origins, horizons):
    """h-step forecasts from each origin given the data up to it: array (n_origins, n_h).

    With ``a`` the state predicted for ``origin + 1`` by the Kalman filter, the forecast is
    ``Z T^(h-1) a`` (no intercepts in an ARIMA(p, 1, q) without trend); this equals
    statsmodels' dynamic ``get_prediction`` from that origin, without one call per origin.
    """
    filtered = full.filter_results
    design, transition = filtered.design[:, :, 0], filtered.transition[:, :, 0]
    state = filtered.predicted_state[:, series.index.get_indexer(origins) + 1]
    forecasts = []
    for h in range(1, max(horizons) + 1):
        if h in horizons:
            forecasts.append(design @ state)
        state = transition @ state
    return np.concatenate(forecasts).T


def dm_against(errors, reference, horizon):
    result = diebold_mariano(errors, reference, h=horizon)
    return {"statistic": float(result.statistic), "pvalue": float(result.pvalue)}


def lag_dates(origin, n_lags):
    return pd.date_range(end=origin, periods=n_lags, freq="W-FRI")


def taper_tantrum(attention_row, origin):
    """Where the attention of one forecast (n_horizons, n_lags) concentrates in calendar time."""
    dates = lag_dates(origin, attention_row.shape[-1])
    announcement_week = dates[dates >= ANNOUNCEMENT][0]
    near = np.abs((dates - announcement_week).days) <= 7
    steps = []
    for weights in attention_row:
        peak = int(weights.argmax())
        steps.append({
            "peak_week": str(dates[peak].date()),
            "peak_lag": int(len(weights) - 1 - peak),
            "peak_weight": float(weights[peak]),
            "weeks_from_announcement_week": int((dates[peak] - announcement_week).days // 7),
            "mass_within_one_week_of_announcement": float(weights[near].sum()),
            "mass_last_two_weeks": float(weights[-2:].sum()),
        })
    return {"announcement_week": str(announcement_week.date()),
            "announcement_lag": int(len(dates) - 1 - dates.get_loc(announcement_week)),
            "steps": steps}


def save_figures(out, panel, studies):
    """Figures of part B: attention of the models fitted on every window."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skyield.plotting import (
        plot_attention_heatmap,
        plot_attention_over_time,
        plot_max_attention,
    )

    written = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        written.append(name)

    one_step = studies["one_step"]
    for kind in ("levels", "changes"):
        fig, ax = plt.subplots(figsize=(8, 3.2))
        plot_max_attention(one_step[kind], ax=ax,
                           title=f"Maximum attention per week over all windows, yield {kind}")
        save(fig, f"max_attention_{kind}.png")
    for label, arrays in studies.items():
        for kind in ("levels", "changes"):
            if f"{kind}_taper" not in arrays:
                continue
            rows = arrays[f"{kind}_taper"]
            fig, ax = plt.subplots(figsize=(8, 1.7 + 0.45 * rows.shape[0]))
            plot_attention_heatmap(
                rows, ax=ax, title=f"{label.replace('_', ' ')}, {kind}: forecast from 2013-12-27")
            # Mark the week of the 22 May 2013 announcement.
            dates = lag_dates(TAPER_ORIGIN, rows.shape[-1])
            column = dates.get_loc(dates[dates >= ANNOUNCEMENT][0])
            ax.axvline(column + 0.5, color="cyan", linestyle="--", linewidth=1)
            save(fig, f"attention_2014_{label}_{kind}.png")
    # Forecasts made from mid-2012 to mid-2014: the 2013 weeks as they age in the window.
    span = (one_step["origins"] >= "2012-07-01") & (one_step["origins"] <= "2014-06-30")
    for kind in ("levels", "changes"):
        shown = one_step[kind][np.asarray(span)]
        fig, ax = plt.subplots(figsize=(9, 3.2))
        plot_attention_over_time(shown, one_step["origins"][span], ax=ax,
                                 vmax=float(np.quantile(shown[:, 0], 0.995)),
                                 title=f"Attention of the one-step {kind} model, 2012-2014")
        ax.axvline(ANNOUNCEMENT, color="cyan", linestyle="--", linewidth=1)
        save(fig, f"attention_over_time_{kind}.png")

    if "levels_taper" in one_step:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        dates = lag_dates(TAPER_ORIGIN, WINDOW)
        ax.plot(dates, panel.loc[dates, TARGET_YEARS], color="k", label="10-year yield")
        ax.axvline(ANNOUNCEMENT, color="tab:red", linestyle="--", label="22 May 2013")
        ax.set_ylabel("percent")
        twin = ax.twinx()
        for kind, colour in (("changes", "tab:orange"), ("levels", "tab:blue")):
            twin.step(dates, one_step[f"{kind}_taper"][0], where="mid", color=colour,
                      label=f"attention, one-step {kind} model")
        twin.set_ylabel("attention")
        lines, labels = ax.get_legend_handles_labels()
        more_lines, more_labels = twin.get_legend_handles_labels()
        ax.legend(lines + more_lines, labels + more_labels, loc="upper left", fontsize=8)
        ax.set_title("The window of the forecast for the first week of 2014")
        save(fig, "taper_tantrum_window.png")
    return written


def log(message, started):
    print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)


def run(quick=False, output_dir="skyield-output/lstm_attention", threads=1, figures=True,
        overwrite=False):
    """Run both parts and return the results (also written to ``results.json``).

    ``output_dir`` is checked before any work: an existing non-empty folder is refused
    unless ``overwrite`` is True, in which case it is replaced as a whole.
    """
    check_output_target(output_dir, overwrite)
    torch.set_num_threads(threads)
    settings = SETTINGS["quick" if quick else "full"]
    started = time.perf_counter()

    panel = load_panel(settings["start"], settings["end"])
    target = panel.columns.get_loc(TARGET_YEARS)
    train_end = pd.Timestamp(settings["train_end"])
    results = {"settings": {**settings, "mode": "quick" if quick else "full", "seed": 0,
                            "threads": threads, "window": WINDOW, "maturities": MATURITIES,
                            "dates": [str(panel.index[0].date()), str(panel.index[-1].date())]},
               "forecasts": {}, "attention": {}}
    studies = {}
    arima_fit = fit_arima(panel[TARGET_YEARS], train_end)
    for horizon, label in ((1, "one_step"), (4, "sequence")):
        windows = build_windows(panel, horizons=horizon)
        y = windows.y[:, :, 0]  # (n, horizon): one target at consecutive steps
        results["forecasts"][label] = forecast_comparison(
            settings, panel, windows, y, horizon, label, target, train_end, arima_fit,
            started)
        results["attention"][label], studies[label] = attention_study(
            settings, windows, y, horizon, label, target, started)

    results["seconds"] = round(time.perf_counter() - started, 1)
    with staged_folder(output_dir, overwrite) as staging:
        np.savez_compressed(staging / "attention.npz", **{
            f"{label}_{key}": np.asarray(value,
                                         dtype="datetime64[ns]" if key == "origins" else None)
            for label, arrays in studies.items() for key, value in arrays.items()})
        if figures:
            results["figures"] = save_figures(staging, panel, studies)
        (staging / "results.json").write_text(json.dumps(results, indent=2))
    return results


def forecast_comparison(settings, panel, windows, y, horizon, label, target, train_end,
                        arima_fit, started):
    """Part A: fit on the training span, forecast the test span, compare with baselines."""
    last_target = pd.DatetimeIndex(windows.target_dates[:, -1])
    train = np.asarray(last_target <= train_end)
    test = np.asarray(windows.origins > train_end)
    X_train, y_train, X_test, y_test = windows.X[train], y[train], windows.X[test], y[test]
    origins = windows.origins[test]
    entry = {"n_train": int(train.sum()), "n_test": int(test.sum()),
             "train_targets": [str(pd.Timestamp(windows.target_dates[train][0, 0]).date()),
                               str(pd.Timestamp(windows.target_dates[train][-1, -1]).date())],
             "test_origins": [str(origins[0].date()), str(origins[-1].date())],
             "rmse": {}, "rmse_by_horizon": {}, "dm_vs_random_walk": {}, "epochs_run": {},
             "fit_seconds": {}, "attention_test": {}}
    forecasts = {}
    networks = {f"attention_{kind}": (attention_model(settings, horizon, diff, target), diff)
                for kind, diff in (("levels", False), ("changes", True))}
    if horizon == 1:
        networks.update({f"lstm_{kind}": (lstm_model(settings, horizon, diff, target), diff)
                         for kind, diff in (("levels", False), ("changes", True))})
    for name, (model, differences) in networks.items():
        log(f"A, {label}: fitting {name}", started)
        tic = time.perf_counter()
        model.fit(inputs_for(X_train, differences), y_train)
        entry["fit_seconds"][name] = round(time.perf_counter() - tic, 1)
        entry["epochs_run"][name] = model.n_epochs_
        forecasts[name] = model.predict(inputs_for(X_test, differences))
        if hasattr(model, "get_attention"):
            summary = attention_summary(model.get_attention(inputs_for(X_test, differences)))
            summary.pop("max_attention_per_lag")
            entry["attention_test"][name] = summary

    levels_train, levels_test = X_train[:, 1:], X_test[:, 1:]
    forecasts["random_walk"] = RandomWalk(targets=[target]).fit(
        levels_train, y_train[:, :, None]).predict(levels_test)[:, :, 0]
    forecasts["weighted_rolling_regression"] = WeightedRollingRegression(
        half_life=26, targets=target).fit(levels_train, y_train[:, :, None]).predict(
        levels_test)[:, :, 0]
    arima, order = arima_fit
    forecasts["arima"] = arima_forecasts(arima, panel[TARGET_YEARS], origins,
                                         list(range(1, horizon + 1)))
    entry["arima_order"] = list(order)

    rw_errors = forecasts["random_walk"] - y_test
    for name, forecast in forecasts.items():
        errors = forecast - y_test
        entry["rmse"][name] = float(root_mean_squared_error(y_test, forecast))
        entry["rmse_by_horizon"][name] = np.sqrt((errors ** 2).mean(axis=0)).tolist()
        if name != "random_walk":
            entry["dm_vs_random_walk"][name] = [
                dm_against(errors[:, k], rw_errors[:, k], k + 1) for k in range(horizon)
            ]
    return entry


def attention_study(settings, windows, y, horizon, label, target, started):
    """Part B: fit on every window of the span and summarise the attention."""
    entry = {"n_windows": int(windows.n_samples), "epochs": settings["study_epochs"]}
    arrays = {"origins": windows.origins}
    taper = np.flatnonzero(windows.origins == TAPER_ORIGIN)
    for kind, differences in (("levels", False), ("changes", True)):
        log(f"B, {label}: fitting the attention model on {kind} (all windows)", started)
        model = attention_model(settings, horizon, differences, target, study=True)
        tic = time.perf_counter()
        X = inputs_for(windows.X, differences)
        model.fit(X, y)
        attention = model.get_attention(X)
        summary = attention_summary(attention)
        summary["fit_seconds"] = round(time.perf_counter() - tic, 1)
        summary["in_sample_rmse"] = float(np.sqrt(np.mean((model.predict(X) - y) ** 2)))
        arrays[kind] = attention
        if taper.size:
            summary["first_week_2014"] = taper_tantrum(attention[taper[0]], TAPER_ORIGIN)
            arrays[f"{kind}_taper"] = attention[taper[0]]
        entry[kind] = summary
    return entry, arrays


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="CI-size run: 2 epochs, 4 units, 2009-2015 only")
    parser.add_argument("--output-dir", default="skyield-output/lstm_attention",
                        help="where results.json and the figures go (in one step at the "
                             "end; an existing non-empty folder is refused unless "
                             "--overwrite is given)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing non-empty --output-dir")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--no-figures", action="store_true", help="skip the figures")
    args = parser.parse_args(argv)
    results = run(quick=args.quick, output_dir=args.output_dir, threads=args.threads,
                  figures=not args.no_figures, overwrite=args.overwrite)
    for label, entry in results["forecasts"].items():
        print(f"\nA, {label}: {entry['n_train']} training / {entry['n_test']} test windows")
        for name, value in entry["rmse"].items():
            pvalues = [d["pvalue"] for d in entry["dm_vs_random_walk"].get(name, [])]
            shown = ", ".join(f"{p:.3f}" for p in pvalues) or "-"
            print(f"  {name:28s} RMSE {value:.4f}   DM p vs RW: {shown}")
    for label, entry in results["attention"].items():
        for kind in ("levels", "changes"):
            summary = entry[kind]
            print(f"B, {label} {kind}: entropy {summary['normalised_entropy']:.3f}, "
                  f"mass on last two weeks {summary['mass_last_two_weeks']:.3f}")
    print(f"\n{results['seconds']} s; results in {args.output_dir}/results.json")
    return results


if __name__ == "__main__":
    main()

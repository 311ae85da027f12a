"""Multiple yield curves with YC_ATT and its variants: the study of seed 001 on bundled data.

The seed fits one network to the curves of many countries at once (EIOPA curves, 150
maturities) and compares point and interval forecasts with dynamic Nelson-Siegel models.
Here the same study runs on the six bundled government curves
(:func:`skyield.datasets.load_international_curves`):

A. Source study (Tables 1 and 2 of the seed). Four zero-coupon families that share the
   grid 1, 2, 3, 5, 7, 10 years (USD_GSW, CAD_BOC, EUR_AAA_ECB, AUD_RBA), monthly
   1992-01 .. 2015-08 (EUR from 2004-09; AUD until 2013-04, where its data gap starts;
   CAD ends 2015-08). Windows of ``window`` months forecast the next month's curve.
   Leak-free split at ``t0 = 2012-12-31``: every training target is at or before t0,
   every test target after it; min-max scaling and all fitting use the training windows
   only, and the models are not refitted during the test span. Models: YC_ATT, YC_CONV,
   YC_LSTM, YC_TRANS with gamma 1 and 2, each trained ``runs`` times with different
   seeds (ensemble members trained as one batched model); the table gives the average of
   the runs' metrics and the metrics of their averaging ensemble. Benchmarks: dynamic
   NS/NSS with AR(1)/VAR(1) factors (two-step Diebold-Li, decays of appendix A.1),
   fitted per family on its curves up to t0 (``PerFamily(DynamicNelsonSiegel(...))``),
   each test curve forecast one month ahead from the curves before it with the
   parameters frozen. Also YC_ATT_DE (Gaussian heads, deep ensemble, section 6.1),
   per-family and per-maturity coverage, forecast fans, the mean attention matrix, and
   the PCA analysis of the learned features against Svensson factors (section 5). An
   ablation beyond the seed refits each extractor (gamma 1) with a linear ``g`` instead
   of the sigmoid, which bounds the forecasts to the training range.
B. Transfer study (Table 3). Two families on another grid, 2, 5, 10, 20 years: CHF_SNB
   (zero curve) and JPY_MOF (par yields), a small dataset as in the seed: training
   targets 2008-01 .. 2012-12, test targets 2013-01 .. 2013-12. YC_transfer reuses the
   frozen attention layers of one source YC_ATT (gamma 1) and learns an input adapter
   (2/5/10/20 -> 1/2/3/5/7/10, started at linear interpolation), a new embedding and new
   heads; YC_ATT trained on the small dataset alone and the four DNS models are the
   comparisons.

Metrics (eqs. 5.1-5.4) pool every family, test date and maturity; yields are in percent,
so MSE is in squared percentage points and MAE and MPIW in percentage points (the seed
reports yields in decimals: its MSE x 1e5 is our MSE x 10, its MAE x 1e2 is our MAE).

Results go to ``<output-dir>/results.json``, ``<output-dir>/tables.md`` and the figures
to ``<output-dir>/ycatt_*.png``. An existing non-empty output folder is refused unless
``--overwrite`` is given, and the folder appears only once complete (written beside it,
then moved into place in one step).

Run::

    python examples/yield_curve_attention_multi_curve.py                # full settings
    python examples/yield_curve_attention_multi_curve.py --quick        # CI size
    python examples/yield_curve_attention_multi_curve.py --runs 5 --epochs 60   # reduced
"""

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator

from skyield.baselines import DynamicNelsonSiegel, NelsonSiegelCurve, RandomWalk
from skyield.compose import PerFamily
from skyield.datasets import load_international_curves
from skyield.ensemble import SeedEnsemble
from skyield.metrics import mean_absolute_error, mean_squared_error, mpiw, picp
from skyield.models import TransferredCurveRegressor, YieldCurveAttentionRegressor
from skyield.preprocessing import make_family_windows
from skyield.utils import check_output_target, staged_folder

SOURCE_FAMILIES = ["USD_GSW", "CAD_BOC", "EUR_AAA_ECB", "AUD_RBA"]
SOURCE_GRID = [1.0, 2.0, 3.0, 5.0, 7.0, 10.0]
TARGET_FAMILIES = ["CHF_SNB", "JPY_MOF"]
TARGET_GRID = [2.0, 5.0, 10.0, 20.0]
T0 = pd.Timestamp("2012-12-31")
COVERAGE = 0.95
EXTRACTOR_NAMES = {"attention": "YC_ATT", "conv": "YC_CONV", "lstm": "YC_LSTM",
                   "transformer": "YC_TRANS"}
COLOURS = ("tab:blue", "tab:green", "tab:orange", "tab:red")
DNS_MODELS = {"NS_AR": ("ns", "ar"), "NS_VAR": ("ns", "var"),
              "NSS_AR": ("nss", "ar"), "NSS_VAR": ("nss", "var")}

SETTINGS = {
    "full": dict(start="1992-01", end="2015-08", target_start="2007-04",
                 target_end="2013-12", window=10, runs=10, epochs=150, transfer_epochs=150,
                 batch_size=32, lr=3e-3, units=8,
                 extractors=("attention", "conv", "lstm", "transformer"), gammas=(1, 2),
                 ablation=("attention", "conv", "lstm")),
    "quick": dict(start="2009-01", end="2014-06", target_start="2011-01",
                  target_end="2013-12", window=4, runs=2, epochs=2, transfer_epochs=2,
                  batch_size=32, lr=1e-3, units=4,
                  extractors=("attention", "conv", "lstm", "transformer"), gammas=(1, 2),
                  ablation=("attention",)),
}


# ---------------------------------------------------------------- data
def family_windows(families, grid, start, end, window):
    """Windows of the (family, date) panel, their targets, families and target dates,
    and the panel itself (for the sequence models)."""
    panel = load_international_curves(families=families, maturities=grid, start=start,
                                      end=end)
    windows = make_family_windows(panel, window=window, horizons=1)
    y = windows.y.reshape(windows.n_samples, -1)
    targets = pd.DatetimeIndex(np.asarray(windows.target_dates).reshape(-1))
    return windows.X, y, np.asarray(windows.families, dtype=object), targets, panel


def split(targets, test_end=None):
    train = np.asarray(targets <= T0)
    test = np.asarray(targets > T0)
    if test_end is not None:
        test &= np.asarray(targets <= pd.Timestamp(test_end) + pd.offsets.MonthEnd(0))
    return train, test


# ---------------------------------------------------------------- metrics
def point_and_interval(y, centre, bounds):
    """Eqs. 5.1-5.4 pooled over windows and maturities."""
    return {
        "MSE": float(mean_squared_error(y, centre)),
        "MAE": float(mean_absolute_error(y, centre)),
        "PICP": float(picp(y, bounds[..., 0], bounds[..., 1])),
        "MPIW": float(mpiw(bounds[..., 0], bounds[..., 1])),
    }


def evaluate_members(ensemble, X, y, families):
    runs = [point_and_interval(y, m.predict(X, families=families),
                               m.predict_interval(X, COVERAGE, families=families))
            for m in ensemble.estimators_]
    average = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
    combined = point_and_interval(y, ensemble.predict(X, families=families),
                                  ensemble.predict_interval(X, COVERAGE, families=families))
    return {"average": average, "ensemble": combined, "runs": runs}


def by_family(y, centre, bounds, families):
    return {str(f): point_and_interval(y[families == f], centre[families == f],
                                       bounds[families == f])
            for f in pd.unique(families)}


def picp_by_maturity(y, bounds, grid):
    hits = (y >= bounds[..., 0]) & (y <= bounds[..., 1])
    return {f"{g:g}Y": float(h) for g, h in zip(grid, hits.mean(axis=0))}


# ---------------------------------------------------------------- models
def fit_dns(panel, X, y, families, targets, grid, train, test):
    """The random walk and the DNS benchmarks, one DNS model per family fitted on the
    family's curves up to t0.

    The random walk forecasts the last curve, with Gaussian intervals from the training
    windows' changes pooled over families. Each test window's target curve is forecast
    one month ahead from the curves before it, with the DNS parameters frozen
    (``predict`` of the sequence model on the test dates), then put in the row order of
    the windows.
    """
    walk = RandomWalk().fit(X[train], y[train])
    results = {"RW": point_and_interval(y[test], walk.predict(X[test]),
                                        walk.predict_interval(X[test], coverage=COVERAGE))}
    fitted = {}
    dates = panel.index.get_level_values(-1)
    rows = pd.MultiIndex.from_arrays([families[test], targets[test]])
    train_panel = panel[np.asarray(dates <= T0)]
    test_panel = panel[panel.index.isin(rows)]
    positions = test_panel.index.get_indexer(rows)
    if np.any(positions < 0):
        raise ValueError("a test window's target date is not in the panel")
    for name, (factors, dynamics) in DNS_MODELS.items():
        model = PerFamily(DynamicNelsonSiegel(factors=factors, dynamics=dynamics,
                                              decay="mean-maturity", maturities=grid))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(train_panel)
                centre = model.predict(test_panel).to_numpy()[positions]
                bounds = model.predict_interval(test_panel, COVERAGE)[positions]
            if not (np.all(np.isfinite(centre)) and np.all(np.isfinite(bounds))):
                raise ValueError("non-finite forecasts")
        except (ValueError, np.linalg.LinAlgError) as error:
            results[name] = {"failed": str(error)}
            continue
        results[name] = point_and_interval(y[test], centre, bounds)
        fitted[name] = (centre, bounds)
    return results, fitted


def yc_model(settings, extractor="attention", gamma=1, **params):
    return YieldCurveAttentionRegressor(
        extractor=extractor, gamma=gamma, units=settings["units"], epochs=settings["epochs"],
        batch_size=settings["batch_size"], lr=settings["lr"], **params)


def seed_ensemble(model, settings, seed):
    return SeedEnsemble(model, n_estimators=settings["runs"], batched=True,
                        random_state=seed)


# ---------------------------------------------------------------- PCA (section 5)
def feature_pca(model, X, families, curves_last, grid):
    features = model.get_features(X, families=families)
    pca = PCA(n_components=4).fit(features)
    scores = pca.transform(features)
    betas = NelsonSiegelCurve(factors="nss", decay="mean-maturity",
                              maturities=grid).fit(curves_last).transform(curves_last)
    correlation = {}
    for family in pd.unique(families):
        rows = families == family
        corr = np.corrcoef(np.column_stack([scores[rows], betas[rows]]), rowvar=False)
        block = np.abs(corr[:4, 4:])          # (PC, beta)
        correlation[str(family)] = {f"beta{j}": float(np.nanmean(block[:, j]))
                                    for j in range(block.shape[1])}
    return {"explained_variance": float(pca.explained_variance_ratio_.sum()),
            "mean_abs_correlation": correlation}


# ---------------------------------------------------------------- figures
def save_figures(out, figures):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fan = figures["fan"]
    fig, axes = plt.subplots(1, len(fan["families"]), figsize=(3.2 * len(fan["families"]), 3.2),
                             sharey=False)
    for ax, entry in zip(np.atleast_1d(axes), fan["families"]):
        grid = fan["grid"]
        ax.plot(grid, entry["observed"], "ko-", label="observed", ms=3)
        for name, colour in zip(fan["models"], COLOURS):
            ax.plot(grid, entry[name]["centre"], color=colour, label=name)
            ax.fill_between(grid, entry[name]["lower"], entry[name]["upper"], color=colour,
                            alpha=0.2)
        ax.set_title(entry["family"], fontsize=9)
        ax.set_xlabel("maturity (years)")
    np.atleast_1d(axes)[0].set_ylabel("yield (%)")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle(f"One-month-ahead forecasts for {fan['date']} (95% intervals)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "ycatt_fan.png", dpi=120)
    plt.close(fig)

    family = figures["by_family"]
    names = list(family["YC_ATT"])
    models = list(family)
    width = 0.8 / len(models)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, metric in zip(axes, ("MSE", "MAE", "PICP")):
        positions = np.arange(len(names))
        for k, (model, colour) in enumerate(zip(models, COLOURS)):
            ax.bar(positions - 0.4 + width * (k + 0.5),
                   [family[model][n][metric] for n in names], width=width, color=colour,
                   label=model)
        if metric == "PICP":
            ax.axhline(COVERAGE, color="k", lw=0.8, ls="--")
        ax.set_xticks(positions, [n.split("_")[0] for n in names])
        ax.set_title(metric, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "ycatt_by_family.png", dpi=120)
    plt.close(fig)

    maturity = figures["picp_by_maturity"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for model, values in maturity.items():
        ax.plot(list(values), list(values.values()), "o-", label=model)
    ax.axhline(COVERAGE, color="k", lw=0.8, ls="--")
    ax.set_xlabel("maturity")
    ax.set_ylabel("PICP")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "ycatt_picp_by_maturity.png", dpi=120)
    plt.close(fig)

    attention = np.asarray(figures["attention"])
    fig, ax = plt.subplots(figsize=(4, 3.5))
    image = ax.imshow(attention, cmap="viridis")
    lags = [f"t-{attention.shape[0] - 1 - i}" if i < attention.shape[0] - 1 else "t"
            for i in range(attention.shape[0])]
    ax.set_xticks(range(len(lags)), lags, rotation=90, fontsize=7)
    ax.set_yticks(range(len(lags)), lags, fontsize=7)
    ax.set_xlabel("attended date")
    ax.set_ylabel("query date")
    fig.colorbar(image, ax=ax)
    ax.set_title("YC_ATT mean attention, test windows", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "ycatt_attention.png", dpi=120)
    plt.close(fig)

    transfer = figures["transfer"]
    panels = transfer["panels"]
    fig, axes = plt.subplots(len(transfer["families"]), len(panels[0]["dates"]),
                             figsize=(3.2 * len(panels[0]["dates"]),
                                      2.8 * len(transfer["families"])), squeeze=False)
    for row, entry in enumerate(panels):
        for col, date in enumerate(entry["dates"]):
            ax = axes[row, col]
            ax.plot(transfer["grid"], entry["observed"][col], "ko-", ms=3, label="observed")
            for name, colour in (("YC_ATT", "tab:blue"), ("YC_transfer", "tab:green")):
                part = entry[name]
                ax.plot(transfer["grid"], part["centre"][col], color=colour, label=name)
                ax.fill_between(transfer["grid"], part["lower"][col], part["upper"][col],
                                color=colour, alpha=0.2)
            ax.set_title(f"{entry['family']} {date}", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "ycatt_transfer.png", dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- study
def log(message, started):
    print(f"[{time.perf_counter() - started:7.1f}s] {message}", flush=True)


def source_study(settings, started, seed):
    window = settings["window"]
    X, y, families, targets, panel = family_windows(SOURCE_FAMILIES, SOURCE_GRID,
                                                    settings["start"], settings["end"],
                                                    window)
    train, test = split(targets)
    low = min(X[train].min(), y[train].min())
    high = max(X[train].max(), y[train].max())
    data = {
        "n_train": int(train.sum()), "n_test": int(test.sum()),
        "train_by_family": {str(f): int(np.sum(train & (families == f)))
                            for f in SOURCE_FAMILIES},
        "test_by_family": {str(f): int(np.sum(test & (families == f)))
                           for f in SOURCE_FAMILIES},
        "test_targets": [str(targets[test].min().date()), str(targets[test].max().date())],
        "training_range": [float(low), float(high)],
        "test_values_outside_training_range": int(np.sum((y[test] < low) | (y[test] > high))),
    }
    log(f"source windows: {data['n_train']} train, {data['n_test']} test", started)

    table1, dns_fitted = fit_dns(panel, X, y, families, targets, SOURCE_GRID, train, test)
    log("DNS benchmarks fitted", started)
    table2, ablation, timings, ensembles = {}, {}, {}, {}
    for extractor in settings["extractors"]:
        for gamma in settings["gammas"]:
            name = f"{EXTRACTOR_NAMES[extractor]} gamma={gamma}"
            tic = time.perf_counter()
            ensemble = seed_ensemble(
                yc_model(settings, extractor, gamma, maturities=SOURCE_GRID), settings, seed)
            ensemble.fit(X[train], y[train], families=families[train])
            timings[name] = time.perf_counter() - tic
            table2[name] = evaluate_members(ensemble, X[test], y[test], families[test])
            ensembles[name] = ensemble
            log(f"{name}: {timings[name]:.0f}s, ensemble "
                f"{json.dumps({k: round(v, 4) for k, v in table2[name]['ensemble'].items()})}",
                started)

    for extractor in settings["ablation"]:
        name = f"{EXTRACTOR_NAMES[extractor]} gamma=1, linear g"
        tic = time.perf_counter()
        ensemble = seed_ensemble(yc_model(settings, extractor, 1, output_activation="linear",
                                          maturities=SOURCE_GRID), settings, seed)
        ensemble.fit(X[train], y[train], families=families[train])
        timings[name] = time.perf_counter() - tic
        ablation[name] = evaluate_members(ensemble, X[test], y[test], families[test])
        ensembles[name] = ensemble
        log(f"{name}: {timings[name]:.0f}s", started)

    tic = time.perf_counter()
    deep = seed_ensemble(yc_model(settings, "attention", distribution="gaussian",
                                  maturities=SOURCE_GRID), settings, seed)
    deep.fit(X[train], y[train], families=families[train])
    timings["YC_ATT_DE"] = time.perf_counter() - tic
    table2_de = evaluate_members(deep, X[test], y[test], families[test])
    log("YC_ATT_DE fitted", started)

    att = ensembles["YC_ATT gamma=1"]
    scores = {**table2, **ablation}
    best = min(scores, key=lambda name: scores[name]["ensemble"]["MSE"])
    forecasts = {}
    for label, model in (("YC_ATT", att), (best, ensembles[best]), ("YC_ATT_DE", deep)):
        forecasts[label] = (model.predict(X[test], families=families[test]),
                            model.predict_interval(X[test], COVERAGE, families=families[test]))
    if "NSS_VAR" in dns_fitted:
        forecasts["NSS_VAR"] = dns_fitted["NSS_VAR"]
    shown = [label for label in ("YC_ATT", best, "NSS_VAR") if label in forecasts]
    per_family = {label: by_family(y[test], *forecasts[label], families[test])
                  for label in shown}
    maturity = {label: picp_by_maturity(y[test], forecasts[label][1], SOURCE_GRID)
                for label in ("YC_ATT", "YC_ATT_DE", best, "NSS_VAR") if label in forecasts}

    member = att.estimators_[0]
    attention = member.get_attention(X[test], families=families[test]).mean(axis=0)
    pca = feature_pca(member, X, families, X[:, -1, :], SOURCE_GRID)

    test_targets = targets[test]
    middle = sorted(set(test_targets))[len(set(test_targets)) // 2]
    fan_rows = np.flatnonzero(np.asarray(test_targets == middle))
    fan = {"date": str(middle.date()), "grid": SOURCE_GRID, "models": shown, "families": []}
    for row in fan_rows:
        entry = {"family": str(families[test][row]), "observed": y[test][row].tolist()}
        for label in shown:
            centre, bounds = forecasts[label]
            entry[label] = {"centre": centre[row].tolist(), "lower": bounds[row, :, 0].tolist(),
                            "upper": bounds[row, :, 1].tolist()}
        fan["families"].append(entry)
    figures = {"fan": fan, "by_family": per_family, "picp_by_maturity": maturity,
               "attention": attention.tolist()}
    results = {"data": data, "table1": table1, "table2": table2, "YC_ATT_DE": table2_de,
               "ablation_linear_g": ablation,
               "best_by_mse": best, "per_family": per_family, "picp_by_maturity": maturity,
               "pca": pca,
               "fit_seconds": timings}
    return results, figures, att


def transfer_study(settings, source_ensemble, started, seed):
    window = settings["window"]
    X, y, families, targets, panel = family_windows(TARGET_FAMILIES, TARGET_GRID,
                                                    settings["target_start"],
                                                    settings["target_end"], window)
    train, test = split(targets, settings["target_end"])
    data = {"n_train": int(train.sum()), "n_test": int(test.sum()),
            "train_targets": [str(targets[train].min().date()),
                              str(targets[train].max().date())],
            "test_targets": [str(targets[test].min().date()), str(targets[test].max().date())]}
    log(f"transfer windows: {data['n_train']} train, {data['n_test']} test", started)
    table3, _ = fit_dns(panel, X, y, families, targets, TARGET_GRID, train, test)
    direct = seed_ensemble(yc_model(settings, "attention", 1, maturities=TARGET_GRID),
                           settings, seed)
    direct.fit(X[train], y[train], families=families[train])
    table3_nn = {"YC_ATT gamma=1": evaluate_members(direct, X[test], y[test], families[test])}
    source = source_ensemble.estimators_[0]
    transfer = seed_ensemble(
        TransferredCurveRegressor(FrozenEstimator(source), maturities=TARGET_GRID,
                                  epochs=settings["transfer_epochs"],
                                  batch_size=settings["batch_size"], lr=settings["lr"]),
        settings, seed)
    transfer.fit(X[train], y[train], families=families[train])
    table3_nn["YC_transfer gamma=1"] = evaluate_members(transfer, X[test], y[test],
                                                        families[test])
    log("transfer models fitted", started)

    test_targets = targets[test]
    dates = sorted(set(test_targets))
    chosen = [dates[0], dates[len(dates) // 2], dates[-1]]
    panels = []
    for family in TARGET_FAMILIES:
        entry = {"family": family, "dates": [str(d.date()) for d in chosen], "observed": []}
        rows = [int(np.flatnonzero(np.asarray((test_targets == d)) &
                                   (families[test] == family))[0]) for d in chosen]
        entry["observed"] = [y[test][r].tolist() for r in rows]
        for name, model in (("YC_ATT", direct), ("YC_transfer", transfer)):
            centre = model.predict(X[test][rows], families=families[test][rows])
            bounds = model.predict_interval(X[test][rows], COVERAGE,
                                            families=families[test][rows])
            entry[name] = {"centre": centre.tolist(), "lower": bounds[..., 0].tolist(),
                           "upper": bounds[..., 1].tolist()}
        panels.append(entry)
    figure = {"grid": TARGET_GRID, "families": TARGET_FAMILIES, "panels": panels}
    frozen = all(
        torch.equal(value, source.net_.module_.extractor.state_dict()[name])
        for member in transfer.estimators_
        for name, value in member.net_.module_.extractor.state_dict().items())
    return {"data": data, "table3_dns": table3, "table3_nn": table3_nn,
            "extractor_frozen": bool(frozen)}, figure


def markdown_tables(results):
    lines = ["| Model | MSE | MAE | PICP | MPIW |", "|---|---:|---:|---:|---:|"]

    def row(name, m):
        if "failed" in m:
            return f"| {name} | failed: {m['failed']} | | | |"
        return f"| {name} | {m['MSE']:.4f} | {m['MAE']:.4f} | {m['PICP']:.4f} | {m['MPIW']:.4f} |"

    source = results["source"]
    table = ["**Table 1** (test span, pooled over families and maturities)", ""] + lines
    table += [row(name, m) for name, m in source["table1"].items()]
    table += ["", "**Table 2** (average of the runs / their averaging ensemble)", "",
              "| Model | MSE avg | MSE ens | MAE avg | MAE ens | PICP avg | PICP ens | "
              "MPIW avg | MPIW ens |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    entries = dict(source["table2"])
    entries["YC_ATT_DE (Gaussian, mixture)"] = source["YC_ATT_DE"]
    entries.update(source["ablation_linear_g"])
    for name, entry in entries.items():
        a, e = entry["average"], entry["ensemble"]
        table.append(f"| {name} | {a['MSE']:.4f} | {e['MSE']:.4f} | {a['MAE']:.4f} | "
                     f"{e['MAE']:.4f} | {a['PICP']:.4f} | {e['PICP']:.4f} | "
                     f"{a['MPIW']:.4f} | {e['MPIW']:.4f} |")
    transfer = results["transfer"]
    table += ["", "**Table 3** (transfer target CHF_SNB + JPY_MOF, 2/5/10/20 years)", ""]
    table += lines + [row(name, m) for name, m in transfer["table3_dns"].items()]
    for name, entry in transfer["table3_nn"].items():
        table.append(row(name, entry["average"]))
        table.append(row(f"{name} (ensemble)", entry["ensemble"]))
    return "\n".join(table) + "\n"


def run(quick=False, output_dir="skyield-output/yield_curve_attention", threads=1,
        figures=True, runs=None, epochs=None, seed=0, overwrite=False):
    """Run the study; return the results dictionary (also written to results.json).

    ``output_dir`` is checked before any work: an existing non-empty folder is refused
    unless ``overwrite`` is True, in which case it is replaced as a whole.
    """
    out = check_output_target(output_dir, overwrite)
    settings = dict(SETTINGS["quick" if quick else "full"])
    if runs is not None:
        settings["runs"] = runs
    if epochs is not None:
        settings["epochs"] = settings["transfer_epochs"] = epochs
    torch.set_num_threads(threads)
    started = time.perf_counter()
    source, source_figures, att = source_study(settings, started, seed)
    transfer, transfer_figure = transfer_study(settings, att, started, seed)
    results = {
        "settings": {"mode": "quick" if quick else "full", "t0": str(T0.date()),
                     "coverage": COVERAGE, "threads": threads, "seed": seed,
                     **{k: list(v) if isinstance(v, tuple) else v
                        for k, v in settings.items()}},
        "source": source, "transfer": transfer,
        "seconds": time.perf_counter() - started,
    }
    with staged_folder(out, overwrite) as staging:
        (staging / "results.json").write_text(json.dumps(results, indent=2))
        (staging / "tables.md").write_text(markdown_tables(results))
        if figures:
            save_figures(staging, {**source_figures, "transfer": transfer_figure})
    log(f"done, results in {out}", started)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI size (a few seconds)")
    parser.add_argument("--output-dir", default="skyield-output/yield_curve_attention",
                        help="where the results and figures are written (in one step at "
                             "the end; an existing non-empty folder is refused unless "
                             "--overwrite is given)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing non-empty --output-dir")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--runs", type=int, default=None, help="seeds per model")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the ensembles")
    parser.add_argument("--no-figures", action="store_true", help="skip the figures")
    args = parser.parse_args(argv)
    run(quick=args.quick, output_dir=args.output_dir, threads=args.threads,
        figures=not args.no_figures, runs=args.runs, epochs=args.epochs, seed=args.seed,
        overwrite=args.overwrite)


if __name__ == "__main__":
    main()

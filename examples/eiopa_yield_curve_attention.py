"""Seed 001 on its own data: multiple yield curves with YC_ATT on EIOPA's risk-free curves.

Richman and Scognamiglio (2024) fit one network to the spot curves of many countries
(EIOPA, 1..150 years, December 2015 .. December 2021) and compare it with dynamic
Nelson-Siegel models. This script reproduces their study on the same data
(:func:`skyield.datasets.load_eiopa_curves`) and goes beyond it. Studies (``--study``):

``tables``
    Tables 1 and 2. The 33 distinct curves of 2015-12 .. 2021-12 (the loader keeps one
    family per distinct curve: the euro curve for the 20 identical euro-area curves,
    Switzerland for Liechtenstein), 150 maturities, windows of ``L + 1 = 10`` months,
    min-max scaling on the learning sample, ``t0 = 2020-12-31``, test = the 12 months of
    2021, 95% intervals. Every model is fitted once on the learning sample (targets at or
    before t0) and scored under two protocols:

    (a) one origin at t0: forecasts for every month of 2021 from the December 2020 curves
        only. Deep models roll forward on their own central forecasts (the window drops
        its oldest curve and appends the forecast), each member of an ensemble on its
        own; the random walk and the dynamic Nelson-Siegel models iterate their dynamics
        (h-step forecasts). Intervals are those each model gives at each step: the deep
        models' one-step bands around the rolled windows, the benchmarks' h-step
        predictive intervals.
    (b) rolling one-step forecasts from observed curves: the forecast of month m uses the
        curves observed up to month m - 1, with the parameters of t0 (benchmarks are
        updated with the new curves, never re-estimated).

    Models: the random walk (per family, Gaussian h-step intervals from the learning
    sample's h-month changes), NS/NSS x AR(1)/VAR(1) (two-step Diebold-Li per family,
    decays of appendix A.1), YC_ATT, YC_CONV, YC_LSTM, YC_TRANS with gamma 1 and 2, and
    YC_ATT_DE (Gaussian heads, deep ensemble): 10 runs each (trained as one batched
    model), the average of their metrics and the metrics of their averaging ensemble.
    Figures: per-family metrics (Figure 4), the June 2021 forecasts (Figure 3), PICP by
    maturity (Figure 7), attention maps.
``tuning``
    YC_ATT made to work on this data. Configurations (the paper's and one change at a
    time: scaling range, dropout, output activation, attention scale start, learning
    rate, epochs, early stopping; the residual skip connection; direct 1..12-month heads)
    are scored by time-series cross-validation on the learning sample only: origins at
    the ends of 2017, 2018 and 2019, each fitted on the windows whose targets are at or
    before the origin and scored under protocol (a) on the 12 months after it, against
    NSS_VAR fitted on the same span. The configuration with the lowest mean ratio to
    NSS_VAR is then fitted on the whole learning sample with three ensemble seeds and
    scored on 2021. Its 12-step intervals are calibrated as 12-step intervals: the
    one-step bands around the rolled forecasts are stretched, horizon by horizon, by the
    factor that makes them cover 95% of the cross-validation folds' out-of-sample values
    (split conformal prediction on a scale score; 2021 is never used). The residual
    configuration with the best cross-validated one-step ratio to the random walk is
    scored under protocol (b) with three seeds.
``one-step``
    Can the residual network match the random walk one month ahead? Variants of the
    residual configuration (sigmoid or linear ``g``; the change head started at zero, so
    that the untrained network is the random walk; Adam's weight decay pulling it back
    there; a lower learning rate) are scored by the same time-series cross-validation,
    under protocol (b) against the random walk. The variant with the lowest mean ratio is
    then fitted on the whole learning sample with three ensemble seeds and scored on 2021.
    Each variant is also shrunk toward the random walk: its change from the last curve
    times the weight in [0, 1] that minimises the folds' squared error (the constrained
    least-squares combination of the network and the random walk, learned on the folds
    only); the variant with the lowest shrunk cross-validated ratio is scored likewise.
``transfer``
    Table 3 on a target the source never saw: the bundled CHF_SNB, EUR_AAA_ECB, JPY_MOF
    (par yields) and USD_GSW curves (other publishers, other construction) on 2, 5, 10
    and 20 years, learning sample 2015-01 .. 2020-12, test 2021. YC_transfer reuses the
    frozen attention layers of one EIOPA YC_ATT run and learns an input adapter (4 -> 150
    maturities, started at linear interpolation), a new embedding and new heads; YC_ATT
    trained on the target alone and the random walk and DNS models are the comparisons.
``benchmark``
    The time of the multi-curve benchmark on :func:`eiopa_benchmark_selection` with
    :func:`skyield.model_selection.backtest` (random walk, NS_AR, NS_VAR, NSS_VAR, refitted
    every 12 origins, and 10-member YC_ATT ensembles, the paper's and the residual one,
    trained once; horizons 1, 6 and 12 months from every month of 2021-01 .. 2024-08).

Units: yields in percent, so MSE is in squared percentage points (the paper's MSE "x 1e5"
on decimal yields behaves as x 1e4, see the docs page), MAE and MPIW in percentage points
(the paper's MAE x 1e2 and MPIW x 1e2). Metrics pool families, months and maturities.

Each study writes its own folder, ``<output-dir>/<study>/``: ``results.json``,
``tables.md`` and its figures ``eiopa_*.png``. The folder appears only when the study is
complete, and an existing non-empty one is refused before any work unless ``--overwrite``
is given (it is then replaced whole), so the studies can be run one at a time into one
output folder.

Run::

    python examples/eiopa_yield_curve_attention.py                  # every study, full size
    python examples/eiopa_yield_curve_attention.py --study tables   # one study
    python examples/eiopa_yield_curve_attention.py --quick          # CI size
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm
from sklearn.frozen import FrozenEstimator

from skyield.baselines import DynamicNelsonSiegel, RandomWalk
from skyield.compose import PerFamily
from skyield.datasets import (
    eiopa_benchmark_selection,
    load_eiopa_curves,
    load_international_curves,
)
from skyield.ensemble import SeedEnsemble
from skyield.model_selection import backtest, summarize
from skyield.models import TransferredCurveRegressor, YieldCurveAttentionRegressor
from skyield.preprocessing import make_family_windows, make_windows
from skyield.utils import check_output_target, staged_folder

T0 = pd.Timestamp("2020-12-31")
STEPS = 12
COVERAGE = 0.95
STUDIES = ("tables", "tuning", "one-step", "transfer", "benchmark")
DNS_MODELS = {"NS_AR": ("ns", "ar"), "NS_VAR": ("ns", "var"),
              "NSS_AR": ("nss", "ar"), "NSS_VAR": ("nss", "var")}
BENCHMARKS = ("RW",) + tuple(DNS_MODELS)
EXTRACTOR_NAMES = {"attention": "YC_ATT", "conv": "YC_CONV", "lstm": "YC_LSTM",
                   "transformer": "YC_TRANS"}
DEEP_MODELS = {f"{name} gamma={gamma}": {"extractor": extractor, "gamma": gamma}
               for extractor, name in EXTRACTOR_NAMES.items() for gamma in (1, 2)}
DEEP_MODELS["YC_ATT_DE"] = {"extractor": "attention", "distribution": "gaussian"}

# The seed's Tables 1 and 2 (MSE, MAE, PICP, MPIW) as printed. Read in our units (percent
# yields): MSE as printed (its "x 1e5" behaves as x 1e4), MAE as printed (x 1e2), MPIW
# x 100 (printed in decimals). The printed 0.115 for YC_CONV gamma=1 (ensemble MPIW) is
# read as 0.0115: appendix A.2 makes it equal to the average run's 0.0115.
PAPER_TABLE1 = {"NS_AR": (0.7433, 0.4496, 0.9984, 5.40),
                "NS_VAR": (0.4977, 0.3492, 0.7288, 0.80),
                "NSS_AR": (0.5379, 0.3709, 0.9987, 42.53),
                "NSS_VAR": (0.4626, 0.3226, 0.7462, 3.07)}
PAPER_TABLE2 = {
    "YC_ATT gamma=1": ((0.2947, 0.2667, 0.9154, 1.06), (0.2887, 0.2616, 0.9191, 1.06)),
    "YC_ATT gamma=2": ((0.3663, 0.3463, 0.8528, 1.05), (0.3638, 0.3451, 0.8573, 1.05)),
    "YC_CONV gamma=1": ((0.3778, 0.2975, 0.9035, 1.15), (0.3642, 0.2850, 0.9235, 1.15)),
    "YC_CONV gamma=2": ((0.4258, 0.3890, 0.8509, 1.10), (0.4244, 0.3884, 0.8530, 1.10)),
    "YC_LSTM gamma=1": ((0.4272, 0.3164, 0.7757, 0.93), (0.4111, 0.2970, 0.8147, 0.93)),
    "YC_LSTM gamma=2": ((0.3898, 0.3352, 0.6911, 0.84), (0.3697, 0.3198, 0.7081, 0.84)),
    "YC_TRANS gamma=1": ((0.4308, 0.3313, 0.8371, 1.13), (0.4167, 0.3168, 0.8645, 1.13)),
    "YC_TRANS gamma=2": ((0.4232, 0.4042, 0.5771, 0.91), (0.4124, 0.3987, 0.5760, 0.91)),
}
METRICS = ("MSE", "MAE", "PICP", "MPIW")

# Configurations of the tuning study: changes to the paper's YC_ATT (gamma 1).
TUNING_GRID = {
    "paper": {},
    "feature_range (0.1, 0.9)": {"feature_range": (0.1, 0.9)},
    "dropout 0": {"dropout": 0.0},
    "linear g": {"output_activation": "linear"},
    "attention scale starts at 1": {"scale_start": 1.0},
    "lr 3e-4": {"lr": 3e-4},
    "lr 3e-3": {"lr": 3e-3},
    "50 epochs": {"epochs": 50},
    "200 epochs": {"epochs": 200},
    "early stopping": {"early_stopping": True, "epochs": 300, "validation_fraction": 0.2,
                       "patience": 20},
    "residual": {"residual": True},
    "residual, linear g": {"residual": True, "output_activation": "linear"},
    "direct 1..12-month heads": {"direct": True},
}

# Variants of the residual network for one-step forecasts (the one-step study). "start":
# "zero" starts the change head at zero; "weight_decay" is Adam's (coupled) weight decay.
ONE_STEP_GRID = {
    "residual": {"residual": True},
    "residual, linear g": {"residual": True, "output_activation": "linear"},
    "zero start, sigmoid g": {"residual": True, "start": "zero"},
    "zero start, linear g": {"residual": True, "output_activation": "linear",
                             "start": "zero"},
    "zero start, linear g, lr 3e-4": {"residual": True, "output_activation": "linear",
                                      "start": "zero", "lr": 3e-4},
    "zero start, linear g, weight decay 1e-3": {"residual": True,
                                                "output_activation": "linear",
                                                "start": "zero", "weight_decay": 1e-3},
    "zero start, linear g, weight decay 1e-2": {"residual": True,
                                                "output_activation": "linear",
                                                "start": "zero", "weight_decay": 1e-2},
}

TARGET_FAMILIES = ("CHF_SNB", "EUR_AAA_ECB", "JPY_MOF", "USD_GSW")
TARGET_GRID = (2.0, 5.0, 10.0, 20.0)

SETTINGS = {
    "full": dict(families=None, maturities=None, start="2015-12", end="2021-12", window=10,
                 runs=10, epochs=100, seeds=(0, 1, 2), units=8,
                 folds=("2017-12-31", "2018-12-31", "2019-12-31"),
                 deep_models=tuple(DEEP_MODELS), grid=tuple(TUNING_GRID),
                 ensemble_sizes=(1, 3, 5, 10), one_step_grid=tuple(ONE_STEP_GRID),
                 target_start="2015-01",
                 benchmark_test_start="2021-01-31"),
    "quick": dict(families=("CH", "EU", "GB", "TR", "US"), maturities=(1, 2, 3, 5, 10, 20, 30),
                  start="2015-12", end="2021-12", window=10, runs=2, epochs=2, seeds=(0, 1),
                  units=4, folds=("2018-12-31", "2019-12-31"),
                  deep_models=("YC_ATT gamma=1", "YC_LSTM gamma=2", "YC_ATT_DE"),
                  grid=("paper", "residual", "direct 1..12-month heads"),
                  ensemble_sizes=(1, 2),
                  one_step_grid=("residual", "zero start, linear g, weight decay 1e-2"),
                  target_start="2018-01",
                  benchmark_test_start="2023-01-31"),
}


# ---------------------------------------------------------------- data
def load_panel(settings):
    """The seed's sample: 33 distinct curves (one per group of identical ones)."""
    return load_eiopa_curves(families=settings["families"], maturities=settings["maturities"],
                             start=settings["start"], end=settings["end"])


def family_blocks(panel):
    families = list(pd.unique(panel.index.get_level_values("family")))
    return families, {f: panel.xs(f, level="family") for f in families}


def split_at(panel, origin):
    """The rows of ``panel`` dated at or before ``origin`` (the learning sample)."""
    return panel.loc[panel.index.get_level_values("date") <= origin]


def fold_spans(panel, settings):
    """The cross-validation folds of the learning sample: each origin with the rows up to
    ``STEPS`` months after it (its training span and the year it forecasts)."""
    return [(origin, split_at(panel, origin + pd.offsets.MonthEnd(STEPS)))
            for origin in (pd.Timestamp(f) for f in settings["folds"])]


def origin_windows(panel, origin, window, steps):
    """Inputs and truth of both protocols from one origin.

    Returns the windows ending at ``origin`` (protocol a), the windows ending at each of
    the ``steps`` months from ``origin`` to ``origin + steps - 1`` (protocol b: observed
    curves only, the last one a month before its target), and the curves of the
    ``steps`` months after ``origin``, each of shape (n_families, ...).
    """
    families, blocks = family_blocks(panel)
    start, rolling, truth = [], [], []
    for family in families:
        block = blocks[family]
        calendar = pd.date_range(block.index[0], block.index[-1], freq="ME")
        if not block.index.equals(calendar):
            missing = calendar.difference(block.index)
            raise ValueError(f"family {family!r} has no curve for {missing[0]:%Y-%m}; windows "
                             f"need consecutive months")
        position = block.index.get_loc(origin)
        if position + 1 < window or position + steps >= len(block):
            raise ValueError(
                f"family {family!r} needs {window} months up to {origin:%Y-%m} and {steps} "
                f"after it; it has {block.index[0]:%Y-%m} .. {block.index[-1]:%Y-%m}"
            )
        values = block.to_numpy()
        start.append(values[position + 1 - window:position + 1])
        rolling.append(np.stack([values[position + 1 - window + k:position + 1 + k]
                                 for k in range(steps)]))
        truth.append(values[position + 1:position + 1 + steps])
    return families, np.stack(start), np.stack(rolling), np.stack(truth)


# ---------------------------------------------------------------- metrics
def scores(truth, centre, bounds):
    """Eqs. 5.1-5.4 pooled over every axis."""
    return {
        "MSE": float(np.mean((truth - centre) ** 2)),
        "MAE": float(np.mean(np.abs(truth - centre))),
        "PICP": float(np.mean((truth >= bounds[..., 0]) & (truth <= bounds[..., 1]))),
        "MPIW": float(np.mean(bounds[..., 1] - bounds[..., 0])),
    }


def family_scores(truth, forecast, families):
    """Metrics per family (first axis of every array)."""
    return {f: scores(truth[i], forecast["centre"][i], forecast["bounds"][i])
            for i, f in enumerate(families)}


def without(truth, forecast, families, dropped="TR"):
    if dropped not in families:
        return None
    keep = np.asarray([f != dropped for f in families])
    return scores(truth[keep], forecast["centre"][keep], forecast["bounds"][keep])


def runs_and_ensemble(truth, members):
    """The paper's 'average' (mean of the runs' metrics) and 'ensemble' columns."""
    runs = [scores(truth, m["centre"], m["bounds"]) for m in members]
    combined = combine(members)
    return {"average": {k: float(np.mean([r[k] for r in runs])) for k in METRICS},
            "ensemble": scores(truth, combined["centre"], combined["bounds"]),
            "runs": runs}


# ---------------------------------------------------------------- benchmarks
def dns_forecast(model, steps):
    """Mean and 95% interval of a fitted ``PerFamily(DynamicNelsonSiegel(...))``.

    The one place that calls the sequence-model forecast methods.

    Returns
    -------
    centre : DataFrame indexed by (family, date)
    bounds : ndarray of shape (n_rows, n_maturities, 2), rows as ``centre``
    """
    return model.forecast(steps), model.forecast(steps, coverage=COVERAGE)


def _by_family(centre, bounds, families, steps):
    order = {f: i for i, f in enumerate(pd.unique(centre.index.get_level_values(0)))}
    rows = np.concatenate([np.arange(order[f] * steps, (order[f] + 1) * steps)
                           for f in families])
    shape = (len(families), steps, centre.shape[1])
    return {"centre": centre.to_numpy()[rows].reshape(shape),
            "bounds": bounds[rows].reshape(shape + (2,))}


def random_walk_forecasts(panel, origin, families, start, rolling, steps):
    """Per-family random walk: h-step Gaussian intervals from the learning sample."""
    learning = split_at(panel, origin)
    out = {"a": {"centre": [], "bounds": []}, "b": {"centre": [], "bounds": []}}
    for i, family in enumerate(families):
        block = learning.xs(family, level="family")
        for protocol, horizons, X in (("a", steps, start[i][None, -1:]),
                                      ("b", 1, rolling[i][:, -1:])):
            windows = make_windows(block, window=1, horizons=horizons)
            model = RandomWalk().fit(windows.X, windows.y)
            centre = model.predict(X)
            bounds = model.predict_interval(X, coverage=COVERAGE)
            if protocol == "a":
                centre, bounds = centre[0], bounds[0]            # (steps, M), one origin
            else:
                centre, bounds = centre[:, 0], bounds[:, 0]      # (steps, M), one per month
            out[protocol]["centre"].append(centre)
            out[protocol]["bounds"].append(bounds)
    return {p: {k: np.stack(v) for k, v in parts.items()} for p, parts in out.items()}


def dns_forecasts(panel, origin, families, steps, factors, dynamics):
    """A dynamic NS/NSS model fitted per family at ``origin``, forecast under both protocols."""
    learning = split_at(panel, origin)
    model = PerFamily(DynamicNelsonSiegel(factors=factors, dynamics=dynamics,
                                          decay="mean-maturity"))
    model.fit(learning)
    protocol_a = _by_family(*dns_forecast(model, steps), families, steps)
    dates = panel.index.get_level_values("date")
    months = pd.date_range(origin, periods=steps + 1, freq="ME")[1:]
    centres, bounds = [], []
    for month in months:
        part = _by_family(*dns_forecast(model, 1), families, 1)
        centres.append(part["centre"][:, 0])
        bounds.append(part["bounds"][:, 0])
        model.update(panel.loc[dates == month])
    protocol_b = {"centre": np.stack(centres, axis=1), "bounds": np.stack(bounds, axis=1)}
    return {"a": protocol_a, "b": protocol_b}


def benchmark_forecasts(panel, origin, window, steps, names=BENCHMARKS):
    """Forecasts of the random walk and the dynamic NS/NSS models, both protocols."""
    families, start, rolling, truth = origin_windows(panel, origin, window, steps)
    forecasts, caught = {}, set()
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        for name in names:
            if name == "RW":
                forecasts[name] = random_walk_forecasts(panel, origin, families, start,
                                                        rolling, steps)
            else:
                forecasts[name] = dns_forecasts(panel, origin, families, steps,
                                                *DNS_MODELS[name])
    caught.update(f"{r.category.__name__}: {r.message}" for r in records)
    return families, truth, forecasts, sorted(caught)


# ---------------------------------------------------------------- deep models
class KerasScaleStart(YieldCurveAttentionRegressor):
    """YC_ATT whose attention scale starts at 1, Keras' start (the ablation of its start)."""

    def _initialize_net(self, net):
        net = super()._initialize_net(net)
        with torch.no_grad():
            net.module_.extractor.scale.fill_(1.0)
        return net


class ZeroStart(YieldCurveAttentionRegressor):
    """Residual YC_ATT whose change head starts at zero: untrained, it is the random walk."""

    def _initialize_net(self, net):
        net = super()._initialize_net(net)
        heads = net.module_.heads
        with torch.no_grad():    # the centre's rows come first (QuantileHeads' layout)
            heads.linear.weight[:heads.n_outputs].zero_()
            heads.linear.bias[:heads.n_outputs].zero_()
        return net


def deep_model(settings, maturities, scale_start=None, start=None, **params):
    """A YieldCurveAttentionRegressor with the study's training settings."""
    params = {"units": settings["units"], "epochs": settings["epochs"], "batch_size": 32,
              "lr": 1e-3, "maturities": list(maturities), **params}
    if start == "zero":
        cls = ZeroStart
    else:
        cls = YieldCurveAttentionRegressor if scale_start is None else KerasScaleStart
    return cls(**params)


def member_forecasts(member, start, rolling, families, steps, direct):
    """One run's forecasts under both protocols (arrays of shape (n_families, steps, M))."""
    labels = np.asarray(families, dtype=object)
    gaussian = hasattr(member, "predict_std")

    def predict(X, fam):
        centre = member.predict(X, families=fam)
        bounds = member.predict_interval(X, coverage=COVERAGE, families=fam)
        std = member.predict_std(X, families=fam) if gaussian else None
        return centre, bounds, std

    if direct:                                   # one forecast per horizon, no rolling
        centre, bounds, std = predict(start, labels)
        protocol_a = {"centre": centre, "bounds": bounds, "std": std}
    else:                                        # roll on the member's own forecasts
        window, parts = start.copy(), []
        for _ in range(steps):
            centre, bounds, std = predict(window, labels)
            parts.append((centre, bounds, std))
            window = np.concatenate([window[:, 1:], centre[:, None]], axis=1)
        protocol_a = {"centre": np.stack([p[0] for p in parts], axis=1),
                      "bounds": np.stack([p[1] for p in parts], axis=1),
                      "std": np.stack([p[2] for p in parts], axis=1) if gaussian else None}
    n_families, n_steps = rolling.shape[:2]
    flat = rolling.reshape((n_families * n_steps,) + rolling.shape[2:])
    centre, bounds, std = predict(flat, np.repeat(labels, n_steps))
    if direct:                                   # the one-month head of the direct model
        centre, bounds = centre[:, 0], bounds[:, 0]
        std = None if std is None else std[:, 0]
    shape = (n_families, n_steps)
    protocol_b = {"centre": centre.reshape(shape + centre.shape[1:]),
                  "bounds": bounds.reshape(shape + bounds.shape[1:]),
                  "std": None if std is None else std.reshape(shape + std.shape[1:])}
    return {"a": protocol_a, "b": protocol_b}


def combine(members):
    """Averaging ensemble of runs' forecasts; the Gaussian mixture for Gaussian heads."""
    centres = np.stack([m["centre"] for m in members])
    if members[0].get("std") is None:
        return {"centre": centres.mean(axis=0),
                "bounds": np.stack([m["bounds"] for m in members]).mean(axis=0)}
    variances = np.stack([m["std"] for m in members]) ** 2
    mean = centres.mean(axis=0)
    std = np.sqrt(np.clip((variances + centres**2).mean(axis=0) - mean**2, 0.0, None))
    z = norm.ppf(0.5 + COVERAGE / 2)
    return {"centre": mean, "bounds": np.stack([mean - z * std, mean + z * std], axis=-1)}


def deep_forecasts(estimator, panel, origin, window, steps, runs, seed, direct=False):
    """Fit ``runs`` seeds of ``estimator`` on the windows whose targets are at or before
    ``origin`` (one batched model) and forecast under both protocols.

    Returns the fitted ensemble and, per protocol, the list of the runs' forecasts.
    """
    learning = split_at(panel, origin)
    windows = make_family_windows(learning, window=window, horizons=steps if direct else 1)
    y = windows.y if direct else windows.y[:, 0]
    ensemble = SeedEnsemble(estimator, n_estimators=runs, batched=True, random_state=seed)
    ensemble.fit(windows.X, y, families=windows.families)
    families, start, rolling, _ = origin_windows(panel, origin, window, steps)
    per_member = [member_forecasts(m, start, rolling, families, steps, direct)
                  for m in ensemble.estimators_]
    return ensemble, {p: [m[p] for m in per_member] for p in ("a", "b")}


# ---------------------------------------------------------------- interval calibration
def stretch_scores(truth, forecast):
    """How far the band must be stretched about its centre to reach each value.

    ``s = max((c - y) / (c - lower), (y - c) / (upper - c))``: the band scaled by ``s``
    about the centre just contains ``y``. Shape of ``truth``.
    """
    centre = forecast["centre"]
    lower, upper = forecast["bounds"][..., 0], forecast["bounds"][..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        below = (centre - truth) / (centre - lower)
        above = (truth - centre) / (upper - centre)
    return np.fmax(below, above)


def horizon_factors(fold_scores, coverage=COVERAGE):
    """Conformal factor per horizon: the ``ceil((n + 1) coverage)``-th smallest score.

    ``fold_scores`` holds arrays of shape (n_families, steps, M), one per fold.
    """
    pooled = np.concatenate([np.moveaxis(s, 1, 0).reshape(s.shape[1], -1)
                             for s in fold_scores], axis=1)
    n = pooled.shape[1]
    rank = int(np.ceil((n + 1) * coverage))
    return np.sort(pooled, axis=1)[:, min(rank, n) - 1]


def stretched(forecast, factors):
    """The band stretched about its centre by one factor per horizon (axis 1)."""
    centre = forecast["centre"]
    scale = factors[None, :, None]
    lower = centre - scale * (centre - forecast["bounds"][..., 0])
    upper = centre + scale * (forecast["bounds"][..., 1] - centre)
    return {"centre": centre, "bounds": np.stack([lower, upper], axis=-1)}


# ---------------------------------------------------------------- studies
def log(message, started):
    print(f"[{time.perf_counter() - started:8.1f}s] {message}", flush=True)


def tables_study(settings, panel, started, cache):
    window, runs, seed = settings["window"], settings["runs"], settings["seeds"][0]
    families, truth, bench, caught = benchmark_forecasts(panel, T0, window, STEPS)
    log("benchmarks forecast", started)
    results = {"benchmarks": {}, "deep": {}, "warnings": caught, "families": families}
    for name, forecast in bench.items():
        results["benchmarks"][name] = {p: scores(truth, f["centre"], f["bounds"])
                                       for p, f in forecast.items()}
    forecasts = {name: {p: bench[name][p] for p in ("a", "b")} for name in bench}
    fit_seconds = {}
    for name in settings["deep_models"]:
        tic = time.perf_counter()
        estimator = deep_model(settings, panel.columns, **DEEP_MODELS[name])
        ensemble, members = deep_forecasts(estimator, panel, T0, window, STEPS, runs, seed)
        fit_seconds[name] = time.perf_counter() - tic
        results["deep"][name] = {p: runs_and_ensemble(truth, members[p]) for p in ("a", "b")}
        forecasts[name] = {p: combine(members[p]) for p in ("a", "b")}
        cache[name] = (ensemble, members)
        log(f"{name}: {fit_seconds[name]:.0f}s; ensemble MSE (a) "
            f"{results['deep'][name]['a']['ensemble']['MSE']:.4f}, (b) "
            f"{results['deep'][name]['b']['ensemble']['MSE']:.4f}", started)
    results["fit_seconds"] = fit_seconds

    shown = [n for n in ("YC_ATT gamma=1", "NSS_VAR", "RW") if n in forecasts]
    results["per_family"] = {
        p: {n: family_scores(truth, forecasts[n][p], families) for n in shown}
        for p in ("a", "b")}
    results["without_TR"] = {
        p: {n: without(truth, forecasts[n][p], families) for n in forecasts}
        for p in ("a", "b")}
    hits = {n: ((truth >= forecasts[n]["a"]["bounds"][..., 0])
                & (truth <= forecasts[n]["a"]["bounds"][..., 1])).mean(axis=(0, 1))
            for n in ("YC_ATT gamma=1", "YC_ATT_DE", "NSS_VAR") if n in forecasts}
    results["picp_by_maturity"] = {n: v.tolist() for n, v in hits.items()}

    ensemble = cache["YC_ATT gamma=1"][0]
    learning = split_at(panel, T0)
    train_windows = make_family_windows(learning, window=window, horizons=1)
    _, _, rolling, _ = origin_windows(panel, T0, window, STEPS)
    attention = {}
    for label, X, fam in (
            ("learning windows", train_windows.X, train_windows.families),
            ("2021 windows (protocol b)", rolling.reshape((-1,) + rolling.shape[2:]),
             np.repeat(np.asarray(families, dtype=object), STEPS))):
        maps = np.mean([m.get_attention(X, families=fam) for m in ensemble.estimators_],
                       axis=0)
        attention[label] = {"all": maps.mean(axis=0).tolist()}
        for family in ("EU", "US", "TR", "BR"):
            if family in families:
                attention[label][family] = maps[fam == family].mean(axis=0).tolist()
    results["attention"] = attention
    results["scale"] = [m.net_.module_.extractor.scale.item() for m in ensemble.estimators_]
    month = 5                                                   # June 2021
    figure3 = {"maturities": panel.columns.tolist(), "families": families,
               "observed": truth[:, month].tolist()}
    for n in ("YC_ATT gamma=1", "NSS_VAR"):
        if n in forecasts:
            for p in ("a", "b"):
                figure3[f"{n} ({p})"] = {
                    "centre": forecasts[n][p]["centre"][:, month].tolist(),
                    "bounds": forecasts[n][p]["bounds"][:, month].tolist()}
    results["figure3"] = figure3
    return results


def tuning_study(settings, panel, started, cache):
    window, runs, seeds = settings["window"], settings["runs"], settings["seeds"]
    fold_data = []
    for origin, sub in fold_spans(panel, settings):
        families, truth, bench, _ = benchmark_forecasts(sub, origin, window, STEPS,
                                                        names=("RW", "NSS_VAR"))
        fold_data.append({"origin": origin, "panel": sub, "truth": truth,
                          "NSS_VAR": scores(truth, bench["NSS_VAR"]["a"]["centre"],
                                            bench["NSS_VAR"]["a"]["bounds"]),
                          "RW": scores(truth, bench["RW"]["b"]["centre"],
                                       bench["RW"]["b"]["bounds"])})
    families, test_truth, test_bench, _ = benchmark_forecasts(panel, T0, window, STEPS,
                                                              names=("RW", "NSS_VAR"))
    reference = {"NSS_VAR (a)": scores(test_truth, test_bench["NSS_VAR"]["a"]["centre"],
                                       test_bench["NSS_VAR"]["a"]["bounds"]),
                 "RW (b)": scores(test_truth, test_bench["RW"]["b"]["centre"],
                                  test_bench["RW"]["b"]["bounds"]),
                 "RW (a)": scores(test_truth, test_bench["RW"]["a"]["centre"],
                                  test_bench["RW"]["a"]["bounds"])}
    log("tuning: fold benchmarks", started)

    grid, fold_forecasts, test_forecasts = {}, {}, {}
    for name in settings["grid"]:
        params = dict(TUNING_GRID[name])
        direct = params.pop("direct", False)
        estimator = deep_model(settings, panel.columns, **params)
        tic = time.perf_counter()
        folds_out, fold_forecasts[name], fold_steps = [], [], []
        for data in fold_data:
            _, members = deep_forecasts(estimator, data["panel"], data["origin"], window,
                                        STEPS, runs, seeds[0], direct)
            a, b = combine(members["a"]), combine(members["b"])
            fold_forecasts[name].append(a)
            fold_steps.append(b)
            folds_out.append({
                "origin": str(data["origin"].date()),
                "ratio_a": scores(data["truth"], a["centre"], a["bounds"])["MSE"]
                / data["NSS_VAR"]["MSE"],
                "ratio_b": scores(data["truth"], b["centre"], b["bounds"])["MSE"]
                / data["RW"]["MSE"]})
        if name == "paper" and "YC_ATT gamma=1" in cache:
            ensemble, members = cache["YC_ATT gamma=1"]
        else:
            ensemble, members = deep_forecasts(estimator, panel, T0, window, STEPS, runs,
                                               seeds[0], direct)
        test_forecasts[name] = {p: combine(members[p]) for p in ("a", "b")}
        test = {p: runs_and_ensemble(test_truth, members[p]) for p in ("a", "b")}
        sizes = {}
        for size in settings["ensemble_sizes"]:
            part = combine(members["a"][:size])
            sizes[str(size)] = scores(test_truth, part["centre"], part["bounds"])["MSE"] \
                / reference["NSS_VAR (a)"]["MSE"]
        grid[name] = {
            "folds": folds_out,
            "cv_ratio_a": float(np.mean([f["ratio_a"] for f in folds_out])),
            "cv_ratio_b": float(np.mean([f["ratio_b"] for f in folds_out])),
            "test": test,
            "test_ratio_a": test["a"]["ensemble"]["MSE"] / reference["NSS_VAR (a)"]["MSE"],
            "test_ratio_b": test["b"]["ensemble"]["MSE"] / reference["RW (b)"]["MSE"],
            "ensemble_size_ratio_a": sizes,
            "n_epochs": [int(m.n_epochs_) for m in ensemble.estimators_],
            "seconds": time.perf_counter() - tic,
        }
        cache[f"tuning {name}"] = (members, grid[name], fold_steps)  # for the one-step study
        log(f"tuning {name}: CV {grid[name]['cv_ratio_a']:.3f} / test "
            f"{grid[name]['test_ratio_a']:.3f} x NSS_VAR (a); CV {grid[name]['cv_ratio_b']:.3f}"
            f" / test {grid[name]['test_ratio_b']:.3f} x RW (b); "
            f"{grid[name]['seconds']:.0f}s", started)

    # Interval calibration of every configuration from its own folds (never 2021).
    factors = {name: horizon_factors([stretch_scores(d["truth"], f)
                                      for d, f in zip(fold_data, fold_forecasts[name])])
               for name in grid}
    for name, entry in grid.items():
        calibrated = stretched(test_forecasts[name]["a"], factors[name])
        entry["interval_factors"] = factors[name].tolist()
        entry["test_calibrated_a"] = scores(test_truth, calibrated["centre"],
                                            calibrated["bounds"])

    level = [n for n in grid if not TUNING_GRID[n].get("residual")
             and not TUNING_GRID[n].get("direct")]
    residuals = [n for n in grid if TUNING_GRID[n].get("residual")]
    chosen = min(grid, key=lambda n: grid[n]["cv_ratio_a"])
    chosen_level = min(level, key=lambda n: grid[n]["cv_ratio_a"]) if level else None
    chosen_residual = min(residuals, key=lambda n: grid[n]["cv_ratio_b"]) if residuals else None
    results = {"reference": reference, "grid": grid, "chosen": chosen,
               "chosen_level": chosen_level, "chosen_residual": chosen_residual,
               "families": families}

    by_seed = {(name, seeds[0]): forecasts for name, forecasts in test_forecasts.items()}

    def seeds_of(name):
        """The ensemble forecasts of configuration ``name`` for every seed."""
        params = dict(TUNING_GRID[name])
        direct = params.pop("direct", False)
        estimator = deep_model(settings, panel.columns, **params)
        for seed in seeds:
            if (name, seed) not in by_seed:
                _, members = deep_forecasts(estimator, panel, T0, window, STEPS, runs, seed,
                                            direct)
                by_seed[name, seed] = {p: combine(members[p]) for p in ("a", "b")}
                log(f"tuning {name}, seed {seed} fitted", started)
        return [(seed, by_seed[name, seed]) for seed in seeds]

    # Protocol (a) over every seed: the chosen configuration, the best of the paper's
    # architecture (no skip connection, one-step heads) and the paper's own.
    reported = {}
    for name in dict.fromkeys(n for n in (chosen, chosen_level, "paper")
                              if n is not None and n in grid):
        runs_out = []
        for seed, forecast in seeds_of(name):
            forecast = forecast["a"]
            calibrated = stretched(forecast, factors[name])
            point = scores(test_truth, forecast["centre"], forecast["bounds"])
            runs_out.append({
                "seed": seed, "ensemble": point,
                "ratio": point["MSE"] / reference["NSS_VAR (a)"]["MSE"],
                "without_TR": without(test_truth, forecast, families),
                "calibrated": scores(test_truth, calibrated["centre"], calibrated["bounds"]),
                "calibrated_by_horizon": [
                    scores(test_truth[:, h], calibrated["centre"][:, h],
                           calibrated["bounds"][:, h])["PICP"] for h in range(STEPS)],
                "per_family": family_scores(test_truth, forecast, families)})
        reported[name] = runs_out
    results["seed_runs"] = reported
    results["NSS_VAR_without_TR"] = without(test_truth, test_bench["NSS_VAR"]["a"], families)
    results["per_family_NSS_VAR"] = family_scores(test_truth, test_bench["NSS_VAR"]["a"],
                                                  families)
    results["per_family_RW_a"] = family_scores(test_truth, test_bench["RW"]["a"], families)
    if chosen_residual is not None:
        results["residual_runs"] = []
        for seed, forecast in seeds_of(chosen_residual):
            point = scores(test_truth, forecast["b"]["centre"], forecast["b"]["bounds"])
            results["residual_runs"].append({
                "seed": seed, "ensemble": point,
                "ratio": point["MSE"] / reference["RW (b)"]["MSE"],
                "without_TR": without(test_truth, forecast["b"], families),
                "per_family": family_scores(test_truth, forecast["b"], families)})
        results["RW_b_without_TR"] = without(test_truth, test_bench["RW"]["b"], families)
        results["per_family_RW_b"] = family_scores(test_truth, test_bench["RW"]["b"],
                                                   families)
    return results


def one_step_study(settings, panel, started, cache):
    """Residual variants one month ahead (protocol b) against the random walk."""
    window, runs, seeds = settings["window"], settings["runs"], settings["seeds"]
    fold_data = []
    for origin, sub in fold_spans(panel, settings):
        _, truth, bench, _ = benchmark_forecasts(sub, origin, window, STEPS, names=("RW",))
        walk = bench["RW"]["b"]
        fold_data.append((origin, sub, truth, walk))
    families, truth, bench, _ = benchmark_forecasts(panel, T0, window, STEPS, names=("RW",))
    walk = bench["RW"]["b"]
    reference = scores(truth, walk["centre"], walk["bounds"])
    log("one-step: benchmarks", started)

    fold_truths = [fold_truth for _, _, fold_truth, _ in fold_data]
    fold_walks = [fold_walk for _, _, _, fold_walk in fold_data]
    grid, forecasts = {}, {}
    for name in settings["one_step_grid"]:
        tuned = (cache.get(f"tuning {name}")
                 if ONE_STEP_GRID[name] == TUNING_GRID.get(name) else None)
        if tuned is not None:      # the same configuration, fitted by the tuning study
            members, entry, fold_steps = tuned
            seconds = entry["seconds"]
        else:
            estimator = deep_model(settings, panel.columns, **ONE_STEP_GRID[name])
            tic = time.perf_counter()
            fold_steps = [combine(deep_forecasts(estimator, sub, origin, window, STEPS, runs,
                                                 seeds[0])[1]["b"])
                          for origin, sub, _, _ in fold_data]
            members = deep_forecasts(estimator, panel, T0, window, STEPS, runs, seeds[0])[1]
            seconds = time.perf_counter() - tic
        # Shrinkage toward the random walk: the weight of the network's change learned on
        # the first k folds, for every k. The last is learned on all folds; the others
        # give each later fold the weight of the folds before it, the out-of-fold check
        # of that in-sample weight (the first fold has none).
        *earlier, weight = [change_weight(fold_truths[:k], fold_walks[:k], fold_steps[:k])
                            for k in range(1, len(fold_data) + 1)]
        coefficient = change_coefficient(fold_truths, fold_walks, fold_steps)

        def mse(truth, forecast):
            return scores(truth, forecast["centre"], forecast["bounds"])["MSE"]

        folds_out = []
        for k, ((origin, _, fold_truth, fold_walk), step) in enumerate(zip(fold_data,
                                                                           fold_steps)):
            walk_mse = mse(fold_truth, fold_walk)
            folds_out.append({
                "origin": str(origin.date()),
                "ratio_b": mse(fold_truth, step) / walk_mse,
                "ratio_shrunk": mse(fold_truth, shrunk(step, fold_walk, weight)) / walk_mse,
                "ratio_shrunk_earlier": (None if k == 0 else mse(
                    fold_truth, shrunk(step, fold_walk, earlier[k - 1])) / walk_mse)})
        forecasts[name, seeds[0]] = combine(members["b"])
        test = scores(truth, forecasts[name, seeds[0]]["centre"],
                      forecasts[name, seeds[0]]["bounds"])
        test_shrunk = shrunk(forecasts[name, seeds[0]], walk, weight)
        grid[name] = {"folds": folds_out,
                      "cv_ratio_b": float(np.mean([f["ratio_b"] for f in folds_out])),
                      "change_coefficient": coefficient, "change_weight": weight,
                      "cv_ratio_shrunk": float(np.mean([f["ratio_shrunk"]
                                                        for f in folds_out])),
                      "cv_ratio_shrunk_earlier": float(np.mean(
                          [f["ratio_shrunk_earlier"] for f in folds_out[1:]]))
                      if len(folds_out) > 1 else None,
                      "test": test, "test_ratio_b": test["MSE"] / reference["MSE"],
                      "test_shrunk": scores(truth, test_shrunk["centre"],
                                            test_shrunk["bounds"]),
                      "seconds": seconds}
        grid[name]["test_ratio_shrunk"] = grid[name]["test_shrunk"]["MSE"] / reference["MSE"]
        log(f"one-step {name}: CV {grid[name]['cv_ratio_b']:.4f} / test "
            f"{grid[name]['test_ratio_b']:.4f} x RW (b); coefficient {coefficient:.3f}, "
            f"shrunk (weight {weight:.3f}) CV "
            f"{grid[name]['cv_ratio_shrunk']:.4f} / test "
            f"{grid[name]['test_ratio_shrunk']:.4f}; {grid[name]['seconds']:.0f}s", started)

    chosen = min(grid, key=lambda n: grid[n]["cv_ratio_b"])
    chosen_shrunk = min(grid, key=lambda n: grid[n]["cv_ratio_shrunk"])
    per_family_walk = family_scores(truth, walk, families)

    def seed_runs_of(name, weight=None):
        """The 2021 scores of configuration ``name`` for every ensemble seed, its change
        shrunk by ``weight`` (learned on the folds of seed 0) when one is given."""
        estimator = deep_model(settings, panel.columns, **ONE_STEP_GRID[name])
        out = []
        for seed in seeds:
            if (name, seed) not in forecasts:
                members = deep_forecasts(estimator, panel, T0, window, STEPS, runs, seed)[1]
                forecasts[name, seed] = combine(members["b"])
                log(f"one-step {name}, seed {seed} fitted", started)
            forecast = forecasts[name, seed]
            if weight is not None:
                forecast = shrunk(forecast, walk, weight)
            point = scores(truth, forecast["centre"], forecast["bounds"])
            per_family = family_scores(truth, forecast, families)
            out.append({
                "seed": seed, "ensemble": point, "ratio": point["MSE"] / reference["MSE"],
                "without_TR": without(truth, forecast, families),
                "families_below_RW": sum(per_family[f]["MSE"] < per_family_walk[f]["MSE"]
                                         for f in families),
                "per_family": per_family})
        return out

    return {"reference": reference, "RW_without_TR": without(truth, walk, families),
            "grid": grid, "chosen": chosen, "seed_runs": seed_runs_of(chosen),
            "chosen_shrunk": chosen_shrunk,
            "shrunk_runs": seed_runs_of(chosen_shrunk, grid[chosen_shrunk]["change_weight"]),
            "n_families": len(families)}


def change_coefficient(truths, walks, forecasts):
    """The least-squares coefficient ``c`` of ``truth - walk`` on the network's one-step
    change ``network - walk`` over the given folds (no intercept).

    Clipped to [0, 1] it is the weight that minimises the squared error of
    ``walk + w * (network - walk)``: the constrained least-squares combination of the
    network and the random walk (Granger and Ramanathan's regression on the simplex, as
    :class:`skyield.compose.ForecastCombination` learns it with
    ``weighting="least_squares"``), in closed form for two members. A negative ``c``
    says the network's changes point away from the changes that followed.
    """
    change = np.concatenate([(f["centre"] - w["centre"]).ravel()
                             for f, w in zip(forecasts, walks)])
    surprise = np.concatenate([(t - w["centre"]).ravel() for t, w in zip(truths, walks)])
    power = float(change @ change)
    return float(change @ surprise / power) if power > 0 else 0.0


def change_weight(truths, walks, forecasts):
    """The weight in [0, 1] of the network's one-step change (see
    :func:`change_coefficient`)."""
    return float(np.clip(change_coefficient(truths, walks, forecasts), 0.0, 1.0))


def shrunk(forecast, walk, weight):
    """``forecast`` pulled toward the random walk: its change from the last curve times
    ``weight``; the band moves with its centre."""
    centre = walk["centre"] + weight * (forecast["centre"] - walk["centre"])
    offset = (centre - forecast["centre"])[..., None]
    return {"centre": centre, "bounds": forecast["bounds"] + offset}


def transfer_study(settings, source, started):
    window, runs, seed = settings["window"], settings["runs"], settings["seeds"][0]
    target = load_international_curves(families=list(TARGET_FAMILIES),
                                       maturities=list(TARGET_GRID),
                                       start=settings["target_start"], end="2021-12")
    families, truth, bench, caught = benchmark_forecasts(target, T0, window, STEPS)
    results = {"benchmarks": {n: {p: scores(truth, f["centre"], f["bounds"])
                                  for p, f in forecast.items()}
                              for n, forecast in bench.items()},
               "warnings": caught, "families": families,
               "n_learning_windows": int(len(make_family_windows(
                   split_at(target, T0), window=window, horizons=1).X))}
    direct = deep_model(settings, TARGET_GRID, extractor="attention", gamma=1)
    _, direct_members = deep_forecasts(direct, target, T0, window, STEPS, runs, seed)
    transfer = TransferredCurveRegressor(FrozenEstimator(source), maturities=list(TARGET_GRID),
                                         epochs=settings["epochs"], batch_size=32, lr=1e-3)
    transfer_ensemble, transfer_members = deep_forecasts(transfer, target, T0, window, STEPS,
                                                         runs, seed)
    results["deep"] = {
        "YC_ATT gamma=1 (target only)": {p: runs_and_ensemble(truth, direct_members[p])
                                         for p in ("a", "b")},
        "YC_transfer gamma=1": {p: runs_and_ensemble(truth, transfer_members[p])
                                for p in ("a", "b")}}
    results["extractor_frozen"] = all(
        torch.equal(value, source.net_.module_.extractor.state_dict()[name])
        for member in transfer_ensemble.estimators_
        for name, value in member.net_.module_.extractor.state_dict().items())
    panels = {}
    for label, members in (("YC_ATT", direct_members), ("YC_transfer", transfer_members)):
        forecast = combine(members["a"])
        panels[label] = {"centre": forecast["centre"].tolist(),
                         "bounds": forecast["bounds"].tolist()}
    results["figure"] = {"grid": list(TARGET_GRID), "truth": truth.tolist(), **panels}
    log("transfer done", started)
    return results


def benchmark_timing(settings, started):
    """Time the multi-curve benchmark's models on the documented selection."""
    selection = eiopa_benchmark_selection()
    panel = load_eiopa_curves(**selection)
    if settings["families"] is not None:
        panel = panel.loc[list(settings["families"])]
    test_start = settings["benchmark_test_start"]
    horizons = [1, 6, 12]
    sequence = dict(refit=12)        # backtest fits one clone per family
    models = {
        "random walk": (RandomWalk(), dict(window=1, refit=False)),
        **{name: (DynamicNelsonSiegel(factors=factors, dynamics=dynamics,
                                      decay="mean-maturity"), sequence)
           for name, (factors, dynamics) in DNS_MODELS.items() if name != "NSS_AR"},
        **{f"YC_ATT{label} ({settings['runs']} runs, one batched ensemble)": (
            SeedEnsemble(deep_model(settings, panel.columns, **params),
                         n_estimators=settings["runs"], batched=True, random_state=0),
            dict(window=settings["window"], refit=False))
           for label, params in (("", {}), (", residual", {"residual": True}))},
    }
    timings, rmse = {}, {}
    for name, (model, options) in models.items():
        tic = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = backtest(model, panel, horizons=horizons, coverage=COVERAGE,
                             test_start=test_start, **options)
        timings[name] = time.perf_counter() - tic
        summary = summarize(frame, by="horizon")
        rmse[name] = {str(h): float(v) for h, v in summary["rmse"].items()}
        log(f"benchmark {name}: {timings[name]:.1f}s", started)
    return {"selection": {k: (list(v) if isinstance(v, (list, tuple)) else v)
                          for k, v in selection.items()},
            "n_families": int(panel.index.get_level_values("family").nunique()),
            "test_start": test_start, "horizons": horizons, "seconds": timings,
            "rmse": rmse}


# ---------------------------------------------------------------- figures
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, dpi=110):
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    _pyplot().close(fig)


def save_table_figures(out, results):
    plt = _pyplot()
    families = results["families"]
    colours = {"YC_ATT gamma=1": "tab:blue", "NSS_VAR": "tab:orange", "RW": "0.45"}

    per_family = results["per_family"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 6.5), sharex=True)
    positions = np.arange(len(families))
    for row, protocol in enumerate(("a", "b")):
        models = list(per_family[protocol])
        width = 0.8 / len(models)
        for col, metric in enumerate(("MSE", "MAE", "PICP")):
            ax = axes[row, col]
            for k, model in enumerate(models):
                ax.bar(positions - 0.4 + width * (k + 0.5),
                       [per_family[protocol][model][f][metric] for f in families],
                       width=width, color=colours[model], label=model)
            if metric == "PICP":
                ax.axhline(COVERAGE, color="k", lw=0.8, ls="--")
            if metric == "MSE":
                ax.set_yscale("log")
            ax.set_title(f"{metric}, protocol ({protocol})", fontsize=9)
            ax.set_xticks(positions, families, rotation=90, fontsize=7)
    axes[0, 0].legend(fontsize=7)
    _save(fig, out / "eiopa_by_family.png")

    figure3 = results["figure3"]
    maturities = np.asarray(figure3["maturities"])
    n = len(families)
    cols = min(n, 6)
    rows = int(np.ceil(n / cols))
    for protocol in ("a", "b"):
        fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.1 * rows), squeeze=False)
        for i, family in enumerate(families):
            ax = axes.flat[i]
            ax.plot(maturities, figure3["observed"][i], "k-", lw=1.2, label="observed")
            for name, colour in (("NSS_VAR", "tab:orange"), ("YC_ATT gamma=1", "tab:blue")):
                key = f"{name} ({protocol})"
                if key not in figure3:
                    continue
                bounds = np.asarray(figure3[key]["bounds"][i])
                ax.plot(maturities, figure3[key]["centre"][i], color=colour, lw=1.0,
                        label=name)
                ax.fill_between(maturities, bounds[:, 0], bounds[:, 1], color=colour,
                                alpha=0.2)
            ax.set_title(family, fontsize=8)
            ax.set_xscale("log")
            ax.tick_params(labelsize=6)
        for ax in axes.flat[n:]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=6)
        what = ("from December 2020, six months ahead" if protocol == "a"
                else "one month ahead from the May 2021 curves")
        fig.suptitle(f"June 2021 forecasts {what} (95% intervals; maturity in years, log "
                     f"scale)", fontsize=10)
        _save(fig, out / f"eiopa_june2021_{protocol}.png", dpi=100)

    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, values in results["picp_by_maturity"].items():
        ax.plot(maturities, values, label=name, lw=1.0)
    ax.axhline(COVERAGE, color="k", lw=0.8, ls="--")
    ax.set_xlabel("maturity (years)")
    ax.set_ylabel("PICP, protocol (a)")
    ax.legend(fontsize=7)
    _save(fig, out / "eiopa_picp_by_maturity.png")

    attention = results["attention"]
    labels = list(attention)
    keys = list(attention[labels[0]])
    fig, axes = plt.subplots(len(labels), len(keys), figsize=(2.6 * len(keys), 2.6 * len(labels)),
                             squeeze=False)
    for r, label in enumerate(labels):
        for c, key in enumerate(keys):
            ax = axes[r, c]
            matrix = np.asarray(attention[label][key])
            image = ax.imshow(matrix, cmap="viridis", vmin=0)
            ax.set_title(f"{key}: {label}", fontsize=7)
            ticks = range(matrix.shape[0])
            lags = [f"t-{matrix.shape[0] - 1 - i}" if i < matrix.shape[0] - 1 else "t"
                    for i in ticks]
            ax.set_xticks(ticks, lags, rotation=90, fontsize=5)
            ax.set_yticks(ticks, lags, fontsize=5)
            fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle("YC_ATT (gamma 1) attention weights, mean over runs and windows "
                 "(row: query date, column: attended date)", fontsize=9)
    _save(fig, out / "eiopa_attention.png")


def save_tuning_figures(out, results):
    plt = _pyplot()
    grid = results["grid"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (cv, test, what) in zip(axes, (("cv_ratio_a", "test_ratio_a", "x NSS_VAR, (a)"),
                                           ("cv_ratio_b", "test_ratio_b", "x RW, (b)"))):
        for name, entry in grid.items():
            ax.scatter(entry[cv], entry[test], s=18,
                       color="tab:red" if name == results["chosen"] else "tab:blue")
            ax.annotate(name, (entry[cv], entry[test]), fontsize=6)
        ax.set_xlabel(f"cross-validated MSE {what} (2018-2020)")
        ax.set_ylabel(f"2021 MSE {what}")
    _save(fig, out / "eiopa_tuning.png")

    families = results["families"]
    shown = [(f"YC_ATT, {name}", runs[0]["per_family"], colour) for (name, runs), colour
             in zip(results["seed_runs"].items(), ("tab:blue", "tab:green", "tab:purple"))]
    shown += [("NSS_VAR", results["per_family_NSS_VAR"], "tab:orange"),
              ("RW", results["per_family_RW_a"], "0.45")]
    positions = np.arange(len(families))
    width = 0.8 / len(shown)
    fig, ax = plt.subplots(figsize=(13, 3.6))
    for k, (label, table, colour) in enumerate(shown):
        ax.bar(positions - 0.4 + width * (k + 0.5), [table[f]["MSE"] for f in families],
               width=width, color=colour, label=label)
    ax.set_yscale("log")
    ax.set_xticks(positions, families, rotation=90, fontsize=7)
    ax.set_ylabel("MSE 2021, protocol (a)")
    ax.legend(fontsize=7, ncol=len(shown))
    _save(fig, out / "eiopa_tuned_by_family.png")


def save_transfer_figure(out, results):
    plt = _pyplot()
    figure = results["figure"]
    families = results["families"]
    months = (0, 5, 11)
    fig, axes = plt.subplots(len(families), len(months),
                             figsize=(3.0 * len(months), 2.3 * len(families)), squeeze=False)
    for i, family in enumerate(families):
        for j, month in enumerate(months):
            ax = axes[i, j]
            ax.plot(figure["grid"], figure["truth"][i][month], "ko-", ms=3, label="observed")
            for name, colour in (("YC_ATT", "tab:blue"), ("YC_transfer", "tab:green")):
                bounds = np.asarray(figure[name]["bounds"][i][month])
                ax.plot(figure["grid"], figure[name]["centre"][i][month], color=colour,
                        label=name)
                ax.fill_between(figure["grid"], bounds[:, 0], bounds[:, 1], color=colour,
                                alpha=0.2)
            ax.set_title(f"{family}, 2021-{month + 1:02d}", fontsize=8)
    axes[0, 0].legend(fontsize=6)
    fig.suptitle("Transfer target, protocol (a): forecasts from December 2020", fontsize=9)
    _save(fig, out / "eiopa_transfer.png")


# ---------------------------------------------------------------- tables
def _row(name, m, paper=None):
    cells = [f"{m[k]:.4f}" for k in METRICS]
    if paper is not None:
        cells += [f"{v:.4f}" if v is not None else "-" for v in paper]
    return f"| {name} | " + " | ".join(cells) + " |"


def tables_markdown(results):
    lines = []
    for protocol, title in (("a", "protocol (a): one origin, December 2020"),
                            ("b", "protocol (b): rolling one-step forecasts")):
        lines += [f"**Table 1, {title}**", "",
                  "| Model | MSE | MAE | PICP | MPIW | paper MSE | paper MAE | paper PICP | "
                  "paper MPIW |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, entry in results["benchmarks"].items():
            lines.append(_row(name, entry[protocol], PAPER_TABLE1.get(name, (None,) * 4)))
        lines += ["", f"**Table 2, {title}** (average of the runs / their ensemble)", "",
                  "| Model | MSE avg | MSE ens | MAE avg | MAE ens | PICP avg | PICP ens | "
                  "MPIW avg | MPIW ens | paper MSE ens | paper MAE ens | paper PICP ens |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, entry in results["deep"].items():
            a, e = entry[protocol]["average"], entry[protocol]["ensemble"]
            paper = PAPER_TABLE2.get(name)
            tail = ("-", "-", "-") if paper is None else \
                tuple(f"{v:.4f}" for v in paper[1][:3])
            lines.append(
                f"| {name} | {a['MSE']:.4f} | {e['MSE']:.4f} | {a['MAE']:.4f} | "
                f"{e['MAE']:.4f} | {a['PICP']:.4f} | {e['PICP']:.4f} | {a['MPIW']:.4f} | "
                f"{e['MPIW']:.4f} | " + " | ".join(tail) + " |")
        lines += [""]
    lines += ["**Without Turkey** (MSE; ensembles for the deep models)", "",
              "| Model | MSE (a) | MSE (b) |", "|---|---:|---:|"]
    for name in results["without_TR"]["a"]:
        a, b = results["without_TR"]["a"][name], results["without_TR"]["b"][name]
        if a is not None:
            lines.append(f"| {name} | {a['MSE']:.4f} | {b['MSE']:.4f} |")
    return "\n".join(lines) + "\n"


def tuning_markdown(results):
    ref = results["reference"]
    grid = results["grid"]
    lines = [f"Reference on 2021: NSS_VAR (a) MSE {ref['NSS_VAR (a)']['MSE']:.4f}, "
             f"RW (a) {ref['RW (a)']['MSE']:.4f}, RW (b) {ref['RW (b)']['MSE']:.4f}.", "",
             "| Configuration | CV MSE / NSS_VAR (a), per fold | mean | 2021 MSE / NSS_VAR (a) "
             "| 2021 PICP (a), one-step bands | calibrated PICP | calibrated MPIW | "
             "CV MSE / RW (b) | 2021 MSE / RW (b) | epochs run | seconds |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, e in grid.items():
        marks = [label for label, key in (("chosen", "chosen"), ("best level", "chosen_level"),
                                          ("best residual (b)", "chosen_residual"))
                 if results[key] == name]
        mark = f" ({', '.join(marks)})" if marks else ""
        folds = " / ".join(f"{f['ratio_a']:.2f}" for f in e["folds"])
        lines.append(
            f"| {name}{mark} | {folds} | {e['cv_ratio_a']:.3f} | {e['test_ratio_a']:.3f} | "
            f"{e['test']['a']['ensemble']['PICP']:.3f} | {e['test_calibrated_a']['PICP']:.3f} | "
            f"{e['test_calibrated_a']['MPIW']:.3f} | {e['cv_ratio_b']:.3f} | "
            f"{e['test_ratio_b']:.3f} | {min(e['n_epochs'])}-{max(e['n_epochs'])} | "
            f"{e['seconds']:.0f} |")
    sizes = list(next(iter(grid.values()))["ensemble_size_ratio_a"])
    lines += ["", "**Ensemble size** (2021 MSE / NSS_VAR (a), first k runs)", "",
              "| Configuration | " + " | ".join(f"k={k}" for k in sizes) + " |",
              "|---|" + "---:|" * len(sizes)]
    for name, e in grid.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{v:.3f}" for v in e["ensemble_size_ratio_a"].values()) + " |")
    for name, runs in results["seed_runs"].items():
        factors = ", ".join(f"{v:.2f}" for v in grid[name]["interval_factors"])
        lines += ["", f"**{name}** (2021, protocol (a), three ensemble seeds)", "",
                  "| seed | MSE | MSE / NSS_VAR | MSE without TR | MAE | PICP (one-step bands) "
                  "| MPIW | PICP (calibrated) | MPIW (calibrated) |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for run in runs:
            e, c = run["ensemble"], run["calibrated"]
            w = run["without_TR"]["MSE"] if run["without_TR"] else float("nan")
            lines.append(f"| {run['seed']} | {e['MSE']:.4f} | {run['ratio']:.3f} | {w:.4f} | "
                         f"{e['MAE']:.4f} | {e['PICP']:.3f} | {e['MPIW']:.3f} | "
                         f"{c['PICP']:.3f} | {c['MPIW']:.3f} |")
        lines.append(f"\nCalibration factors by horizon (1..12): {factors}.")
    if results["NSS_VAR_without_TR"]:
        lines.append(f"\nNSS_VAR without TR: MSE {results['NSS_VAR_without_TR']['MSE']:.4f}.")
    if "residual_runs" in results:
        lines += ["", f"**{results['chosen_residual']}** (2021, protocol (b))", "",
                  "| seed | MSE | MSE / RW | MSE without TR | MAE | PICP | MPIW | families "
                  "below RW |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        walk = results["per_family_RW_b"]
        for run in results["residual_runs"]:
            e = run["ensemble"]
            w = run["without_TR"]["MSE"] if run["without_TR"] else float("nan")
            below = sum(run["per_family"][f]["MSE"] < walk[f]["MSE"] for f in walk)
            lines.append(f"| {run['seed']} | {e['MSE']:.4f} | {run['ratio']:.3f} | {w:.4f} | "
                         f"{e['MAE']:.4f} | {e['PICP']:.3f} | {e['MPIW']:.3f} | "
                         f"{below} of {len(walk)} |")
        if results["RW_b_without_TR"]:
            lines.append(f"\nRW (b) without TR: MSE {results['RW_b_without_TR']['MSE']:.4f}.")
    return "\n".join(lines) + "\n"


def one_step_markdown(results):
    ref = results["reference"]
    lines = [f"Reference on 2021: RW (b) MSE {ref['MSE']:.4f}"
             + (f", without TR {results['RW_without_TR']['MSE']:.4f}"
                if results["RW_without_TR"] else "") + ".", "",
             "| Configuration | CV MSE / RW (b), per fold | mean | 2021 MSE / RW (b) "
             "| 2021 PICP | 2021 MPIW | seconds |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, e in results["grid"].items():
        mark = " (chosen)" if name == results["chosen"] else ""
        folds = " / ".join(f"{f['ratio_b']:.3f}" for f in e["folds"])
        lines.append(f"| {name}{mark} | {folds} | {e['cv_ratio_b']:.4f} | "
                     f"{e['test_ratio_b']:.4f} | {e['test']['PICP']:.3f} | "
                     f"{e['test']['MPIW']:.3f} | {e['seconds']:.0f} |")
    lines += ["", "Shrunk toward the random walk: the change from the last curve times the "
              "weight learned on the folds.", "",
              "| Configuration | coefficient | weight | CV MSE / RW (b), per fold | mean "
              "| mean, weight of the earlier folds | 2021 MSE / RW (b), seed 0 | 2021 PICP |",
              "|---|---:|---:|---|---:|---:|---:|---:|"]
    for name, e in results["grid"].items():
        mark = " (chosen)" if name == results["chosen_shrunk"] else ""
        folds = " / ".join(f"{f['ratio_shrunk']:.3f}" for f in e["folds"])
        earlier = ("n/a" if e["cv_ratio_shrunk_earlier"] is None
                   else f"{e['cv_ratio_shrunk_earlier']:.4f}")
        lines.append(f"| {name}{mark} | {e['change_coefficient']:.3f} | "
                     f"{e['change_weight']:.3f} | {folds} | "
                     f"{e['cv_ratio_shrunk']:.4f} | {earlier} | "
                     f"{e['test_ratio_shrunk']:.4f} | {e['test_shrunk']['PICP']:.3f} |")
    for title, runs in ((f"**{results['chosen']}**", results["seed_runs"]),
                        (f"**{results['chosen_shrunk']}, shrunk** (weight "
                         f"{results['grid'][results['chosen_shrunk']]['change_weight']:.3f})",
                         results["shrunk_runs"])):
        lines += ["", f"{title} (2021, protocol (b), {len(runs)} ensemble seeds)", "",
                  "| seed | MSE | MSE / RW | MSE without TR | MAE | PICP | MPIW | families "
                  "below RW |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for run in runs:
            e = run["ensemble"]
            w = run["without_TR"]["MSE"] if run["without_TR"] else float("nan")
            lines.append(f"| {run['seed']} | {e['MSE']:.4f} | {run['ratio']:.4f} | {w:.4f} | "
                         f"{e['MAE']:.4f} | {e['PICP']:.3f} | {e['MPIW']:.3f} | "
                         f"{run['families_below_RW']} of {results['n_families']} |")
    return "\n".join(lines) + "\n"


def transfer_markdown(results):
    lines = []
    for protocol in ("a", "b"):
        lines += [f"**Table 3, protocol ({protocol})**", "",
                  "| Model | MSE | MAE | PICP | MPIW |", "|---|---:|---:|---:|---:|"]
        for name, entry in results["benchmarks"].items():
            lines.append(_row(name, entry[protocol]))
        for name, entry in results["deep"].items():
            lines.append(_row(f"{name} (average of runs)", entry[protocol]["average"]))
            lines.append(_row(f"{name} (ensemble)", entry[protocol]["ensemble"]))
        lines.append("")
    return "\n".join(lines)


def benchmark_markdown(results):
    lines = ["| model | seconds | RMSE h=1 | RMSE h=6 | RMSE h=12 |",
             "|---|---:|---:|---:|---:|"]
    for name, seconds in results["seconds"].items():
        r = results["rmse"][name]
        lines.append(f"| {name} | {seconds:.1f} | {r['1']:.4f} | {r['6']:.4f} | "
                     f"{r['12']:.4f} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- driver
def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    return value


def run(quick=False, studies=STUDIES, output_dir="skyield-output/eiopa", threads=1,
        figures=True, overwrite=False):
    """Run the studies; return ``{study: results}``.

    Each study's results, tables and figures are written to ``<output_dir>/<study>/``
    when the study is complete (see :func:`skyield.utils.staged_folder`); a study whose
    folder exists and is not empty is refused before any work unless ``overwrite``.
    """
    settings = dict(SETTINGS["quick" if quick else "full"])
    out = Path(output_dir)
    for study in studies:
        check_output_target(out / study, overwrite)
    torch.set_num_threads(threads)
    started = time.perf_counter()
    panel = load_panel(settings)
    log(f"EIOPA panel: {panel.index.get_level_values('family').nunique()} families, "
        f"{panel.shape[1]} maturities, {panel.index.get_level_values('date').nunique()} "
        f"months", started)
    cache, everything = {}, {}
    writers = {"tables": (tables_study, tables_markdown, save_table_figures),
               "tuning": (tuning_study, tuning_markdown, save_tuning_figures),
               "one-step": (one_step_study, one_step_markdown, None)}
    for study in studies:
        tic = time.perf_counter()
        if study in writers:
            compute, markdown, draw = writers[study]
            results = compute(settings, panel, started, cache)
        elif study == "transfer":
            if "YC_ATT gamma=1" not in cache:
                estimator = deep_model(settings, panel.columns)
                cache["YC_ATT gamma=1"] = deep_forecasts(
                    estimator, panel, T0, settings["window"], STEPS, settings["runs"],
                    settings["seeds"][0])
            source = cache["YC_ATT gamma=1"][0].estimators_[0]
            results = transfer_study(settings, source, started)
            markdown, draw = transfer_markdown, save_transfer_figure
        else:
            results = benchmark_timing(settings, started)
            markdown, draw = benchmark_markdown, None
        results["seconds_total"] = time.perf_counter() - tic
        results["settings"] = {"mode": "quick" if quick else "full", "t0": str(T0.date()),
                               "coverage": COVERAGE, "threads": threads,
                               **{k: list(v) if isinstance(v, tuple) else v
                                  for k, v in settings.items()}}
        with staged_folder(out / study, overwrite) as folder:
            (folder / "results.json").write_text(json.dumps(_jsonable(results), indent=1))
            (folder / "tables.md").write_text(markdown(results))
            if figures and draw is not None:
                draw(folder, results)
        log(f"study {study} done in {results['seconds_total']:.0f}s", started)
        everything[study] = results
    return everything


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI size (under a minute)")
    parser.add_argument("--study", choices=STUDIES, action="append",
                        help="study to run (repeat for several; default: all)")
    parser.add_argument("--output-dir", default="skyield-output/eiopa")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--no-figures", action="store_true", help="skip the figures")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the existing non-empty folder of a study")
    args = parser.parse_args(argv)
    run(quick=args.quick, studies=tuple(args.study or STUDIES), output_dir=args.output_dir,
        threads=args.threads, figures=not args.no_figures, overwrite=args.overwrite)


if __name__ == "__main__":
    main()

"""Monte Carlo of the dynamic-factor Transformer: Tables 5 and 12 of seed 002.

For each simulated process (``make_dfm_process``, processes 1-6) and seed, 1800 periods
are simulated: the first 800 train the models (the Transformer holds out the last 20% of
them for early stopping and fits its Kalman prior and scaler on the first 640) and the
last 1000 test them. Every factor estimate is scaled onto the true factor by the LAD line
fitted on the first 800 periods (eqs. 36-37) and scored on the 1000 test periods:

- ``Transformer``: ``FactorTransformer`` (Table 4 hyper-parameters), its runs trained as
  one stacked model and averaged;
- ``Kalman``: ``KalmanFactorModel`` (full error covariance) estimated on the 800 periods;
- ``Kalman max``: the Kalman filter with the process's linear parameters, i.e. the
  population linear projections (``x_t`` on ``x_{t-1}``, ``y_t`` on ``x_t``) measured on a
  200,000-period simulation; for process 1 these are the true parameters;
- ``Mean``: the cross-sectional mean of the standardised series;
- ``Oracle``: the Kalman filter with the true parameters for process 1, otherwise the
  auxiliary particle filter with the true transition and measurement densities.

Reported per process and seed (eqs. 38-40): Gain (the share of the Kalman-to-oracle MSE
gap the Transformer closes) and Fit (its MSE improvement over the estimated Kalman
filter), and beside them the ceiling: the oracle's own Fit against the estimated Kalman
filter, the most any estimate can reach on average. "Fit max" stops each run at the
epoch of its highest test accuracy (checked every ``--fit-max-every`` epochs; chosen by
the test MSE after a least-squares scaling, scored with the LAD scaling) and averages the
runs. Seeds on which the estimated Kalman filter flat-lines (its LAD-scaled estimate has
a standard deviation below ``--flat-threshold`` times the true factor's) are discarded
from the means, as the paper discards its mis-estimated seeds (footnote 7); they stay in
the CSV. ``--prior-weights 0.6 0 1`` adds the sweep of Table 12.

Every finished (process, seed, prior weight) row is appended to the ``--output`` CSV at
once; ``--resume`` skips the rows already there, so an interrupted run continues.
``--summarise`` rebuilds the tables from the CSVs of runs made separately (one process per
command, say) after checking that they share their settings and repeat no row. Beside
Tables 5 and 12 the summary sets the R2 reached here beside the seed's, with the shortfall
of the estimated Kalman filter from Kalman max, which bounds what Gain can show.

Usage::

    python examples/factor_transformer_monte_carlo.py --quick
    python examples/factor_transformer_monte_carlo.py --processes 1 2 3 4 5 6 \\
        --seeds 0 1 2 3 4 5 6 7 8 9 --runs 10 --epochs 1000 --prior-weights 0.6 0 1 \\
        --output mc.csv --summary mc.md
    python examples/factor_transformer_monte_carlo.py --summarise mc-p1.csv mc-p2.csv \
        --summary mc.md

The full-size command is the second line (the paper's 10 seeds x 10 runs, at most 1000
epochs, T0 = 100, patience one cycle, Fit max checked every epoch).
"""

import argparse
import json
import math
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import torch
from scipy import stats

from skyield.baselines import KalmanFactorModel
from skyield.datasets import (
    dfm_error_logpdf,
    dfm_measurement_mean,
    dfm_process_spec,
    dfm_state_mean,
    make_dfm_process,
)
from skyield.metrics import (
    best_factor_estimate,
    factor_is_flat,
    factor_scaling,
    factor_scores,
)
from skyield.models import FactorTransformer
from skyield.statespace import auxiliary_particle_filter, kalman_filter

# The seed's Table 5 (means over its kept seeds) and Table 12 (Fit by prior weight).
PAPER_TABLE5 = {1: dict(fit=-38.3, fit_max=-12.2, gain=None, r2=0.779),
                2: dict(fit=32.5, fit_max=57.7, gain=41.5, r2=0.636),
                3: dict(fit=42.8, fit_max=46.6, gain=88.1, r2=0.801),
                4: dict(fit=45.3, fit_max=65.7, gain=50.8, r2=0.841),
                5: dict(fit=-8.8, fit_max=30.3, gain=-8.1, r2=0.772),
                6: dict(fit=4.6, fit_max=30.3, gain=7.3, r2=0.876)}
PAPER_TABLE12 = {2: {0.0: 6.1, 0.6: 25.0, 1.0: 1.4}, 4: {0.0: 33.3, 0.6: 49.2, 1.0: 1.0},
                 6: {0.0: 8.9, 0.6: 25.7, 1.0: -3.2}}
# R2 of the seed's one representative seed per process (its Tables 6, 8 and 10): how
# far its estimated Kalman filter fell short of Kalman max, which Gain is measured from.
PAPER_R2 = {1: dict(kalman=0.82, kalman_max=0.82, oracle=0.82, mean=0.66),
            2: dict(kalman=0.31, kalman_max=0.79, oracle=0.87, mean=0.63),
            3: dict(kalman=0.76, kalman_max=0.87, oracle=0.87, mean=0.87),
            4: dict(kalman=0.68, kalman_max=0.95, oracle=0.96, mean=0.89),
            5: dict(kalman=0.80, kalman_max=0.84, oracle=0.91, mean=0.90),
            6: dict(kalman=0.82, kalman_max=0.85, oracle=0.93, mean=0.92)}
# Settings that change what a row measures: rows summarised together must share them.
TRAINING_SETTINGS = ("runs", "epochs", "cycle_epochs", "patience", "particles", "n_fit",
                     "n_test", "fit_max_every", "flat_threshold")

# --------------------------------------------------------------------------- shocks
def _skew_t_moments(df, skew):
    delta = skew / math.sqrt(1.0 + skew * skew)
    b = math.sqrt(df / math.pi) * math.exp(math.lgamma((df - 1) / 2) - math.lgamma(df / 2))
    mean = delta * b
    return delta, mean, math.sqrt(df / (df - 2.0) - mean * mean)


def draw_shocks(params, dist, size, rng):
    """State shocks with mean 0 and standard deviation sigma_x, as the simulator draws them."""
    sigma, df = params["sigma_x"], params["df"]
    z1 = rng.standard_normal(size)
    if dist == "normal":
        return sigma * z1
    w = rng.chisquare(df, size)
    if dist == "t":
        return sigma * z1 * np.sqrt((df - 2.0) / w)
    delta, mean, std = _skew_t_moments(df, params["skew"])
    z0 = rng.standard_normal(size)
    raw = (delta * np.abs(z0) + math.sqrt(1.0 - delta * delta) * z1) / np.sqrt(w / df)
    return sigma * (raw - mean) / std


# --------------------------------------------------------------------------- oracle
def oracle_particle_filter(Y, params, n_particles=5000, random_state=0):
    """Auxiliary particle filter with the true densities of a ``make_dfm_process`` process.

    The particle holds ``[x_t, x_{t-1}, ..., x_{t-p+1}, extra]`` where ``extra`` is the
    previous shock (process 5, MA term) or the regime (process 6). Processes with
    autoregressive measurements start at the fourth date (their first three dates lack
    observed lags) and are NaN before it.
    """
    rng = np.random.RandomState(random_state)
    p = params["alpha"].size
    regimes = params["n_regimes"] > 1
    lagged_y = params["y_ar"] is not None
    start = params["y_ar"].size if lagged_y else 0
    Y_used = Y[start:]

    def mean_of(particles):
        regime = particles[:, p].astype(int) if regimes else 0
        shock_lag = particles[:, p] if params["ma"] else 0.0
        return dfm_state_mean(params, particles[:, :p], shock_lag=shock_lag, regime=regime)

    def transition_mean(particles, t):
        out = particles.copy()
        out[:, 1:p] = particles[:, :p - 1]
        out[:, 0] = mean_of(particles)
        if params["ma"]:
            out[:, p] = 0.0
        return out

    def propagate(particles, t, r):
        out = particles.copy()
        n = particles.shape[0]
        if regimes:
            probs = params["transition_probs"][particles[:, p].astype(int), 1]
            out[:, p] = (r.uniform(size=n) < probs).astype(float)
            shocks = np.empty(n)
            for s, dist in enumerate(params["shock_dist"]):
                mask = out[:, p] == s
                shocks[mask] = draw_shocks(params, dist, int(mask.sum()), r)
            mean = dfm_state_mean(params, particles[:, :p], regime=out[:, p].astype(int))
        else:
            shocks = draw_shocks(params, params["shock_dist"][0], n, r)
            mean = mean_of(particles)
            if params["ma"]:
                out[:, p] = shocks
        out[:, 1:p] = particles[:, :p - 1]
        out[:, 0] = mean + shocks
        return out

    def measurement_logpdf(y, particles, t):
        regime = particles[:, p].astype(int) if regimes else 0
        y_lags = Y[start + t - 3:start + t][::-1] if lagged_y else None
        mean = dfm_measurement_mean(params, particles[:, 0], y_lags=y_lags, regime=regime)
        return dfm_error_logpdf(params, y - mean, regime=regime)

    dim = p + (1 if regimes or params["ma"] else 0)
    particles = np.zeros((n_particles, dim))
    if regimes:
        particles[:, p] = (rng.uniform(size=n_particles)
                           >= params["initial_regime_probs"][0]).astype(float)
    for _ in range(300):  # burn in towards the stationary distribution
        particles = propagate(particles, 0, rng)
    roughen = np.zeros(dim, dtype=bool)
    roughen[0] = True
    result = auxiliary_particle_filter(Y_used, particles, transition_mean, propagate,
                                       measurement_logpdf, roughen=roughen,
                                       random_state=rng)
    out = np.full(Y.shape[0], np.nan)
    out[start:] = result.filtered_state[:, 0]
    return out


# --------------------------------------------------------------------------- Kalman
def linear_parameters(process, n_samples=200_000, random_state=12345):
    """Population linear projections of a process (the "true linear parameters")."""
    if process == 1:
        spec = dfm_process_spec(1)
        return dict(c=0.0, a=spec["alpha"][0], q=spec["sigma_x"] ** 2, d=spec["mu_y"],
                    z=spec["beta"], h=spec["cov_y"])
    data = make_dfm_process(process, n_samples, random_state=random_state)
    x, Y = data.factor, data.observables
    slope_x, intercept_x = np.polyfit(x[:-1], x[1:], 1)
    residual_x = x[1:] - intercept_x - slope_x * x[:-1]
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, Y, rcond=None)
    residual_y = Y - design @ coef
    return dict(c=intercept_x, a=slope_x, q=residual_x.var(), d=coef[0], z=coef[1],
                h=np.cov(residual_y, rowvar=False))


def kalman_with(Y, lin):
    result = kalman_filter(Y, lin["z"][:, None], [[lin["a"]]], lin["h"], [[lin["q"]]],
                           c=[lin["c"]], d=lin["d"]).to_numpy()
    return result["filtered_state"][:, 0]


# --------------------------------------------------------------------------- experiment
def transformer(prior_weight, args, seed, epoch_callback=None):
    return FactorTransformer(
        prior_weight=prior_weight, n_runs=args.runs, epochs=args.epochs,
        cycle_epochs=args.cycle_epochs, warmup_epochs=max(1, args.cycle_epochs // 10),
        patience=args.patience, device=args.device, random_state=seed,
        epoch_callback=epoch_callback)


class EpochFactors:
    """Epoch callback keeping each run's raw factor over the panel every ``every`` epochs."""

    def __init__(self, Y, every):
        self.Y = Y
        self.every = every
        self.factors = {}

    def __call__(self, epoch, runs, factors):
        if epoch % self.every:
            return
        values = factors(self.Y).astype(np.float32)
        for column, run in enumerate(runs):
            self.factors.setdefault(run, {})[epoch] = values[:, column]


def fit_max_estimate(model, recorder, x, calibration, evaluation):
    """Runs stopped at their most accurate checked epoch, identified and averaged.

    Each run's epoch is the one whose raw factor has the lowest test MSE after a
    least-squares scaling (:func:`skyield.metrics.best_factor_estimate`); that factor is
    identified onto the prior factor over the training span as ``FactorTransformer``
    identifies every run, and the runs are averaged as in ``transform``.

    Returns
    -------
    estimate : ndarray of shape (n_dates,)
    epochs : list of int
        The chosen epoch of every run.
    """
    reference, n_train = model.prior_factor_, model.n_train_
    identified, chosen = [], []
    for run in sorted(recorder.factors):
        epochs = sorted(recorder.factors[run])
        candidates = np.stack([recorder.factors[run][e] for e in epochs]).astype(float)
        index, _ = best_factor_estimate(x, candidates, calibration=calibration,
                                        evaluation=evaluation)
        raw = candidates[index]
        usable = np.isfinite(raw[:n_train]) & np.isfinite(reference)
        scaling = factor_scaling(reference[usable], raw[:n_train][usable])
        identified.append(scaling.intercept + scaling.slope * raw)
        chosen.append(epochs[index])
    return np.mean(identified, axis=0), chosen


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def baselines(process, seed, args, linear_cache):
    """Data, true factor and the baseline estimates of one process and seed."""
    n_fit, n_test = args.n_fit, args.n_test
    data = make_dfm_process(process, n_fit + n_test, random_state=seed)
    Y = data.observables
    estimates, timings = {}, {}
    with Clock() as clock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kalman_model = KalmanFactorModel(n_factors=1, error_cov="full").fit(Y[:n_fit])
        estimates["Kalman"] = kalman_model.transform(Y)[:, 0]
    timings["kalman"] = clock
    if process not in linear_cache:
        linear_cache[process] = linear_parameters(process)
    estimates["Kalman max"] = kalman_with(Y, linear_cache[process])
    train = Y[:n_fit - int(np.ceil(0.2 * n_fit))]
    estimates["Mean"] = ((Y - train.mean(axis=0)) / train.std(axis=0)).mean(axis=1)
    with Clock() as clock:
        if process == 1:
            estimates["Oracle"] = kalman_with(Y, linear_parameters(1))
        else:
            estimates["Oracle"] = oracle_particle_filter(Y, data.params, args.particles, seed)
    timings["oracle"] = clock
    return data, estimates, timings


def run_process(process, seed, args, linear_cache, weights):
    """Rows of one process and seed, one per prior weight in ``weights``."""
    n_fit, n_test = args.n_fit, args.n_test
    data, estimates, timings = baselines(process, seed, args, linear_cache)
    Y, x = data.observables, data.factor
    # Scale on the fitting periods (from the 10th date: every estimate is defined there),
    # score on the test periods.
    calibration = np.arange(10, n_fit)
    evaluation = np.arange(n_fit, n_fit + n_test)
    spans = dict(calibration=calibration, evaluation=evaluation)
    kalman_flat = factor_is_flat(x, estimates["Kalman"], threshold=args.flat_threshold,
                                 **spans)
    oracle = factor_scores(x, estimates["Oracle"], reference=estimates["Kalman"], **spans)
    rows = []
    for weight in weights:
        recorder = EpochFactors(Y, args.fit_max_every) if args.fit_max_every else None
        with Clock() as clock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = transformer(weight, args, seed, recorder).fit(Y[:n_fit])
        factor, runs = model.transform(Y, return_runs=True)
        scores = factor_scores(x, factor[:, 0], reference=estimates["Kalman"],
                               oracle=estimates["Oracle"], **spans)
        row = dict(process=process, seed=seed, prior_weight=float(weight),
                   fit=scores["fit"], gain=scores["gain"], r2=scores["r2"],
                   r2_kalman=scores["r2_reference"], r2_oracle=scores["r2_oracle"],
                   oracle_fit=oracle["fit"], kalman_flat=kalman_flat,
                   flat_runs=int(sum(factor_is_flat(x, runs[:, r], threshold=args.flat_threshold,
                                                    **spans) for r in range(runs.shape[1]))),
                   valid_loss=float(np.mean(model.valid_loss_)),
                   epochs=float(np.mean(model.n_epochs_)),
                   n_train=model.n_train_, n_valid=model.n_valid_, runs=args.runs,
                   seconds=clock.wall, cpu_seconds=clock.cpu,
                   baseline_seconds=timings["kalman"].wall + timings["oracle"].wall,
                   baseline_cpu_seconds=timings["kalman"].cpu + timings["oracle"].cpu)
        for other in ("Kalman max", "Mean"):
            row["r2_" + other.lower().replace(" ", "_")] = factor_scores(
                x, estimates[other], **spans)["r2"]
        if recorder is not None:
            best, epochs = fit_max_estimate(model, recorder, x, calibration, evaluation)
            best_scores = factor_scores(x, best, reference=estimates["Kalman"],
                                        oracle=estimates["Oracle"], **spans)
            row.update(fit_max=best_scores["fit"], gain_max=best_scores["gain"],
                       fit_max_epoch=float(np.mean(epochs)))
        rows.append(row)
        if args.figures and weight == args.prior_weights[0] and seed == args.seeds[0]:
            save_figures(args.figures, process, model, Y, x, factor[:, 0], runs, estimates,
                         n_fit)
    return rows


def save_figures(folder, process, model, Y, x, factor, runs, estimates, n_fit, length=100):
    """Figures 17-21 for one process: a test-set snapshot, attention over time, tentacles.

    The snapshot is the middle ``length`` periods of the test span; every estimate is
    scaled onto the true factor over the fitting periods, as in the scores.
    """
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skyield.metrics import factor_scaling
    from skyield.plotting import (
        plot_attention_contributions,
        plot_attention_matrix,
        plot_factor_runs,
        plot_tentacles,
    )

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    start = max(n_fit, (n_fit + len(Y) - length) // 2)
    span = slice(start, start + length)
    calibration = np.arange(10, n_fit)

    def scaled(values):
        scaling = factor_scaling(x[calibration], values[calibration])
        return scaling.intercept + scaling.slope * values

    fig, axes = plt.subplots(2, 2, figsize=(12, 7))
    run_lines = np.column_stack([scaled(runs[:, r]) for r in range(runs.shape[1])])
    plot_factor_runs(scaled(factor)[span], run_lines[span], truth=x[span],
                     reference=scaled(estimates["Kalman"])[span],
                     index=np.arange(start, start + length), ax=axes[0, 0],
                     title=f"Process {process}: test-set snapshot (scaled)")
    axes[0, 0].plot(np.arange(start, start + length), scaled(estimates["Oracle"])[span],
                    color="green", linewidth=1, label="oracle")
    axes[0, 0].legend(fontsize=7)
    attention = model.get_attention(Y)
    plot_attention_matrix(attention["state"][start + length // 2], ax=axes[0, 1],
                          title=f"State attention at t={start + length // 2}")
    by_variable = model.attention_contributions(Y).iloc[span]
    plot_attention_contributions(by_variable.rename(columns=lambda i: f"y{i + 1}"),
                                 ax=axes[1, 0], title="State attention by variable")
    plot_attention_contributions(model.attention_contributions(Y, by="lag").iloc[span],
                                 ax=axes[1, 1], title="State attention by lag")
    fig.tight_layout()
    fig.savefig(folder / f"ft_mc_process{process}.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 3.5))
    projection = model.project(Y, steps=20, origins=np.arange(start, start + length))
    plot_tentacles(projection, every=2, ax=ax,
                   title=f"Process {process}: 20-step real-time projections (best run)")
    ax.plot(np.arange(start, start + length), runs[span, model.best_run_], color="black",
            linewidth=1.5, label="factor estimate")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / f"ft_mc_process{process}_tentacles.png", dpi=100)
    plt.close(fig)


def _mean_sd(values, digits=1):
    values = pd.Series(values, dtype=float).dropna()
    if values.empty:
        return "-"
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ({values.std():.{digits}f})"


def summarise(results):
    """Means (and standard deviations) over the kept seeds, per process and prior weight."""
    kept = results[~results["kalman_flat"].astype(bool)]
    columns = [c for c in ("gain", "fit", "oracle_fit", "fit_max", "gain_max", "r2",
                           "r2_kalman", "r2_kalman_max", "r2_oracle", "r2_mean",
                           "valid_loss", "epochs", "fit_max_epoch", "flat_runs", "seconds",
                           "cpu_seconds") if c in kept]
    grouped = kept.groupby(["process", "prior_weight"])
    table = grouped[columns].mean()
    spread = grouped[[c for c in ("fit", "gain", "fit_max", "r2") if c in kept]].std()
    table = pd.concat([table, spread.add_suffix("_sd")], axis=1)
    table["seeds_kept"] = grouped.size()
    counts = results.groupby(["process", "prior_weight"]).size()
    table["seeds_discarded"] = (counts - table["seeds_kept"]).reindex(table.index)
    return table.round(3)


def markdown_summary(results, main_weight=0.6):
    """Table 5 (at ``main_weight``) and Table 12 in Markdown, the seed's values beside."""
    kept = results[~results["kalman_flat"].astype(bool)]
    lines = ["**Table 5: Gain and Fit (%) against the estimated Kalman filter, the oracle's "
             "Fit as the ceiling; means over the kept seeds (standard deviation)**", "",
             "| process | Gain | Fit | ceiling: oracle Fit | Fit max | R2 Transformer | "
             "R2 Kalman | R2 Kalman max | R2 oracle | R2 mean | seeds kept / run | "
             "seed: Gain / Fit / Fit max / R2 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    main = kept[kept["prior_weight"] == main_weight]
    for process in sorted(results["process"].unique()):
        rows = main[main["process"] == process]
        n_all = int(((results["process"] == process)
                     & (results["prior_weight"] == main_weight)).sum())
        if n_all == 0:
            continue
        paper = PAPER_TABLE5.get(process, {})
        gain = "-" if process == 1 else _mean_sd(rows["gain"])
        paper_gain = "-" if paper.get("gain") is None else paper["gain"]
        lines.append(
            f"| {process} | {gain} | {_mean_sd(rows['fit'])} | {_mean_sd(rows['oracle_fit'])} "
            f"| {_mean_sd(rows['fit_max']) if 'fit_max' in rows else '-'} "
            f"| {_mean_sd(rows['r2'], 3)} | {_mean_sd(rows['r2_kalman'], 3)} "
            f"| {_mean_sd(rows['r2_kalman_max'], 3)} | {_mean_sd(rows['r2_oracle'], 3)} "
            f"| {_mean_sd(rows['r2_mean'], 3)} | {len(rows)} / {n_all} "
            f"| {paper_gain} / {paper.get('fit', '-')} / {paper.get('fit_max', '-')} / "
            f"{paper.get('r2', '-')} |")
    lines.append("")
    lines.append("Gain is not defined for process 1 (the Kalman filter is the oracle).")
    weights = sorted(results["prior_weight"].unique())
    if len(weights) > 1:
        lines += ["", "**Table 12: Fit (%) by prior weight (Gain in brackets); the oracle's "
                  "Fit is the ceiling**", "",
                  "| process | " + " | ".join(f"lambda = {w:g}" for w in weights)
                  + " | ceiling: oracle Fit | seed: " + " / ".join(f"{w:g}" for w in weights)
                  + " |", "|---|" + "---|" * (len(weights) + 2)]
        for process in sorted(results["process"].unique()):
            rows = kept[kept["process"] == process]
            if rows["prior_weight"].nunique() < len(weights):
                continue
            cells = [f"{_mean_sd(rows.loc[rows['prior_weight'] == w, 'fit'])} "
                     f"[{_mean_sd(rows.loc[rows['prior_weight'] == w, 'gain'])}]"
                     for w in weights]
            paper = PAPER_TABLE12.get(process, {})
            ceiling = rows.loc[rows["prior_weight"] == weights[0], "oracle_fit"]
            lines.append(f"| {process} | " + " | ".join(cells)
                         + f" | {_mean_sd(ceiling)} | "
                         + " / ".join(str(paper.get(w, "-")) for w in weights) + " |")
    lines += ["", *_r2_comparison(main)]
    return "\n".join(lines) + "\n"


def _r2_comparison(rows):
    """R2 here beside the seed's, and how Gain follows the estimated filter's shortfall.

    Gain is measured from the estimated Kalman filter, so it can be large only where that
    filter falls short of Kalman max (the filter with the process's linear parameters).
    """
    shortfall = rows["r2_kalman_max"] - rows["r2_kalman"]
    lines = ["**R2 against the true factor, here and in the seed (Transformer: the seed's "
             "Table 5 mean; the rest: its one representative seed, Tables 6, 8 and 10)**", "",
             "| process | Transformer | seed | Kalman | seed | Kalman max - Kalman | seed "
             "| oracle | seed | mean of the data | seed |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for process in sorted(rows["process"].unique()):
        here = rows[rows["process"] == process]
        seed_r2 = dict(PAPER_R2.get(process, {}))
        if seed_r2:
            seed_r2["shortfall"] = seed_r2["kalman_max"] - seed_r2["kalman"]
        paper = {k: f"{v:.2f}" for k, v in seed_r2.items()}
        lines.append(
            f"| {process} | {_mean_sd(here['r2'], 3)} "
            f"| {PAPER_TABLE5.get(process, {}).get('r2', '-')} "
            f"| {_mean_sd(here['r2_kalman'], 3)} | {paper.get('kalman', '-')} "
            f"| {_mean_sd(shortfall[here.index], 3)} | {paper.get('shortfall', '-')} "
            f"| {_mean_sd(here['r2_oracle'], 3)} | {paper.get('oracle', '-')} "
            f"| {_mean_sd(here['r2_mean'], 3)} | {paper.get('mean', '-')} |")
    defined = rows["process"] != 1
    if defined.sum() >= 4:
        rho = stats.spearmanr(shortfall[defined], rows.loc[defined, "gain"]).statistic
        lines += ["", f"Over the {int(defined.sum())} (process, seed) rows with a Gain, the "
                  f"rank correlation (Spearman) of Gain with the estimated Kalman filter's "
                  f"shortfall from Kalman max is {rho:.2f}."]
    return lines


def read_rows(paths):
    """The per-seed rows of earlier runs' ``--output`` CSVs, checked to belong together.

    Every CSV needs its ``.machine.json`` beside it; the runs must share the
    settings in ``TRAINING_SETTINGS`` and no (process, seed, prior weight) may appear
    twice, so that the means are over one experiment's distinct seeds.
    """
    frames, settings = [], {}
    for path in map(Path, paths):
        info = path.with_suffix(".machine.json")
        if not info.exists():
            raise ValueError(f"{path}: {info.name} is missing, so the settings of its rows "
                             f"are unknown")
        for entry in json.loads(info.read_text()):
            chosen = tuple(entry["settings"].get(k) for k in TRAINING_SETTINGS)
            settings.setdefault(chosen, []).append(str(path))
        frames.append(pd.read_csv(path).assign(source=str(path)))
    if len(settings) > 1:
        first, *others = settings
        differ = [k for i, k in enumerate(TRAINING_SETTINGS)
                  if any(other[i] != first[i] for other in others)]
        raise ValueError("the runs differ in " + ", ".join(differ) + ": " + "; ".join(
            f"{', '.join(sorted(set(files)))} has " + ", ".join(
                f"{k}={v[TRAINING_SETTINGS.index(k)]}" for k in differ)
            for v, files in settings.items()))
    rows = pd.concat(frames, ignore_index=True)
    key = ["process", "seed", "prior_weight"]
    repeated = rows[rows.duplicated(key, keep=False)]
    if not repeated.empty:
        where = repeated.groupby(key)["source"].apply(lambda s: " and ".join(s))
        raise ValueError("rows appear twice: " + "; ".join(
            f"process {p}, seed {d}, prior weight {w:g} in {files}"
            for (p, d, w), files in where.items()))
    return rows.drop(columns="source").sort_values(key, ignore_index=True)


def machine(args):
    """Where and how the run ran.

    The CPU's vector instruction set and the numerical libraries' versions are recorded
    because they decide the floating-point rounding: the same seed repeats its result to
    every digit on one machine, and long runs on another may take a different path.
    """
    return {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "numpy": np.__version__, "scipy": scipy.__version__,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "device": args.device, "load_average_at_start": list(os.getloadavg()),
            "settings": {k: v for k, v in vars(args).items() if k != "quick"}}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--runs", type=int, default=10, help="training runs per seed")
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--cycle-epochs", type=int, default=100, help="T0")
    parser.add_argument("--patience", type=int, default=None,
                        help="early-stopping patience (default: one cycle)")
    parser.add_argument("--prior-weights", type=float, nargs="+", default=[0.6],
                        help="the first is Table 5's; more give Table 12")
    parser.add_argument("--particles", type=int, default=5000)
    parser.add_argument("--n-fit", type=int, default=800,
                        help="periods for fitting (the last 20%% validate the Transformer)")
    parser.add_argument("--n-test", type=int, default=1000, help="test periods")
    parser.add_argument("--fit-max-every", type=int, default=1,
                        help="check the test accuracy every this many epochs for Fit max "
                             "(0: no Fit max)")
    parser.add_argument("--flat-threshold", type=float, default=0.1,
                        help="a scaled Kalman estimate with a standard deviation below this "
                             "times the true factor's flat-lines: its seed is discarded")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=None,
                        help="CSV of the per-seed rows, appended after every row")
    parser.add_argument("--summary", default=None, help="Markdown file for the tables")
    parser.add_argument("--summarise", nargs="+", default=None, metavar="CSV",
                        help="summarise the rows of earlier runs' --output CSVs (same "
                             "settings, no row twice) instead of running")
    parser.add_argument("--resume", action="store_true",
                        help="skip the rows already in --output")
    parser.add_argument("--figures", default=None,
                        help="folder for per-process figures (ft_mc_process*.png) of the "
                             "first seed")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --output CSV (with its machine record), "
                             "--summary file or figures; without it they are refused")
    parser.add_argument("--quick", action="store_true",
                        help="process 2, one seed, two runs, 3 epochs, 300 + 200 periods (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.processes, args.seeds, args.runs = [2], [0], 2
        args.epochs, args.cycle_epochs, args.particles = 3, 2, 300
        args.n_fit, args.n_test = 300, 200
    if args.resume and not args.output:
        parser.error("--resume needs --output")
    if args.summarise and (args.output or args.resume):
        parser.error("--summarise reads earlier runs: it takes neither --output nor --resume")
    if args.resume and args.overwrite:
        parser.error("--resume keeps the rows of --output and --overwrite replaces them: "
                     "choose one")
    existing = [str(path) for path in written_files(args) if path.exists()]
    if existing and not args.overwrite:
        parser.error(f"{', '.join(existing)} already exist(s); pass --overwrite to replace "
                     f"them" + ("" if args.summarise else
                                ", or --resume to add the missing rows to --output"))
    return args


def written_files(args):
    """The files a run would write over: ``--output`` (unless resumed), ``--summary``, figures."""
    files = []
    if args.output and not args.resume:
        output = Path(args.output)
        files += [output, output.with_suffix(".machine.json")]
    if args.summary:
        files.append(Path(args.summary))
    if args.figures and not args.summarise:
        files += [Path(args.figures) / f"ft_mc_process{process}{part}.png"
                  for process in args.processes for part in ("", "_tentacles")]
    return files


def report(results, args):
    """Print the summary of the per-seed rows and write its tables to ``--summary``."""
    print(summarise(results).to_string())
    if args.summary:
        Path(args.summary).write_text(markdown_summary(results, args.prior_weights[0]))


def main(argv=None):
    args = parse_args(argv)
    if args.summarise:
        results = read_rows(args.summarise)
        report(results, args)
        return results
    torch.set_num_threads(args.threads)
    rows, linear_cache = [], {}
    done = set()
    output = Path(args.output) if args.output else None
    if args.resume and output.exists():
        earlier = pd.read_csv(output)
        rows = earlier.to_dict("records")
        done = {(int(r["process"]), int(r["seed"]), float(r["prior_weight"])) for r in rows}
        print(f"resuming: {len(done)} row(s) in {output}", flush=True)
    elif output is not None and output.exists():
        output.unlink()  # parse_args has refused it unless --overwrite
    if output is not None:
        info = output.with_suffix(".machine.json")
        runs = json.loads(info.read_text()) if args.resume and info.exists() else []
        info.write_text(json.dumps(runs + [machine(args)], indent=2))
    started, started_cpu = time.perf_counter(), time.process_time()
    for process in args.processes:
        for seed in args.seeds:
            weights = [w for w in args.prior_weights if (process, seed, float(w)) not in done]
            if not weights:
                continue
            new = run_process(process, seed, args, linear_cache, weights)
            rows.extend(new)
            if output is not None:
                pd.DataFrame(new).to_csv(output, mode="a", header=not output.exists(),
                                         index=False)
            print(pd.DataFrame(new).round(3).to_string(), flush=True)
    results = pd.DataFrame(rows)
    report(results, args)
    print(f"total {time.perf_counter() - started:.0f} s wall, "
          f"{time.process_time() - started_cpu:.0f} s CPU")
    return results


if __name__ == "__main__":
    main()

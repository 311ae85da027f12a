"""Monte Carlo of the dynamic-factor Transformer: Tables 5 and 12 of seed 002.

For each simulated process (``make_dfm_process``, processes 1-6) and seed, 1800 periods
are simulated: the first 800 train the models (the Transformer holds out the last 20% of
them for early stopping and fits its Kalman prior and scaler on the first 640) and the
last 1000 test them. Every factor estimate is scaled onto the true factor by the LAD line
fitted on the first 800 periods (eqs. 36-37) and scored on the 1000 test periods:

- ``Transformer``: ``FactorTransformer`` (Table 4 hyper-parameters), averaged over runs;
- ``Kalman``: ``KalmanFactorModel`` (full error covariance) estimated on the 800 periods;
- ``Kalman max``: the Kalman filter with the process's linear parameters, i.e. the
  population linear projections (``x_t`` on ``x_{t-1}``, ``y_t`` on ``x_t``) measured on a
  200,000-period simulation; for process 1 these are the true parameters;
- ``Mean``: the cross-sectional mean of the standardised series;
- ``Oracle``: the Kalman filter with the true parameters for process 1, otherwise the
  auxiliary particle filter with the true transition and measurement densities.

Fit (eq. 39) and Gain (eq. 40) compare the Transformer with the estimated Kalman filter.
``--prior-weights 0 0.6 1`` adds the sweep of Table 12.

Usage::

    python examples/factor_transformer_monte_carlo.py --quick
    python examples/factor_transformer_monte_carlo.py --processes 1 2 3 4 5 6 \\
        --seeds 0 1 2 3 4 5 6 7 8 9 --runs 10 --epochs 1000 --prior-weights 0 0.6 1

The full-size command is the second line (the paper's 10 seeds x 10 runs, 1000 epochs,
T0 = 100, patience one cycle).
"""

import argparse
import math
import time
import warnings

import numpy as np
import pandas as pd
import torch

from skyield.datasets import (
    dfm_error_logpdf,
    dfm_measurement_mean,
    dfm_process_spec,
    dfm_state_mean,
    make_dfm_process,
)
from skyield.metrics import factor_scores
from skyield.models import FactorTransformer
from skyield.statespace import auxiliary_particle_filter, kalman_filter

from skyield.baselines import KalmanFactorModel

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
def transformer(prior_weight, args, seed):
    return FactorTransformer(
        prior_weight=prior_weight, n_runs=args.runs, epochs=args.epochs,
        cycle_epochs=args.cycle_epochs, warmup_epochs=max(1, args.cycle_epochs // 10),
        device=args.device, random_state=seed)


def run_process(process, seed, args, linear_cache):
    n_fit, n_test = args.n_fit, args.n_test
    data = make_dfm_process(process, n_fit + n_test, random_state=seed)
    Y, x = data.observables, data.factor
    estimates, timings, extra = {}, {}, {}

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kalman_model = KalmanFactorModel(n_factors=1, error_cov="full").fit(Y[:n_fit])
    estimates["Kalman"] = kalman_model.transform(Y)[:, 0]
    timings["Kalman"] = time.perf_counter() - start

    if process not in linear_cache:
        linear_cache[process] = linear_parameters(process)
    estimates["Kalman max"] = kalman_with(Y, linear_cache[process])
    train = Y[:n_fit - int(np.ceil(0.2 * n_fit))]
    estimates["Mean"] = ((Y - train.mean(axis=0)) / train.std(axis=0)).mean(axis=1)

    start = time.perf_counter()
    if process == 1:
        estimates["Oracle"] = kalman_with(Y, linear_parameters(1))
    else:
        estimates["Oracle"] = oracle_particle_filter(Y, data.params, args.particles, seed)
    timings["Oracle"] = time.perf_counter() - start

    for weight in args.prior_weights:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = transformer(weight, args, seed).fit(Y[:n_fit])
        name = f"Transformer lambda={weight:g}"
        factor, runs = model.transform(Y, return_runs=True)
        estimates[name] = factor[:, 0]
        timings[name] = time.perf_counter() - start
        if args.figures and weight == args.prior_weights[0]:
            save_figures(args.figures, process, model, Y, x, runs, estimates, n_fit)
        extra[name] = dict(valid_loss=float(np.mean(model.valid_loss_)),
                           epochs=float(np.mean(model.n_epochs_)),
                           n_train=model.n_train_, n_valid=model.n_valid_)

    # Scale on the fitting periods (from the 10th date: every estimate is defined there),
    # score on the test periods.
    calibration = np.arange(10, n_fit)
    evaluation = np.arange(n_fit, n_fit + n_test)
    rows = []
    for name, estimate in estimates.items():
        if not name.startswith("Transformer"):
            continue
        scores = factor_scores(x, estimate, reference=estimates["Kalman"],
                               oracle=estimates["Oracle"], calibration=calibration,
                               evaluation=evaluation)
        row = dict(process=process, seed=seed,
                   prior_weight=float(name.split("=")[1]),
                   fit=scores["fit"], gain=scores["gain"], r2=scores["r2"],
                   r2_kalman=scores["r2_reference"], r2_oracle=scores["r2_oracle"],
                   seconds=timings[name], **extra[name])
        for other in ("Kalman max", "Mean"):
            row["r2_" + other.lower().replace(" ", "_")] = factor_scores(
                x, estimates[other], calibration=calibration, evaluation=evaluation)["r2"]
        rows.append(row)
    return rows


def save_figures(folder, process, model, Y, x, runs, estimates, n_fit, length=100):
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
    plot_factor_runs(scaled(estimates[next(k for k in estimates if k.startswith("Trans"))])
                     [span], run_lines[span], truth=x[span],
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


def summarise(results):
    """Table 5 (at the first prior weight given) and Table 12 (Fit by prior weight)."""
    grouped = results.groupby(["process", "prior_weight"])
    table = grouped[["fit", "gain", "r2", "r2_kalman", "r2_kalman_max", "r2_oracle",
                     "r2_mean", "valid_loss", "epochs"]].mean()
    spread = grouped[["fit", "gain", "r2"]].std().add_suffix("_sd")
    return pd.concat([table, spread], axis=1).round(3)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--runs", type=int, default=10, help="training runs per seed")
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--cycle-epochs", type=int, default=100, help="T0 (and patience)")
    parser.add_argument("--prior-weights", type=float, nargs="+", default=[0.6])
    parser.add_argument("--particles", type=int, default=5000)
    parser.add_argument("--n-fit", type=int, default=800,
                        help="periods for fitting (the last 20%% validate the Transformer)")
    parser.add_argument("--n-test", type=int, default=1000, help="test periods")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=None, help="CSV file for the per-seed results")
    parser.add_argument("--figures", default=None,
                        help="folder for per-process figures (ft_mc_process*.png)")
    parser.add_argument("--quick", action="store_true",
                        help="process 2, one seed, one run, 3 epochs, 300 + 200 periods (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.processes, args.seeds, args.runs = [2], [0], 1
        args.epochs, args.cycle_epochs, args.particles = 3, 2, 300
        args.n_fit, args.n_test = 300, 200
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, linear_cache = [], {}
    started = time.perf_counter()
    for process in args.processes:
        for seed in args.seeds:
            rows.extend(run_process(process, seed, args, linear_cache))
            print(pd.DataFrame(rows[-len(args.prior_weights):]).round(3).to_string(),
                  flush=True)
    results = pd.DataFrame(rows)
    if args.output:
        results.to_csv(args.output, index=False)
    print(summarise(results).to_string())
    print(f"total {time.perf_counter() - started:.0f} s")
    return results


if __name__ == "__main__":
    main()

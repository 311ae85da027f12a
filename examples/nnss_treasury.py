"""Neural state space model on weekly U.S. Treasury yields: the experiment of seed 004.

The seed fits its models on 15 years of Brazilian curves at 11 maturities (1 month to
7 years), the first 12 years for estimation and the last 3 for out-of-sample forecasts
at 1 week, 1 month, 3 months and 6 months (Tables 1-4), and repeats the 4-NNSS
forecasts over a grid of prior hyper-parameters (Table 5). Here the same design runs on
the bundled weekly U.S. Treasury constant-maturity yields at the 8 maturities from 1
month to 7 years (1M, 3M, 6M, 1Y, 2Y, 3Y, 5Y, 7Y), over the seed's own calendar span,
August 2003 to August 2018: estimation on the first 12 years (to July 2015), forecasts
from every week of the last 3 (the origins), at 1, 4, 13 and 26 weeks ahead.

Models (the layout of Tables 1-4): the random walk; two-step and one-step dynamic
Nelson-Siegel (DNS) and Svensson (DSV) with VAR(1) factors and decays from the seed's
grid search (:class:`skyield.baselines.DynamicNelsonSiegel`); the Gaussian linear state
space model with free loadings and 4 or 5 factors (4-GLSS, 5-GLSS,
:class:`GaussianLinearStateSpace`); and the neural state space model with 4 and 5 factors
(4-NNSS, 5-NNSS, :class:`skyield.models.NeuralStateSpaceModel`) at the seed's priors. Both
5-factor models start from loadings of the same form, the Svensson loadings and the slope
loading at the second decay, each at the decays of its own grid search. Sequence models
are fitted once on the estimation span, then at each origin updated with that week's
curve (filtering only, no re-estimation) and asked for the 26 weeks ahead, as section 4.2
of the seed describes; the random walk forecasts the origin's curve. RMSEs are in basis
points, per maturity, with their average and standard deviation over maturities.

Table 5 repeats the 4-NNSS forecasts for gamma in {0.1, 0.5, 0.9} and sigma_NN^2 in
{5e-3, 1e-2, 5e-2, 1e-1} (a = 0.1, b = 0.001, lambda = 0.5), with fewer optimiser
iterations than the main fits (``grid_maxiter``) so that the whole script fits the
compute budget of the package's reproductions.

Outputs: ``<output-dir>/results.json`` (settings, timings, every table, the NNSS
diagnostics), ``<output-dir>/tables.md`` (the tables in Markdown) and the figures
``nnss_loadings.png`` (loadings over maturity, as the seed's Figure 2),
``nnss_factors.png`` (filtered factors, Figure 3) and ``nnss_prior_loadings.png`` (the
4-NNSS loadings over the prior grid, Figure A1); a figure none of whose models ran is left
out.

``--models`` runs only the named models of Tables 1-4 and ``--skip-grid`` leaves out
Table 5; ``--merge-into`` then adds the rows of such a run to the ``results.json`` of an
earlier one with the same settings (and rewrites the ``tables.md`` beside it).

Run::

    python examples/nnss_treasury.py --output-dir nnss-output            # as reported
    python examples/nnss_treasury.py --grid-maxiter 3000 --output-dir nnss-full
                                                   # prior grid fitted to convergence
    python examples/nnss_treasury.py --quick --output-dir nnss-quick     # CI size
    python examples/nnss_treasury.py --models 5-GLSS --skip-grid --output-dir glss5 \\
        --merge-into nnss-output/results.json          # one model added to a full run
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import ConvergenceWarning

from skyield._nelson_siegel import svensson_loadings
from skyield.baselines import DynamicNelsonSiegel, GaussianLinearStateSpace
from skyield.datasets import load_treasury_cmt
from skyield.models._neural_state_space import NeuralStateSpaceModel
from skyield.plotting import plot_factors, plot_loadings

MATURITIES = ["1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y"]
LABELS = ["1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y"]
HORIZONS = {1: "1 week", 4: "1 month", 13: "3 months", 26: "6 months"}
GAMMAS = (0.1, 0.5, 0.9)
WEIGHT_VARS = (5e-3, 1e-2, 5e-2, 1e-1)
BASIS_POINTS = 100.0  # the yields are in percent

SETTINGS = {
    "full": dict(start="2003-08-01", end="2018-08-31", train_end="2015-07-31",
                 hidden_layers=(300, 300), maxiter=10000, pretrain_maxiter=500,
                 grid_maxiter=600, grid_pretrain_maxiter=500, grid_gammas=GAMMAS,
                 grid_weight_vars=WEIGHT_VARS, dns_maxiter=500, glss_maxiter=500,
                 filter="parallel"),
    "quick": dict(start="2016-01-01", end="2018-08-31", train_end="2017-12-31",
                  hidden_layers=(8, 8), maxiter=3, pretrain_maxiter=20,
                  grid_maxiter=2, grid_pretrain_maxiter=10, grid_gammas=(0.5, 0.9),
                  grid_weight_vars=(5e-3, 5e-2), dns_maxiter=2, glss_maxiter=2,
                  filter="parallel"),
}


# --------------------------------------------------------------------------- data
def load_panel(start, end):
    """Weekly CMT yields (percent) at the 8 maturities from 1 month to 7 years."""
    panel = load_treasury_cmt("weekly", start=start, end=end, maturities=MATURITIES)
    missing = int(panel.isna().sum().sum())
    if missing:
        raise ValueError(f"the span {start} .. {end} has {missing} missing values")
    return panel


# --------------------------------------------------------------------------- evaluation
def rolling_forecasts(model, panel, n_train, horizons):
    """Forecasts from every test origin by a model fitted on ``panel[:n_train]``.

    At each origin (the dates from ``n_train`` on) the model is first updated with that
    date's curve, then forecasts ``max(horizons)`` steps; the forecast ``h`` steps ahead
    is kept when its target lies inside the panel. ``model=None`` is the random walk.

    Returns
    -------
    forecasts : dict of {int: ndarray of shape (n_origins, n_maturities)}
        NaN where the target lies beyond the panel.
    """
    values = panel.to_numpy()
    n_dates, n_series = values.shape
    longest = max(horizons)
    out = {h: np.full((n_dates - n_train, n_series), np.nan) for h in horizons}
    for i, origin in enumerate(range(n_train, n_dates)):
        if model is None:
            path = np.repeat(values[origin][None], longest, axis=0)
        else:
            model.update(panel.iloc[origin:origin + 1])
            path = np.asarray(model.forecast(longest), dtype=float)
        for h in horizons:
            if origin + h < n_dates:
                out[h][i] = path[h - 1]
    return out


def rmse_table(forecasts, panel, n_train):
    """RMSE in basis points per horizon and maturity, with average and std over maturities."""
    values = panel.to_numpy()
    tables = {}
    for h, pred in forecasts.items():
        actual = np.full_like(pred, np.nan)
        last = values.shape[0] - h - n_train
        actual[:last] = values[n_train + h:]
        rmse = np.sqrt(np.nanmean((pred - actual) ** 2, axis=0)) * BASIS_POINTS
        tables[h] = {**dict(zip(LABELS, rmse.tolist())), "Avg.": float(rmse.mean()),
                     "Std.": float(rmse.std())}
    return tables


def markdown_table(rows, columns, digits=2):
    lines = ["| Model | " + " | ".join(columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for name, row in rows.items():
        cells = [f"{row[c]:.{digits}f}" for c in columns]
        best = {c: min(r[c] for r in rows.values()) for c in columns}
        cells = [f"**{cell}**" if row[c] == best[c] else cell for cell, c in zip(cells, columns)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots
LOADING_PANELS = ("2-step DSV", "4-GLSS", "5-GLSS", "4-NNSS", "5-NNSS")
FACTOR_PANELS = ("4-NNSS", "5-NNSS")


def _loading_curves(name, model, observed, fine):
    """(maturities, loadings) drawn for one model of the loadings figure."""
    if name == "2-step DSV":
        return fine, svensson_loadings(fine, *model.decay_)
    if isinstance(model, GaussianLinearStateSpace):
        return observed, model.loadings_
    return fine, model.loadings(fine)


def _loadings_figure(path, fitted, observed, fine):
    """Loadings of the fitted models among LOADING_PANELS, three panels a row."""
    import matplotlib.pyplot as plt

    names = [name for name in LOADING_PANELS if name in fitted]
    if not names:
        return
    n_cols = min(3, len(names))
    n_rows = -(-len(names) // n_cols)
    # Own y scales: the free GLSS loadings are not bounded like the others.
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols, 3.0 * n_rows),
                             sharex=True, squeeze=False)
    axes = axes.ravel()
    widest = None
    for ax, name in zip(axes, names):
        maturities, loadings = _loading_curves(name, fitted[name], observed, fine)
        title = "DSV (two-step decays)" if name == "2-step DSV" else name
        plot_loadings(maturities, loadings, observed=observed, ax=ax, title=title)
        ax.xaxis.set_tick_params(labelbottom=True)
        if widest is None or loadings.shape[1] > widest[1]:
            widest = (ax, loadings.shape[1])
    handles, labels = widest[0].get_legend_handles_labels()
    spare = axes[len(names):]
    for ax in spare:
        ax.axis("off")
    if len(spare):
        spare[0].legend(handles, labels, loc="center", fontsize=8)
    else:
        axes[len(names) - 1].legend(handles, labels, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _factors_figure(path, fitted, panel, train_end):
    """Filtered factors of the fitted models among FACTOR_PANELS, one panel each."""
    import matplotlib.pyplot as plt

    names = [name for name in FACTOR_PANELS if name in fitted]
    if not names:
        return
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.75 * len(names)), sharex=True,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        factors = fitted[name].transform(panel)
        plot_factors(factors, split=train_end, ax=ax, title=f"{name}: filtered factors",
                     labels=[f"factor {j}" for j in range(factors.shape[1])])
    axes[0, 0].legend(fontsize=7, ncol=5)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _prior_grid_figure(path, grid_models, fine):
    """4-NNSS loadings for each prior of the grid (gamma by row, sigma_NN^2 by column)."""
    import matplotlib.pyplot as plt

    if not grid_models:
        return
    gammas = sorted({g for g, _ in grid_models})
    weight_vars = sorted({w for _, w in grid_models})
    fig, axes = plt.subplots(len(gammas), len(weight_vars),
                             figsize=(2.6 * len(weight_vars), 2.2 * len(gammas)),
                             sharex=True, sharey=True, squeeze=False)
    for r, gamma in enumerate(gammas):
        for c, weight_var in enumerate(weight_vars):
            model = grid_models.get((gamma, weight_var))
            if model is None:
                axes[r, c].set_title(f"gamma={gamma}, sigma2={weight_var:g}: failed", fontsize=8)
                continue
            plot_loadings(fine, model.loadings(fine), ax=axes[r, c],
                          title=f"gamma={gamma}, sigma2={weight_var:g}")
            axes[r, c].set_xlabel("")
            axes[r, c].set_ylabel("")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def make_figures(output_dir, fitted, grid_models, panel, train_end):
    """Write the figures of the models that were fitted (a figure with none is skipped)."""
    import matplotlib

    matplotlib.use("Agg")

    observed = np.asarray(panel.columns, dtype=float)
    fine = np.linspace(0.0, 10.0, 301)
    _loadings_figure(output_dir / "nnss_loadings.png", fitted, observed, fine)
    _factors_figure(output_dir / "nnss_factors.png", fitted, panel, pd.Timestamp(train_end))
    _prior_grid_figure(output_dir / "nnss_prior_loadings.png", grid_models, fine)


# --------------------------------------------------------------------------- the study
def _models(settings):
    dns = dict(dynamics="var", decay="grid", maxiter=settings["dns_maxiter"])
    nnss = dict(hidden_layers=settings["hidden_layers"], maxiter=settings["maxiter"],
                pretrain_maxiter=settings["pretrain_maxiter"], filter=settings["filter"],
                random_state=0)
    return {
        "RW": None,
        "2-step DNS": DynamicNelsonSiegel(factors="ns", method="two-step", **dns),
        "1-step DNS": DynamicNelsonSiegel(factors="ns", method="kalman", **dns),
        "2-step DSV": DynamicNelsonSiegel(factors="nss", method="two-step", **dns),
        "1-step DSV": DynamicNelsonSiegel(factors="nss", method="kalman", **dns),
        "4-GLSS": GaussianLinearStateSpace(n_factors=4, maxiter=settings["glss_maxiter"]),
        "5-GLSS": GaussianLinearStateSpace(n_factors=5, maxiter=settings["glss_maxiter"]),
        "4-NNSS": NeuralStateSpaceModel(n_factors=4, **nnss),
        "5-NNSS": NeuralStateSpaceModel(n_factors=5, **nnss),
    }


MODEL_NAMES = tuple(_models(SETTINGS["quick"]))


def select_models(models, names=None):
    """The models named in ``names`` (all when None), in the order of the tables."""
    if names is None:
        return models
    names = list(names)
    unknown = [name for name in names if name not in models]
    if unknown or not names:
        raise ValueError(f"unknown model name(s) {unknown} in models={names}; "
                         f"choose among {list(models)}")
    return {name: model for name, model in models.items() if name in names}


def _nnss_summary(model, seconds):
    return {"fit_seconds": seconds, "n_iter": int(model.n_iter_),
            "n_evaluations": int(len(model.history_)), "converged": bool(model.converged_),
            "stop_message": model.stop_message_,
            "log_likelihood": float(model.log_likelihood_),
            "log_posterior": float(model.log_posterior_),
            "pretrain_mse": float(model.start_["pretrain_mse"]),
            "start_decay": [float(d) for d in model.start_["decay"]],
            "transition_eigenvalues":
                sorted(np.abs(np.linalg.eigvals(model.transition_)).tolist()),
            "state_var": np.diag(model.state_cov_).tolist(),
            "measurement_sd_bp": (np.sqrt(model.measurement_var_) * BASIS_POINTS).tolist()}


def _write_partial(output_dir, results):
    """Results so far, so that an interrupted run still leaves its numbers."""
    (output_dir / "results.partial.json").write_text(json.dumps(results, indent=2, default=str))


def _fit_and_forecast(models, panel, n_train, results, output_dir, log):
    """Fit each model, forecast from every origin and record its RMSE tables."""
    horizons = list(HORIZONS)
    fitted = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        if model is not None:
            model.fit(panel.iloc[:n_train])
        seconds = time.perf_counter() - t0
        fitted[name] = model
        forecasts = rolling_forecasts(model, panel, n_train, horizons)
        results["rmse"][name] = rmse_table(forecasts, panel, n_train)
        results["fit_seconds"][name] = seconds
        if isinstance(model, NeuralStateSpaceModel):
            results["nnss"][name] = _nnss_summary(model, seconds)
        elif model is not None:
            results["converged"][name] = bool(np.all(getattr(model, "converged_", True)))
        _write_partial(output_dir, results)
        log(f"{name}: fitted in {seconds:.1f}s; average RMSE (bp) by horizon "
            + ", ".join(f"{h}w {results['rmse'][name][h]['Avg.']:.2f}" for h in horizons))
    return fitted


def _prior_grid(settings, panel, n_train, results, output_dir, log):
    """4-NNSS average RMSE over the prior grid (Table 5); returns the fitted models."""
    horizons = list(HORIZONS)
    grid, grid_models = {}, {}
    nnss = _models(settings)["4-NNSS"]
    for gamma in settings["grid_gammas"]:
        for weight_var in settings["grid_weight_vars"]:
            model = NeuralStateSpaceModel(**{
                **nnss.get_params(), "maxiter": settings["grid_maxiter"],
                "pretrain_maxiter": settings["grid_pretrain_maxiter"],
                "prior_gamma": gamma, "prior_weight_var": weight_var})
            t0 = time.perf_counter()
            try:
                model.fit(panel.iloc[:n_train])
            except (ValueError, FloatingPointError) as error:
                # Kept in the results (and the table) rather than ending the run.
                log(f"prior grid gamma={gamma}, sigma2={weight_var:g} failed: {error}")
                results["grid_failures"][f"{gamma}/{weight_var:g}"] = str(error)
                grid[(gamma, weight_var)] = dict.fromkeys(horizons, float("nan"))
                continue
            seconds = time.perf_counter() - t0
            tables = rmse_table(rolling_forecasts(model, panel, n_train, horizons),
                                panel, n_train)
            grid[(gamma, weight_var)] = {h: tables[h]["Avg."] for h in horizons}
            grid_models[(gamma, weight_var)] = model
            results["prior_grid_partial"] = [
                {"gamma": g, "weight_var": w, "fit_seconds": seconds,
                 **{str(h): v for h, v in row.items()}} for (g, w), row in grid.items()]
            _write_partial(output_dir, results)
            log(f"prior grid gamma={gamma}, sigma2={weight_var:g}: {seconds:.1f}s, "
                + ", ".join(f"{h}w {grid[(gamma, weight_var)][h]:.2f}" for h in horizons))
    results.pop("prior_grid_partial", None)
    results["prior_grid"] = [
        {"gamma": g, "weight_var": w, **{str(h): v for h, v in row.items()}}
        for (g, w), row in grid.items()
    ]
    return grid_models


def run(quick=False, output_dir="nnss-output", threads=1, log=print, grid_maxiter=None,
        models=None, skip_grid=False, merge_into=None):
    """Run the study; return the results dictionary (also written to ``results.json``).

    Parameters
    ----------
    quick : bool, default=False
        CI-size settings instead of the full ones.
    output_dir : str or Path, default="nnss-output"
        Where ``results.json``, ``tables.md`` and the figures are written.
    threads : int, default=1
        torch threads.
    log : callable, default=print
        Receives one progress line per fit.
    grid_maxiter : int, default=None
        MAP iterations of each prior-grid fit (None: the settings' own).
    models : sequence of str, default=None
        Names of the models of Tables 1-4 to run (None: all, see ``MODEL_NAMES``).
    skip_grid : bool, default=False
        Leave out the prior grid (Table 5); ``results["prior_grid"]`` is then empty.
    merge_into : str or Path, default=None
        A ``results.json`` of an earlier run with the same mode and data: this run's
        model rows are added to it (replacing rows of the same name), and it is written
        back with its ``tables.md`` beside it.

    Returns
    -------
    results : dict
    """
    settings = dict(SETTINGS["quick" if quick else "full"])
    if grid_maxiter is not None:
        settings["grid_maxiter"] = int(grid_maxiter)
    chosen = select_models(_models(settings), models)
    torch.set_num_threads(threads)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    panel = load_panel(settings["start"], settings["end"])
    n_train = int((panel.index <= pd.Timestamp(settings["train_end"])).sum())
    results = {
        "settings": {"mode": "quick" if quick else "full", "threads": threads,
                     "models": list(chosen), "prior_grid": not skip_grid,
                     **{k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}},
        "data": {"first_date": str(panel.index[0].date()),
                 "last_date": str(panel.index[-1].date()),
                 "train_end": str(panel.index[n_train - 1].date()),
                 "first_origin": str(panel.index[n_train].date()),
                 "n_train": n_train, "n_origins": len(panel) - n_train,
                 "maturities": LABELS},
        "rmse": {}, "fit_seconds": {}, "nnss": {}, "converged": {}, "grid_failures": {},
        "prior_grid": [],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = _fit_and_forecast(chosen, panel, n_train, results, output_dir, log)
        grid_models = {} if skip_grid else \
            _prior_grid(settings, panel, n_train, results, output_dir, log)
    make_figures(output_dir, fitted, grid_models, panel, results["data"]["train_end"])
    results["total_seconds"] = time.perf_counter() - started
    results["rmse"] = {name: {str(h): row for h, row in tables.items()}
                       for name, tables in results["rmse"].items()}
    (output_dir / "results.json").write_text(json.dumps(results, indent=2))
    (output_dir / "results.partial.json").unlink(missing_ok=True)
    (output_dir / "tables.md").write_text(render_tables(results))
    log(f"total {results['total_seconds']:.0f}s; results in {output_dir}")
    if merge_into is not None:
        merge_results(results, merge_into)
        log(f"rows of {list(chosen)} merged into {merge_into}")
    return results


_MODEL_SECTIONS = ("rmse", "fit_seconds", "nnss", "converged")


def merge_results(results, path):
    """Add the model rows of ``results`` to the results file ``path`` and re-render it.

    The file must come from a run with the same mode and data (span, split, maturities).
    Rows of the same name are replaced; the rows follow the order of ``MODEL_NAMES``.
    ``tables.md`` is rewritten beside the file.

    Returns
    -------
    merged : dict
        The merged results, as written.
    """
    path = Path(path)
    merged = json.loads(path.read_text())
    if merged["settings"]["mode"] != results["settings"]["mode"]:
        raise ValueError(f"{path} holds a {merged['settings']['mode']!r} run; these results "
                         f"are from a {results['settings']['mode']!r} run")
    if merged["data"] != results["data"]:
        differing = sorted(key for key in set(merged["data"]) | set(results["data"])
                           if merged["data"].get(key) != results["data"].get(key))
        raise ValueError(f"{path} was computed on other data: {differing} differ")

    def order(name):
        return MODEL_NAMES.index(name) if name in MODEL_NAMES else len(MODEL_NAMES)

    for section in _MODEL_SECTIONS:
        rows = {**merged.get(section, {}), **results[section]}
        merged[section] = {name: rows[name] for name in sorted(rows, key=order)}
    merged.setdefault("merged_runs", []).append(
        {"models": list(results["rmse"]), "settings": results["settings"],
         "total_seconds": results["total_seconds"]})
    path.write_text(json.dumps(merged, indent=2))
    (path.parent / "tables.md").write_text(render_tables(merged))
    return merged


def render_tables(results):
    """The RMSE tables (Tables 1-4) and, if it was run, the prior grid (Table 5) in Markdown."""
    columns = LABELS + ["Avg.", "Std."]
    parts = []
    for h, label in HORIZONS.items():
        rows = {name: tables[str(h)] for name, tables in results["rmse"].items()}
        weeks = f"{h} week" + ("s" if h > 1 else "")
        parts.append(f"**{label} ahead ({weeks}): out-of-sample RMSE in basis points**\n\n"
                     + markdown_table(rows, columns))
    grid = results.get("prior_grid") or []
    if grid:
        parts.append("**4-NNSS average RMSE (bp) over the prior grid**\n\n"
                     + prior_grid_table(grid))
    return "\n\n".join(parts) + "\n"


def prior_grid_table(grid):
    """Table 5: average RMSE by horizon and gamma (rows) and sigma_NN^2 (columns)."""
    weight_vars = sorted({row["weight_var"] for row in grid})
    lines = ["| Horizon | gamma | " + " | ".join(f"sigma2 = {w:g}" for w in weight_vars) + " |",
             "|---|---:|" + "---:|" * len(weight_vars)]
    for h, label in HORIZONS.items():
        for gamma in sorted({row["gamma"] for row in grid}):
            cells = [next(row[str(h)] for row in grid
                          if row["gamma"] == gamma and row["weight_var"] == w)
                     for w in weight_vars]
            lines.append(f"| {label} | {gamma} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    return "\n".join(lines)


def _model_list(text):
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI-size settings")
    parser.add_argument("--output-dir", default="nnss-output")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS threads (default 1)")
    # --grid-epochs: the option's name before NeuralStateSpaceModel's epochs became maxiter.
    parser.add_argument("--grid-maxiter", "--grid-epochs", dest="grid_maxiter", type=int,
                        default=None,
                        help="MAP iterations of each prior-grid fit (full settings: 600)")
    parser.add_argument("--models", type=_model_list, default=None, metavar="NAME,NAME",
                        help="run only these models of Tables 1-4, comma-separated, "
                             f"among: {', '.join(MODEL_NAMES)}")
    parser.add_argument("--skip-grid", action="store_true",
                        help="leave out the prior grid (Table 5)")
    parser.add_argument("--merge-into", default=None, metavar="PATH",
                        help="results.json of an earlier run with the same settings: add "
                             "this run's model rows to it and rewrite its tables.md")
    return parser.parse_args(argv)


if __name__ == "__main__":
    from threadpoolctl import threadpool_limits

    args = parse_args()
    # The same thread budget for numpy's and scipy's BLAS as for torch.
    with threadpool_limits(limits=args.threads):
        run(quick=args.quick, output_dir=args.output_dir, threads=args.threads,
            grid_maxiter=args.grid_maxiter, models=args.models, skip_grid=args.skip_grid,
            merge_into=args.merge_into)

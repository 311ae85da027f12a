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
loading at the second decay, each at the decays of its own grid search.

Every model except the random walk runs in two forms of its transition, the same
parameter ``factor_mean`` of each estimator: "no mean" (``factor_mean=False``,
``beta_t = F beta_{t-1} + w_t``, the seed's eq. 3) and "mean" (``factor_mean=True``, the
factors revert to an estimated mean, Diebold and Li's form). Rows are labelled
``"<model> (<form>)"``.

Sequence models are fitted once on the estimation span, then at each origin updated with
that week's curve (filtering only, no re-estimation) and asked for the 26 weeks ahead, as
section 4.2 of the seed describes; the random walk forecasts the origin's curve. RMSEs are
in basis points, per maturity, with their average and standard deviation over
maturities. Diebold-Mariano tests (HLN correction, ``skyield.metrics.diebold_mariano``)
compare, per horizon, each NNSS with the random walk and with the best classical model of
its form (the lowest average RMSE among DNS, DSV and GLSS), and each model's two forms,
on the squared error averaged over the maturities of each origin.

Table 5 repeats the 4-NNSS forecasts for gamma in {0.1, 0.5, 0.9} and sigma_NN^2 in
{5e-3, 1e-2, 5e-2, 1e-1} (a = 0.1, b = 0.001, lambda = 0.5) in one form (``--grid-form``,
the seed's "no mean" by default), each fit allowed ``grid_maxiter`` iterations.

Outputs: ``<output-dir>/results.json`` (settings, machine, timings, every table, the
Diebold-Mariano tests, the NNSS diagnostics), ``<output-dir>/tables.md`` (the tables in
Markdown) and the figures ``nnss_loadings.png`` (loadings over maturity, as the seed's
Figure 2, "no mean" form), ``nnss_factors.png`` (filtered NNSS factors of both forms,
Figure 3) and ``nnss_prior_loadings.png`` (the 4-NNSS loadings over the prior grid,
Figure A1); a figure none of whose models ran is left out.

The output folder appears only when the run is complete (written in one step), and an
existing non-empty one is refused before any work unless ``--overwrite`` is given.
Checkpoints: after every fit the results so far go to ``results.partial.json`` and the
fitted model to ``fitted/`` in ``<output-dir>.checkpoint/`` beside the output folder;
``--resume`` continues an interrupted run from them, and the checkpoint is removed when
the run is complete. A checkpoint is never overwritten by a new run without
``--overwrite``.
``--models`` runs only the named models of Tables 1-4, ``--forms`` only the named forms,
``--skip-grid`` leaves out Table 5; ``--merge-into`` then adds the rows of such a run to
the ``results.json`` of an earlier one with the same settings (and rewrites the
``tables.md`` beside it).

Run::

    python examples/nnss_treasury.py --output-dir nnss-output            # as reported
    python examples/nnss_treasury.py --quick --output-dir nnss-quick     # CI size
    python examples/nnss_treasury.py --models 5-GLSS --forms mean --skip-grid \\
        --output-dir glss5 --merge-into nnss-output/results.json   # one row added
"""

import argparse
import json
import os
import pickle
import platform
import shutil
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
from skyield.metrics import diebold_mariano
from skyield.models import NeuralStateSpaceModel
from skyield.plotting import plot_factors, plot_loadings
from skyield.utils import check_output_target, staged_folder

MATURITIES = ["1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y"]
LABELS = ["1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y"]
HORIZONS = {1: "1 week", 4: "1 month", 13: "3 months", 26: "6 months"}
GAMMAS = (0.1, 0.5, 0.9)
WEIGHT_VARS = (5e-3, 1e-2, 5e-2, 1e-1)
BASIS_POINTS = 100.0  # the yields are in percent
# The two forms of every model's transition: the value of its factor_mean parameter.
FORMS = {"no mean": False, "mean": True}
SEED_FORM = "no mean"

SETTINGS = {
    "full": dict(start="2003-08-01", end="2018-08-31", train_end="2015-07-31",
                 hidden_layers=(300, 300), maxiter=10000, pretrain_maxiter=500,
                 grid_maxiter=10000, grid_pretrain_maxiter=500, grid_gammas=GAMMAS,
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


def forecast_errors(forecasts, panel, n_train):
    """Errors (actual minus forecast) in basis points, per horizon, origin and maturity.

    Returns
    -------
    errors : dict of {int: ndarray of shape (n_origins, n_maturities)}
        NaN where the target lies beyond the panel.
    """
    values = panel.to_numpy()
    errors = {}
    for h, pred in forecasts.items():
        actual = np.full_like(pred, np.nan)
        last = values.shape[0] - h - n_train
        actual[:last] = values[n_train + h:]
        errors[h] = (actual - pred) * BASIS_POINTS
    return errors


def rmse_table(errors):
    """RMSE in basis points per horizon and maturity, with average and std over maturities."""
    tables = {}
    for h, error in errors.items():
        rmse = np.sqrt(np.nanmean(error ** 2, axis=0))
        tables[h] = {**dict(zip(LABELS, rmse.tolist())), "Avg.": float(rmse.mean()),
                     "Std.": float(rmse.std())}
    return tables


def curve_losses(errors):
    """Squared error averaged over the maturities of each origin (bp^2), per horizon.

    The loss the Diebold-Mariano tests compare; None where the target is beyond the panel.
    """
    return {h: [None if np.isnan(v) else float(v) for v in np.mean(error ** 2, axis=1)]
            for h, error in errors.items()}


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
LOADING_PANELS = tuple(f"{name} ({SEED_FORM})"
                       for name in ("2-step DSV", "4-GLSS", "5-GLSS", "4-NNSS", "5-NNSS"))
FACTOR_PANELS = tuple(f"{name} ({form})" for form in FORMS for name in ("4-NNSS", "5-NNSS"))


def _loading_curves(name, model, observed, fine):
    """(maturities, loadings) drawn for one model of the loadings figure."""
    if name.startswith("2-step DSV"):
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
        title = "DSV (two-step decays)" if name.startswith("2-step DSV") else name
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
    n_cols = 2 if len(names) > 2 else 1
    n_rows = -(-len(names) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(7 * n_cols, 2.75 * n_rows),
                             sharex=True, squeeze=False)
    axes = axes.T  # column by column: the forms side by side
    for ax, name in zip(axes.ravel(), names):
        factors = fitted[name].transform(panel)
        plot_factors(factors, split=train_end, ax=ax, title=f"{name}: filtered factors",
                     labels=[f"factor {j}" for j in range(factors.shape[1])])
    axes.ravel()[0].legend(fontsize=7, ncol=5)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _prior_grid_figure(path, grid_models, fine):
    """4-NNSS loadings for each prior of the grid (gamma by row, sigma_NN^2 by column).

    A cell whose model is not at hand (failed, or fitted by an earlier run whose
    checkpoint is gone) is left empty with its title saying so."""
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
                axes[r, c].set_title(f"gamma={gamma}, sigma2={weight_var:g}: not fitted",
                                     fontsize=8)
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
BASE_NAMES = ("2-step DNS", "1-step DNS", "2-step DSV", "1-step DSV", "4-GLSS", "5-GLSS",
              "4-NNSS", "5-NNSS")
CLASSICAL = BASE_NAMES[:6]
NNSS_NAMES = ("4-NNSS", "5-NNSS")
MODEL_NAMES = ("RW",) + BASE_NAMES


def label(name, form):
    """Row label of a model in one form of its transition, e.g. ``"4-NNSS (mean)"``."""
    return name if name == "RW" else f"{name} ({form})"


def _builders(settings):
    dns = dict(dynamics="var", decay="grid", maxiter=settings["dns_maxiter"])
    nnss = dict(hidden_layers=settings["hidden_layers"], maxiter=settings["maxiter"],
                pretrain_maxiter=settings["pretrain_maxiter"], filter=settings["filter"],
                random_state=0)
    glss = dict(maxiter=settings["glss_maxiter"])
    return {
        "2-step DNS": lambda fm: DynamicNelsonSiegel(factors="ns", method="two-step",
                                                     factor_mean=fm, **dns),
        "1-step DNS": lambda fm: DynamicNelsonSiegel(factors="ns", method="kalman",
                                                     factor_mean=fm, **dns),
        "2-step DSV": lambda fm: DynamicNelsonSiegel(factors="nss", method="two-step",
                                                     factor_mean=fm, **dns),
        "1-step DSV": lambda fm: DynamicNelsonSiegel(factors="nss", method="kalman",
                                                     factor_mean=fm, **dns),
        "4-GLSS": lambda fm: GaussianLinearStateSpace(n_factors=4, factor_mean=fm, **glss),
        "5-GLSS": lambda fm: GaussianLinearStateSpace(n_factors=5, factor_mean=fm, **glss),
        "4-NNSS": lambda fm: NeuralStateSpaceModel(n_factors=4, factor_mean=fm, **nnss),
        "5-NNSS": lambda fm: NeuralStateSpaceModel(n_factors=5, factor_mean=fm, **nnss),
    }


def _models(settings, names=None, forms=None):
    """Unfitted models by row label: the random walk (None), then every model in each form.

    ``names`` (base names, see ``MODEL_NAMES``) and ``forms`` (keys of ``FORMS``) select;
    None means all.
    """
    names = list(MODEL_NAMES) if names is None else list(names)
    forms = list(FORMS) if forms is None else list(forms)
    unknown = [name for name in names if name not in MODEL_NAMES]
    if unknown or not names:
        raise ValueError(f"unknown model name(s) {unknown} in models={names}; "
                         f"choose among {list(MODEL_NAMES)}")
    bad_forms = [form for form in forms if form not in FORMS]
    if bad_forms or not forms:
        raise ValueError(f"unknown form(s) {bad_forms} in forms={forms}; choose among "
                         f"{list(FORMS)}")
    builders = _builders(settings)
    models = {"RW": None} if "RW" in names else {}
    for name in BASE_NAMES:
        if name in names:
            for form in forms:
                models[label(name, form)] = builders[name](FORMS[form])
    return models


def _row_order(row):
    base, _, form = row.partition(" (")
    form = form.rstrip(")")
    return (MODEL_NAMES.index(base) if base in MODEL_NAMES else len(MODEL_NAMES),
            list(FORMS).index(form) if form in FORMS else -1)


def _nnss_summary(model, wall, cpu):
    return {"fit_seconds": wall, "fit_cpu_seconds": cpu, "n_iter": int(model.n_iter_),
            "n_evaluations": int(len(model.history_)), "converged": bool(model.converged_),
            "stop_message": model.stop_message_,
            "log_likelihood": float(model.log_likelihood_),
            "log_posterior": float(model.log_posterior_),
            "pretrain_mse": float(model.start_["pretrain_mse"]),
            "start_decay": [float(d) for d in model.start_["decay"]],
            "transition_eigenvalues":
                sorted(np.abs(np.linalg.eigvals(model.transition_)).tolist()),
            "intercept": model.intercept_.tolist(),
            "mean_curve_pct": (model.loadings_ @ model.mean_).tolist(),
            "state_var": np.diag(model.state_cov_).tolist(),
            "measurement_sd_bp": (np.sqrt(model.measurement_var_) * BASIS_POINTS).tolist()}


def machine():
    """Where and how the run ran: platform, CPUs, threads and load."""
    return {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "cuda_used": False, "load_average_at_start": list(os.getloadavg())}


_GRID_SETTINGS = ("grid_", "prior_grid")


class Checkpoint:
    """Results so far (``results.partial.json``) and the fitted models (``fitted/``).

    Written after every fit into ``<output_dir>.checkpoint/``, beside the output folder
    (which appears only when the run is complete), so that an interrupted run loses at
    most the fit under way and ``--resume`` continues from there.
    """

    def __init__(self, output_dir):
        output_dir = Path(output_dir).absolute()
        self.root = output_dir.with_name(output_dir.name + ".checkpoint")
        self.path = self.root / "results.partial.json"
        self.folder = self.root / "fitted"

    def _file(self, key):
        return self.folder / (key.replace(" ", "_").replace("(", "").replace(")", "")
                              .replace("/", "_") + ".pkl")

    def save(self, results, key=None, model=None):
        self.root.mkdir(parents=True, exist_ok=True)
        if model is not None:
            self.folder.mkdir(exist_ok=True)
            self._file(key).write_bytes(pickle.dumps(model))
        self.path.write_text(json.dumps(results, indent=2, default=str))

    def load(self, settings):
        """Results of an interrupted run with the same settings, or None.

        The settings of the prior grid may differ (e.g. a run resumed with ``--skip-grid``
        or another grid); the grid cells of the checkpoint are then left out.
        """
        if not self.path.exists():
            return None
        results = json.loads(self.path.read_text())

        def models_part(values):
            return {k: v for k, v in values.items() if not k.startswith(_GRID_SETTINGS)}

        if models_part(results["settings"]) != models_part(settings):
            raise ValueError(f"{self.path} was written with other settings; remove it or "
                             f"drop --resume")
        if results["settings"] != settings:
            results["prior_grid"], results["grid_failures"] = [], {}
        results["settings"] = settings
        return results

    def model(self, key):
        """A fitted model saved under ``key``, or None."""
        path = self._file(key)
        return pickle.loads(path.read_bytes()) if path.exists() else None

    def clear(self):
        if self.root.exists():
            shutil.rmtree(self.root)


def _timed_fit(model, data):
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(data)
    return time.perf_counter() - wall, time.process_time() - cpu


def _fit_and_forecast(models, panel, n_train, results, checkpoint, log):
    """Fit each model, forecast from every origin and record its RMSE tables and losses."""
    horizons = list(HORIZONS)
    fitted = {}
    for name, model in models.items():
        if name in results["rmse"]:
            fitted[name] = checkpoint.model(name)
            log(f"{name}: kept from the checkpoint")
            continue
        wall = cpu = 0.0
        if model is not None:
            wall, cpu = _timed_fit(model, panel.iloc[:n_train])
        fitted[name] = model
        errors = forecast_errors(rolling_forecasts(model, panel, n_train, horizons),
                                 panel, n_train)
        results["rmse"][name] = {str(h): t for h, t in rmse_table(errors).items()}
        results["losses"][name] = {str(h): v for h, v in curve_losses(errors).items()}
        results["fit_seconds"][name] = wall
        results["fit_cpu_seconds"][name] = cpu
        if isinstance(model, NeuralStateSpaceModel):
            results["nnss"][name] = _nnss_summary(model, wall, cpu)
        elif model is not None:
            results["converged"][name] = bool(np.all(getattr(model, "converged_", True)))
        checkpoint.save(results, name, model)
        log(f"{name}: fitted in {wall:.1f}s ({cpu:.1f}s CPU); average RMSE (bp) by horizon "
            + ", ".join(f"{h}w {results['rmse'][name][str(h)]['Avg.']:.2f}" for h in horizons))
    return fitted


def _grid_key(gamma, weight_var):
    return f"{gamma}/{weight_var:g}"


def _prior_grid(settings, form, panel, n_train, results, checkpoint, log):
    """4-NNSS average RMSE over the prior grid (Table 5); returns the fitted models."""
    horizons = list(HORIZONS)
    grid_models = {}
    nnss = _builders(settings)["4-NNSS"](FORMS[form])
    done = {_grid_key(row["gamma"], row["weight_var"]) for row in results["prior_grid"]}
    for gamma in settings["grid_gammas"]:
        for weight_var in settings["grid_weight_vars"]:
            key = _grid_key(gamma, weight_var)
            if key in done:
                model = checkpoint.model(f"grid {key}")
                if model is not None:
                    grid_models[(gamma, weight_var)] = model
                continue
            model = NeuralStateSpaceModel(**{
                **nnss.get_params(), "maxiter": settings["grid_maxiter"],
                "pretrain_maxiter": settings["grid_pretrain_maxiter"],
                "prior_gamma": gamma, "prior_weight_var": weight_var})
            try:
                wall, cpu = _timed_fit(model, panel.iloc[:n_train])
            except (ValueError, FloatingPointError) as error:
                # Kept in the results (and the table) rather than ending the run.
                log(f"prior grid gamma={gamma}, sigma2={weight_var:g} failed: {error}")
                results["grid_failures"][key] = str(error)
                results["prior_grid"].append(
                    {"gamma": gamma, "weight_var": weight_var,
                     **dict.fromkeys((str(h) for h in horizons), float("nan"))})
                checkpoint.save(results)
                continue
            tables = rmse_table(forecast_errors(
                rolling_forecasts(model, panel, n_train, horizons), panel, n_train))
            results["prior_grid"].append(
                {"gamma": gamma, "weight_var": weight_var, "fit_seconds": wall,
                 "fit_cpu_seconds": cpu, "n_iter": int(model.n_iter_),
                 "converged": bool(model.converged_),
                 **{str(h): tables[h]["Avg."] for h in horizons}})
            grid_models[(gamma, weight_var)] = model
            checkpoint.save(results, f"grid {key}", model)
            log(f"prior grid gamma={gamma}, sigma2={weight_var:g}: {wall:.1f}s "
                f"({cpu:.1f}s CPU), {model.n_iter_} iterations, converged "
                f"{model.converged_}; " + ", ".join(f"{h}w {tables[h]['Avg.']:.2f}"
                                                    for h in horizons))
    return grid_models


# --------------------------------------------------------------------------- DM tests
def _dm(losses, first, second, h):
    """DM test of ``first`` against ``second`` at horizon ``h`` on the curve losses.

    The errors passed are the roots of the curve losses, so that the squared loss is the
    squared error averaged over the maturities. Returns the MSE ratio, the HLN statistic
    (negative: ``first`` more accurate), the two-sided p-value and whether the Bartlett
    weights replaced the rectangular ones.
    """
    a = np.array(losses[first][str(h)], dtype=float)
    b = np.array(losses[second][str(h)], dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    test = {"first": first, "second": second, "horizon": h, "n": int(both.sum()),
            "mse_ratio": float(a[both].mean() / b[both].mean()),
            "statistic": float("nan"), "pvalue": float("nan"), "bartlett": False}
    if both.sum() <= h:
        return test  # too few origins for the h - 1 autocovariances (short spans only)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        result = diebold_mariano(np.sqrt(a[both]), np.sqrt(b[both]), h=h)
    return {**test, "statistic": float(result.statistic), "pvalue": float(result.pvalue),
            "bartlett": any("Bartlett" in str(w.message) for w in caught)}


def dm_tests(results):
    """Per horizon: each NNSS against the random walk and the best classical model of its
    form, and every model's "mean" form against its "no mean" form."""
    rmse, losses = results["rmse"], results["losses"]
    against, forms = [], []
    for form in FORMS:
        classical = [label(name, form) for name in CLASSICAL if label(name, form) in rmse]
        for h in HORIZONS:
            best = min(classical, key=lambda row: rmse[row][str(h)]["Avg."]) \
                if classical else None
            for name in NNSS_NAMES:
                row = label(name, form)
                if row not in rmse:
                    continue
                for other, role in (("RW", "random walk"), (best, "best classical")):
                    if other is not None and other in rmse:
                        against.append({**_dm(losses, row, other, h), "form": form,
                                        "model": name, "against": role})
    for name in BASE_NAMES:
        rows = [label(name, form) for form in FORMS]
        if all(row in rmse for row in rows):
            for h in HORIZONS:
                forms.append({**_dm(losses, rows[1], rows[0], h), "model": name})
    return {"against": against, "forms": forms}


# --------------------------------------------------------------------------- running
def _settings(quick, grid_maxiter, grid_gammas=None, grid_weight_vars=None):
    settings = dict(SETTINGS["quick" if quick else "full"])
    if grid_maxiter is not None:
        settings["grid_maxiter"] = int(grid_maxiter)
    if grid_gammas is not None:
        settings["grid_gammas"] = tuple(float(g) for g in grid_gammas)
    if grid_weight_vars is not None:
        settings["grid_weight_vars"] = tuple(float(w) for w in grid_weight_vars)
    return settings


def run(quick=False, output_dir="nnss-output", threads=1, log=print, grid_maxiter=None,
        models=None, forms=None, skip_grid=False, grid_form=SEED_FORM, merge_into=None,
        resume=False, grid_gammas=None, grid_weight_vars=None, overwrite=False):
    """Run the study; return the results dictionary (also written to ``results.json``).

    Parameters
    ----------
    quick : bool, default=False
        CI-size settings instead of the full ones.
    output_dir : str or Path, default="nnss-output"
        Where ``results.json``, ``tables.md`` and the figures are written, in one step
        when the run is complete; the checkpoints go to ``<output_dir>.checkpoint/``.
    threads : int, default=1
        torch threads.
    log : callable, default=print
        Receives one progress line per fit.
    grid_maxiter : int, default=None
        MAP iterations of each prior-grid fit (None: the settings' own).
    models : sequence of str, default=None
        Base names of the models of Tables 1-4 to run (None: all, see ``MODEL_NAMES``).
    forms : sequence of str, default=None
        Forms of the transition to run ("no mean", "mean"; None: both).
    skip_grid : bool, default=False
        Leave out the prior grid (Table 5); ``results["prior_grid"]`` is then empty.
    grid_form : str, default="no mean"
        The form of the 4-NNSS of the prior grid.
    merge_into : str or Path, default=None
        A ``results.json`` of an earlier run with the same mode and data: this run's
        model rows are added to it (replacing rows of the same name), and it is written
        back with its ``tables.md`` beside it.
    resume : bool, default=False
        Continue from the checkpoint of an interrupted run with the same settings in
        ``<output_dir>.checkpoint/`` (the prior grid's may differ: its cells are then
        redone).
    grid_gammas, grid_weight_vars : sequence of float, default=None
        The prior grid's ``gamma`` and ``sigma_NN^2`` values (None: the settings' own,
        the seed's 3 x 4 grid at full size).
    overwrite : bool, default=False
        Whether an existing non-empty ``output_dir`` may be replaced (as a whole, when
        the run is complete), and, without ``resume``, an interrupted run's checkpoint
        discarded. Without it either is refused before any work.

    Returns
    -------
    results : dict
    """
    settings = _settings(quick, grid_maxiter, grid_gammas, grid_weight_vars)
    chosen = _models(settings, models, forms)
    if grid_form not in FORMS:
        raise ValueError(f"grid_form must be one of {list(FORMS)}, got {grid_form!r}")
    output_dir = check_output_target(output_dir, overwrite)
    checkpoint = Checkpoint(output_dir)
    if checkpoint.root.exists() and not resume:
        if not overwrite:
            raise ValueError(f"{checkpoint.root} holds the checkpoint of an interrupted "
                             f"run; pass --resume to continue it or --overwrite to start "
                             f"again")
        checkpoint.clear()
    torch.set_num_threads(threads)
    started, started_cpu = time.perf_counter(), time.process_time()
    panel = load_panel(settings["start"], settings["end"])
    n_train = int((panel.index <= pd.Timestamp(settings["train_end"])).sum())
    run_settings = {"mode": "quick" if quick else "full", "threads": threads,
                    "models": list(chosen), "prior_grid": not skip_grid,
                    "grid_form": grid_form,
                    **{k: list(v) if isinstance(v, tuple) else v
                       for k, v in settings.items()}}
    results = checkpoint.load(run_settings) if resume else None
    if results is None:
        results = {
            "settings": run_settings, "machine": machine(),
            "data": {"first_date": str(panel.index[0].date()),
                     "last_date": str(panel.index[-1].date()),
                     "train_end": str(panel.index[n_train - 1].date()),
                     "first_origin": str(panel.index[n_train].date()),
                     "n_train": n_train, "n_origins": len(panel) - n_train,
                     "maturities": LABELS},
            "rmse": {}, "losses": {}, "fit_seconds": {}, "fit_cpu_seconds": {}, "nnss": {},
            "converged": {}, "grid_failures": {}, "prior_grid": [], "elapsed": [],
        }
    else:
        log(f"resuming from {checkpoint.path}: {len(results['rmse'])} model(s) and "
            f"{len(results['prior_grid'])} grid cell(s) done")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = _fit_and_forecast(chosen, panel, n_train, results, checkpoint, log)
        grid_models = {} if skip_grid else \
            _prior_grid(settings, grid_form, panel, n_train, results, checkpoint, log)
    # Wall and CPU time of this process; a resumed run adds its own entry.
    results["elapsed"].append({"wall_seconds": time.perf_counter() - started,
                               "cpu_seconds": time.process_time() - started_cpu,
                               "load_average_at_end": list(os.getloadavg())})
    results["total_seconds"] = sum(e["wall_seconds"] for e in results["elapsed"])
    results["dm"] = dm_tests(results)
    with staged_folder(output_dir, overwrite) as staging:
        make_figures(staging, {k: v for k, v in fitted.items() if v is not None},
                     grid_models, panel, results["data"]["train_end"])
        (staging / "results.json").write_text(json.dumps(results, indent=2))
        (staging / "tables.md").write_text(render_tables(results))
    checkpoint.clear()
    log(f"total {results['total_seconds']:.0f}s; results in {output_dir}")
    if merge_into is not None:
        merge_results(results, merge_into)
        log(f"rows of {list(chosen)} merged into {merge_into}")
    return results


_MODEL_SECTIONS = ("rmse", "losses", "fit_seconds", "fit_cpu_seconds", "nnss", "converged")


def merge_results(results, path):
    """Add the model rows of ``results`` to the results file ``path`` and re-render it.

    The file must come from a run with the same mode and data (span, split, maturities).
    Rows of the same name are replaced; the rows follow the order of the tables.
    ``tables.md`` is rewritten beside the file and the Diebold-Mariano tests recomputed.

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
    for section in _MODEL_SECTIONS:
        rows = {**merged.get(section, {}), **results[section]}
        merged[section] = {name: rows[name] for name in sorted(rows, key=_row_order)}
    merged.setdefault("merged_runs", []).append(
        {"models": list(results["rmse"]), "settings": results["settings"],
         "machine": results.get("machine"), "elapsed": results.get("elapsed"),
         "total_seconds": results["total_seconds"]})
    merged["dm"] = dm_tests(merged)
    path.write_text(json.dumps(merged, indent=2))
    (path.parent / "tables.md").write_text(render_tables(merged))
    return merged


# --------------------------------------------------------------------------- tables
FORM_TITLES = {"no mean": 'form "no mean" (no transition intercept, the seed\'s eq. 3)',
               "mean": 'form "mean" (the factors revert to an estimated mean)'}


def render_tables(results):
    """Tables 1-4 per form, the forms side by side, the Diebold-Mariano tests and Table 5."""
    columns = LABELS + ["Avg.", "Std."]
    parts = []
    rmse = results["rmse"]
    for h, name in HORIZONS.items():
        weeks = f"{h} week" + ("s" if h > 1 else "")
        for form in FORMS:
            rows = {row: tables[str(h)] for row, tables in rmse.items()
                    if row == "RW" or row.endswith(f"({form})")}
            if len(rows) > ("RW" in rows):
                parts.append(f"**{name} ahead ({weeks}), {FORM_TITLES[form]}: out-of-sample "
                             f"RMSE in basis points**\n\n" + markdown_table(rows, columns))
    parts.append(forms_table(results))
    dm = results.get("dm") or dm_tests(results)
    if dm["against"]:
        parts.append(dm_against_table(dm["against"]))
    if dm["forms"]:
        parts.append(dm_forms_table(dm["forms"]))
    grid = results.get("prior_grid") or []
    if grid:
        form = results["settings"].get("grid_form", SEED_FORM)
        parts.append(f"**4-NNSS average RMSE (bp) over the prior grid, form \"{form}\"**\n\n"
                     + prior_grid_table(grid))
        if any("n_iter" in row for row in grid):
            parts.append("**Prior grid: MAP iterations, converged (yes/no) and CPU seconds "
                         "of each fit**\n\n" + prior_grid_fits_table(grid))
    return "\n\n".join(parts) + "\n"


def forms_table(results):
    """Average RMSE (bp) of every model in both forms, per horizon; the better form bold."""
    rmse = results["rmse"]
    header = "| Model | " + " | ".join(f"{name}: {form}" for name in HORIZONS.values()
                                       for form in FORMS) + " |"
    lines = ["**Average RMSE (bp) by form of the transition: which form forecasts better**",
             "", header, "|---|" + "---:|" * (len(HORIZONS) * len(FORMS))]
    for name in MODEL_NAMES:
        rows = [label(name, form) for form in FORMS] if name != "RW" else ["RW"] * len(FORMS)
        if not all(row in rmse for row in rows):
            continue
        cells = []
        for h in HORIZONS:
            values = [rmse[row][str(h)]["Avg."] for row in rows]
            best = min(values)
            cells += [f"**{v:.2f}**" if v == best and name != "RW" else f"{v:.2f}"
                      for v in values]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _dm_cell(test):
    if not np.isfinite(test["statistic"]):
        return f"{test['mse_ratio']:.2f} / n/a"
    mark = "*" if test["bartlett"] else ""
    return f"{test['mse_ratio']:.2f} / {test['statistic']:+.2f}{mark} / {test['pvalue']:.3f}"


def dm_against_table(tests):
    """NNSS against the random walk and the best classical model, per horizon."""
    lines = ["**Diebold-Mariano tests of the NNSS forecasts (MSE ratio / HLN statistic / "
             "two-sided p-value; a ratio below 1 and a negative statistic favour the NNSS)**",
             "", "| Form | Model | Against | " + " | ".join(HORIZONS.values()) + " |",
             "|---|---|---|" + "---|" * len(HORIZONS)]
    keys = []
    for test in tests:
        key = (test["form"], test["model"], test["against"])
        if key not in keys:
            keys.append(key)
    for form, model, against in keys:
        cells = []
        for h in HORIZONS:
            test = next((t for t in tests if (t["form"], t["model"], t["against"], t["horizon"])
                         == (form, model, against, h)), None)
            if test is None:
                cells.append("")
                continue
            other = "" if against == "random walk" else \
                f" ({test['second'].rsplit(' (', 1)[0]})"
            cells.append(_dm_cell(test) + other)
        lines.append(f"| {form} | {model} | {against} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("`*`: the rectangular long-run variance was not positive; Bartlett weights.")
    return "\n".join(lines)


def dm_forms_table(tests):
    """Each model's "mean" form against its "no mean" form, per horizon."""
    lines = ["**Diebold-Mariano tests of the form \"mean\" against the form \"no mean\" "
             "(MSE ratio / HLN statistic / two-sided p-value; below 1 and negative: the "
             "factor mean forecasts better)**",
             "", "| Model | " + " | ".join(HORIZONS.values()) + " |",
             "|---|" + "---|" * len(HORIZONS)]
    for model in BASE_NAMES:
        row = [t for t in tests if t["model"] == model]
        if row:
            cells = [_dm_cell(next(t for t in row if t["horizon"] == h)) for h in HORIZONS]
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def prior_grid_table(grid):
    """Table 5: average RMSE by horizon and gamma (rows) and sigma_NN^2 (columns)."""
    weight_vars = sorted({row["weight_var"] for row in grid})
    lines = ["| Horizon | gamma | " + " | ".join(f"sigma2 = {w:g}" for w in weight_vars) + " |",
             "|---|---:|" + "---:|" * len(weight_vars)]
    for h, name in HORIZONS.items():
        for gamma in sorted({row["gamma"] for row in grid}):
            cells = [next((row[str(h)] for row in grid
                           if row["gamma"] == gamma and row["weight_var"] == w), float("nan"))
                     for w in weight_vars]
            lines.append(f"| {name} | {gamma} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    return "\n".join(lines)


def prior_grid_fits_table(grid):
    """Iterations, convergence and CPU time of every prior-grid fit."""
    weight_vars = sorted({row["weight_var"] for row in grid})
    lines = ["| gamma | " + " | ".join(f"sigma2 = {w:g}" for w in weight_vars) + " |",
             "|---:|" + "---:|" * len(weight_vars)]
    for gamma in sorted({row["gamma"] for row in grid}):
        cells = []
        for w in weight_vars:
            row = next((r for r in grid if r["gamma"] == gamma and r["weight_var"] == w), {})
            cells.append("failed" if "n_iter" not in row else
                         f"{row['n_iter']}, {'yes' if row['converged'] else 'no'}, "
                         f"{row['fit_cpu_seconds']:.0f}")
        lines.append(f"| {gamma} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _names(text):
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
                        help="MAP iterations of each prior-grid fit (full settings: 10000)")
    parser.add_argument("--models", type=_names, default=None, metavar="NAME,NAME",
                        help="run only these models of Tables 1-4, comma-separated, "
                             f"among: {', '.join(MODEL_NAMES)}")
    parser.add_argument("--forms", type=_names, default=None, metavar="FORM,FORM",
                        help=f"run only these forms of the transition, among: "
                             f"{', '.join(FORMS)}")
    parser.add_argument("--skip-grid", action="store_true",
                        help="leave out the prior grid (Table 5)")
    parser.add_argument("--grid-form", default=SEED_FORM, choices=list(FORMS),
                        help="form of the 4-NNSS of the prior grid (default: no mean)")
    parser.add_argument("--grid-gammas", type=float, nargs="+", default=None,
                        help="gamma values of the prior grid (default: 0.1 0.5 0.9)")
    parser.add_argument("--grid-weight-vars", type=float, nargs="+", default=None,
                        help="sigma_NN^2 values of the prior grid (default: 0.005 0.01 "
                             "0.05 0.1)")
    parser.add_argument("--merge-into", default=None, metavar="PATH",
                        help="results.json of an earlier run with the same settings: add "
                             "this run's model rows to it and rewrite its tables.md")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from its checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing non-empty --output-dir (and, without "
                             "--resume, discard an interrupted run's checkpoint)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    from threadpoolctl import threadpool_limits

    args = parse_args()
    # The same thread budget for numpy's and scipy's BLAS as for torch.
    with threadpool_limits(limits=args.threads):
        run(quick=args.quick, output_dir=args.output_dir, threads=args.threads,
            grid_maxiter=args.grid_maxiter, models=args.models, forms=args.forms,
            skip_grid=args.skip_grid, grid_form=args.grid_form,
            merge_into=args.merge_into, resume=args.resume, grid_gammas=args.grid_gammas,
            grid_weight_vars=args.grid_weight_vars, overwrite=args.overwrite)

"""``skyield benchmark``: rolling-origin comparison of models on bundled or user data.

The run reads its data through :mod:`skyield.cli._intake`, checks every option before any
work, runs the models, and writes its files through :func:`skyield.utils.staged_folder` (into a
new folder moved into place in one step at the end).
"""

import argparse
import json
import os
import sys
import textwrap
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
from threadpoolctl import threadpool_limits

from skyield import __version__
from skyield.cli._diagnostics import DIAGNOSTICS
from skyield.cli._intake import (
    BUNDLED,
    CSV_TEST_START,
    _listed,
    add_data_arguments,
    load_data,
    resolve_datasets,
)
from skyield.cli._leaderboard import (
    cross_dataset_summary,
    format_leaderboard,
    leaderboard,
    summary_lines,
    summary_verdict,
)
from skyield.cli._models import MODELS, TUNING_FOLDS, handles_missing_values, resolve_models
from skyield.cli._progress import ModelProgress, progress_mode
from skyield.cli._report import DatasetSection, results_to_frames, write_report
from skyield.utils import UnitsWarning, check_output_target, staged_folder

DEFAULTS = {
    "horizons": "1,6,12",
    "window": 12,
    "refit": 12,
    "coverage": 0.95,
    # Wang and Hyndman's (2024) default learning rate of quantile tracking.
    "tracking_rate": 0.1,
    "calibration_years": 2,
}

def _models_epilog():
    width = max(len(entry.name) for entry in MODELS.values())
    lines = ["models (* = run by default):"]
    for entry in MODELS.values():
        wrapped = textwrap.wrap(entry.description, 76 - width - 6)
        lines.append(f"  {'*' if entry.default else ' '} {entry.name:<{width}}  {wrapped[0]}")
        lines += [" " * (width + 6) + line for line in wrapped[1:]]
        if entry.grid:
            lines += [" " * (width + 6) + line for line in textwrap.wrap(
                f"--tune: {entry.grid_text()}", 76 - width - 6)]
    return "\n".join(lines)


def add_benchmark_parser(commands, parents=()):
    parser = commands.add_parser(
        "benchmark",
        help="compare models out of sample on bundled data (rolling origin)",
        description=(
            "Rolling-origin backtest of several models on panels of yields: every model "
            "is fitted on the dates before each refit point only and forecasts from every "
            "test date at every horizon. By default it runs on every bundled curve dataset "
            "(U.S. zero curves, U.S. Treasury constant-maturity yields, the EIOPA "
            "multi-curve panel). Prints a leaderboard per dataset and a summary against the "
            "random walk across datasets, and writes a self-contained HTML report, the "
            "leaderboards and every forecast to an output folder."
        ),
        epilog=_models_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=list(parents),
    )
    add_data_arguments(parser)
    parser.add_argument("--test-start", default=None,
                        help="first forecast origin: the train/test split date, as "
                             "YYYY-MM-DD, YYYY-MM or YYYY (default: "
                             "each bundled dataset's own, " + "; ".join(
                                 f"{name} {dataset.test_start}"
                                 for name, dataset in BUNDLED.items())
                             + f"; {CSV_TEST_START} for a CSV file)")
    parser.add_argument("--models", default=None,
                        help="comma-separated models, run on every dataset (default: "
                             + ",".join(e.name for e in MODELS.values() if e.default)
                             + "; on a bundled dataset with the additions and cuts that "
                             "its section of the report lists: eiopa adds yc-att, and "
                             "treasury and eiopa leave out their costliest models "
                             "unless --full is given)")
    parser.add_argument("--horizons", default=DEFAULTS["horizons"],
                        help="comma-separated horizons in periods (default: 1,6,12)")
    parser.add_argument("--window", type=int, default=DEFAULTS["window"],
                        help="history (periods) each window model sees (default: 12)")
    parser.add_argument("--refit", type=int, default=DEFAULTS["refit"],
                        help="refit every N test dates; 0 fits once (default: 12)")
    parser.add_argument("--members", type=int, default=None,
                        help="seed-ensemble members of every deep model; 1 runs single "
                             "models (default: each model's own, 3 for the LSTM models "
                             "and yc-att, 1 for nnss and factor-transformer)")
    parser.add_argument("--tune", action="store_true",
                        help="tune every model that has a grid (listed below) at every fit, "
                             f"by time-series cross-validation ({TUNING_FOLDS} expanding "
                             "folds) inside its training span only; tuned models are "
                             "fitted from scratch at every refit (no warm start), and the "
                             "settings each fit chose go to run.json and the report; "
                             "random-walk and combination are left as they are")
    parser.add_argument("--full", action="store_true",
                        help="every default model on every dataset, without the cuts that "
                             "keep the default run under 10 minutes (on the Treasury and "
                             "EIOPA data); takes about 20 minutes on 2 cores")
    parser.add_argument("--conformal", action="store_true",
                        help="recalibrate every model's intervals online by conformalized "
                             "quantile regression on its own past forecast errors (each "
                             "row from the outcomes observed by its origin, per horizon "
                             "and maturity, scaled by the interval's width; "
                             "skyield.calibration.conformalize_backtest), with quantile "
                             "tracking of the misses (--tracking-rate); the leaderboard "
                             "then scores the recalibrated intervals")
    parser.add_argument("--tracking-rate", type=float, default=None,
                        help="with --conformal: learning rate of the quantile tracking "
                             "that feeds back the misses of the recalibrated intervals, "
                             "times the range of the past scores; 0 recalibrates by the "
                             "conformal quantile alone "
                             f"(default: {DEFAULTS['tracking_rate']:g})")
    parser.add_argument("--calibration-years", type=int, default=None,
                        help="with --conformal: forecast also over the N years before each "
                             "dataset's test start; the errors of those forecasts are the "
                             "first past errors of the recalibration, and the rows are then "
                             "dropped, so that the leaderboard, the tests and the report "
                             "count the test span only; 0 recalibrates from the test span's "
                             f"own errors (default: {DEFAULTS['calibration_years']})")
    parser.add_argument("--coverage", type=float, default=DEFAULTS["coverage"],
                        help="coverage of the central intervals (default: 0.95)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda or auto for the deep models (default: cpu)")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="parallel jobs through joblib (default: 1)")
    parser.add_argument("--output", default="skyield-benchmark",
                        help="output folder (default: skyield-benchmark), written in one "
                             "step at the end; an existing non-empty folder is an error "
                             "unless --overwrite is given")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output folder as a whole (in one step, "
                             "once the new one is complete)")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing but errors (no progress bars, no leaderboard)")
    parser.set_defaults(run=run_benchmark)


def _split_list(text, name, convert=str):
    """The items of the comma-separated ``--name`` (read by the data options' rule: an
    empty item is an error, never dropped), each converted."""
    parts = _listed(text, name)
    if not parts:
        raise ValueError(f"--{name} is empty")
    try:
        return [convert(part) for part in parts]
    except ValueError:
        raise ValueError(f"--{name} must be a comma-separated list, got {text!r}") from None


@contextmanager
def _torch_threads(count):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _first_test_date(data):
    from skyield.datasets._selection import date_bound

    test_start = data.test_start
    # Read as --start is (ISO dates, YYYY-MM or YYYY: the first day of the period);
    # 01/02/2005 is refused, not guessed.
    start = date_bound(test_start, "--test-start")
    if start > data.dates[-1]:
        raise ValueError(f"--test-start {test_start} is after the last date of {data.name} "
                         f"({data.dates[-1]:%Y-%m-%d})")
    if start <= data.dates[0]:
        raise ValueError(f"--test-start {test_start} leaves no training dates: {data.name} "
                         f"starts on {data.dates[0]:%Y-%m-%d}")
    return start


def _conformal_option(args, option):
    """``--calibration-years`` or ``--tracking-rate`` of ``--conformal``; 0 without it."""
    if not args.conformal:
        return 0
    value = getattr(args, option)
    return DEFAULTS[option] if value is None else value


def _first_origin(data, test_start, args):
    """The backtest's first origin: the test start, less the calibration years."""
    years = _conformal_option(args, "calibration_years")
    start = test_start - pd.DateOffset(years=years)
    if years and start <= data.dates[0]:
        raise ValueError(
            f"--calibration-years {years} starts the forecasts on {start:%Y-%m-%d}, which "
            f"leaves no training dates: {data.name} starts on {data.dates[0]:%Y-%m-%d}; "
            f"choose fewer years or a later --test-start")
    return start


def _say(args, message):
    if not args.quiet:
        print(message, flush=True)


def _check_arguments(args):
    """Check the numeric options before any work; return the horizons."""
    from skyield.utils import check_horizons, resolve_device

    horizons = _split_list(args.horizons, "horizons", int)
    try:
        horizons = list(check_horizons(horizons))
    except ValueError as error:
        raise ValueError(f"--{error}") from None
    if not 0 < args.coverage < 1:
        raise ValueError(f"--coverage must lie in (0, 1), got {args.coverage}")
    if args.refit < 0:
        raise ValueError(f"--refit must be 0 (fit once) or positive, got {args.refit}")
    for option, what in (("calibration_years", "the span of past errors"),
                         ("tracking_rate", "the quantile tracking")):
        if getattr(args, option) is not None and not args.conformal:
            raise ValueError(f"--{option.replace('_', '-')} sets {what} of --conformal; "
                             f"give --conformal too")
    if args.calibration_years is not None and args.calibration_years < 0:
        raise ValueError(f"--calibration-years must be 0 (none) or a positive number of "
                         f"years, got {args.calibration_years}")
    if args.tracking_rate is not None and not args.tracking_rate >= 0:
        raise ValueError(f"--tracking-rate must be 0 (no tracking) or positive, got "
                         f"{args.tracking_rate}")
    if args.members is not None and args.members < 1:
        raise ValueError(f"--members must be a positive number of members, got {args.members}")
    if args.window < 1:
        raise ValueError(f"--window must be a positive number of dates, got {args.window}")
    if args.n_jobs == 0:
        raise ValueError("--n-jobs must be a positive number of jobs or negative "
                         "(-1: all cores), not 0")
    try:
        resolve_device(args.device)
    except ValueError as error:
        raise ValueError(f"--device: {error}") from None
    return horizons


@dataclass(frozen=True)
class RunContext:
    """What the diagnostics of a model need to know about the run: the curve shown (the
    panel of ``family`` on a multi-curve panel), the test start, the window and the
    horizons."""

    panel: pd.DataFrame
    test_start: pd.Timestamp
    window: int
    horizons: list
    family: str = None

    @property
    def train(self):
        """The dates before the test start: the span every first fit sees."""
        return self.panel.loc[self.panel.index < self.test_start]


@dataclass
class DatasetRun:
    """One dataset of a run: its data, the models run on it, and what they gave."""

    data: object
    test_start: pd.Timestamp
    #: The first origin of the backtest: ``test_start``, or earlier when a calibration
    #: span of the conformal step comes first (``--calibration-years``).
    first_origin: pd.Timestamp
    models: list
    left_out: dict
    notes: list
    results: pd.DataFrame = None
    table: pd.DataFrame = None
    summary: list = None
    diagnostics: list = None
    fit_records: dict = None

    @property
    def calibrates(self):
        """Whether forecasts from a calibration span before the test start feed
        ``--conformal`` (and are then dropped)."""
        return self.first_origin < self.test_start


def _plural(count, word):
    return f"{count} {word}{'s' if count > 1 else ''}"


def _recorded(name, call, ignore=()):
    """Run ``call()`` recording every warning; return its value and one note per warning.

    A note gives one distinct warning (category and first line) with how often it came;
    warnings of the categories in ``ignore`` are not recorded.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for category in ignore:
            warnings.simplefilter("ignore", category)
        value = call()
    counts = {}
    for item in caught:
        text = f"{item.category.__name__}: {str(item.message).splitlines()[0]}"
        counts[text] = counts.get(text, 0) + 1
    notes = [f"{name} warned {_plural(count, 'time')}: {text}"
             for text, count in counts.items()]
    return value, notes, len(caught)


def _schedule(entry, estimator, refit):
    """The backtest's ``refit`` and ``warm_start`` for ``entry`` under ``--refit``."""
    if not refit:
        return False, False
    warm = entry.warm_params(estimator)
    return refit, False if warm is None else warm


def _fitted(fit, family=None):
    """The model of one backtest fit: a sequence model's fits are kept by family (key
    None for one panel), of which ``family``'s."""
    model = fit["estimator"]
    return model[family] if isinstance(model, dict) else model


def _chosen(entry, fits, family=None):
    """The settings a tuned model chose at each fit, by training end (None: not tuned;
    of the curve ``family`` on a multi-curve panel)."""
    if entry.chosen(_fitted(fits[0], family)) is None:
        return None
    return {f"{fit['train_end']:%Y-%m-%d}": entry.chosen(_fitted(fit, family))
            for fit in fits}


def _tuning_setting(args):
    """The run's tuning in words, for the settings."""
    if not args.tune:
        return "none (each model's own settings)"
    return (f"every fit of a model with a grid, by {TUNING_FOLDS}-fold expanding-window "
            "cross-validation inside its training span; fitted from scratch")


def _fit_record(entry, args, fits, seconds, horizons, family=None):
    """What the run did with one model: its refit plan, its fits and their spans, a tuned
    model's chosen settings per fit (by training end) and a combination's weights per fit
    (by training end, horizon and member); on a multi-curve panel, those of the curve
    ``family``, named under ``curve``."""
    record = {"refits": entry.refit_plan(args.refit, args.tune), "fits": len(fits),
              "members": entry.ensemble_size(args.members),
              "first training end": f"{fits[0]['train_end']:%Y-%m-%d}",
              "last training end": f"{fits[-1]['train_end']:%Y-%m-%d}",
              "seconds": round(seconds, 2)}
    chosen = _chosen(entry, fits, family)
    has_weights = hasattr(_fitted(fits[0], family), "weights_")
    if family is not None and (chosen is not None or has_weights):
        record["curve"] = family
    if chosen is not None:
        record["chosen"] = chosen
    if has_weights:
        record["weights"] = {
            f"{fit['train_end']:%Y-%m-%d}": {
                str(horizon): dict(zip([name for name, _ in _fitted(fit, family).estimators],
                                       map(float, row)))
                for horizon, row in zip(horizons, _fitted(fit, family).weights_)}
            for fit in fits}
    return record


def _run_model(entry, args, run, horizons, label, mode):
    """Backtest one model; return its results, first fitted model, fit record and notes.

    With a calibration span (``run.calibrates``: the first origin before the test
    start), a second backtest forecasts from the calibration span's origins, on the
    dates up to those its forecasts need; its rows before the test start come first in
    the results. The test span is forecast by the same backtest, fits and warm starts as
    without one, so the calibration span changes no forecast of the test span, only the
    past errors the conformal step has at hand.
    """
    from skyield.model_selection import backtest

    data = run.data
    estimator = entry.make(args.seed, args.device, data.maturities, args.members, horizons,
                           tune=args.tune)
    refit, warm_start = _schedule(entry, estimator, args.refit)
    progress = ModelProgress(label, mode, sys.stderr if mode == "bar" else sys.stdout)

    def run_backtest(panel, test_start, progress=None):
        return backtest(
            estimator, panel, window=args.window, horizons=horizons, refit=refit,
            warm_start=warm_start, coverage=args.coverage, test_start=test_start,
            n_jobs=args.n_jobs, missing="allow" if args.allow_missing else "raise",
            progress=progress, return_estimators=True)

    started = time.perf_counter()
    # The units were checked once, when the data was read.
    (results, fits), notes, n_warnings = _recorded(
        f"{data.name}: {entry.name}", lambda: run_backtest(data.panel, run.test_start, progress),
        ignore=(UnitsWarning,))
    calibration_fits = 0
    if run.calibrates:
        (early, early_fits), more_notes, more_warnings = _recorded(
            f"{data.name}: {entry.name} (calibration span)",
            lambda: run_backtest(_up_to_targets(data.panel, run.test_start, max(horizons)),
                                 run.first_origin),
            ignore=(UnitsWarning,))
        results = pd.concat([early[early["origin"] < run.test_start], results],
                            ignore_index=True)
        notes, n_warnings = notes + more_notes, n_warnings + more_warnings
        calibration_fits = sum(fit["train_end"] < run.test_start for fit in early_fits)
    seconds = time.perf_counter() - started
    summary = (f"{results['origin'].nunique()} origins, {_plural(len(fits), 'fit')} "
               f"in {seconds:.1f} s")
    if calibration_fits:
        summary = (f"{summary} (with {_plural(calibration_fits, 'fit')} of the calibration "
                   f"span)")
    if n_warnings:
        summary += f", {_plural(n_warnings, 'warning')} (see the report)"
    progress.close(summary)
    # The model of the first fit, trained on the dates before the test start: the one
    # whose insides the report shows (of the family shown, for a multi-curve panel).
    first = _fitted(fits[0], data.family)
    first = getattr(first, "best_estimator_", first)  # a tuned model: the one it chose
    if entry.ensemble_size(args.members) > 1:
        first = first.estimators_[0]  # a seed ensemble: its first member's insides
    record = _fit_record(entry, args, fits, seconds, horizons, data.family)
    if calibration_fits:
        record["calibration fits"] = calibration_fits
    return results.assign(model=entry.name), first, record, notes


def _up_to_targets(panel, test_start, steps):
    """The dates of ``panel`` before ``test_start`` and the ``steps`` dates that follow,
    those the forecasts from origins before the test start aim at (per family for a
    (family, date) panel)."""
    dates = panel.index.get_level_values(-1)
    # The position of each date among its family's dates from the test start on.
    after = pd.Series(dates >= test_start, index=panel.index)
    after = after.groupby(level=0, sort=False).cumsum() if panel.index.nlevels > 1 \
        else after.cumsum()
    return panel[(dates < test_start) | (after.to_numpy() <= steps)]


def _diagnostic_figures(entry, model, context, dataset):
    """The report figures of one fitted model (none without diagnostics) and notes."""
    if entry.diagnostics is None:
        return [], []
    figures, notes, _ = _recorded(f"{dataset}: {entry.name} (figures)",
                                  lambda: DIAGNOSTICS[entry.diagnostics](model, context),
                                  ignore=(UnitsWarning,))
    return [(entry.name, caption, figure) for caption, figure in figures], notes


def _check_models_for_missing(models, allow_missing):
    if not allow_missing:
        return
    unable = [entry.name for entry in models if not handles_missing_values(entry)]
    if unable:
        able = [entry.name for entry in MODELS.values() if handles_missing_values(entry)]
        raise ValueError(
            f"--allow-missing: {', '.join(unable)} cannot handle missing values; with "
            f"--allow-missing choose --models among {', '.join(able)}")


def _models_for(data, models, *, chosen, full):
    """The models run on ``data`` and those left out, with why.

    Models ``chosen`` with ``--models`` run on every dataset. Otherwise a bundled dataset
    adds its own models to the defaults (the multi-curve network on the EIOPA panel) and
    leaves out the costliest, unless the run is ``full`` (see
    :data:`skyield.cli._intake.BUNDLED`).
    """
    dataset = BUNDLED.get(data.name)
    if chosen or dataset is None:
        return models, {}
    models = models + [MODELS[name] for name in dataset.added]
    left_out = {} if full else {entry.name: dataset.left_out[entry.name]
                                for entry in models if entry.name in dataset.left_out}
    return [entry for entry in models if entry.name not in left_out], left_out


def _header(run, horizons):
    data = run.data
    families = "" if data.families is None else f", {len(data.families)} curves"
    calibration = (f" (forecasts from {run.first_origin:%Y-%m-%d} calibrate --conformal)"
                   if run.calibrates else "")
    return (f"{data.name}: {data.source} ({data.frequency}), {len(data.dates)} dates "
            f"{data.span}{families}, maturities {', '.join(data.labels)}; test from "
            f"{data.test_start}{calibration}; horizons {horizons}")


def _read_datasets(args):
    """Read and check every dataset of the run, and choose its models, before any work."""
    models = resolve_models(args.models)
    names = resolve_datasets(args.dataset)
    if args.families is not None and not any(
            name in BUNDLED and BUNDLED[name].families for name in names):
        raise ValueError("--families applies to a multi-curve dataset ("
                         + ", ".join(n for n, d in BUNDLED.items() if d.families)
                         + f"), which --dataset {args.dataset} does not include")
    runs = []
    for name in names:
        data, notes, _ = _recorded(name, lambda name=name: load_data(args, name))
        test_start = _first_test_date(data)
        chosen, left_out = _models_for(data, models, chosen=args.models is not None,
                                       full=args.full)
        _check_models_for_missing(chosen, args.allow_missing)
        runs.append(DatasetRun(data=data, test_start=test_start,
                               first_origin=_first_origin(data, test_start, args),
                               models=chosen, left_out=left_out, notes=notes))
    return runs


def _run_dataset(run, args, horizons, mode):
    """Backtest every model of ``run`` and fill in its results, leaderboard and figures."""
    data = run.data
    _say(args, _header(run, horizons))
    for line in run.notes:
        _say(args, f"warning: {line}")
    context = RunContext(panel=data.curve, test_start=run.test_start,
                         window=args.window, horizons=horizons, family=data.family)
    frames, seconds, run.fit_records, run.diagnostics = [], {}, {}, []
    for number, entry in enumerate(run.models, start=1):
        label = f"[{number}/{len(run.models)}] {data.name}: {entry.name}"
        results, model, run.fit_records[entry.name], notes = _run_model(
            entry, args, run, horizons, label, mode)
        seconds[entry.name] = run.fit_records[entry.name]["seconds"]
        frames.append(results)
        run.notes += notes
        figures, notes = _diagnostic_figures(entry, model, context, data.name)
        run.diagnostics += figures
        run.notes += notes
    run.results = pd.concat(frames, ignore_index=True)
    if args.conformal:
        run.results = _conformal(run.results, args.coverage,
                                 _conformal_option(args, "tracking_rate"))
    if run.calibrates:
        # The calibration span's rows serve as past errors only: nothing scores them.
        scored = run.results["origin"] >= run.test_start
        run.results = run.results[scored].reset_index(drop=True)
    # A warning of the tests (a long-run variance that needed another kernel) is kept
    # with the others rather than printed raw.
    run.table, notes, _ = _recorded(f"{data.name}: leaderboard", lambda: leaderboard(
        run.results, seconds, args.coverage))
    run.notes += notes
    run.summary = summary_lines(run.table)
    _say(args, f"\n{data.name}\n" + format_leaderboard(run.table) + "\n\n"
         + "\n".join(run.summary) + "\n")


def _conformal(results, coverage, tracking_rate):
    """The backtest rows with every model's intervals recalibrated online (``--conformal``).

    Conformalized quantile regression with scores scaled by the interval's width
    (``"cqr-r"``), each row corrected from the errors of its model, horizon and maturity
    observed by its origin, plus quantile tracking of the misses at ``tracking_rate``
    (none at 0). The curves of a multi-curve panel are pooled: with a few dozen origins,
    scores per curve would leave most rows without enough past errors, and the scaling
    by each interval's own width puts curves of different volatility on one scale.
    """
    from skyield.calibration import conformalize_backtest

    return conformalize_backtest(results, coverage, method="cqr-r", pool_families=True,
                                 tracking_rate=tracking_rate or None)


def _settings(args, horizons, runs):
    """The run's settings, shared by every dataset."""
    return {
        "datasets": ", ".join(run.data.name for run in runs),
        "horizons": ", ".join(map(str, horizons)),
        "window": args.window, "refit every": args.refit or "never (fit once)",
        "tuning": _tuning_setting(args),
        "seed-ensemble members": args.members or "each deep model's own",
        "coverage": args.coverage,
        "intervals": (_conformal_setting(args) if args.conformal else "each model's own"),
        "seed": args.seed, "device": args.device,
        "skyield": __version__,
    }


def _conformal_setting(args):
    text = ("recalibrated online by conformalized quantile regression, scores scaled by the "
            "width")
    rate = _conformal_option(args, "tracking_rate")
    if rate:
        text += f", quantile tracking at rate {rate:g}"
    years = _conformal_option(args, "calibration_years")
    if years:
        text += (f"; first past errors from the forecasts of the {_plural(years, 'year')} "
                 f"before the test start, which are not scored")
    return text + " (--conformal)"


def _section(run):
    """The report section of one dataset."""
    notes = [f"{entry.name}: {entry.description}; {run.fit_records[entry.name]['refits']} "
             f"({_plural(run.fit_records[entry.name]['fits'], 'fit')})"
             for entry in run.models]
    notes += [f"{name}: not run on {run.data.name} by default: {reason}"
              for name, reason in run.left_out.items()]
    chosen = {name: record["chosen"] for name, record in run.fit_records.items()
              if "chosen" in record}
    return DatasetSection(name=run.data.name, settings=run.data.describe(), table=run.table,
                          results=run.results, summary=run.summary, notes=notes,
                          diagnostics=run.diagnostics, family=run.data.family,
                          chosen=chosen)


def _write_outputs(folder, *, runs, summary, verdict, settings, horizons, seconds, title):
    """Write every output file into ``folder``; return their names in writing order."""
    table = pd.concat([run.table.assign(dataset=run.data.name) for run in runs],
                      ignore_index=True)
    table = table[["dataset", *[c for c in table.columns if c != "dataset"]]]
    frames = results_to_frames(pd.concat(
        [run.results.assign(dataset=run.data.name) for run in runs], ignore_index=True))
    frames = frames[["dataset", *[c for c in frames.columns if c != "dataset"]]]
    table.to_csv(folder / "leaderboard.csv", index=False)
    summary.to_csv(folder / "summary.csv", index=False)
    frames.to_csv(folder / "forecasts.csv", index=False)
    written = ["leaderboard.csv", "summary.csv", "forecasts.csv"]
    try:
        frames.to_parquet(folder / "forecasts.parquet", index=False)
        written.append("forecasts.parquet")
    except ImportError:
        pass  # no Parquet engine: the CSV file holds the same forecasts
    warning_notes = [note for run in runs for note in run.notes]
    write_report(folder / "report.html", title=title, settings=settings, summary=summary,
                 verdict=verdict, sections=[_section(run) for run in runs],
                 horizons=horizons, warnings=warning_notes)
    written.append("report.html")
    with open(folder / "run.json", "w", encoding="utf-8") as handle:
        json.dump({"settings": settings,
                   "datasets": {run.data.name: {"settings": run.data.describe(),
                                                "models": run.fit_records,
                                                "left out": run.left_out}
                                for run in runs},
                   "command": sys.argv, "seconds": seconds, "warnings": warning_notes,
                   "cwd": os.getcwd()},
                  handle, indent=2, default=str)
    written.append("run.json")
    return written


def run_benchmark(args):
    """Run the benchmark described by parsed command-line ``args``.

    Every option, every dataset and the output folder are checked before any model runs;
    the output files are written into a new folder that replaces ``--output`` in one step
    once all of them are written.
    """
    horizons = _check_arguments(args)
    check_output_target(args.output, args.overwrite)
    runs = _read_datasets(args)
    mode = progress_mode(args.quiet)
    started = time.perf_counter()
    # The models work on small matrices, for which multi-threaded BLAS and torch cost more
    # in thread start-up and contention than they save; parallelism comes from --n-jobs.
    with threadpool_limits(limits=1, user_api="blas"), _torch_threads(1):
        for run in runs:
            _run_dataset(run, args, horizons, mode)
    summary = cross_dataset_summary({run.data.name: run.table for run in runs})
    verdict = summary_verdict(summary)
    _say(args, "\n".join(verdict))
    for run in runs:
        for line in run.notes:
            _say(args, f"warning: {line}")
    settings = _settings(args, horizons, runs)
    names = ", ".join(run.data.name for run in runs)
    with staged_folder(args.output, args.overwrite) as staging:
        written = _write_outputs(
            staging, runs=runs, summary=summary, verdict=verdict, settings=settings,
            horizons=horizons, seconds=round(time.perf_counter() - started, 1),
            title=f"skyield benchmark: {names}")
    _say(args, f"\nwrote {', '.join(written)} to {args.output}")
    return 0

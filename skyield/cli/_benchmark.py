"""``skyield benchmark``: rolling-origin comparison of models on bundled or user data."""

import argparse
import json
import os
import sys
import textwrap
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from skyield import __version__
from skyield.cli._leaderboard import format_leaderboard, leaderboard, summary_lines
from skyield.cli._diagnostics import DIAGNOSTICS
from skyield.cli._models import MODELS, resolve_models
from skyield.cli._progress import ModelProgress, progress_mode
from skyield.cli._report import results_to_frames, write_report

DEFAULTS = {
    "dataset": "gsw_zero",
    "freq": "monthly",
    "maturities": "1,2,3,5,7,10",
    "start": "1972-01-01",
    "end": None,
    "test_start": "2000-01-01",
    "horizons": "1,6,12",
    "window": 12,
    "refit": 12,
    "coverage": 0.95,
}
_FREQ_DATASETS = ("treasury_cmt", "gsw_zero")


def _models_epilog():
    width = max(len(entry.name) for entry in MODELS.values())
    lines = ["models (* = run by default):"]
    for entry in MODELS.values():
        wrapped = textwrap.wrap(entry.description, 76 - width - 6)
        lines.append(f"  {'*' if entry.default else ' '} {entry.name:<{width}}  {wrapped[0]}")
        lines += [" " * (width + 6) + line for line in wrapped[1:]]
    return "\n".join(lines)


def add_benchmark_parser(commands):
    parser = commands.add_parser(
        "benchmark",
        help="compare models out of sample on bundled data (rolling origin)",
        description=(
            "Rolling-origin backtest of several models on one panel of yields: every model "
            "is fitted on the dates before each refit point only and forecasts from every "
            "test date at every horizon. Prints a leaderboard and writes a self-contained "
            "HTML report, the leaderboard and every forecast to an output folder."
        ),
        epilog=_models_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", default=DEFAULTS["dataset"],
                        help="bundled dataset (treasury_cmt, gsw_zero) or a CSV file with a "
                             "date column first and one column per maturity "
                             f"(default: {DEFAULTS['dataset']})")
    parser.add_argument("--freq", default=DEFAULTS["freq"],
                        choices=("daily", "weekly", "monthly"),
                        help="frequency of a bundled dataset (default: monthly)")
    parser.add_argument("--maturities", default=DEFAULTS["maturities"],
                        help="comma-separated maturities (labels or years) to use "
                             f"(default: {DEFAULTS['maturities']}; 'all' for every column)")
    parser.add_argument("--start", default=DEFAULTS["start"],
                        help=f"first date used (default: {DEFAULTS['start']})")
    parser.add_argument("--end", default=DEFAULTS["end"], help="last date used (default: all)")
    parser.add_argument("--test-start", default=DEFAULTS["test_start"],
                        help="first forecast origin: the train/test split date "
                             f"(default: {DEFAULTS['test_start']})")
    parser.add_argument("--models", default=None,
                        help="comma-separated models (default: "
                             + ",".join(e.name for e in MODELS.values() if e.default) + ")")
    parser.add_argument("--horizons", default=DEFAULTS["horizons"],
                        help="comma-separated horizons in periods (default: 1,6,12)")
    parser.add_argument("--window", type=int, default=DEFAULTS["window"],
                        help="history (periods) each window model sees (default: 12)")
    parser.add_argument("--refit", type=int, default=DEFAULTS["refit"],
                        help="refit every N test dates; 0 fits once (default: 12)")
    parser.add_argument("--coverage", type=float, default=DEFAULTS["coverage"],
                        help="coverage of the central intervals (default: 0.95)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda or auto for the deep models (default: cpu)")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="parallel jobs through joblib (default: 1)")
    parser.add_argument("--output", default="skyield-benchmark",
                        help="output folder (default: skyield-benchmark); an existing "
                             "non-empty folder is an error unless --overwrite is given")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the files of an existing output folder")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing but errors (no progress bars, no leaderboard)")
    parser.set_defaults(run=run_benchmark)


def _split_list(text, name, convert=str):
    try:
        values = [convert(part.strip()) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--{name} must be a comma-separated list, got {text!r}") from None
    if not values:
        raise ValueError(f"--{name} is empty")
    return values


def load_panel(dataset, freq, maturities, start, end):
    """Load the benchmark panel: a bundled dataset or a user's CSV file."""
    from skyield.datasets import load_gsw_zero, load_treasury_cmt
    from skyield.utils import check_panel

    selected = None if maturities == "all" else _split_list(maturities, "maturities")
    if dataset in _FREQ_DATASETS:
        loader = {"treasury_cmt": load_treasury_cmt, "gsw_zero": load_gsw_zero}[dataset]
        return loader(freq, start=start, end=end, maturities=selected)
    path = Path(dataset)
    if not path.is_file():
        raise ValueError(
            f"dataset {dataset!r} is neither a bundled curve dataset "
            f"({', '.join(_FREQ_DATASETS)}) nor an existing CSV file")
    try:
        frame = pd.read_csv(path, index_col=0, parse_dates=[0])
    except (ValueError, pd.errors.ParserError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ValueError(f"{path}: the first column must hold dates (YYYY-MM-DD)")
    if selected is not None:
        missing = [label for label in selected if label not in frame.columns]
        if missing:
            raise ValueError(f"{path}: no column(s) {missing}; columns are {list(frame.columns)}")
        frame = frame[selected]
    frame = frame.loc[start:end] if (start or end) else frame
    panel = check_panel(frame, name=str(path), need_maturities=True)
    frame.columns = panel.maturities
    return frame


def _prepare_output(folder, overwrite):
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"output {folder} exists and is not a folder")
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise ValueError(
            f"output folder {folder} already exists and is not empty; choose another "
            f"--output or pass --overwrite to replace its files")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def _torch_threads(count):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _first_test_date(panel, test_start):
    try:
        start = pd.Timestamp(test_start)
    except (TypeError, ValueError):
        raise ValueError(f"--test-start must be a date, got {test_start!r}") from None
    if start > panel.index[-1]:
        raise ValueError(f"--test-start {test_start} is after the last date of the panel "
                         f"({panel.index[-1]:%Y-%m-%d})")
    return start


def _say(args, message):
    if not args.quiet:
        print(message, flush=True)


def _check_arguments(args):
    """Check the numeric options before any work; return the horizons."""
    from skyield.utils import check_horizons, resolve_device

    try:
        horizons = list(check_horizons(_split_list(args.horizons, "horizons", int)))
    except ValueError as error:
        raise ValueError(f"--{error}") from None
    if not 0 < args.coverage < 1:
        raise ValueError(f"--coverage must lie in (0, 1), got {args.coverage}")
    if args.refit < 0:
        raise ValueError(f"--refit must be 0 (fit once) or positive, got {args.refit}")
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
    """What the diagnostics of a model need to know about the run."""

    panel: pd.DataFrame
    test_start: pd.Timestamp
    window: int
    horizons: list

    @property
    def train(self):
        """The dates before the test start: the span every first fit sees."""
        return self.panel.loc[self.panel.index < self.test_start]


def _plural(count, word):
    return f"{count} {word}{'s' if count > 1 else ''}"


def _recorded(name, call):
    """Run ``call()`` recording every warning; return its value and one note per warning.

    A note gives one distinct warning (category and first line) with how often it came.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = call()
    counts = {}
    for item in caught:
        text = f"{item.category.__name__}: {str(item.message).splitlines()[0]}"
        counts[text] = counts.get(text, 0) + 1
    notes = [f"{name} warned {_plural(count, 'time')}: {text}"
             for text, count in counts.items()]
    return value, notes, len(caught)


def _run_model(entry, args, panel, maturities, horizons, label, mode):
    """Backtest one model; return its results, first fitted model, seconds and notes."""
    from skyield.model_selection import backtest

    estimator = entry.build(args.seed, args.device, maturities)
    progress = ModelProgress(label, mode, sys.stderr if mode == "bar" else sys.stdout)
    started = time.perf_counter()
    (results, fits), notes, n_warnings = _recorded(entry.name, lambda: backtest(
        estimator, panel, window=args.window, horizons=horizons,
        refit=False if (entry.fit_once or not args.refit) else args.refit,
        coverage=args.coverage, test_start=args.test_start, n_jobs=args.n_jobs,
        progress=progress, return_estimators=True,
    ))
    seconds = time.perf_counter() - started
    summary = f"{results['origin'].nunique()} origins in {seconds:.1f} s"
    if n_warnings:
        summary += f", {_plural(n_warnings, 'warning')} (see the report)"
    progress.close(summary)
    # The model of the first fit, trained on the dates before the test start: the one
    # whose insides the report shows.
    first = fits[0]["estimator"]
    first = first[None] if isinstance(first, dict) else first
    return results.assign(model=entry.name), first, seconds, notes


def _diagnostic_figures(entry, model, context):
    """The report figures of one fitted model (none without diagnostics) and notes."""
    if entry.diagnostics is None:
        return [], []
    figures, notes, _ = _recorded(f"{entry.name} (figures)",
                                  lambda: DIAGNOSTICS[entry.diagnostics](model, context))
    return [(entry.name, caption, figure) for caption, figure in figures], notes


def run_benchmark(args):
    """Run the benchmark described by parsed command-line ``args``."""
    horizons = _check_arguments(args)
    models = resolve_models(args.models)
    panel = load_panel(args.dataset, args.freq, args.maturities, args.start, args.end)
    if panel.isna().any().any():
        gaps = panel.columns[panel.isna().any()].tolist()
        raise ValueError(
            f"the panel has missing values in maturities {gaps} between {args.start} and "
            f"{args.end or 'the end'}; choose --maturities or --start without gaps")
    test_start = _first_test_date(panel, args.test_start)
    folder = _prepare_output(args.output, args.overwrite)
    maturities = np.asarray(panel.columns, dtype=float)
    _say(args, f"skyield benchmark: {args.dataset} ({args.freq}), {len(panel)} dates "
               f"{panel.index[0]:%Y-%m-%d} .. {panel.index[-1]:%Y-%m-%d}, maturities "
               f"{', '.join(f'{m:g}' for m in maturities)}; test from {args.test_start}; "
               f"horizons {horizons}")
    frames, seconds, warning_notes, diagnostics = [], {}, [], []
    mode = progress_mode(args.quiet)
    context = RunContext(panel=panel, test_start=test_start,
                         window=args.window, horizons=horizons)
    # The models work on small matrices, for which multi-threaded BLAS and torch cost more
    # in thread start-up and contention than they save; parallelism comes from --n-jobs.
    with threadpool_limits(limits=1, user_api="blas"), _torch_threads(1):
        for number, entry in enumerate(models, start=1):
            label = f"[{number}/{len(models)}] {entry.name}"
            results, model, seconds[entry.name], notes = _run_model(
                entry, args, panel, maturities, horizons, label, mode)
            frames.append(results)
            warning_notes += notes
            figures, notes = _diagnostic_figures(entry, model, context)
            diagnostics += figures
            warning_notes += notes
    results = pd.concat(frames, ignore_index=True)
    table = leaderboard(results, seconds)
    summary = summary_lines(table)
    _say(args, "\n" + format_leaderboard(table) + "\n\n" + "\n".join(summary))
    for line in warning_notes:
        _say(args, f"warning: {line}")
    settings = {
        "dataset": args.dataset, "frequency": args.freq,
        "maturities": ", ".join(f"{m:g}" for m in maturities),
        "span": f"{panel.index[0]:%Y-%m-%d} .. {panel.index[-1]:%Y-%m-%d}",
        "test start": args.test_start, "horizons": ", ".join(map(str, horizons)),
        "window": args.window, "refit every": args.refit or "never (fit once)",
        "coverage": args.coverage, "seed": args.seed, "device": args.device,
        "skyield": __version__,
    }
    table.to_csv(folder / "leaderboard.csv", index=False)
    results_to_frames(results).to_csv(folder / "forecasts.csv", index=False)
    written = ["leaderboard.csv", "forecasts.csv"]
    try:
        results_to_frames(results).to_parquet(folder / "forecasts.parquet", index=False)
        written.append("forecasts.parquet")
    except ImportError:
        _say(args, "forecasts.parquet not written: pandas found no Parquet engine (pyarrow)")
    write_report(folder / "report.html", title=f"skyield benchmark: {args.dataset}",
                 settings=settings, table=table, results=results, horizons=horizons,
                 notes=[f"{e.name}: {e.description}" for e in models],
                 diagnostics=diagnostics, warnings=warning_notes, summary=summary)
    written.append("report.html")
    with open(folder / "run.json", "w", encoding="utf-8") as handle:
        json.dump({"settings": settings, "command": sys.argv, "seconds": seconds,
                   "warnings": warning_notes, "cwd": os.getcwd()}, handle, indent=2,
                  default=str)
    written.append("run.json")
    _say(args, f"\nwrote {', '.join(written)} to {folder}")
    return 0

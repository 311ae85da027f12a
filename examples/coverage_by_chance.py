"""How far each interval row of a benchmark run may stray from its nominal coverage by chance.

A row's PICP (one model, one horizon, one dataset) is a share of covered outcomes over a
finite test span. Even exact intervals miss their nominal coverage on such a span, and by
more than a binomial count suggests: the ``h``-step errors of consecutive origins
overlap, and the maturities (and curves) of one date move together. For every row of a
``skyield benchmark`` output folder this script draws the PICPs that exactly calibrated
intervals would reach with the row's own structure (``skyield.metrics.
simulate_calibrated_picp``: the row's number of origins, its horizon, and the correlation
of the model's errors across the series of one origin) and reports:

- the central 95% range of those PICPs;
- ``p exact``: the share of draws at least as far from the nominal coverage as the row's
  PICP, a two-sided p-value of exact calibration;
- ``P(outside)``: the chance that exact intervals land farther than ``--tolerance`` from
  the nominal coverage.

Summed over the rows, ``P(outside)`` is the number of rows that exact intervals would be
expected to leave outside the tolerance; the script prints it beside the observed count.

Usage::

    skyield benchmark --conformal --output run
    python examples/coverage_by_chance.py run --markdown run/coverage_by_chance.md
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from skyield.metrics import picp, simulate_calibrated_picp


def read_run(folder):
    """The forecast rows of a benchmark output folder and the run's nominal coverage."""
    folder = Path(folder)
    path = folder / "forecasts.csv"
    if not path.exists():
        raise FileNotFoundError(f"{folder}: no forecasts.csv; is it a `skyield benchmark` "
                                f"output folder?")
    rows = pd.read_csv(path, low_memory=False)  # "family" is empty for single-curve data
    if "dataset" not in rows:
        rows["dataset"] = "-"
    coverage = None
    info = folder / "run.json"
    if info.exists():
        coverage = json.loads(info.read_text()).get("settings", {}).get("coverage")
    return rows, coverage


def error_correlation(rows):
    """Correlation across series of one model's errors, origins in rows, series in columns.

    The series of an origin are its maturities (and curves, for a multi-curve panel);
    every origin must have every series, and every series must vary.
    """
    keys = ["series"] + (["family"] if "family" in rows and rows["family"].notna().any()
                         else [])
    errors = rows.pivot_table(index="origin", columns=keys, values="error", aggfunc="first",
                              dropna=False)
    if errors.isna().any().any():
        origin = errors.index[errors.isna().any(axis=1)][0]
        raise ValueError(f"the errors are incomplete: origin {origin} lacks a series")
    if (errors.std() == 0).any():
        series = errors.columns[(errors.std() == 0).to_numpy()][0]
        raise ValueError(f"the errors of series {series} do not vary, so their "
                         f"correlation is undefined")
    return np.atleast_2d(np.corrcoef(errors.to_numpy().T)), len(errors)


def coverage_by_chance(rows, coverage, *, tolerance=0.03, n_draws=2000, random_state=0):
    """One line per (dataset, model, horizon) with intervals: PICP against exact intervals."""
    lines = []
    with_intervals = rows.dropna(subset=["lower", "upper"])
    for (dataset, model, horizon), group in with_intervals.groupby(
            ["dataset", "model", "horizon"], sort=False):
        try:
            correlation, n_dates = error_correlation(group)
        except ValueError as error:
            raise ValueError(f"{dataset}, {model}, horizon {horizon}: {error}") from None
        draws = simulate_calibrated_picp(n_dates, correlation, horizon=int(horizon),
                                         coverage=coverage, n_draws=n_draws,
                                         random_state=random_state)
        observed = float(picp(group["actual"].to_numpy(), group["lower"].to_numpy(),
                              group["upper"].to_numpy()))
        distance = abs(observed - coverage)
        low, high = np.quantile(draws, [0.025, 0.975])
        lines.append(dict(
            dataset=dataset, model=model, horizon=int(horizon), origins=n_dates,
            series=correlation.shape[0], picp=observed, coverage_error=observed - coverage,
            exact_low=low, exact_high=high,
            # draws within rounding of the observed distance count as "as far"
            p_exact=float(np.mean(np.abs(draws - coverage) >= distance - 1e-12)),
            p_outside=float(np.mean(np.abs(draws - coverage) > tolerance)),
            outside=distance > tolerance))
    return pd.DataFrame(lines)


def expected_outside(table):
    """Per dataset and in all: rows outside the tolerance, expected under exact intervals
    and observed."""
    counts = table.groupby("dataset", sort=False).agg(
        rows=("picp", "size"), expected=("p_outside", "sum"), observed=("outside", "sum"))
    counts.loc["all"] = counts.sum()
    return counts


def markdown(table, coverage, tolerance):
    lines = [f"| dataset | model | h | origins | series | PICP | exact intervals: 95% range "
             f"| p exact | P(outside {tolerance:g}) |", "|---|---|---:|---:|---:|---:|---|---:|---:|"]
    for row in table.itertuples():
        mark = " **outside**" if row.outside else ""
        lines.append(f"| {row.dataset} | {row.model} | {row.horizon} | {row.origins} "
                     f"| {row.series} | {row.picp:.3f}{mark} | {row.exact_low:.3f}-"
                     f"{row.exact_high:.3f} | {row.p_exact:.3f} | {row.p_outside:.2f} |")
    counts = expected_outside(table)
    lines += ["", f"| dataset | rows | outside {tolerance:g} of {coverage:g}, expected "
                  f"with exact intervals | observed |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {int(c.rows)} | {c.expected:.1f} | {int(c.observed)} |"
              for name, c in counts.iterrows()]
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="output folder of `skyield benchmark`")
    parser.add_argument("--coverage", type=float, default=None,
                        help="nominal coverage (default: the run's, from run.json)")
    parser.add_argument("--tolerance", type=float, default=0.03)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", default=None, help="write the tables to this file")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --markdown file")
    args = parser.parse_args(argv)
    if args.markdown and Path(args.markdown).exists() and not args.overwrite:
        parser.error(f"{args.markdown} already exists; pass --overwrite to replace it")
    return args


def main(argv=None):
    args = parse_args(argv)
    rows, run_coverage = read_run(args.run)
    coverage = args.coverage if args.coverage is not None else run_coverage
    if coverage is None:
        raise ValueError(f"{args.run}: run.json gives no coverage; pass --coverage")
    table = coverage_by_chance(rows, coverage, tolerance=args.tolerance,
                               n_draws=args.draws, random_state=args.seed)
    text = markdown(table, coverage, args.tolerance)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return table


if __name__ == "__main__":
    main()

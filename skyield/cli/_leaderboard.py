"""Leaderboard of a benchmark: accuracy by horizon, interval quality, Diebold-Mariano p-values."""

import numpy as np
import pandas as pd

from skyield.metrics import (
    adjust_pvalues,
    diebold_mariano,
    mean_absolute_error,
    mpiw,
    picp,
    root_mean_squared_error,
)

BASELINE = "random-walk"


def _per_origin_rmse(rows):
    """Root of the mean squared error over series, per origin (the loss series of DM)."""
    return rows.groupby("origin").apply(
        lambda group: root_mean_squared_error(group["actual"].to_numpy(),
                                              group["forecast"].to_numpy()),
        include_groups=False)


def leaderboard(results, fit_times, coverage=None):
    """Summarise backtest rows of several models.

    Parameters
    ----------
    results : DataFrame
        Backtest rows with a ``model`` column.
    fit_times : dict of {model: float}
        Wall-clock seconds each model's backtest took.
    coverage : float, default=None
        Nominal coverage of the intervals in ``results``; with it, the table gets the
        calibration column ``coverage_error``, PICP minus ``coverage`` (positive: the
        intervals cover more often than they claim). Rows recalibrated by
        :func:`skyield.calibration.conformalize_backtest` (with its ``conformal``
        column) add ``conformal_share``, the share of rows whose interval was
        recalibrated (the others, too early to have enough past errors, keep the model's).

    Returns
    -------
    table : DataFrame
        One row per (model, horizon): ``rmse``, ``mae``, ``picp`` and ``mpiw`` (when the
        model gives intervals), ``coverage_error`` (with ``coverage``), ``dm_stat`` and
        ``dm_pvalue`` of the Diebold-Mariano test of equal squared error against the
        random walk (two-sided, with the Harvey-Leybourne-Newbold correction, on the
        per-origin RMSE over series), and
        ``seconds`` (the whole backtest of the model).
    """
    rows = []
    baseline = results[results["model"] == BASELINE]
    for (model, horizon), group in results.groupby(["model", "horizon"], sort=False):
        actual, forecast = group["actual"].to_numpy(), group["forecast"].to_numpy()
        row = {"model": model, "horizon": int(horizon),
               "rmse": float(root_mean_squared_error(actual, forecast)),
               "mae": float(mean_absolute_error(actual, forecast))}
        if {"lower", "upper"} <= set(group.columns) and group["lower"].notna().all():
            lower, upper = group["lower"].to_numpy(), group["upper"].to_numpy()
            row["picp"] = float(picp(actual, lower, upper))
            row["mpiw"] = float(mpiw(lower, upper))
        else:
            row["picp"] = row["mpiw"] = np.nan
        if coverage is not None:
            row["coverage_error"] = row["picp"] - coverage
        if "conformal" in group:
            row["conformal_share"] = float(group["conformal"].mean())
        row["dm_stat"] = row["dm_pvalue"] = np.nan
        if model != BASELINE and not baseline.empty:
            ours = _per_origin_rmse(group)
            theirs = _per_origin_rmse(baseline[baseline["horizon"] == horizon])
            common = ours.index.intersection(theirs.index)
            if len(common) > max(2, int(horizon)):  # the test needs more origins than h
                test = diebold_mariano(ours.loc[common].to_numpy(),
                                       theirs.loc[common].to_numpy(), h=int(horizon))
                row["dm_stat"], row["dm_pvalue"] = float(test.statistic), float(test.pvalue)
        row["seconds"] = float(fit_times.get(model, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def format_leaderboard(table):
    """Render the leaderboard as a plain-text table, one block per horizon."""
    blocks = []
    for horizon, group in table.groupby("horizon", sort=True):
        shown = group.drop(columns="horizon").set_index("model").sort_values("rmse")
        blocks.append(f"horizon {horizon}\n" + shown.to_string(
            float_format=lambda value: f"{value:.4f}", na_rep="-"))
    return "\n\n".join(blocks)


def summary_lines(table, level=0.05):
    """One sentence per horizon: the lowest RMSE and which models beat the random walk.

    A model beats (trails) the random walk when the Diebold-Mariano test rejects equal
    loss at ``level`` and its statistic is negative (positive).
    """
    lines = []
    for horizon, group in table.groupby("horizon", sort=True):
        best = group.loc[group["rmse"].idxmin()]
        reference = group[group["model"] == BASELINE]
        text = f"horizon {horizon}: lowest RMSE {best['model']} ({best['rmse']:.4f}"
        if best["model"] != BASELINE and not reference.empty:
            text += (f", random walk {reference['rmse'].iloc[0]:.4f}, "
                     f"Diebold-Mariano p = {best['dm_pvalue']:.3f}")
        text += ")."
        if not reference.empty:
            verdict = against_random_walk(group, level)
            better = group.loc[verdict == "better", "model"].tolist()
            worse = group.loc[verdict == "worse", "model"].tolist()
            text += (f" Better than the random walk at the {level:.0%} level: "
                     f"{', '.join(better) or 'none'}; worse: {', '.join(worse) or 'none'}.")
        lines.append(text)
    return lines


def against_random_walk(rows, level=0.05):
    """``"better"`` or ``"worse"`` than the random walk for each row of a leaderboard or
    summary, ``""`` where the Diebold-Mariano test does not reject equal loss at ``level``
    (or did not run): the sign of its statistic says which way (negative: smaller loss).

    The one rule behind every verdict of the leaderboard, the summary and the report.
    """
    rejected = (rows["dm_pvalue"] < level).to_numpy()
    direction = np.where(rows["dm_stat"].to_numpy() < 0, "better", "worse")
    return np.where(rejected, direction, "")


def cross_dataset_summary(tables):
    """Every model against the random walk on every dataset, in one table.

    Parameters
    ----------
    tables : dict of {dataset: DataFrame}
        The :func:`leaderboard` of each dataset.

    Returns
    -------
    summary : DataFrame
        One row per (dataset, model, horizon) of the models other than the random walk:
        ``relative_rmse`` (RMSE over the random walk's on the same dataset and horizon),
        ``dm_stat``, ``dm_pvalue``, and ``holm_pvalue``, the p-value adjusted by Holm's
        step-down rule over every test of the table
        (:func:`skyield.metrics.adjust_pvalues`): a model beats the random walk over the
        whole family of tests at level ``alpha`` when ``holm_pvalue < alpha`` and
        ``dm_stat < 0``.
    """
    rows = []
    for dataset, table in tables.items():
        reference = table[table["model"] == BASELINE].set_index("horizon")["rmse"]
        for row in table[table["model"] != BASELINE].itertuples(index=False):
            rows.append({"dataset": dataset, "model": row.model, "horizon": row.horizon,
                         "rmse": row.rmse,
                         "relative_rmse": row.rmse / reference.get(row.horizon, np.nan),
                         "dm_stat": row.dm_stat, "dm_pvalue": row.dm_pvalue})
    columns = ["dataset", "model", "horizon", "rmse", "relative_rmse", "dm_stat",
               "dm_pvalue", "holm_pvalue"]
    if not rows:
        return pd.DataFrame(columns=columns)
    summary = pd.DataFrame(rows)
    summary["holm_pvalue"] = adjust_pvalues(summary["dm_pvalue"].to_numpy(dtype=float))
    return summary[columns]


def summary_verdict(summary, level=0.05):
    """Sentences on the cross-dataset summary: significant wins and losses against the
    random walk, before and after the multiple-comparison adjustment."""
    tested = summary["dm_pvalue"].notna()
    n_tests = int(tested.sum())

    def listed(rows):
        return ", ".join(f"{r.model} at horizon {r.horizon} on {r.dataset} (RMSE ratio "
                         f"{r.relative_rmse:.3f}, p = {r.dm_pvalue:.3f}, Holm "
                         f"{r.holm_pvalue:.3f})" for r in rows.itertuples()) or "none"

    verdict = against_random_walk(summary, level)
    better = summary[verdict == "better"]
    worse = summary[verdict == "worse"]
    held = better[better["holm_pvalue"] < level]
    return [
        f"{n_tests} Diebold-Mariano tests against the random walk at the {level:.0%} level "
        f"(about {level * n_tests:.1f} would reject by chance alone if every model were as "
        f"accurate as the random walk).",
        f"Significantly better than the random walk: {listed(better)}.",
        f"Still better after Holm's adjustment over all {n_tests} tests: {listed(held)}.",
        f"Significantly worse: {len(worse)} of the {n_tests} tests.",
    ]

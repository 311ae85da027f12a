"""Plots of rolling-origin backtest results (the tidy output of ``backtest``)."""

import numpy as np
import pandas as pd


def _axes(ax, figsize=(7, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _check_columns(results, columns):
    missing = [c for c in columns if c not in results.columns]
    if missing:
        raise ValueError(f"results have no column(s) {missing}")


def plot_rmse_by_maturity(results, horizon, *, model_column="model", ax=None):
    """Out-of-sample RMSE per maturity at one horizon, one line per model.

    Parameters
    ----------
    results : DataFrame
        Backtest rows of one or several models, with columns ``model_column``,
        ``horizon``, ``series`` (maturity in years) and ``error``.
    horizon : int
        The horizon to show.
    model_column : str, default="model"
        Column naming the model of each row.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes
    """
    _check_columns(results, [model_column, "horizon", "series", "error"])
    chosen = results[results["horizon"] == horizon]
    if chosen.empty:
        raise ValueError(f"results have no rows at horizon {horizon}")
    ax = _axes(ax)
    table = (chosen.assign(squared=chosen["error"] ** 2)
             .groupby([model_column, "series"], sort=True)["squared"].mean() ** 0.5)
    for model, rmse in table.groupby(level=0, sort=False):
        maturities = rmse.index.get_level_values("series").astype(float)
        ax.plot(maturities, rmse.to_numpy(), marker="o", label=model)
    ax.set_xlabel("maturity (years)")
    ax.set_ylabel("RMSE (percentage points)")
    ax.set_title(f"Out-of-sample RMSE by maturity, horizon {horizon}")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_fan_chart(results, series, horizon, *, lower="lower", upper="upper", ax=None,
                   label=None):
    """Forecasts of one series at one horizon with their interval, against the actuals.

    Parameters
    ----------
    results : DataFrame
        Backtest rows of ONE model with columns ``target_date``, ``horizon``, ``series``,
        ``forecast``, ``actual`` and the interval columns.
    series : float or label
        The series (maturity) to show.
    horizon : int
        The horizon to show.
    lower, upper : str, default="lower", "upper"
        Interval columns (e.g. ``"q0.025"`` and ``"q0.975"``); the band is omitted when
        they are absent or hold missing values (a model without intervals).
    ax : matplotlib Axes, default=None
    label : str, default=None
        Title of the panel.

    Returns
    -------
    ax : matplotlib Axes
    """
    _check_columns(results, ["target_date", "horizon", "series", "forecast", "actual"])
    chosen = results[(results["horizon"] == horizon) & (results["series"] == series)]
    if chosen.empty:
        raise ValueError(f"results have no rows for series {series!r} at horizon {horizon}")
    chosen = chosen.sort_values("target_date")
    dates = pd.to_datetime(chosen["target_date"])
    ax = _axes(ax)
    if lower in chosen.columns and upper in chosen.columns \
            and chosen[[lower, upper]].notna().all().all():
        ax.fill_between(dates, chosen[lower], chosen[upper], alpha=0.25, color="C0",
                        label="interval")
    ax.plot(dates, chosen["forecast"], color="C0", lw=1, label="forecast")
    ax.plot(dates, chosen["actual"], color="k", lw=1, label="actual")
    ax.set_title(label or f"series {series}, horizon {horizon}")
    ax.set_ylabel("percent")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_rmse_over_time(results, horizon, *, model_column="model", window=12, ax=None):
    """Rolling RMSE (over ``window`` origins, all series pooled) of each model at a horizon."""
    _check_columns(results, [model_column, "horizon", "origin", "error"])
    chosen = results[results["horizon"] == horizon]
    ax = _axes(ax)
    for model, rows in chosen.groupby(model_column, sort=False):
        per_origin = rows.assign(squared=rows["error"] ** 2).groupby("origin")["squared"].mean()
        rolling = np.sqrt(per_origin.rolling(window, min_periods=window).mean())
        ax.plot(pd.to_datetime(rolling.index), rolling.to_numpy(), label=model, lw=1)
    ax.set_ylabel("RMSE (percentage points)")
    ax.set_title(f"Rolling {window}-origin RMSE, horizon {horizon}")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax

"""Plots of attention weights over window positions (lags).

The attention arrays follow :meth:`skyield.models.LSTMAttentionRegressor.get_attention`:
shape (n_samples, n_outputs, n_lags), where column ``j`` is lag ``n_lags - 1 - j`` (the
last column is the forecast origin ``t``). Labels follow the seed's heatmaps: rows
``t+1 .. t+k`` for the forecast steps and columns ``t-51 .. t`` for a 52-week window.
"""

import numpy as np

__all__ = ["plot_attention_heatmap", "plot_max_attention", "plot_attention_over_time"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _check_attention(attention, ndim, name="attention"):
    values = np.asarray(attention, dtype=float)
    if values.ndim != ndim:
        expected = {2: "(n_outputs, n_lags)", 3: "(n_samples, n_outputs, n_lags)"}[ndim]
        raise ValueError(f"{name} must have shape {expected}, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains non-finite values")
    return values


def _lag_ticks(n_lags, every=10):
    """Positions (cell centres) and labels of the lags t, t-every, ... back to the oldest."""
    lags = np.arange(0, n_lags, every)
    positions = n_lags - 1 - lags + 0.5
    labels = ["t" if lag == 0 else f"t-{lag}" for lag in lags]
    return positions[::-1], labels[::-1]


def _lag_axis_label(n_lags):
    return f"x: t-{n_lags - 1} to t" if n_lags > 1 else "x: t"


def plot_attention_heatmap(attention, *, ax=None, title=None, cmap="inferno", every=10):
    """Heatmap of the attention of one forecast: forecast steps against window lags.

    Parameters
    ----------
    attention : array-like of shape (n_outputs, n_lags)
        Attention of one sample, e.g. ``model.get_attention(X)[i]``.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    title : str, default=None
        Axes title.
    cmap : str, default="inferno"
        Colour map (the seed's).
    every : int, default=10
        Spacing of the lag tick labels.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skyield.plotting import plot_attention_heatmap
    >>> weights = np.full((4, 52), 1 / 52)
    >>> ax = plot_attention_heatmap(weights)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['t+1', 't+2', 't+3', 't+4']
    """
    values = _check_attention(attention, 2)
    n_outputs, n_lags = values.shape
    ax = _axes(ax)
    mesh = ax.pcolormesh(values, cmap=cmap, vmin=0.0)
    ax.figure.colorbar(mesh, ax=ax, label="attention")
    ax.set_yticks(np.arange(n_outputs) + 0.5, [f"t+{k + 1}" for k in range(n_outputs)])
    ax.set_ylabel(f"y: t+1 to t+{n_outputs}" if n_outputs > 1 else "y: t+1")
    for row in range(1, n_outputs):
        ax.axhline(row, color="w", linewidth=1)
    positions, labels = _lag_ticks(n_lags, every)
    ax.set_xticks(positions, labels)
    ax.set_xlabel(_lag_axis_label(n_lags))
    if title is not None:
        ax.set_title(title)
    return ax


def plot_max_attention(attention, *, step=None, ax=None, title=None, every=10, **bar_kwargs):
    """Maximum attention given to each lag over a set of forecasts.

    Parameters
    ----------
    attention : array-like of shape (n_samples, n_outputs, n_lags)
        Attention of many forecasts (``model.get_attention(X)``).
    step : int, default=None
        Forecast step (0 for ``t+1``) to summarise; None takes the maximum over all steps.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    title : str, default=None
        Axes title.
    every : int, default=10
        Spacing of the lag tick labels.
    **bar_kwargs
        Passed to ``ax.bar``.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skyield.plotting import plot_max_attention
    >>> ax = plot_max_attention(np.full((10, 1, 52), 1 / 52))
    >>> len(ax.patches)
    52
    """
    values = _check_attention(attention, 3)
    if step is not None:
        if not -values.shape[1] <= step < values.shape[1]:
            raise ValueError(f"step={step} is out of range for {values.shape[1]} forecast step(s)")
        values = values[:, [step]]
    peak = values.max(axis=(0, 1))
    n_lags = peak.shape[0]
    ax = _axes(ax)
    ax.bar(np.arange(n_lags) + 0.5, peak, width=0.8, **bar_kwargs)
    positions, labels = _lag_ticks(n_lags, every)
    ax.set_xticks(positions, labels)
    ax.set_xlim(0, n_lags)
    ax.set_xlabel(_lag_axis_label(n_lags))
    ax.set_ylabel("maximum attention")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_attention_over_time(attention, dates=None, *, step=0, ax=None, title=None,
                             cmap="inferno", vmax=None, every=10):
    """Attention of successive forecasts: forecast origins against window lags.

    Parameters
    ----------
    attention : array-like of shape (n_samples, n_outputs, n_lags)
        Attention of forecasts made at successive origins (rows in time order).
    dates : array-like of shape (n_samples,), default=None
        Forecast origins (e.g. ``Windows.origins``); sample positions when None.
    step : int, default=0
        Forecast step to show (0 for ``t+1``).
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    title : str, default=None
        Axes title.
    cmap : str, default="inferno"
        Colour map.
    vmax : float, default=None
        Top of the colour scale (the largest weight when None); a lower value keeps a few
        sharp weights from darkening the rest.
    every : int, default=10
        Spacing of the lag tick labels.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skyield.plotting import plot_attention_over_time
    >>> dates = pd.date_range("2013-01-04", periods=20, freq="W-FRI")
    >>> ax = plot_attention_over_time(np.full((20, 1, 52), 1 / 52), dates)
    >>> ax.get_ylabel()
    'lag'
    """
    values = _check_attention(attention, 3)
    n_samples, n_outputs, n_lags = values.shape
    if not -n_outputs <= step < n_outputs:
        raise ValueError(f"step={step} is out of range for {n_outputs} forecast step(s)")
    if dates is None:
        x = np.arange(n_samples + 1) - 0.5
    else:
        dates = np.asarray(dates)
        if dates.shape != (n_samples,):
            raise ValueError(
                f"dates must have one entry per forecast ({n_samples}), got shape {dates.shape}"
            )
        if n_samples > 1:
            # Cell edges halfway between origins, extended by half a step at both ends.
            centres = dates.astype("datetime64[ns]")
            middle = centres[:-1] + (centres[1:] - centres[:-1]) / 2
            x = np.concatenate([[centres[0] - (middle[0] - centres[0])], middle,
                                [centres[-1] + (centres[-1] - middle[-1])]])
        else:
            start = dates.astype("datetime64[ns]")[0]
            x = np.asarray([start, start + np.timedelta64(1, "D")])
    ax = _axes(ax)
    mesh = ax.pcolormesh(x, np.arange(n_lags + 1), values[:, step].T, cmap=cmap, vmin=0.0,
                         vmax=vmax)
    ax.figure.colorbar(mesh, ax=ax, label="attention")
    positions, labels = _lag_ticks(n_lags, every)
    ax.set_yticks(positions, labels)
    ax.set_ylabel("lag")
    ax.set_xlabel("forecast origin")
    if title is not None:
        ax.set_title(title)
    return ax

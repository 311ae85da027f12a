"""Plots of the dynamic-factor Transformer's results (seed 002, Figures 7-15).

They draw the outputs of
:class:`~skyield.models._factor_transformer.FactorTransformer`:
:meth:`get_attention` matrices (Figures 8, 11, 20), :meth:`attention_contributions` over
time (Figures 9, 10, 12, 13), :meth:`residual_stream` (Figure 14), :meth:`project`
tentacles (Figure 7, right), factor estimates of several runs (Figure 7, left) and shaded
periods such as NBER recessions. Every function takes ``ax=None`` and returns the Axes;
matplotlib is imported only when a function is called.
"""

import numpy as np
import pandas as pd

__all__ = [
    "plot_attention_contributions",
    "plot_attention_matrix",
    "plot_factor_runs",
    "plot_residual_stream",
    "plot_tentacles",
    "shade_periods",
]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _lag_labels(window):
    return [f"t-{window - 1 - p}" if p < window - 1 else "t" for p in range(window)]


def plot_attention_matrix(matrix, *, kind="state", variable_names=None, ax=None, title=None,
                          cmap="Blues", annotate=True):
    """Heatmap of one date's State or Measurement attention matrix (Figures 8 and 11).

    Parameters
    ----------
    matrix : array-like of shape (window, n_series)
        One date of ``model.get_attention(Y)["state"]`` or ``["measurement"]``; row ``p``
        is lag ``window - 1 - p``.
    kind : {"state", "measurement"}, default="state"
        Labels the axes: the State matrix weighs each variable-lag token for the factor
        at ``t``; column ``i`` of the Measurement matrix weighs the factor lags for the
        prediction of series ``i`` at ``t + 1``.
    variable_names : list of str, default=None
        Column labels; ``y1 .. yk`` when None.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    title : str, default=None
        Axes title.
    cmap : str, default="Blues"
        Colour map (darker is more attention).
    annotate : bool, default=True
        Write the weights in the cells.

    Returns
    -------
    ax : matplotlib Axes
    """
    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2 or not np.all(np.isfinite(values)):
        raise ValueError(
            f"matrix must be a finite array of shape (window, n_series), got shape "
            f"{values.shape}; pick a date with a full window"
        )
    if kind not in ("state", "measurement"):
        raise ValueError(f"kind must be 'state' or 'measurement', got {kind!r}")
    window, n_series = values.shape
    names = list(variable_names) if variable_names is not None else \
        [f"y{i + 1}" for i in range(n_series)]
    if len(names) != n_series:
        raise ValueError(f"variable_names has {len(names)} names for {n_series} columns")
    ax = _axes(ax)
    image = ax.imshow(values, cmap=cmap, aspect="auto", vmin=0.0)
    ax.figure.colorbar(image, ax=ax)
    ax.set_yticks(range(window), _lag_labels(window))
    if kind == "state":
        ax.set_xticks(range(n_series), names)
        ax.set_xlabel("variable")
        ax.set_ylabel("lag")
    else:
        ax.set_xticks(range(n_series), [f"{name}(t+1)" for name in names])
        ax.set_xlabel("prediction")
        ax.set_ylabel("factor lag")
    if annotate:
        threshold = 0.6 * values.max()
        for p in range(window):
            for i in range(n_series):
                ax.text(i, p, f"{values[p, i]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if values[p, i] > threshold else "black")
    ax.set_title(title if title is not None else f"{kind.capitalize()} attention")
    return ax


def plot_attention_contributions(contributions, *, ax=None, title=None, stacked=False,
                                 **plot_kwargs):
    """Attention contributions of variables or lags over time (Figures 9, 10 and 12).

    Parameters
    ----------
    contributions : DataFrame of shape (n_dates, n_columns)
        Output of ``model.attention_contributions(Y, ...)``; rows without a full window
        (NaN) are left out.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    title : str, default=None
        Axes title.
    stacked : bool, default=False
        Stacked areas (the rows sum to one) instead of lines.
    **plot_kwargs
        Passed to ``DataFrame.plot``.

    Returns
    -------
    ax : matplotlib Axes
    """
    if not isinstance(contributions, pd.DataFrame):
        raise ValueError("contributions must be the DataFrame of attention_contributions")
    frame = contributions.dropna(how="any")
    if frame.empty:
        raise ValueError("contributions has no date with a full window")
    ax = _axes(ax)
    if stacked:
        frame.plot.area(ax=ax, linewidth=0, **plot_kwargs)
    else:
        frame.plot(ax=ax, linewidth=1.0, **plot_kwargs)
    ax.set_ylabel("attention")
    ax.legend(loc="upper left", fontsize=7, ncol=min(len(frame.columns), 5))
    if title is not None:
        ax.set_title(title)
    return ax


def plot_residual_stream(stream, *, true_factor=None, ax=None, title=None):
    """Factor representations along the State Encoder's residual stream (Figure 14).

    Parameters
    ----------
    stream : DataFrame of shape (window, n_stages)
        Output of ``model.residual_stream(Y, date)``.
    true_factor : array-like of shape (window,), default=None
        The true (or a reference) factor over the window, drawn in red.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    title : str, default=None
        Axes title.

    Returns
    -------
    ax : matplotlib Axes
    """
    if not isinstance(stream, pd.DataFrame):
        raise ValueError("stream must be the DataFrame of residual_stream")
    ax = _axes(ax)
    for column in stream.columns:
        final = column.startswith("FFN")
        ax.plot(stream.index, stream[column], label=column,
                linewidth=2.0 if final else 1.0, marker="o", markersize=3)
    if true_factor is not None:
        truth = np.asarray(true_factor, dtype=float)
        if truth.shape != (len(stream),):
            raise ValueError(f"true_factor must have shape ({len(stream)},), "
                             f"got {truth.shape}")
        ax.plot(stream.index, truth, color="red", linewidth=2.0, label="x")
    ax.legend(fontsize=7)
    ax.set_ylabel("factor")
    ax.set_title(title if title is not None else "Residual stream")
    return ax


def _future_labels(index, positions, steps):
    """Labels of rows ``positions + 0..steps`` of ``index``, extended past its end."""
    if index is None:
        return np.asarray(positions)[:, None] + np.arange(steps + 1)
    index = pd.Index(index)
    last = int(np.max(positions)) + steps
    if last >= len(index):
        extra = last - len(index) + 1
        if isinstance(index, pd.DatetimeIndex):
            freq = index.freq or pd.infer_freq(index)
            if freq is None:
                raise ValueError("index has no regular frequency to extend the projections")
            future = pd.date_range(index[-1], periods=extra + 1, freq=freq)[1:]
        else:
            future = pd.RangeIndex(len(index), len(index) + extra)
        index = index.append(future)
    rows = np.asarray(positions)[:, None] + np.arange(steps + 1)
    return np.asarray(index)[rows]


def plot_tentacles(projection, *, factor=None, index=None, every=1, ax=None, title=None,
                   color="tab:blue"):
    """Real-time factor projections from each origin (Figure 7, right).

    Parameters
    ----------
    projection : Bunch
        Output of ``model.project(Y, steps)``.
    factor : array-like of shape (n_dates,) or DataFrame, default=None
        The factor estimate over the whole panel (e.g. ``model.transform(Y)``), drawn as
        a thick line.
    index : pandas Index of length n_dates, default=None
        The panel's dates; projections beyond its end follow its frequency. None plots
        against row positions.
    every : int, default=1
        Draw every ``every``-th origin.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    title : str, default=None
        Axes title.
    color : str, default="tab:blue"
        Colour of the tentacles.

    Returns
    -------
    ax : matplotlib Axes
    """
    paths = np.asarray(projection.factor, dtype=float)
    positions = np.asarray(projection.positions)
    if paths.ndim != 2 or paths.shape[0] != positions.size:
        raise ValueError("projection must be the Bunch returned by FactorTransformer.project")
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}")
    ax = _axes(ax)
    labels = _future_labels(index, positions, paths.shape[1] - 1)
    for row in range(0, paths.shape[0], every):
        ax.plot(labels[row], paths[row], color=color, linewidth=0.7, alpha=0.6)
        ax.plot(labels[row][:1], paths[row][:1], "o", color=color, markersize=2)
    if factor is not None:
        values = np.asarray(factor, dtype=float).ravel()
        x = np.asarray(index) if index is not None else np.arange(values.size)
        ax.plot(x, values, color="black", linewidth=1.5, label="factor estimate")
        ax.legend(fontsize=7)
    ax.set_ylabel("factor")
    ax.set_title(title if title is not None else "Real-time projections")
    return ax


def plot_factor_runs(factor, runs=None, *, truth=None, reference=None, index=None, ax=None,
                     title=None, labels=("Transformer", "true factor", "Kalman")):
    """Model-averaged factor with every training run in thin lines (Figure 7, left).

    Parameters
    ----------
    factor : array-like of shape (n_dates,) or DataFrame of shape (n_dates, 1)
        The averaged estimate (``model.transform(Y)``).
    runs : array-like of shape (n_dates, n_runs) or DataFrame, default=None
        Each run's estimate (``model.transform(Y, return_runs=True)[1]``).
    truth : array-like of shape (n_dates,), default=None
        The true factor (simulations), in red.
    reference : array-like of shape (n_dates,), default=None
        Another estimate (e.g. the Kalman filter's), scaled beforehand, in grey.
    index : pandas Index of length n_dates, default=None
        x values; taken from a DataFrame ``factor`` when None.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    title : str, default=None
        Axes title.
    labels : tuple of str, default=("Transformer", "true factor", "Kalman")
        Legend labels of ``factor``, ``truth`` and ``reference``.

    Returns
    -------
    ax : matplotlib Axes
    """
    if index is None and isinstance(factor, (pd.DataFrame, pd.Series)):
        index = factor.index
    values = np.asarray(factor, dtype=float).ravel()
    x = np.asarray(index) if index is not None else np.arange(values.size)
    if x.shape[0] != values.size:
        raise ValueError(f"index has {x.shape[0]} entries for {values.size} dates")
    ax = _axes(ax)
    if runs is not None:
        run_values = np.asarray(runs, dtype=float)
        if run_values.ndim != 2 or run_values.shape[0] != values.size:
            raise ValueError(f"runs must have shape ({values.size}, n_runs), "
                             f"got {run_values.shape}")
        ax.plot(x, run_values, color="tab:blue", linewidth=0.5, alpha=0.4)
    if reference is not None:
        ax.plot(x, np.asarray(reference, dtype=float).ravel(), color="grey",
                linewidth=1.2, label=labels[2])
    if truth is not None:
        ax.plot(x, np.asarray(truth, dtype=float).ravel(), color="red", linewidth=1.2,
                label=labels[1])
    ax.plot(x, values, color="tab:blue", linewidth=2.0, label=labels[0])
    ax.legend(fontsize=7)
    ax.set_ylabel("factor")
    if title is not None:
        ax.set_title(title)
    return ax


def shade_periods(ax, starts, ends, **span_kwargs):
    """Shade periods such as recessions (``axvspan`` from each start to each end).

    Parameters
    ----------
    ax : matplotlib Axes
        Axes to draw on.
    starts, ends : array-like of the same length
        Start and end of every period (dates or numbers, as the x axis).
    **span_kwargs
        Passed to ``axvspan``; grey with alpha 0.3 by default.

    Returns
    -------
    ax : matplotlib Axes
    """
    starts, ends = list(starts), list(ends)
    if len(starts) != len(ends):
        raise ValueError(f"starts has {len(starts)} entries but ends has {len(ends)}")
    options = {"color": "grey", "alpha": 0.3, "linewidth": 0, **span_kwargs}
    for start, end in zip(starts, ends):
        ax.axvspan(start, end, **options)
    return ax

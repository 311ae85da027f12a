"""Plots of factor models: loadings over maturity and factor estimates over time."""

import numpy as np
import pandas as pd


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _labels(labels, n_factors, what):
    if labels is None:
        return [f"factor {j}" for j in range(n_factors)]
    labels = [str(label) for label in labels]
    if len(labels) != n_factors:
        raise ValueError(f"labels has {len(labels)} entries for {n_factors} {what}")
    return labels


def plot_loadings(maturities, loadings, *, observed=None, labels=None, ax=None, title=None):
    """Factor loadings over maturity, one line per factor.

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,)
        Maturities in years, increasing.
    loadings : array-like of shape (n_maturities, n_factors)
        Loadings at those maturities, e.g. ``NeuralStateSpaceModel.loadings(maturities)``
        or ``GaussianLinearStateSpace.loadings_``.
    observed : array-like, default=None
        Maturities of the training panel, marked with thin vertical lines.
    labels : sequence of str, default=None
        One legend label per factor ("factor 0", "factor 1", ... by default).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None

    Returns
    -------
    ax : matplotlib Axes
    """
    maturities = np.asarray(maturities, dtype=float)
    loadings = np.asarray(loadings, dtype=float)
    if maturities.ndim != 1 or loadings.ndim != 2 or loadings.shape[0] != maturities.size:
        raise ValueError(
            f"loadings must have shape (n_maturities, n_factors) = ({maturities.size}, k) "
            f"for {maturities.size} maturities, got {loadings.shape}")
    names = _labels(labels, loadings.shape[1], "factors")
    ax = _axes(ax, (4, 3))
    style = "o-" if maturities.size < 20 else "-"
    for column, name in zip(loadings.T, names):
        ax.plot(maturities, column, style, ms=3, lw=1.2, label=name)
    for maturity in np.atleast_1d(observed) if observed is not None else ():
        ax.axvline(float(maturity), color="0.85", lw=0.6, zorder=0)
    ax.set_xlabel("maturity (years)")
    ax.set_ylabel("loading")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_factors(factors, *, split=None, labels=None, ax=None, title=None,
                 ylabel="filtered factor"):
    """Factor estimates over time, one line per factor.

    Parameters
    ----------
    factors : DataFrame of shape (n_dates, n_factors)
        Factor estimates indexed by date, e.g. ``NeuralStateSpaceModel.transform(Y)``.
    split : date, default=None
        Last estimation date, drawn as a dashed vertical line.
    labels : sequence of str, default=None
        One legend label per factor (the column labels by default).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None
    ylabel : str, default="filtered factor"

    Returns
    -------
    ax : matplotlib Axes
    """
    if not isinstance(factors, pd.DataFrame):
        raise TypeError(f"factors must be a DataFrame indexed by date, got "
                        f"{type(factors).__name__}")
    names = [str(c) for c in factors.columns] if labels is None \
        else _labels(labels, factors.shape[1], "factor columns")
    ax = _axes(ax, (6, 3))
    for column, name in zip(factors.columns, names):
        ax.plot(factors.index, factors[column], lw=1.0, label=name)
    if split is not None:
        ax.axvline(pd.Timestamp(split), color="k", ls="--", lw=0.8)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    return ax

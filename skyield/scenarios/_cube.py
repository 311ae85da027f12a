"""The container of joint scenario paths: :class:`ScenarioCube`."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ScenarioCube"]


def _as_index(labels, length, name, default_name):
    if labels is None:
        return pd.RangeIndex(1, length + 1, name=default_name)
    index = labels if isinstance(labels, pd.Index) else pd.Index(list(labels))
    if len(index) != length:
        raise ValueError(
            f"{name} has {len(index)} labels but the values have {length} along that axis"
        )
    if index.name is None:
        index = index.rename(default_name)
    return index


@dataclass(frozen=True, eq=False)
class ScenarioCube:
    """Joint scenario paths of a yield curve: paths x horizons x maturities.

    A frozen container: ``values`` is stored as a read-only copy, so a cube handed to
    several consumers (discounting, VaR, plotting) cannot be altered by any of them.

    Parameters
    ----------
    values : array-like of shape (n_paths, n_horizons, n_maturities)
        Simulated yields; ``values[p, h, j]`` is path ``p`` at horizon ``h`` for
        maturity ``j``.
    dates : array-like of shape (n_horizons,) or None, default=None
        Labels of the horizons: the target dates, or horizon numbers. None means
        ``1 .. n_horizons`` (an index named ``"horizon"``).
    maturities : array-like of shape (n_maturities,) or None, default=None
        Labels of the maturities (years or column labels). None means
        ``1 .. n_maturities`` (an index named ``"maturity"``).

    Attributes
    ----------
    n_paths, n_horizons, n_maturities : int
        The lengths of the three axes.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.scenarios import ScenarioCube
    >>> rng = np.random.default_rng(0)
    >>> cube = ScenarioCube(rng.normal(size=(500, 2, 3)), maturities=[1.0, 5.0, 10.0])
    >>> cube.quantile(0.5).shape
    (2, 3)
    >>> cube.to_frame().columns.tolist()
    ['path', 'horizon', 'maturity', 'value']
    >>> np.asarray(cube).shape
    (500, 2, 3)
    """

    values: np.ndarray
    dates: pd.Index = None
    maturities: pd.Index = None

    def __post_init__(self):
        values = np.array(self.values, dtype=float)  # a private copy
        if values.ndim != 3:
            raise ValueError(
                "values must have shape (n_paths, n_horizons, n_maturities), got an array "
                f"of shape {values.shape}"
            )
        if min(values.shape) < 1:
            raise ValueError(f"values must not have an empty axis, got shape {values.shape}")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "dates",
                           _as_index(self.dates, values.shape[1], "dates", "horizon"))
        object.__setattr__(self, "maturities",
                           _as_index(self.maturities, values.shape[2], "maturities",
                                     "maturity"))

    @property
    def n_paths(self):
        return self.values.shape[0]

    @property
    def n_horizons(self):
        return self.values.shape[1]

    @property
    def n_maturities(self):
        return self.values.shape[2]

    @property
    def shape(self):
        """``(n_paths, n_horizons, n_maturities)``."""
        return self.values.shape

    def __array__(self, dtype=None, copy=None):
        if copy is False and dtype is not None and np.dtype(dtype) != self.values.dtype:
            raise ValueError("cannot convert a ScenarioCube to another dtype without a copy")
        values = self.values if dtype is None else self.values.astype(dtype, copy=False)
        return values.copy() if copy else values

    def __repr__(self):
        return (f"ScenarioCube(n_paths={self.n_paths}, {self.dates.name}="
                f"[{self.dates[0]} .. {self.dates[-1]}], maturities={list(self.maturities)})")

    def _frame(self, values):
        return pd.DataFrame(values, index=self.dates, columns=self.maturities)

    def to_frame(self):
        """Tidy long table with one row per path, horizon and maturity.

        Returns
        -------
        frame : DataFrame of shape (n_paths * n_horizons * n_maturities, 4)
            Columns ``path``, the horizon label (``self.dates.name``: ``"horizon"`` or
            ``"date"`` ...), ``maturity`` (``self.maturities.name``) and ``value``;
            rows ordered by path, then horizon, then maturity.
        """
        n, h, m = self.shape
        date_name = self.dates.name
        maturity_name = self.maturities.name
        return pd.DataFrame({
            "path": np.repeat(np.arange(n), h * m),
            date_name: np.tile(np.repeat(np.asarray(self.dates), m), n),
            maturity_name: np.tile(np.asarray(self.maturities), n * h),
            "value": self.values.reshape(-1),
        })

    def quantile(self, q):
        """Quantiles across paths, per horizon and maturity.

        Parameters
        ----------
        q : float or sequence of float
            Level(s) in [0, 1].

        Returns
        -------
        quantiles : DataFrame of shape (n_horizons, n_maturities)
            For a sequence of levels, the frames are stacked with a (quantile, horizon)
            row MultiIndex.
        """
        levels = np.asarray(q, dtype=float)
        if levels.ndim > 1 or np.any(~np.isfinite(levels)) or np.any(levels < 0) \
                or np.any(levels > 1):
            raise ValueError(f"q must be a level or a sequence of levels in [0, 1], got {q!r}")
        if levels.ndim == 0:
            return self._frame(np.quantile(self.values, float(levels), axis=0))
        frames = {float(level): self._frame(np.quantile(self.values, level, axis=0))
                  for level in levels}
        return pd.concat(frames, names=["quantile", self.dates.name])

    def mean(self):
        """Mean across paths.

        Returns
        -------
        mean : DataFrame of shape (n_horizons, n_maturities)
        """
        return self._frame(self.values.mean(axis=0))

    def std(self):
        """Standard deviation across paths (``ddof=1``).

        Returns
        -------
        std : DataFrame of shape (n_horizons, n_maturities)
        """
        ddof = 1 if self.n_paths > 1 else 0
        return self._frame(self.values.std(axis=0, ddof=ddof))

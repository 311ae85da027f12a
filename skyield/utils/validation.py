"""Validation of user input: one place that turns bad input into clear errors.

Every check names what is wrong and where (the argument, the date, the column). Nothing is
dropped, filled, converted or clipped here: missing values either raise or are kept as NaN
for code that handles them explicitly (``missing="allow"``), and text is never read as
numbers (:func:`check_numeric`, the one rule of every estimator). The dates of a panel are
checked by :func:`skyield.utils.check_dates` (order, uniqueness, spacing), its units by
:func:`check_units`.
"""

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.utils.validation import validate_data

from skyield.utils._dates import check_dates, show_date
from skyield.utils._maturities import parse_maturities

__all__ = [
    "DECIMAL_LOOKING",
    "Panel",
    "TargetLayout",
    "UnitsWarning",
    "check_covariance",
    "check_coverage",
    "check_horizons",
    "check_increasing_levels",
    "check_numeric",
    "check_panel",
    "check_family_panel",
    "check_units",
    "resolve_maturities",
    "check_maturities",
    "validate_windows",
    "check_targets",
    "check_window",
    "restore_target_layout",
    "target_positions",
    "MISSING_POLICIES",
]

#: Yields whose every value lies strictly within this bound in size look like decimals.
DECIMAL_LOOKING = 0.2

MISSING_POLICIES = ("raise", "allow")


@dataclass(frozen=True)
class Panel:
    """A validated panel of series (dates x series).

    Attributes
    ----------
    values : ndarray of shape (n_dates, n_series)
        float64 values; NaN only where ``missing="allow"`` was requested.
    index : pandas.Index or None
        The dates (or other row labels) of a DataFrame input, None for arrays.
    columns : list
        Column labels of a DataFrame input, or ``0 .. n_series - 1`` for arrays.
    maturities : ndarray of shape (n_series,) or None
        Maturities in years when they could be resolved, else None.
    """

    values: np.ndarray
    index: pd.Index | None
    columns: list
    maturities: np.ndarray | None
    #: Frequency of the dates (see :func:`skyield.utils.infer_frequency`), or None.
    frequency: str | None = None
    #: Whether the series are yields: maturities given as numbers, or read from labels.
    curve: bool = False

    @property
    def n_dates(self):
        return self.values.shape[0]

    @property
    def n_series(self):
        return self.values.shape[1]

    def label(self, row):
        """Return a readable label for row ``row`` (its date when known)."""
        if self.index is None:
            return f"row {row}"
        value = self.index[row]
        if isinstance(value, pd.Timestamp):
            return f"date {show_date(value)}"
        return f"row {value!r}"


def _check_missing_policy(missing):
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")


class UnitsWarning(UserWarning):
    """Yields that look like decimals (0.05 for 5%) where skyield reads percent.

    Silence it, once the units are known to be right, with
    ``warnings.filterwarnings("ignore", category=skyield.utils.UnitsWarning)``.
    """


def _text_or_bool(value):
    return isinstance(value, (str, bytes, bool, np.bool_))


def _refuse(value, name, where):
    if isinstance(value, np.generic):
        value = value.item()
    kind = "booleans" if isinstance(value, (bool, np.bool_)) else "text"
    raise ValueError(
        f"{name} holds {kind} ({value!r} at {where}): skyield reads numbers only and never "
        f"converts {kind} to numbers itself; convert the data explicitly (e.g. with "
        f"pandas.to_numeric) after checking what it holds"
    )


def _refuse_complex(name, dtype):
    # "Complex data not supported" is scikit-learn's wording, which its checks expect.
    raise ValueError(f"{name} holds complex numbers (dtype {dtype}). Complex data not "
                     f"supported: skyield reads real numbers only and never drops an "
                     f"imaginary part itself")


def _check_column(column, name, index):
    dtype = column.dtype
    if pd.api.types.is_complex_dtype(dtype):
        _refuse_complex(name, dtype)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_string_dtype(dtype) or \
            dtype == object:
        flags = column.map(_text_or_bool).to_numpy(dtype=bool)
        if flags.any():
            row = int(np.flatnonzero(flags)[0])
            label = index[row]
            where = f"date {show_date(label)}" if isinstance(label, pd.Timestamp) else \
                f"row {label!r}"
            _refuse(column.iloc[row], name, where)
    elif not (pd.api.types.is_numeric_dtype(dtype)):
        raise ValueError(f"{name} is not numeric (dtype {dtype})")


def check_numeric(data, name="X"):
    """Refuse text and booleans where numbers are expected: one rule for every estimator.

    Numbers come as a numeric dtype, or as an object array (or column) holding numbers
    (missing values as None or NaN). Text is refused even when it reads as a number
    (``"1.5"``): what a file holds is converted by the user, explicitly, never here.

    Parameters
    ----------
    data : array-like, DataFrame or Series
        The input; sparse matrices and objects that are no arrays are left to the
        estimator's own checks.
    name : str, default="X"
        Name used in error messages.

    Raises
    ------
    ValueError
        Naming the first text or boolean value and where it is (its column and date or
        row for a DataFrame, its position for an array); naming a column of complex
        numbers, whose imaginary part a conversion to real numbers would drop; naming a
        column label that a DataFrame repeats.
    """
    if isinstance(data, pd.Series):
        _check_column(data, name, data.index)
        return
    if isinstance(data, pd.DataFrame):
        repeated = data.columns[data.columns.duplicated()]
        if len(repeated):
            raise ValueError(f"{name} has the column label {repeated[0]!r} more than once; "
                             f"every column must have its own label")
        for column in data.columns:
            _check_column(data[column], f"{name} column {column!r}", data.index)
        return
    if sparse.issparse(data):
        return
    try:
        values = np.asarray(data)
    except (TypeError, ValueError):
        return  # ragged or otherwise not an array: the estimator's own check says so
    if values.dtype.kind == "c":
        _refuse_complex(name, values.dtype)
    if isinstance(data, (list, tuple)) and values.dtype.kind in "iuf":
        # A list's booleans become numbers in a numeric array ([True, 2] -> [1, 2]): its
        # items are looked at as they were given.
        values = np.asarray(data, dtype=object)
    if values.size == 0:
        return
    if values.dtype.kind in "USb":
        position = (0,) * values.ndim
    elif values.dtype.kind == "O":
        flags = np.vectorize(_text_or_bool, otypes=[bool])(values)
        if not flags.any():
            return
        position = tuple(int(i) for i in np.argwhere(flags)[0])
    else:
        return
    where = f"position {position[0] if len(position) == 1 else position}"
    _refuse(values[position], name, where)


def check_units(values, name="Y"):
    """Warn when yields look like decimals (0.05 for 5%): skyield reads yields in percent.

    Parameters
    ----------
    values : array-like
        Yields; missing values are ignored.
    name : str, default="Y"
        Name used in the warning.

    Warns
    -----
    UnitsWarning
        When every finite value lies strictly within :data:`DECIMAL_LOOKING` (0.2) in
        size and one is not zero. The message says how to silence it.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0:
        return
    largest = float(finite.max())
    if 0 < largest < DECIMAL_LOOKING:
        warnings.warn(
            f"{name}: every yield lies within +-{DECIMAL_LOOKING:g} (the largest in size is "
            f"{largest:.3g}), so they look like decimals (0.05 for 5%), while skyield reads "
            f"yields in percent (its priors, start values and report scales assume it). "
            f"Multiply them by 100; if they are percent, silence this warning with "
            f"warnings.filterwarnings('ignore', category=skyield.utils.UnitsWarning) "
            f"(skyield benchmark: --units percent)",
            UnitsWarning, stacklevel=3,
        )


def _labels_are_maturities(columns):
    if not len(columns) or all(isinstance(c, (int, np.integer)) for c in columns):
        return False
    try:
        parse_maturities(list(columns), unit="years")
    except (ValueError, TypeError):
        return False
    return True


def _check_finite(values, name, missing, row_label, columns):
    infinite = np.isinf(values)
    if infinite.any():
        row, col = np.argwhere(infinite)[0]
        raise ValueError(
            f"{name} contains an infinite value at {row_label(row)}, column {columns[col]!r}"
        )
    if missing == "raise":
        missing_mask = np.isnan(values)
        if missing_mask.any():
            row, col = np.argwhere(missing_mask)[0]
            raise ValueError(
                f"{name} has {int(missing_mask.sum())} missing value(s); the first is at "
                f"{row_label(row)}, column {columns[col]!r}. Select a span and maturities "
                f"without gaps, or use a model that accepts missing values with missing='allow'"
            )


def check_increasing_levels(quantiles, name="quantiles"):
    """Quantile levels as a non-empty, strictly increasing float array inside (0, 1).

    Parameters
    ----------
    quantiles : float or array-like of shape (n_levels,)
    name : str, default="quantiles"
        Name used in error messages.

    Returns
    -------
    levels : ndarray of shape (n_levels,)
    """
    check_numeric(quantiles, name)
    levels = np.atleast_1d(np.asarray(quantiles, dtype=float))
    if levels.ndim != 1 or levels.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of levels, got {quantiles!r}")
    if not np.all((levels > 0) & (levels < 1)):
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {levels.tolist()}")
    if np.any(np.diff(levels) <= 0):
        raise ValueError(f"{name} must be strictly increasing, got {levels.tolist()}")
    return levels


def check_coverage(coverage, name="coverage"):
    """An interval coverage: one real number strictly between 0 and 1, as a float."""
    if isinstance(coverage, bool) or not isinstance(coverage, Real) or not 0 < coverage < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {coverage!r}")
    return float(coverage)


def check_correlation(correlation, name="correlation"):
    """A correlation matrix as a new float array, checked entry by entry.

    It must be square, finite, symmetric (to 1e-10), with ones on its diagonal (to
    1e-8) and positive semi-definite (no eigenvalue below -1e-8); a singular matrix,
    such as the sample correlation of more series than dates, is accepted. Each error
    names the entry or the eigenvalue that fails.
    """
    corr = np.array(correlation, dtype=float)
    if corr.ndim != 2 or corr.shape[0] != corr.shape[1] or corr.shape[0] < 1:
        raise ValueError(f"{name} must be square (n_series x n_series), got shape "
                         f"{corr.shape}")
    if not np.all(np.isfinite(corr)):
        i, j = np.argwhere(~np.isfinite(corr))[0]
        raise ValueError(f"{name} has a non-finite entry at ({i}, {j}): {corr[i, j]}")
    if not np.allclose(corr, corr.T, rtol=0, atol=1e-10):
        i, j = np.unravel_index(np.argmax(np.abs(corr - corr.T)), corr.shape)
        raise ValueError(f"{name} must be symmetric; entry ({i}, {j}) is "
                         f"{float(corr[i, j])!r} and ({j}, {i}) is {float(corr[j, i])!r}")
    off = np.flatnonzero(np.abs(np.diag(corr) - 1.0) > 1e-8)
    if off.size:
        raise ValueError(f"{name} must have a unit diagonal (ones on its diagonal; entry "
                         f"({off[0]}, {off[0]}) is {float(corr[off[0], off[0]])!r})")
    smallest = np.linalg.eigvalsh(corr)[0]
    if smallest < -1e-8:
        raise ValueError(f"{name} must be positive semi-definite; its smallest eigenvalue "
                         f"is {smallest:.3g}")
    return corr


def check_covariance(covariance, name="covariance", shape=None):
    """A covariance matrix as a new float array, checked entry by entry.

    It must be square (of ``shape`` when given), finite, symmetric (no entry differs
    from its mirror by more than 1e-8 times the largest absolute entry, or 1e-8 when
    that is below one) and positive semi-definite (no eigenvalue below -1e-10 times the
    largest absolute eigenvalue: rounding, not a negative variance). A singular matrix is
    accepted. Each error names the entry or the eigenvalue that fails.

    Parameters
    ----------
    covariance : array-like of shape (n, n)
    name : str, default="covariance"
        The argument's name in the error messages.
    shape : tuple of int, default=None
        The required shape (None: any square shape).

    Returns
    -------
    covariance : ndarray of shape (n, n)

    Examples
    --------
    >>> from skyield.utils import check_covariance
    >>> check_covariance([[1.0, 0.5], [0.5, 2.0]], "Q")
    array([[1. , 0.5],
           [0.5, 2. ]])
    >>> check_covariance([[1.0, 2.0], [2.0, 1.0]], "Q")
    Traceback (most recent call last):
    ...
    ValueError: Q must be positive semi-definite; its smallest eigenvalue is -1
    """
    cov = np.array(covariance, dtype=float)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] < 1:
        raise ValueError(f"{name} must be a square matrix, got shape {cov.shape}")
    if shape is not None and cov.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got shape {cov.shape}")
    if not np.all(np.isfinite(cov)):
        i, j = np.argwhere(~np.isfinite(cov))[0]
        raise ValueError(f"{name} has a non-finite entry at ({i}, {j}): {cov[i, j]}")
    gap = np.abs(cov - cov.T)
    if gap.max() > 1e-8 * max(np.abs(cov).max(), 1.0):
        i, j = np.unravel_index(np.argmax(gap), cov.shape)
        raise ValueError(f"{name} must be symmetric; entry ({i}, {j}) is "
                         f"{float(cov[i, j])!r} and ({j}, {i}) is {float(cov[j, i])!r}")
    eigenvalues = np.linalg.eigvalsh(cov)
    scale = max(np.abs(eigenvalues).max(), np.finfo(float).tiny)
    if eigenvalues[0] < -1e-10 * scale:
        raise ValueError(f"{name} must be positive semi-definite; its smallest eigenvalue "
                         f"is {eigenvalues[0]:.3g}")
    return cov


def check_horizons(horizons):
    """Forecast horizons as a tuple of positive, strictly increasing integers.

    Parameters
    ----------
    horizons : int, sequence of int or None
        ``h`` means ``1 .. h``; a sequence lists them (e.g. ``[1, 6, 12]``); None means no
        horizon (the empty tuple).

    Returns
    -------
    horizons : tuple of int
    """
    if horizons is None:
        return ()
    if isinstance(horizons, bool):
        raise ValueError(f"horizons must be a positive integer or a sequence, got {horizons}")
    if isinstance(horizons, Integral):
        if horizons < 1:
            raise ValueError(f"horizons must be a positive integer, got {horizons}")
        return tuple(range(1, int(horizons) + 1))
    if isinstance(horizons, (str, bytes)):
        raise ValueError(f"horizons must be a positive integer or a sequence of them, got "
                         f"{horizons!r}")
    for h in horizons:
        if isinstance(h, (bool, np.bool_)) or not isinstance(h, Integral):
            raise ValueError(f"horizons must be whole numbers of steps; {h!r} in "
                             f"{list(horizons)!r} is not an integer")
    values = tuple(int(h) for h in horizons)
    if not values or any(h < 1 for h in values) or list(values) != sorted(set(values)):
        raise ValueError(
            f"horizons must be positive, strictly increasing integers, got {list(horizons)}"
        )
    return values


def check_window(window):
    """A window length (number of dates): a positive integer."""
    if not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    return int(window)


def target_positions(columns, targets):
    """Positions in ``columns`` of the target labels (all columns when ``targets`` is None).

    Parameters
    ----------
    columns : sequence of labels
    targets : label, sequence of labels or None

    Returns
    -------
    positions : list of int
    """
    if targets is None:
        return list(range(len(columns)))
    if isinstance(targets, (str, int, float, np.integer, np.floating)):
        targets = [targets]
    positions = []
    for target in targets:
        matches = [i for i, column in enumerate(columns) if column == target]
        if not matches:
            raise ValueError(f"target {target!r} is not a column; available: {list(columns)}")
        positions.append(matches[0])
    return positions


def check_maturities(maturities, n_series=None, name="maturities"):
    """Validate maturities in years: finite, non-negative, strictly increasing.

    Parameters
    ----------
    maturities : array-like of shape (n_series,)
        Maturities in years.
    n_series : int, default=None
        Expected length, when known.
    name : str, default="maturities"
        Name used in error messages.

    Returns
    -------
    maturities : ndarray of shape (n_series,)
    """
    check_numeric(maturities, name)
    tau = np.asarray(maturities, dtype=float)
    if tau.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {tau.shape}")
    if n_series is not None and tau.shape[0] != n_series:
        raise ValueError(f"{name} has {tau.shape[0]} entries but the data has {n_series} series")
    if not np.all(np.isfinite(tau)) or np.any(tau < 0):
        raise ValueError(f"{name} must be finite and non-negative years, got {tau.tolist()}")
    steps = np.diff(tau)
    if np.any(steps <= 0):
        position = int(np.flatnonzero(steps <= 0)[0])
        kind = "duplicated" if steps[position] == 0 else "not sorted"
        raise ValueError(
            f"{name} are {kind}: entry {position + 1} ({tau[position + 1]:g} years) follows "
            f"entry {position} ({tau[position]:g} years); they must be strictly increasing"
        )
    return tau


def resolve_maturities(maturities, n_series, columns=None, *, required=True):
    """Resolve the maturities (in years) of ``n_series`` series.

    Parameters
    ----------
    maturities : array-like, "uniform" or None
        Explicit maturities in years; ``"uniform"`` for ``1, 2, ..., n_series`` years (for
        generic arrays); None to parse them from ``columns``.
    n_series : int
        Number of series.
    columns : sequence, default=None
        DataFrame column labels ("3M", "10Y", "SVENY05", ...). Numeric labels are read as
        years, the convention of skyield's dataset loaders.
    required : bool, default=True
        If True, raise when no maturities can be found (or the labels' maturities are not
        strictly increasing); else return None.

    Returns
    -------
    maturities : ndarray of shape (n_series,) or None
    """
    if isinstance(maturities, str):
        if maturities != "uniform":
            raise ValueError(f"maturities must be array-like, 'uniform' or None, got {maturities!r}")
        return np.arange(1.0, n_series + 1.0)
    if maturities is not None:
        return check_maturities(maturities, n_series)
    if columns is not None and not all(isinstance(c, (int, np.integer)) for c in columns):
        try:
            parsed = parse_maturities(list(columns), unit="years")
            return check_maturities(parsed, n_series,
                                    name="maturities parsed from the column labels")
        except ValueError:
            # Labels that are not a sorted grid of maturities are fine for a model that
            # does not use maturities (a factor model of yields in any column order).
            if required:
                raise
            return None
    if required:
        raise ValueError(
            "this model needs maturities: pass a DataFrame whose columns are maturity labels "
            "(e.g. '3M', '10Y' or years as numbers), maturities=[...] in years, or "
            "maturities='uniform' for 1, 2, ..., n_series years"
        )
    return None


def check_panel(Y, *, name="Y", missing="raise", min_length=1, maturities=None,
                need_maturities=False, freq=None):
    """Validate a panel of series observed at consecutive dates.

    The intake of every panel that enters skyield: the dates are checked by
    :func:`skyield.utils.check_dates` (unique, increasing, evenly spaced at their
    frequency), the values by :func:`check_numeric` (numbers only) and for missing and
    infinite values. The units are checked separately (:func:`check_units`), where a
    panel enters a model.

    Parameters
    ----------
    Y : DataFrame of shape (n_dates, n_series) or array-like
        A DataFrame (dates as index, preferably a DatetimeIndex; one column per series)
        or a 2-D array. A 1-D array is read as one series.
    name : str, default="Y"
        Name used in error messages.
    missing : {"raise", "allow"}, default="raise"
        ``"raise"`` rejects NaN with an error naming the first missing cell; ``"allow"``
        keeps NaN for models that handle missing values explicitly. Infinite values are
        always rejected.
    min_length : int, default=1
        Minimum number of dates.
    maturities : array-like, "uniform" or None, default=None
        See :func:`resolve_maturities`.
    need_maturities : bool, default=False
        Raise when no maturities can be resolved.
    freq : {"daily", "weekly", "monthly", "quarterly", "annual"}, default=None
        The frequency the dates must have; None infers it.

    Returns
    -------
    panel : Panel
    """
    _check_missing_policy(missing)
    if isinstance(Y, pd.Series):
        Y = Y.to_frame()
    frequency = None
    if isinstance(Y, pd.DataFrame):
        if isinstance(Y.index, pd.MultiIndex):
            raise ValueError(
                f"{name} has a MultiIndex; several families go through check_family_panel "
                f"or the family-aware functions"
            )
        if Y.shape[1] == 0:
            raise ValueError(f"{name} has no columns")
        index = Y.index
        frequency = check_dates(index, name=name, freq=freq)
        check_numeric(Y, name)
        values = Y.to_numpy(dtype=np.float64, na_value=np.nan)
        columns = list(Y.columns)
    else:
        check_numeric(Y, name)
        values = np.asarray(Y)
        if values.dtype.kind not in "iuf":
            raise ValueError(f"{name} must be real numbers, got an array of dtype {values.dtype}")
        values = values.astype(np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_dates, n_series), got shape {values.shape}")
        index = None
        columns = list(range(values.shape[1]))
    panel = Panel(values=values, index=index, columns=columns, maturities=None)
    _check_finite(values, name, missing, panel.label, columns)
    if values.shape[0] < min_length:
        raise ValueError(
            f"{name} has {values.shape[0]} dates but at least {min_length} are needed"
        )
    frame = isinstance(Y, pd.DataFrame)
    tau = resolve_maturities(
        maturities, values.shape[1], columns if frame else None, required=need_maturities,
    ) if (maturities is not None or need_maturities or frame) else None
    curve = (maturities is not None and not isinstance(maturities, str)) or \
        (frame and _labels_are_maturities(columns))
    return Panel(values=values, index=index, columns=columns, maturities=tau,
                 frequency=frequency, curve=curve)


def check_family_panel(Y, *, name="Y", missing="raise", min_length=1, maturities=None,
                       need_maturities=False):
    """Validate a multi-family panel with a (family, date) MultiIndex.

    Parameters
    ----------
    Y : DataFrame
        Rows indexed by a two-level MultiIndex (family, date); one column per maturity,
        the same grid for every family. A family with no value at some maturity
        is an error under ``missing="raise"``, naming the family, date and maturity.
    name, missing, min_length, maturities, need_maturities
        As in :func:`check_panel`, applied to each family.

    Returns
    -------
    panels : dict of {family: Panel}
        One validated panel per family, in order of first appearance.
    """
    if not isinstance(Y, pd.DataFrame) or not isinstance(Y.index, pd.MultiIndex) \
            or Y.index.nlevels != 2:
        raise ValueError(f"{name} must be a DataFrame indexed by a (family, date) MultiIndex")
    panels = {}
    for family in Y.index.get_level_values(0).unique():
        frame = Y.xs(family, level=0)
        try:
            panels[family] = check_panel(
                frame, name=name, missing=missing, min_length=min_length,
                maturities=maturities, need_maturities=need_maturities,
            )
        except ValueError as error:
            raise ValueError(f"family {family!r}: {error}") from None
    return panels


def validate_windows(estimator, X, y=None, *, window=None, reset=True, ensure_all_finite=True):
    """Validate window-model input and return it as a 3-D array.

    ``X`` is a 3-D array ``(n_samples, window, n_series)`` or a 2-D array
    ``(n_samples, n_features)``. A 2-D row is read as a window flattened in time-major
    order (all series at the oldest lag, then the next lag, ...), i.e. reshaped to
    ``(n_samples, window, n_features // window)``; with ``window="row"`` each row is the
    window of one series (its ``n_features`` dates). Without ``window`` a 2-D ``X`` is
    an error (a panel of dates x series, or flattened windows, would otherwise be
    misread).

    Parameters
    ----------
    estimator : estimator instance
        The estimator whose ``n_features_in_`` is set (``reset=True``) or checked.
    X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
    y : array-like, default=None
        Targets, validated for consistent length and finiteness.
    window : int or "row", default=None
        Window length for reading 2-D input, or ``"row"`` for rows that are the window of
        one series.
    reset : bool, default=True
        True in ``fit``, False in ``predict``.
    ensure_all_finite : bool, default=True
        Reject NaN and infinite values.

    Returns
    -------
    X : ndarray of shape (n_samples, window, n_series)
    y : ndarray or None
    """
    check_numeric(X, "X")
    if not reset:
        _check_fitted_window_shape(estimator, np.asarray(X).shape, window)
    if y is None:
        X = validate_data(estimator, X, reset=reset, allow_nd=True, dtype=np.float64,
                          ensure_all_finite=ensure_all_finite, ensure_min_features=1)
    else:
        check_numeric(y, "y")
        y = np.asarray(y)
        target_shape = y.shape
        if y.ndim == 3:
            # sklearn validates at most 2-D targets: check (n, horizon * n_targets) instead.
            y = y.reshape(len(y), -1)
        X, y = validate_data(estimator, X, y, reset=reset, allow_nd=True, dtype=np.float64,
                             multi_output=True, y_numeric=True,
                             ensure_all_finite=ensure_all_finite)
        y = np.asarray(y, dtype=np.float64)
        if len(target_shape) == 3:
            y = y.reshape(target_shape)
    if X.ndim == 2 and isinstance(window, str) and window == "row":
        # Each row is the window of one series: its n_features dates.
        X = X[:, :, None]
    elif X.ndim == 2:
        if window is None:
            raise ValueError(
                f"X is 2-D, shape {X.shape}: a window regressor reads each row as a window "
                f"of several dates flattened in time-major order and needs window= (the "
                f"number of dates per row) to unflatten it; pass window=, or 3-D windows "
                f"(n_samples, window, n_series), e.g. from skyield.preprocessing.make_windows"
            )
        if X.shape[1] % window:
            raise ValueError(
                f"X has {X.shape[1]} features, which is not a multiple of window={window}; "
                f"pass 3-D windows (n_samples, window, n_series) or fix window"
            )
        X = X.reshape(X.shape[0], window, X.shape[1] // window)
    elif X.ndim == 3:
        if isinstance(window, str):
            raise ValueError(f"window={window!r} reads 2-D rows; X is 3-D, shape {X.shape}")
        if window is not None and X.shape[1] != window:
            raise ValueError(f"X windows have length {X.shape[1]} but window={window}")
    else:
        raise ValueError(f"X must be 2-D or 3-D, got an array of shape {X.shape}")
    if not reset:
        expected = getattr(estimator, "n_series_in_", None)
        if expected is not None and X.shape[2] != expected:
            raise ValueError(
                f"X has {X.shape[2]} series but {type(estimator).__name__} was fitted "
                f"with {expected}"
            )
    return X, y


def _check_fitted_window_shape(estimator, shape, window):
    """Name a mismatch of windows with those seen in ``fit`` (dates, series, features)."""
    length = getattr(estimator, "window_", None)
    n_series = getattr(estimator, "n_series_in_", None)
    if length is None or n_series is None:
        return
    owner = type(estimator).__name__
    if len(shape) == 3 and shape[1] != length:
        raise ValueError(
            f"X windows have length {shape[1]} but {owner} was fitted on windows of length "
            f"{length}"
        )
    if len(shape) == 3 and shape[2] != n_series:
        raise ValueError(f"X has {shape[2]} series but {owner} was fitted with {n_series}")
    if len(shape) == 2 and shape[1] != length * n_series:
        # scikit-learn's own words first (its checks match them), then what they mean.
        raise ValueError(
            f"X has {shape[1]} features, but {owner} is expecting {length * n_series} "
            f"features as input: it was fitted on windows of {length} dates x {n_series} "
            f"series, flattened to rows of {length * n_series} features"
            + (" (window='row')" if isinstance(window, str) else "")
        )


@dataclass(frozen=True)
class TargetLayout:
    """How ``fit`` received ``y``, so that ``predict`` returns the same layout.

    ``steps_in_columns`` marks a 2-D ``y`` of shape (n, n_horizons) holding the horizons
    of one target.
    """

    ndim: int
    horizon: int
    n_targets: int
    steps_in_columns: bool = False


def check_targets(y, n_samples=None, name="y"):
    """Bring targets to shape (n_samples, horizon, n_targets) and remember their layout.

    Parameters
    ----------
    y : array-like of shape (n,), (n, n_targets) or (n, horizon, n_targets)
    n_samples : int, default=None
        Expected number of samples.
    name : str, default="y"

    Returns
    -------
    y3 : ndarray of shape (n_samples, horizon, n_targets)
    layout : TargetLayout
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y3 = y[:, None, None]
    elif y.ndim == 2:
        y3 = y[:, None, :]
    elif y.ndim == 3:
        y3 = y
    else:
        raise ValueError(f"{name} must have 1, 2 or 3 dimensions, got shape {y.shape}")
    if n_samples is not None and y3.shape[0] != n_samples:
        raise ValueError(f"{name} has {y3.shape[0]} samples but X has {n_samples}")
    return y3, TargetLayout(ndim=y.ndim, horizon=y3.shape[1], n_targets=y3.shape[2])


def restore_target_layout(values, layout):
    """Reshape ``(n, horizon, n_targets, ...)`` predictions to the layout ``fit`` received.

    Trailing axes beyond the third (quantile levels, interval bounds) are kept.
    """
    values = np.asarray(values)
    extra = values.shape[3:]
    if layout.ndim == 1:
        return values.reshape((values.shape[0],) + extra)
    if layout.ndim == 2:
        if layout.steps_in_columns:
            return values.reshape((values.shape[0], layout.horizon) + extra)
        return values.reshape((values.shape[0], layout.n_targets) + extra)
    return values

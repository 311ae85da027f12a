"""What the two forecast combinations share: the weights, the members and the shrinkage.

:class:`~skyield.compose.ForecastCombination` (window regressors) and
:class:`~skyield.compose.SequenceForecastCombination` (sequence models) differ only in how
they obtain out-of-sample forecasts of their members on the training span; from those
forecasts both learn the weights here (:func:`combination_weights`), one set per horizon,
pooling the targets (series), and both keep their members as scikit-learn's
``VotingRegressor`` does: a list of ``(name, estimator)`` pairs whose parameters
``<name>__<parameter>`` reach ``GridSearchCV``.

The weighting schemes (Timmermann, 2006, section 5; Stock and Watson, 2004):

- ``"equal"``: ``1 / K`` for each of ``K`` members.
- ``"inverse_mse"``: proportional to the inverse of each member's out-of-sample mean
  squared error.
- ``"least_squares"``: the weights that minimise the mean squared error of the combined
  out-of-sample forecast, non-negative and summing to one (Granger and Ramanathan's
  regression without intercept, constrained to the simplex), solved as a quadratic
  program by SLSQP.

``shrinkage`` (``lambda`` in [0, 1]) then pulls the combination toward the random walk
(the last value seen): ``(1 - lambda) * sum_k w_k f_k + lambda * f_rw``.
"""

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, clone

__all__ = ["WEIGHTINGS", "NamedMembers", "combination_weights"]

WEIGHTINGS = ("equal", "inverse_mse", "least_squares")


def _simplex_least_squares(forecasts, actual):
    """Weights on the simplex minimising ``mean((forecasts @ w - actual) ** 2)``.

    ``forecasts`` (n, K), ``actual`` (n,).
    """
    n_members = forecasts.shape[1]
    # The quadratic form, scaled so that SLSQP's tolerance is relative.
    gram = forecasts.T @ forecasts / len(actual)
    cross = forecasts.T @ actual / len(actual)
    scale = max(float(np.max(np.abs(np.diag(gram)))), np.finfo(float).tiny)

    def objective(w):
        return (w @ gram @ w - 2.0 * w @ cross) / scale, 2.0 * (gram @ w - cross) / scale

    start = np.full(n_members, 1.0 / n_members)
    result = minimize(objective, start, jac=True, method="SLSQP",
                      bounds=[(0.0, 1.0)] * n_members,
                      constraints=[{"type": "eq", "fun": lambda w: np.sum(w) - 1.0,
                                    "jac": lambda w: np.ones_like(w)}],
                      options={"ftol": 1e-15, "maxiter": 1000})
    if not result.success:
        raise RuntimeError(f"the constrained least-squares weights did not converge: "
                           f"{result.message}")
    weights = np.clip(result.x, 0.0, None)
    return weights / weights.sum()


def combination_weights(forecasts, actual, weighting):
    """Combination weights of ``K`` members per horizon from their out-of-sample forecasts.

    Parameters
    ----------
    forecasts : ndarray of shape (n_members, n_forecasts, n_horizons, n_targets)
        Out-of-sample forecasts of every member.
    actual : ndarray of shape (n_forecasts, n_horizons, n_targets)
        What they forecast. NaN entries (no forecast at that horizon) are left out.
    weighting : {"equal", "inverse_mse", "least_squares"}

    Returns
    -------
    weights : ndarray of shape (n_horizons, n_members)
        Non-negative, each row summing to one.
    mse : ndarray of shape (n_horizons, n_members)
        Each member's out-of-sample mean squared error per horizon.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.compose._combination_weights import combination_weights
    >>> actual = np.zeros((4, 1, 1))
    >>> forecasts = np.stack([actual + 1.0, actual - 3.0])   # errors +1 and -3
    >>> [combination_weights(forecasts, actual, w)[0].round(3).tolist()
    ...  for w in ("equal", "inverse_mse", "least_squares")]
    [[[0.5, 0.5]], [[0.9, 0.1]], [[0.75, 0.25]]]
    """
    n_members, _, n_horizons, _ = forecasts.shape
    weights = np.empty((n_horizons, n_members))
    mse = np.empty((n_horizons, n_members))
    for h in range(n_horizons):
        known = np.isfinite(actual[:, h]).ravel()
        f = forecasts[:, :, h].reshape(n_members, -1)[:, known].T
        a = actual[:, h].ravel()[known]
        if a.size == 0:
            raise ValueError(f"no out-of-sample forecast at horizon position {h} to learn "
                             f"the combination weights from")
        mse[h] = np.mean((f - a[:, None]) ** 2, axis=0)
        if weighting == "equal":
            weights[h] = 1.0 / n_members
        elif weighting == "inverse_mse":
            inverse = 1.0 / np.maximum(mse[h], np.finfo(float).tiny)
            weights[h] = inverse / inverse.sum()
        else:
            weights[h] = _simplex_least_squares(f, a)
    return weights, mse


def _pairs(estimators):
    """The ``(name, estimator)`` pairs of ``estimators`` (none when it is not such a list;
    fit says what is wrong with it)."""
    if not isinstance(estimators, (list, tuple)):
        return []
    return [pair for pair in estimators
            if isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)]


class NamedMembers(BaseEstimator):
    """``estimators`` as a list of ``(name, estimator)`` pairs, as in ``VotingRegressor``.

    ``get_params(deep=True)`` adds every member under its name and its parameters as
    ``<name>__<parameter>``; ``set_params(<name>=...)`` replaces a member.
    """

    def _check_members(self, check_member):
        """Validate the pairs; return ``(names, members)``. ``check_member(name, est)``."""
        pairs = self.estimators
        if not isinstance(pairs, (list, tuple)) or not pairs or not all(
                isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in pairs):
            raise ValueError(
                f"estimators must be a non-empty list of (name, estimator) pairs, got "
                f"{pairs!r}"
            )
        names = [name for name, _ in pairs]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"estimators has duplicate names: {duplicated}")
        clashes = sorted(set(names) & set(self.get_params(deep=False)))
        if clashes:
            raise ValueError(f"estimator names {clashes} are parameter names of "
                             f"{type(self).__name__}; rename them")
        bad = [name for name in names if "__" in name]
        if bad:
            raise ValueError(f"estimator names must not contain '__': {bad}")
        for name, estimator in pairs:
            check_member(name, estimator)
        return names, [estimator for _, estimator in pairs]

    def get_params(self, deep=True):
        """Parameters of the combination, and with ``deep`` those of its members.

        Parameters
        ----------
        deep : bool, default=True
            Also return every member (under its name) and its parameters.

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=False)
        if not deep:
            return params
        for name, estimator in _pairs(params.get("estimators")):
            params[name] = estimator
            if hasattr(estimator, "get_params"):
                for key, value in estimator.get_params(deep=True).items():
                    params[f"{name}__{key}"] = value
        return params

    def set_params(self, **params):
        """Set parameters; ``<name>=estimator`` replaces the member called ``name``.

        Returns
        -------
        self : object
        """
        if "estimators" in params:
            super().set_params(estimators=params.pop("estimators"))
        names = [name for name, _ in _pairs(self.estimators)]
        replaced = {key: params.pop(key) for key in list(params) if key in names}
        if replaced:
            self.estimators = [(name, replaced.get(name, estimator))
                               for name, estimator in self.estimators]
        if params:
            super().set_params(**params)
        return self

    def _fresh_members(self):
        return [(name, clone(estimator)) for name, estimator in self.estimators]

"""Point, interval, coverage-test and factor metrics, and scikit-learn scorers.

All metrics are pure functions of array-likes. Targets are ``(n_samples,)``,
``(n_samples, n_maturities)`` or ``(n_samples, horizon, n_maturities)``;
``multioutput`` breaks results down by maturity and horizon
(``"raw_values"``, ``"by_horizon"``, ``"by_maturity"``) or pools them.

Point forecasts
    :func:`mean_squared_error`, :func:`root_mean_squared_error`,
    :func:`mean_absolute_error`.
Intervals and quantiles
    :func:`picp`, :func:`mpiw`, :func:`interval_score`,
    :func:`interval_hits`, :func:`pinball_loss`, :func:`crps_from_quantiles`.
Tests
    :func:`diebold_mariano`, :func:`kupiec_test`, :func:`christoffersen_test`,
    :func:`simulate_calibrated_picp` (how far exact intervals' PICP strays by chance on
    overlapping horizons and correlated series), and :func:`adjust_pvalues` for many
    tests at once (Holm, Bonferroni).
Latent factors
    :func:`factor_scaling`, :func:`factor_r2`, :func:`factor_fit`,
    :func:`factor_gain`, :func:`factor_scores`, :func:`factor_is_flat` (the discard
    rule for flat-lining estimates) and :func:`best_factor_estimate` ("Fit max").
Scorers
    :func:`get_scorer`, :func:`make_point_scorer`,
    :func:`make_quantile_scorer`, :func:`make_interval_scorer` and the
    ready-made ``neg_*`` scorers.
"""

from ._coverage_tests import (
    ChristoffersenResult,
    KupiecResult,
    christoffersen_test,
    kupiec_test,
    simulate_calibrated_picp,
)
from ._diebold_mariano import DieboldMarianoResult, diebold_mariano
from ._factor import (
    FactorScaling,
    best_factor_estimate,
    factor_fit,
    factor_gain,
    factor_is_flat,
    factor_r2,
    factor_scaling,
    factor_scores,
)
from ._multiple import adjust_pvalues
from ._interval import interval_hits, interval_score, mpiw, picp
from ._point import mean_absolute_error, mean_squared_error, root_mean_squared_error
from ._quantile import crps_from_quantiles, pinball_loss
from ._scorers import (
    get_scorer,
    get_scorer_names,
    make_interval_scorer,
    make_point_scorer,
    make_quantile_scorer,
    neg_crps,
    neg_interval_score,
    neg_mean_absolute_error,
    neg_mean_squared_error,
    neg_pinball_loss,
    neg_root_mean_squared_error,
)

__all__ = [
    "adjust_pvalues",
    "ChristoffersenResult",
    "DieboldMarianoResult",
    "FactorScaling",
    "KupiecResult",
    "best_factor_estimate",
    "christoffersen_test",
    "crps_from_quantiles",
    "diebold_mariano",
    "factor_fit",
    "factor_gain",
    "factor_is_flat",
    "factor_r2",
    "factor_scaling",
    "factor_scores",
    "get_scorer",
    "get_scorer_names",
    "interval_hits",
    "interval_score",
    "kupiec_test",
    "make_interval_scorer",
    "make_point_scorer",
    "make_quantile_scorer",
    "mean_absolute_error",
    "mean_squared_error",
    "mpiw",
    "neg_crps",
    "neg_interval_score",
    "neg_mean_absolute_error",
    "neg_mean_squared_error",
    "neg_pinball_loss",
    "neg_root_mean_squared_error",
    "picp",
    "pinball_loss",
    "root_mean_squared_error",
    "simulate_calibrated_picp",
]

"""Classical baselines: random walk, Nelson-Siegel/Svensson fitting, dynamic Nelson-Siegel,
weighted rolling regression (and the Kalman factor models).

Window regressors (``fit(X, y)`` on windows of history): :class:`RandomWalk`,
:class:`WeightedRollingRegression` and :class:`DynamicNelsonSiegel`, which also fits a
panel directly (``fit(Y)``, then ``transform``, ``forecast``, ``update``).

Sequence models (``fit(Y)`` on a panel of consecutive dates, then ``transform``,
``forecast``, ``update``, ``sample_paths``): :class:`KalmanFactorModel` and
:class:`GaussianLinearStateSpace`.
"""

from skyield._nelson_siegel import (
    decay_for_peak_curvature,
    extended_svensson_loadings,
    nelson_siegel_loadings,
    svensson_loadings,
)
from skyield.baselines._curve_fit import (
    CurveFit,
    NelsonSiegelCurve,
    fit_nelson_siegel,
    fit_svensson,
)
from skyield.baselines._dynamic_nelson_siegel import DynamicNelsonSiegel
from skyield.baselines._glss import GaussianLinearStateSpace
from skyield.baselines._kalman_factor import KalmanFactorModel
from skyield.baselines._random_walk import RandomWalk
from skyield.baselines._rolling_regression import WeightedRollingRegression

__all__ = [
    "CurveFit",
    "DynamicNelsonSiegel",
    "GaussianLinearStateSpace",
    "KalmanFactorModel",
    "NelsonSiegelCurve",
    "RandomWalk",
    "WeightedRollingRegression",
    "decay_for_peak_curvature",
    "extended_svensson_loadings",
    "fit_nelson_siegel",
    "fit_svensson",
    "nelson_siegel_loadings",
    "svensson_loadings",
]

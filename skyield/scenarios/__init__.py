"""Joint scenario paths of yield curves across maturities and horizons.

Actuarial uses of real-world yield curves (discounting projected cash flows under
Solvency II and IFRS 17, value at risk of a bond book) need joint scenarios, not
marginal quantiles per maturity. :func:`sample_paths` simulates them from any fitted
skyield forecaster into a :class:`ScenarioCube` (paths x horizons x maturities);
:func:`fit_copula` estimates the :class:`GaussianCopula` that joins the marginal
quantile forecasts of window regressors across maturities.
"""

from skyield.scenarios._copula import GaussianCopula, fit_copula
from skyield.scenarios._cube import ScenarioCube
from skyield.scenarios._sample import sample_paths

__all__ = ["GaussianCopula", "ScenarioCube", "fit_copula", "sample_paths"]

"""Ensembles of seeds: averaging ensembles of quantile models and Gaussian deep ensembles.

:class:`SeedEnsemble` fits clones of one estimator with different random seeds, in
parallel through joblib or, for skyield's small curve networks, as one batched model,
and combines their forecasts (mean of quantiles, or the Gaussian mixture of a deep
ensemble).
"""

from skyield.ensemble._seed_ensemble import SeedEnsemble

__all__ = ["SeedEnsemble"]

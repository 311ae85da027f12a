"""Ensembles of seeds: averaging ensembles of quantile models and Gaussian deep ensembles.

:class:`SeedEnsemble` fits clones of one window regressor with different random seeds,
in parallel through joblib or, for skyield's small curve networks, as one batched model,
and combines their forecasts (mean of quantiles, or the Gaussian mixture of a deep
ensemble); :class:`SequenceSeedEnsemble` does the same for sequence models (the neural
state space model, the factor Transformer), whose members move forward together.
"""

from skyield.ensemble._seed_ensemble import SeedEnsemble
from skyield.ensemble._sequence_seed_ensemble import SequenceSeedEnsemble

__all__ = ["SeedEnsemble", "SequenceSeedEnsemble"]

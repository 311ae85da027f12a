"""The models ``skyield benchmark`` knows, each with sensible default settings.

A model entry builds an estimator from the run's seed and device; ``window`` is the
history each window regressor sees. Models marked ``default`` run without ``--models``.
"""

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    build: Callable
    default: bool = True
    mode: str = "window"


def _random_walk(seed, device, maturities):
    from skyield.baselines import RandomWalk

    return RandomWalk()


def _dns(factors, dynamics, method="two-step"):
    def build(seed, device, maturities):
        from skyield.baselines import DynamicNelsonSiegel

        return DynamicNelsonSiegel(factors=factors, dynamics=dynamics, method=method,
                                   maturities=maturities)

    return build


MODELS = {
    entry.name: entry
    for entry in [
        ModelEntry("random-walk", "random walk (last observed curve)", _random_walk),
        ModelEntry("ns-ar", "two-step dynamic Nelson-Siegel, AR(1) factors", _dns("ns", "ar")),
        ModelEntry("ns-var", "two-step dynamic Nelson-Siegel, VAR(1) factors", _dns("ns", "var")),
        ModelEntry("nss-ar", "two-step dynamic Svensson, AR(1) factors", _dns("nss", "ar")),
        ModelEntry("nss-var", "two-step dynamic Svensson, VAR(1) factors", _dns("nss", "var")),
        ModelEntry("dns-kalman", "one-step dynamic Nelson-Siegel (Kalman filter, ML)",
                   _dns("ns", "var", "kalman")),
    ]
}


def resolve_models(names):
    """Return the model entries for a comma-separated list (None: the defaults)."""
    if names is None:
        return [entry for entry in MODELS.values() if entry.default]
    chosen = []
    for name in (part.strip() for part in names.split(",")):
        if name not in MODELS:
            raise ValueError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
        if name not in [entry.name for entry in chosen]:
            chosen.append(MODELS[name])
    if not chosen:
        raise ValueError("--models names no model")
    return chosen

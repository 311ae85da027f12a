"""skyield: yield-curve and dynamic-factor forecasting models as scikit-learn estimators.

Subpackages
-----------
datasets
    Bundled real yield and macro data, and simulators of the processes used in the
    reference papers.
preprocessing
    Maturity parsing, windowing of panels and train-only scalers.
statespace
    Kalman filtering and smoothing (NaN-aware, batched, differentiable).
baselines
    Classical models: random walk, (dynamic) Nelson-Siegel/Svensson, Kalman factor models,
    weighted rolling regression.
metrics
    Point, interval and factor metrics, Diebold-Mariano test, scorers.
model_selection
    Time-series splitters and the rolling-origin backtest.
nn, models
    PyTorch modules and the scikit-learn estimators that train them (LSTM with attention,
    plain LSTM, dynamic-factor Transformer, ...).
ensemble
    Seed ensembles of deep models.
calibration
    Conformal intervals for time series.
curves
    Discount factors, zero/forward/par conversions, Smith-Wilson extrapolation, present
    values of cash flows under curves and scenario cubes.
scenarios
    Joint scenario paths across maturities and horizons.
sktime
    Every skyield estimator as an sktime forecaster.
plotting
    Attention maps, backtest figures and factor plots.
cli
    The ``skyield`` command (``skyield benchmark``, ``skyield datasets``).
"""

import importlib.metadata as _metadata

try:
    # One source of truth: the version in pyproject.toml, as recorded by the installation.
    __version__ = _metadata.version("skyield")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

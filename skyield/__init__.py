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
"""

__version__ = "0.1.0"

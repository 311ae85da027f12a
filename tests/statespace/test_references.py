"""Published reference values through skyield's filter (statsmodels' own test cases).

Data, parameters and published numbers: ``tests/statespace/data`` (see its README and
``make_references.py``).
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd

from skyield.statespace import kalman_filter, parallel_kalman_filter

DATA = Path(__file__).parent / "data"
REFERENCES = json.loads((DATA / "references.json").read_text())
# The script that wrote the data builds the models once for both.
_spec = importlib.util.spec_from_file_location("make_references", DATA / "make_references.py")
make_references = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_references)


def clark_model():
    """Clark's (1987) trend-cycle model of log GDP; no measurement noise (H = 0)."""
    return {**make_references.clark_matrices(REFERENCES["clark1987"]["parameters"]), "init": "known"}


def test_clark_1987_unobserved_components():
    y = np.log(pd.read_csv(DATA / "clark1987_gdp.csv")["gdp"].to_numpy())[:, None]
    ref = REFERENCES["clark1987"]
    res = kalman_filter(y, **clark_model())
    # Kim and Nelson sum the log-likelihood from the 21st quarter on.
    loglike = float(res.loglike_t[ref["first_date"]:].sum())
    np.testing.assert_allclose(loglike, ref["published_loglike"], atol=1e-5)
    np.testing.assert_allclose(loglike, ref["statsmodels_loglike"], rtol=1e-10)
    states = pd.read_csv(DATA / "clark1987_filtered_states.csv")
    filtered = res.filtered_state.numpy()[ref["first_date"]:]
    np.testing.assert_allclose(filtered[:, [0, 1, 3]], states[["trend", "cycle", "drift"]], atol=1e-4)


def lutkepohl_sample():
    levels = pd.read_csv(DATA / "lutkepohl_e1.csv", index_col="quarter")
    growth = np.log(levels).diff()
    return growth.loc["1960Q2":"1978Q4"].to_numpy()


def test_lutkepohl_dynamic_factor_model():
    # One factor with AR(2) dynamics: state (f_t, f_{t-1}), factor innovations of unit
    # variance, diagonal idiosyncratic variances, stationary start (statsmodels'
    # DynamicFactor(k_factors=1, factor_order=2)).
    y = lutkepohl_sample()
    ref = REFERENCES["lutkepohl_dfm"]
    params = np.asarray(ref["parameters"])
    Z = np.column_stack([params[:3], np.zeros(3)])
    T = np.array([[params[6], params[7]], [1.0, 0.0]])
    Q = np.diag([1.0, 0.0])
    H = np.diag(params[3:6])
    for filt in (kalman_filter, parallel_kalman_filter):
        loglike = float(filt(y, Z, T, H, Q).loglike)
        np.testing.assert_allclose(loglike, ref["published_loglike"], rtol=1e-6)
        np.testing.assert_allclose(loglike, ref["statsmodels_loglike"], rtol=1e-10)

"""Published reference values through skyield's filter (statsmodels' own test cases).

Data, parameters and published numbers: ``tests/statespace/data`` (see its README and
``make_references.py``).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from skyield.statespace import kalman_filter, parallel_kalman_filter

DATA = Path(__file__).parent / "data"
REFERENCES = json.loads((DATA / "references.json").read_text())


def clark_model():
    """Clark's (1987) trend-cycle model of log GDP; no measurement noise (H = 0)."""
    sigma_v, sigma_e, sigma_w, phi_1, phi_2 = REFERENCES["clark1987"]["parameters"]
    T = np.zeros((4, 4))
    T[0, 0] = T[0, 3] = T[2, 1] = T[3, 3] = 1.0
    T[1, 1], T[1, 2] = phi_1, phi_2
    return {
        "Z": np.array([[1.0, 1.0, 0.0, 0.0]]),
        "T": T,
        "H": np.zeros((1, 1)),
        "Q": np.diag([sigma_v**2, sigma_e**2, 0.0, sigma_w**2]),
        "a0": np.zeros(4),
        "P0": T @ (100.0 * np.eye(4)) @ T.T,
        "init": "known",
    }


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

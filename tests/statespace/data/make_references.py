"""Write the reference data and values of ``test_references.py`` from statsmodels.

The data and the published reference values come from statsmodels' own test suite
(``statsmodels/tsa/statespace/tests/results``, BSD-3-Clause), which ships with the
statsmodels wheel:

* ``results_kalman_filter.uc_uni``: Clark's (1987) unobserved-components model of U.S.
  real GDP (quarterly, 1947Q1-1995Q3) as presented in Kim and Nelson (1999), with the
  log-likelihood and filtered states of their GAUSS code;
* ``results_varmax.lutkepohl_data`` and ``results_dynamic_factor.lutkepohl_dfm``: West
  German investment, income and consumption, 1960Q1-1982Q4 (Lütkepohl 2005, JMulTi data
  set e1), and the log-likelihood that Stata's ``dfactor`` reports for a one-factor AR(2)
  dynamic factor model on their log-differences.

The script also records statsmodels' own log-likelihood at the same parameters (its
filter with ``tolerance = 0``, no steady-state shortcut). Run from the repository root::

    python tests/statespace/data/make_references.py
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels
from statsmodels.tsa.statespace import dynamic_factor
from statsmodels.tsa.statespace.mlemodel import MLEModel
from statsmodels.tsa.statespace.tests.results import (
    results_dynamic_factor,
    results_kalman_filter,
    results_varmax,
)

HERE = Path(__file__).parent


def clark_matrices(params):
    """State space matrices of Clark's model (statsmodels' ``Clark1987`` test class)."""
    sigma_v, sigma_e, sigma_w, phi_1, phi_2 = params
    T = np.zeros((4, 4))
    T[0, 0] = T[0, 3] = T[2, 1] = T[3, 3] = 1.0
    T[1, 1], T[1, 2] = phi_1, phi_2
    return {
        "Z": np.array([[1.0, 1.0, 0.0, 0.0]]),
        "T": T,
        "H": np.zeros((1, 1)),
        "Q": np.diag([sigma_v**2, sigma_e**2, 0.0, sigma_w**2]),
        "a0": np.zeros(4),
        # Kim and Nelson's 100 * I, moved to statsmodels' (predicted) timing.
        "P0": T @ (100.0 * np.eye(4)) @ T.T,
    }


def clark():
    true = results_kalman_filter.uc_uni
    dates = pd.period_range("1947Q1", periods=len(true["data"]), freq="Q")
    pd.DataFrame({"quarter": dates.astype(str), "gdp": true["data"]}).to_csv(
        HERE / "clark1987_gdp.csv", index=False, float_format="%.8f")
    states = pd.DataFrame(true["states"], columns=["trend", "cycle", "drift"])
    states.insert(0, "quarter", dates[true["start"]:].astype(str))
    states.to_csv(HERE / "clark1987_filtered_states.csv", index=False)

    m = clark_matrices(true["parameters"])
    model = MLEModel(np.log(np.asarray(true["data"])), k_states=4)
    for name, key in (("design", "Z"), ("transition", "T"), ("obs_cov", "H"), ("state_cov", "Q")):
        model.ssm[name] = m[key]
    model.ssm["selection"] = np.eye(4)
    model.ssm.initialize_known(m["a0"], m["P0"])
    model.ssm.tolerance = 0
    llf_obs = model.ssm.filter().llf_obs
    return {
        "parameters": list(true["parameters"]),
        "first_date": true["start"],
        "published_loglike": true["loglike"],
        "statsmodels_loglike": float(llf_obs[true["start"]:].sum()),
    }


def lutkepohl():
    data = pd.DataFrame(results_varmax.lutkepohl_data, columns=["inv", "inc", "consump"])
    data.insert(0, "quarter", pd.period_range("1960Q1", periods=len(data), freq="Q").astype(str))
    data.to_csv(HERE / "lutkepohl_e1.csv", index=False)

    levels = data.set_index(pd.date_range("1960-01-01", periods=len(data), freq="QS"))
    endog = np.log(levels[["inv", "inc", "consump"]]).diff().loc["1960-04-01":"1978-10-01"]
    true = results_dynamic_factor.lutkepohl_dfm
    model = dynamic_factor.DynamicFactor(endog, k_factors=1, factor_order=2)
    model.ssm.tolerance = 0
    return {
        "parameters": list(true["params"]),
        "sample": ["1960Q2", "1978Q4"],
        "published_loglike": true["loglike"],
        "statsmodels_loglike": float(model.loglike(np.asarray(true["params"]))),
    }


def main():
    references = {
        "statsmodels_version": statsmodels.__version__,
        "clark1987": clark(),
        "lutkepohl_dfm": lutkepohl(),
    }
    (HERE / "references.json").write_text(json.dumps(references, indent=2) + "\n")


if __name__ == "__main__":
    main()

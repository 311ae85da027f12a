"""The Monte Carlo example runs end to end in its quick mode (pipeline invariants only)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "factor_transformer_monte_carlo.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("factor_transformer_monte_carlo", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_monte_carlo(example, capsys):
    previous = torch.get_num_threads()
    try:
        results = example.main(["--quick", "--prior-weights", "0", "1"])
    finally:
        torch.set_num_threads(previous)
    assert list(results["prior_weight"]) == [0.0, 1.0]
    assert (results["process"] == 2).all() and (results["seed"] == 0).all()
    # 300 fitting periods: the Transformer trains on 240 and validates on the last 60.
    assert (results["n_train"] == 240).all() and (results["n_valid"] == 60).all()
    for column in ("fit", "gain", "r2", "r2_kalman", "r2_kalman_max", "r2_oracle", "r2_mean"):
        assert np.isfinite(results[column]).all(), column
        if column.startswith("r2"):
            assert (results[column] <= 1).all()
    # Fit and Gain are consistent with the R2 columns they are built from (eqs. 38-40).
    mse = 1 - results["r2"]
    mse_kalman = 1 - results["r2_kalman"]
    np.testing.assert_allclose(results["fit"], 100 * (mse_kalman - mse) / mse_kalman)
    np.testing.assert_allclose(
        results["gain"], 100 * (mse_kalman - mse) / (mse_kalman - (1 - results["r2_oracle"])))
    # The oracle filter uses the true densities: it beats the data mean.
    assert (results["r2_oracle"] > results["r2_mean"]).all()
    assert "total" in capsys.readouterr().out


def test_oracle_filter_handles_lags_and_regimes(example):
    from skyield.datasets import make_dfm_process

    for process in (5, 6):
        data = make_dfm_process(process, 150, random_state=1)
        estimate = example.oracle_particle_filter(data.observables, data.params,
                                                  n_particles=300, random_state=0)
        assert np.isnan(estimate[:3]).all() and np.isfinite(estimate[3:]).all()
        assert np.corrcoef(estimate[3:], data.factor[3:])[0, 1] > 0.8


def test_linear_parameters_of_process_1_are_the_true_ones(example):
    from skyield.datasets import dfm_process_spec

    spec = dfm_process_spec(1)
    linear = example.linear_parameters(1)
    assert linear["a"] == 0.96
    np.testing.assert_array_equal(linear["z"], spec["beta"])

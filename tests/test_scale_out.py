"""Scale-out through joblib's Dask backend gives the sequential results.

skyield parallelises only through joblib (``n_jobs``); a Dask cluster (or Ray) is a joblib
backend, so the same code runs on it. A two-worker local cluster of separate processes
stands in for a real one: a rolling-origin backtest and a parallel grid search of a
skyield baseline must give exactly what they give in one process, timing columns aside.
"""

import logging

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV

from skyield.baselines import DynamicNelsonSiegel, RandomWalk
from skyield.datasets import make_nelson_siegel_curves
from skyield.model_selection import ExpandingWindowSplit, backtest

distributed = pytest.importorskip("distributed")

MATURITIES = [0.25, 1, 2, 5, 10]
TIMING = ["fit_time", "mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time"]


@pytest.fixture(scope="module")
def dask_client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster, timeout="60s")
    try:
        client.wait_for_workers(2, timeout=120)
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


@pytest.fixture(scope="module")
def curves():
    return make_nelson_siegel_curves(n_dates=72, maturities=MATURITIES, random_state=0).curves


def _without_timing(frame):
    return frame.drop(columns=[c for c in TIMING if c in frame.columns])


@pytest.mark.slow
@pytest.mark.parametrize("estimator, params", [
    # A sequence model (fitted on the training dates, then updated origin by origin) and
    # a window regressor.
    (DynamicNelsonSiegel(dynamics="var"), {"coverage": 0.9}),
    (RandomWalk(), {"quantiles": [0.1, 0.9], "coverage": 0.8}),
])
def test_backtest_on_dask_equals_the_sequential_backtest(dask_client, curves, estimator,
                                                         params):
    arguments = dict(window=3, horizons=[1, 6], refit=True, **params)
    splitter = ExpandingWindowSplit(4, test_size=6)
    sequential = backtest(estimator, curves, splitter, n_jobs=1, **arguments)
    with parallel_config(backend="dask"), \
            distributed.get_task_stream(client=dask_client) as tasks:
        parallel = backtest(estimator, curves, splitter, n_jobs=2, **arguments)
    # 24 origins (dates 48 .. 71) with a target inside the 72 dates: 23 at h=1, 18 at h=6.
    assert len(sequential) == (23 + 18) * len(MATURITIES)
    pd.testing.assert_frame_equal(_without_timing(parallel), _without_timing(sequential))
    # The work really ran on the cluster (joblib may batch several fits into one task).
    assert len(tasks.data) >= 1


@pytest.mark.slow
def test_grid_search_on_dask_equals_the_sequential_search(dask_client, curves):
    train, block = curves.iloc[:64], curves.iloc[64:]
    grid = {"dynamics": ["ar", "var"], "decay": ["diebold-li", 1.2]}
    model = DynamicNelsonSiegel()
    cv = ExpandingWindowSplit(3, test_size=8, gap=2)

    def search(n_jobs):
        # Scored by the model's own score: minus the mean squared one-step error over
        # each test block, which starts two unseen dates after its training span.
        return GridSearchCV(model, grid, cv=cv, n_jobs=n_jobs).fit(train)

    sequential = search(1)
    with parallel_config(backend="dask"), \
            distributed.get_task_stream(client=dask_client) as tasks:
        parallel = search(2)
    assert len(tasks.data) >= 1
    assert np.all(np.isfinite(sequential.cv_results_["mean_test_score"]))
    assert len(set(sequential.cv_results_["mean_test_score"])) == 4
    assert parallel.best_params_ == sequential.best_params_
    pd.testing.assert_frame_equal(_without_timing(pd.DataFrame(parallel.cv_results_)),
                                  _without_timing(pd.DataFrame(sequential.cv_results_)))
    pd.testing.assert_frame_equal(parallel.predict(block), sequential.predict(block))

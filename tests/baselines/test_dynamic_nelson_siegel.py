"""DynamicNelsonSiegel: parameter recovery, window/panel equivalence, forecasts, intervals."""

import warnings

import numpy as np
import pytest
import sklearn
from numpy.linalg import matrix_power
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from skyield.baselines import DynamicNelsonSiegel, nelson_siegel_loadings
from skyield.baselines._dns_statespace import (
    DNSLikelihood,
    SegmentedDNSModel,
    _positive_definite,
    _stationary_start,
    fit_two_step,
    kalman_filter,
)
from skyield.baselines._dynamic_nelson_siegel import window_segments
from skyield.datasets import make_nelson_siegel_curves
from skyield.preprocessing import make_family_windows, make_windows

TAU = [0.25, 1.0, 2.0, 5.0, 10.0, 30.0]
DECAY = 0.7308
TRANSITION = np.diag([0.8, 0.7, 0.5])
MEAN = np.array([6.0, -2.0, -0.5])
SHOCK_VAR = np.array([0.3, 0.4, 0.7]) ** 2
NOISE = 0.05


def _simulate(n_dates, seed, **kwargs):
    return make_nelson_siegel_curves(
        n_dates=n_dates, maturities=TAU, decay=DECAY, transition=TRANSITION,
        factor_mean=MEAN, noise_std=NOISE, random_state=seed, **kwargs)


@pytest.fixture(scope="module")
def panel():
    return _simulate(300, 11).curves


@pytest.fixture(scope="module")
def kalman_panel_model(panel):
    return DynamicNelsonSiegel(method="kalman", decay=DECAY).fit(panel)


def _statsmodels_params(model_class_args, params):
    model = SegmentedDNSModel(*model_class_args)
    return model, model.pack(params.mean, params.transition, params.state_cov,
                             params.measurement_var)


def test_kalman_filter_and_smoother_match_statsmodels(panel):
    values = panel.to_numpy()[:80]
    params, _ = fit_two_step([values], np.array(TAU), "ns", "var", DECAY, "full")
    model, vector = _statsmodels_params((values, params.loadings, [], "var", "full"), params)
    model.ssm.tolerance = 0
    filtered = model.filter(vector)
    smoothed = model.smooth(vector)
    means, covs = kalman_filter(params, values[None])
    np.testing.assert_allclose(means[0], filtered.filtered_state.T + params.mean, atol=1e-10)
    np.testing.assert_allclose(covs, np.moveaxis(filtered.filtered_state_cov, 2, 0), atol=1e-10)
    smooth_means, _ = kalman_filter(params, values[None], smooth=True)
    np.testing.assert_allclose(smooth_means[0], smoothed.smoothed_state.T + params.mean,
                               atol=1e-10)


def test_segment_likelihood_is_the_sum_over_segments(panel):
    values = panel.to_numpy()[:90]
    params, _ = fit_two_step([values], np.array(TAU), "ns", "var", DECAY, "full")
    joint, vector = _statsmodels_params((values, params.loadings, [30, 31, 70], "var", "full"),
                                        params)
    total = 0.0
    for a, b in [(0, 30), (30, 31), (31, 70), (70, 90)]:
        part = SegmentedDNSModel(values[a:b], params.loadings, [], "var", "full")
        part.ssm.tolerance = 0
        total += part.loglike(vector)
    joint.ssm.tolerance = 0
    assert joint.loglike(vector) == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize("dynamics, state_cov", [
    ("var", "full"), ("ar", "diagonal"), ("var", "diagonal"), ("ar", "full")])
def test_fast_likelihood_and_score_match_statsmodels(panel, dynamics, state_cov):
    values = panel.to_numpy()[:90]
    params, _ = fit_two_step([values], np.array(TAU), "ns", dynamics, DECAY, state_cov)
    rng = np.random.default_rng(3)
    for starts in ([], [30, 31, 70]):
        model = SegmentedDNSModel(values, params.loadings, starts, dynamics, state_cov)
        model.ssm.tolerance = 0
        likelihood = DNSLikelihood(model)
        u = rng.normal(scale=0.5, size=len(model.param_names))
        u[:3] += MEAN
        # Measurement variances of 1e-14 and 9e-16: the maximum of smooth fitted curves
        # puts as many maturities as factors there.
        u[-2:] = [1e-7, 3e-8]
        constrained = model.transform_params(u)
        for ours, theirs in zip(model.unpack(likelihood.constrained(u)),
                                model.unpack(constrained)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
        value, score = likelihood.loglike_and_score(u)
        assert value == pytest.approx(model.loglike(constrained), rel=1e-11, abs=1e-9)
        assert likelihood.loglike(u) == value
        steps = 1e-5 * np.maximum(1.0, np.abs(u))
        numeric = np.array([
            (model.loglike(model.transform_params(u + h * e))
             - model.loglike(model.transform_params(u - h * e))) / (2 * h)
            for h, e in zip(steps, np.eye(u.size))])
        np.testing.assert_allclose(score, numeric, rtol=1e-5, atol=1e-6 * np.abs(numeric).max())


def test_one_step_reaches_the_statsmodels_maximum():
    curves = make_nelson_siegel_curves(
        n_dates=100, maturities=TAU, decay=DECAY, factor_mean=MEAN, noise_std=NOISE,
        transition=np.array([[0.8, 0.1, 0.0], [0.0, 0.7, 0.1], [0.0, 0.0, 0.5]]),
        random_state=23).curves
    model = DynamicNelsonSiegel(method="kalman", dynamics="var", decay=DECAY).fit(curves)
    assert model.converged_
    values = curves.to_numpy()
    two_step, factors = fit_two_step([values], np.array(TAU), "ns", "var", DECAY, "full")
    reference = SegmentedDNSModel(values, two_step.loadings, [], "var", "full")
    start = reference.pack(factors[0].mean(axis=0), _stationary_start(two_step.transition, "var"),
                           _positive_definite(two_step.state_cov), two_step.measurement_var)
    # statsmodels' own maximisation (numerical gradients, L-BFGS) from the same start.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = reference.fit(start_params=start, method="lbfgs", maxiter=2000, disp=False,
                               cov_type="none")
    assert result.mle_retvals["converged"]
    assert model.log_likelihood_ >= result.llf - 1e-6
    # The reported value is statsmodels' log-likelihood at the estimates.
    estimates = reference.pack(model.mean_, model.transition_, model.state_cov_,
                               model.measurement_var_)
    reference.ssm.tolerance = 0
    assert reference.loglike(estimates) == pytest.approx(model.log_likelihood_, rel=1e-12)


def test_one_step_does_not_depend_on_the_units_of_the_yields():
    curves = _simulate(120, 13).curves
    percent = DynamicNelsonSiegel(method="kalman", dynamics="var", decay=DECAY).fit(curves)
    decimal = DynamicNelsonSiegel(method="kalman", dynamics="var", decay=DECAY).fit(curves / 100)
    assert percent.converged_ and decimal.converged_
    # Dividing the yields by 100 adds n_values * log(100) to the log-likelihood.
    shift = curves.size * np.log(100.0)
    assert decimal.log_likelihood_ == pytest.approx(percent.log_likelihood_ + shift, abs=1e-6)
    np.testing.assert_allclose(decimal.transition_, percent.transition_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(decimal.mean_ * 100, percent.mean_, rtol=1e-6)
    np.testing.assert_allclose(decimal.state_cov_ * 1e4, percent.state_cov_, rtol=1e-5,
                               atol=1e-9)
    np.testing.assert_allclose(decimal.measurement_var_ * 1e4, percent.measurement_var_,
                               rtol=1e-5, atol=1e-9)


def test_two_step_recovers_the_simulated_dynamics(panel):
    model = DynamicNelsonSiegel(decay=DECAY).fit(panel)
    # Standard errors at T=300: AR coefficients <= 0.05, means <= 0.09.
    np.testing.assert_allclose(np.diag(model.transition_), np.diag(TRANSITION), atol=0.12)
    assert np.count_nonzero(model.transition_ - np.diag(np.diag(model.transition_))) == 0
    np.testing.assert_allclose(model.mean_, MEAN, atol=0.35)
    np.testing.assert_allclose(np.diag(model.state_cov_), SHOCK_VAR, rtol=0.3)
    np.testing.assert_allclose(model.measurement_var_, NOISE**2, rtol=0.35)
    np.testing.assert_allclose(model.loadings_, nelson_siegel_loadings(TAU, DECAY))
    assert model.factors_.shape == (300, 3) and list(model.factors_.columns) == [
        "level", "slope", "curvature"]


def test_one_step_recovers_the_simulated_dynamics(panel, kalman_panel_model):
    model = kalman_panel_model
    assert model.converged_
    np.testing.assert_allclose(np.diag(model.transition_), np.diag(TRANSITION), atol=0.12)
    np.testing.assert_allclose(model.mean_, MEAN, atol=0.35)
    np.testing.assert_allclose(np.diag(model.state_cov_), SHOCK_VAR, rtol=0.3)
    # Short-end noise trades off against the slope dynamics: check the average level.
    assert np.mean(model.measurement_var_) == pytest.approx(NOISE**2, rel=0.25)
    # The maximum beats the two-step start on the same likelihood.
    two_step = DynamicNelsonSiegel(decay=DECAY).fit(panel).params_[None]
    start_model, vector = _statsmodels_params(
        (panel.to_numpy(), two_step.loadings, [], "ar", "diagonal"), two_step)
    assert model.log_likelihood_ > start_model.loglike(vector)


def test_stride_one_windows_give_the_panel_estimates(panel):
    short = panel.iloc[:120]
    windows = make_windows(short, window=6, horizons=1)
    for kwargs in ({"dynamics": "var"}, {"dynamics": "ar", "method": "kalman"}):
        on_panel = DynamicNelsonSiegel(decay=DECAY, **kwargs).fit(short)
        on_windows = DynamicNelsonSiegel(decay=DECAY, maturities=TAU, **kwargs).fit(
            windows.X, windows.y)
        for name in ("transition_", "mean_", "state_cov_", "measurement_var_"):
            np.testing.assert_allclose(getattr(on_windows, name), getattr(on_panel, name),
                                       rtol=1e-10, atol=1e-12)
    # Several leading horizons also extend the segment to the end of the panel.
    windows = make_windows(short, window=6, horizons=3)
    on_windows = DynamicNelsonSiegel(decay=DECAY, maturities=TAU).fit(windows.X, windows.y)
    np.testing.assert_allclose(on_windows.transition_,
                               DynamicNelsonSiegel(decay=DECAY).fit(short).transition_)


def test_window_segments():
    panel = np.arange(30.0).reshape(10, 3)
    windows = make_windows(panel, window=4, horizons=2)
    segments = window_segments(windows.X, windows.y)
    assert len(segments) == 1 and np.array_equal(segments[0], panel)
    shuffled = windows.X[[3, 0, 1, 2]]
    assert [len(s) for s in window_segments(shuffled)] == [4, 6]
    # One-date windows always chain: rows are read as consecutive dates.
    assert [len(s) for s in window_segments(panel[:, None, :])] == [10]


def test_forecast_equals_the_closed_form(panel):
    windows = make_windows(panel.iloc[:200], window=5, horizons=[1, 4])
    L = nelson_siegel_loadings(TAU, DECAY)
    for method in ("two-step", "kalman"):
        model = DynamicNelsonSiegel(method=method, dynamics="ar", decay=DECAY, maturities=TAU,
                                    horizons=[1, 4], maxiter=50)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(windows.X, windows.y)
        A, mu = model.transition_, model.mean_
        window = windows.X[7]
        if method == "two-step":
            beta = np.linalg.lstsq(L, window[-1], rcond=None)[0]
        else:
            params = model.params_[None]
            sm_model, vector = _statsmodels_params(
                (window, L, [], "ar", "diagonal"), params)
            sm_model.ssm.tolerance = 0
            beta = sm_model.filter(vector).filtered_state[:, -1] + mu
        expected = [L @ (mu + matrix_power(A, h) @ (beta - mu)) for h in (1, 4)]
        np.testing.assert_allclose(model.predict(windows.X[7:8])[0], expected, rtol=1e-9)


def test_predictive_intervals_cover_at_the_nominal_rate():
    curves = _simulate(1400, 5).curves
    windows = make_windows(curves, window=4, horizons=[1, 6])
    train, test = slice(0, 600), slice(600, None)
    model = DynamicNelsonSiegel(decay=DECAY, maturities=TAU, horizons=[1, 6])
    model.fit(windows.X[train], windows.y[train])
    interval = model.predict_interval(windows.X[test], coverage=0.95)
    y = windows.y[test]
    inside = (y >= interval[..., 0]) & (y <= interval[..., 1])
    for h in range(2):
        assert 0.9 <= inside[:, h].mean() <= 0.99
    quantiles = model.predict_quantiles(windows.X[test][:3], [0.025, 0.5, 0.975])
    np.testing.assert_allclose(quantiles[..., [0, 2]], interval[:3])
    np.testing.assert_allclose(quantiles[..., 1], model.predict(windows.X[test][:3]))
    # The one-step horizon is the tighter one.
    width = np.mean(interval[..., 1] - interval[..., 0], axis=(0, 2))
    assert width[0] < width[1]


def test_families_get_separate_parameters():
    data = _simulate(150, 3, n_families=["EUR", "USD"])
    windows = make_family_windows(data.curves, window=4, horizons=1)
    model = DynamicNelsonSiegel(decay=DECAY, maturities=TAU, dynamics="var")
    model.fit(windows.X, windows.y, families=windows.families)
    assert list(model.families_) == ["EUR", "USD"] and model.transition_.shape == (2, 3, 3)
    for i, family in enumerate(["EUR", "USD"]):
        rows = windows.families == family
        alone = DynamicNelsonSiegel(decay=DECAY, maturities=TAU, dynamics="var").fit(
            windows.X[rows], windows.y[rows])
        np.testing.assert_allclose(model.transition_[i], alone.transition_, rtol=1e-10)
        np.testing.assert_allclose(model.predict(windows.X[rows], families=windows.families[rows]),
                                   alone.predict(windows.X[rows]), rtol=1e-10)
    with pytest.raises(ValueError, match="family 'GBP' was not seen in fit"):
        model.predict(windows.X[:2], families=["GBP", "EUR"])
    with pytest.raises(ValueError, match="pass families="):
        model.predict(windows.X[:2])
    # A (family, date) panel fits the same parameters.
    on_panel = DynamicNelsonSiegel(decay=DECAY, dynamics="var").fit(data.curves)
    np.testing.assert_allclose(on_panel.transition_, model.transition_, rtol=1e-10)
    forecast = on_panel.forecast(2)
    assert forecast.index.names == ["family", "date"]
    assert forecast.index.get_level_values(0).tolist() == ["EUR", "EUR", "USD", "USD"]
    assert on_panel.forecast_interval(2).shape == (4, 6, 2)


def test_grid_search_routes_families():
    data = _simulate(120, 4, n_families=["A", "B"])
    windows = make_family_windows(data.curves, window=3, horizons=1)
    with sklearn.config_context(enable_metadata_routing=True):
        model = DynamicNelsonSiegel(maturities=TAU).set_fit_request(families=True)
        model = model.set_score_request(families=True)
        search = GridSearchCV(model, {"dynamics": ["ar", "var"]}, cv=TimeSeriesSplit(n_splits=3))
        search.fit(windows.X, windows.y, families=windows.families)
    assert list(search.best_estimator_.families_) == ["A", "B"]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_pipeline_and_grid_search_on_flat_windows(panel):
    windows = make_windows(panel.iloc[:150], window=3, horizons=1)
    X = windows.X.reshape(len(windows.X), -1)
    y = windows.y[:, 0, :]
    pipe = Pipeline([("identity", FunctionTransformer()),
                     ("dns", DynamicNelsonSiegel(maturities=TAU, window=3))])
    search = GridSearchCV(pipe, {"dns__decay": ["diebold-li", "grid"]},
                          cv=TimeSeriesSplit(n_splits=3), scoring="neg_mean_squared_error")
    search.fit(X, y)
    assert search.predict(X).shape == y.shape


def test_panel_forecast_update_and_transform():
    data = _simulate(100, 8)
    model = DynamicNelsonSiegel(decay=DECAY, dynamics="var").fit(data.curves.iloc[:90])
    forecast = model.forecast(3)
    assert list(forecast.index) == list(data.curves.index[90:93])
    assert list(forecast.columns) == TAU
    L, A, mu = model.loadings_, model.transition_, model.mean_
    beta = model.factors_.to_numpy()[-1]
    np.testing.assert_allclose(forecast.to_numpy()[2], L @ (mu + matrix_power(A, 3) @ (beta - mu)))
    model.update(data.curves.iloc[90:95])
    beta = np.linalg.lstsq(L, data.curves.to_numpy()[94], rcond=None)[0]
    updated = model.forecast([1, 2])
    assert updated.index[0] == data.curves.index[95]
    np.testing.assert_allclose(updated.to_numpy()[0], L @ (mu + A @ (beta - mu)))
    np.testing.assert_allclose(model.transform(data.curves.iloc[:90]).to_numpy(),
                               model.factors_.to_numpy())
    with pytest.raises(ValueError, match="dates after the last one seen"):
        model.update(data.curves.iloc[90:92])
    quantiles = model.forecast_quantiles(2, [0.1, 0.5, 0.9])
    assert quantiles.shape == (2, 6, 3)
    np.testing.assert_allclose(quantiles[..., 1], model.forecast(2).to_numpy())
    with pytest.raises(ValueError, match="a gap or an off-grid date"):
        model.update(data.curves.iloc[96:98])
    with pytest.raises(ValueError, match="needs a model fitted on windows"):
        model.predict(np.zeros((1, 2, 6)))
    with pytest.raises(ValueError, match="smooth=True needs method='kalman'"):
        model.transform(data.curves, smooth=True)


def test_panel_without_dates_forecasts_by_step():
    values = _simulate(60, 9).curves.to_numpy()
    model = DynamicNelsonSiegel(maturities=TAU).fit(values)
    assert isinstance(model.factors_, np.ndarray)
    assert model.forecast(2).index.tolist() == [1, 2]


def test_kalman_panel_transform_and_forecast_interval(panel, kalman_panel_model):
    model = kalman_panel_model
    filtered = model.transform(panel)
    np.testing.assert_allclose(filtered.to_numpy(), model.factors_.to_numpy())
    smoothed = model.transform(panel, smooth=True)
    np.testing.assert_allclose(smoothed.to_numpy()[-1], filtered.to_numpy()[-1])
    assert not np.allclose(smoothed.to_numpy()[0], filtered.to_numpy()[0])
    interval = model.forecast_interval(2, coverage=0.9)
    np.testing.assert_allclose(interval.mean(axis=-1), model.forecast(2).to_numpy())
    # The filtered state's uncertainty widens the interval beyond the shocks alone.
    params = model.params_[None]
    L = params.loadings
    shocks_only = np.sqrt(L @ params.state_cov @ L.T).diagonal() ** 2 + params.measurement_var
    half_width = (interval[0, :, 1] - interval[0, :, 0]) / 2
    assert np.all(half_width > 1.6448536 * np.sqrt(shocks_only))


def test_window_mode_has_no_panel_methods(panel):
    windows = make_windows(panel.iloc[:40], window=3, horizons=1)
    model = DynamicNelsonSiegel(maturities=TAU).fit(windows.X, windows.y)
    assert not hasattr(model, "transform")
    with pytest.raises(AttributeError, match="was fitted on windows"):
        model.transform(panel)
    with pytest.raises(ValueError, match="needs a model fitted on a panel"):
        model.forecast(2)
    with pytest.raises(ValueError, match="needs a model fitted on a panel"):
        model.update(panel)
    assert not hasattr(DynamicNelsonSiegel(), "transform")


def test_convergence_warning():
    curves = _simulate(60, 10).curves
    with pytest.warns(ConvergenceWarning, match="did not converge .* maxiter=1"):
        model = DynamicNelsonSiegel(method="kalman", maxiter=1).fit(curves)
    assert model.converged_ is False


def test_svensson_two_step():
    curves = _simulate(80, 12).curves
    model = DynamicNelsonSiegel(factors="nss", decay="mean-maturity", dynamics="var").fit(curves)
    assert model.loadings_.shape == (6, 4) and model.transition_.shape == (4, 4)
    # Quartiles of the six maturities: 1.25 and 8.75 years.
    np.testing.assert_allclose(model.decay_, (1 / 1.25, 1 / 8.75))
    assert list(model.factors_.columns)[-1] == "curvature2"


@pytest.mark.parametrize("kwargs, X, y, message", [
    ({}, np.zeros((5, 3, 6)), np.zeros((5, 6)), "needs maturities"),
    ({"maturities": "uniform"}, np.zeros((5, 3, 2)), np.zeros((5, 2)),
     "at least 3 maturities.*n_features=2"),
    ({"maturities": TAU}, np.zeros((5, 3, 6)), np.zeros((5, 2)), "y has 2 target column"),
    ({"maturities": TAU, "dynamics": "arma"}, np.zeros((5, 3, 6)), np.zeros((5, 6)),
     "dynamics must be one of"),
    ({"maturities": "uniform", "window": 1, "targets": -1}, np.ones((1, 6)), np.zeros(1),
     "transitions between consecutive curves, got 0 from 1 window"),
])
def test_bad_input_raises(kwargs, X, y, message):
    with pytest.raises(ValueError, match=message):
        DynamicNelsonSiegel(**kwargs).fit(X, y)


def test_get_test_params():
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for params in DynamicNelsonSiegel.get_test_params():
            model = DynamicNelsonSiegel(**params).fit(rng.normal(size=(30, 4)), rng.normal(size=30))
            assert model.predict(rng.normal(size=(2, 4))).shape == (2,)


def test_curves_fitted_exactly_give_finite_zero_width_intervals():
    # Three maturities and three Nelson-Siegel factors: every curve is fitted exactly, the
    # measurement variance is zero and the forecast variance is zero up to rounding.
    import warnings

    rng = np.random.default_rng(3)
    curves = 2.0 + np.cumsum(rng.normal(scale=0.05, size=(80, 3)), axis=0)
    model = DynamicNelsonSiegel(maturities=[1.0, 5.0, 10.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model.fit(curves)
        bands = model.forecast_interval(3)
    assert np.isfinite(bands).all() and (bands[..., 1] >= bands[..., 0]).all()

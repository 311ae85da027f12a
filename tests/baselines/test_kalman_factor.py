"""Tests of KalmanFactorModel and of the sequence-model plumbing it shares.

The reference values come from a Kalman filter written out below in plain numpy (one
factor, AR(1) state, stationary start), applied with the fitted parameters, and from the
closed-form moments of the AR(1) factor model.
"""

import copy

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning

from skyield.baselines._kalman_factor import KalmanFactorModel

PHI = 0.8
LOADINGS = np.array([1.0, 0.8, 0.6, 1.2, 0.5])
NOISE_STD = np.array([0.6, 0.5, 0.7, 0.6, 0.5])
MEANS = np.array([1.0, -2.0, 0.5, 3.0, 0.0])
N_TRAIN = 400


def simulate_dfm(n_dates, seed=0):
    """One-factor linear Gaussian DFM: x_t = 0.8 x_{t-1} + N(0, 1), y = mu + b x + noise."""
    rng = np.random.default_rng(seed)
    factor = np.empty(n_dates)
    factor[0] = rng.normal(scale=1 / np.sqrt(1 - PHI ** 2))
    for t in range(1, n_dates):
        factor[t] = PHI * factor[t - 1] + rng.normal()
    noise = rng.normal(size=(n_dates, LOADINGS.size)) * NOISE_STD
    return MEANS + factor[:, None] * LOADINGS + noise, factor


def as_frame(values, start="2000-01-07"):
    dates = pd.date_range(start, periods=len(values), freq="W-FRI")
    return pd.DataFrame(values, index=dates, columns=[f"s{i}" for i in range(values.shape[1])])


def reference_filter(z, loadings, phi, error_cov):
    """Kalman filter of z_t = b x_t + u_t, x_t = phi x_{t-1} + e_t (Var e = 1).

    Rows of NaN are dates without observations (prediction only). Returns filtered means
    and variances, and one-step-ahead predictions of z_t.
    """
    a, p = 0.0, 1.0 / (1.0 - phi ** 2)
    filtered, variances, predictions = [], [], []
    for row in z:
        predictions.append(loadings * a)
        if not np.isnan(row).all():
            cov = p * np.outer(loadings, loadings) + error_cov
            gain = p * np.linalg.solve(cov, loadings)
            a = a + gain @ (row - loadings * a)
            p = p - p * gain @ loadings
        filtered.append(a)
        variances.append(p)
        a, p = phi * a, phi ** 2 * p + 1.0
    return np.array(filtered), np.array(variances), np.array(predictions)


@pytest.fixture(scope="module")
def data():
    values, factor = simulate_dfm(600)
    return as_frame(values), factor


@pytest.fixture(scope="module")
def fitted(data):
    frame, _ = data
    return KalmanFactorModel(n_factors=1).fit(frame.iloc[:N_TRAIN])


def _reference_inputs(model, frame):
    z = (frame.to_numpy() - model.mean_) / model.scale_
    return z, model.loadings_[:, 0], model.transition_[0, 0], model.error_cov_


def test_recovers_one_factor_dfm(data):
    frame, factor = data
    model = KalmanFactorModel(n_factors=1, standardize=False).fit(frame.iloc[:N_TRAIN])
    assert model.converged_
    assert model.log_likelihood_ == pytest.approx(float(model.results_.llf))
    assert not hasattr(model, "loglikelihood_")
    # Unit factor innovations as in the simulation, so loadings are in data units.
    # Standard errors are about 0.05 (loadings) and 0.03 (persistence) at 400 dates.
    np.testing.assert_allclose(model.loadings_[:, 0], LOADINGS, atol=0.2)
    assert abs(model.transition_[0, 0] - PHI) < 0.1
    np.testing.assert_allclose(np.sqrt(np.diag(model.error_cov_)), NOISE_STD, atol=0.15)
    np.testing.assert_allclose(model.mean_, frame.iloc[:N_TRAIN].mean().to_numpy())
    later = model.transform(frame.iloc[N_TRAIN:])[:, 0]
    assert np.corrcoef(later, factor[N_TRAIN:])[0, 1] > 0.9


def test_transform_with_frozen_parameters_matches_reference_filter(data, fitted):
    frame, _ = data
    params_before = np.array(fitted.results_.params)
    z, loadings, phi, error_cov = _reference_inputs(fitted, frame)
    filtered, _, predictions = reference_filter(z, loadings, phi, error_cov)

    whole = fitted.transform(frame)
    np.testing.assert_allclose(whole[:, 0], filtered, atol=1e-8)
    later = fitted.transform(frame.iloc[N_TRAIN:])
    reference_later, _, _ = reference_filter(z[N_TRAIN:], loadings, phi, error_cov)
    np.testing.assert_allclose(later[:, 0], reference_later, atol=1e-8)

    # predict(Y) of the block that follows the training span: row t is forecast from
    # the dates before it, i.e. the one-step predictions of the filter over the whole
    # panel (started at the stationary distribution at the first training date).
    block = frame.iloc[N_TRAIN:]
    predicted = fitted.predict(block)
    assert isinstance(predicted, pd.DataFrame) and predicted.index.equals(block.index)
    expected = predictions[N_TRAIN:] * fitted.scale_ + fitted.mean_
    np.testing.assert_allclose(predicted.to_numpy(), expected, atol=1e-8)
    assert fitted.score(block) == pytest.approx(-np.mean((expected - block.to_numpy()) ** 2))
    # horizon=3: from the filtered factor three dates earlier (from the last training date
    # for the first three rows).
    three = fitted.predict(block, horizon=3).to_numpy()
    origins = filtered[N_TRAIN - 3 + np.arange(3, len(block))]
    np.testing.assert_allclose(three[3:], fitted.mean_ + fitted.scale_ * np.outer(
        phi ** 3 * origins, loadings), atol=1e-8)
    np.testing.assert_allclose(three[:3], fitted.mean_ + fitted.scale_ * np.outer(
        phi ** np.arange(1, 4) * filtered[N_TRAIN - 1], loadings), atol=1e-8)
    np.testing.assert_array_equal(np.array(fitted.results_.params), params_before)
    assert fitted.n_dates_seen_ == N_TRAIN
    assert fitted.last_date_ == frame.index[N_TRAIN - 1]


def test_predict_across_a_gap_read_from_the_dates(data, fitted):
    frame, _ = data
    block = frame.iloc[N_TRAIN + 4:N_TRAIN + 30]  # four weeks unseen
    z, loadings, phi, error_cov = _reference_inputs(fitted, frame.iloc[:N_TRAIN + 30])
    z[N_TRAIN:N_TRAIN + 4] = np.nan
    _, _, predictions = reference_filter(z, loadings, phi, error_cov)
    predicted = fitted.predict(block).to_numpy()
    np.testing.assert_allclose(predicted, predictions[N_TRAIN + 4:] * fitted.scale_
                               + fitted.mean_, atol=1e-8)
    # The first row is the fifth step from the last date seen, with its uncertainty.
    np.testing.assert_allclose(predicted[0], fitted.forecast(5).to_numpy()[4], atol=1e-10)
    np.testing.assert_allclose(fitted.predict_interval(block, coverage=0.8)[0],
                               fitted.forecast(5, coverage=0.8)[4], atol=1e-10)
    # The same values taken to follow directly are forecast otherwise.
    directly = block.set_axis(frame.index[N_TRAIN:N_TRAIN + 26])
    assert not np.allclose(fitted.predict(directly).to_numpy()[0], predicted[0])
    # predict never moves the model.
    assert fitted.last_date_ == frame.index[N_TRAIN - 1]


def test_predict_quantiles_are_update_then_forecast(data, fitted):
    frame, _ = data
    block = frame.iloc[N_TRAIN:N_TRAIN + 12]
    levels = [0.1, 0.5, 0.9]
    for h in (1, 4):
        quantiles = fitted.predict_quantiles(block, levels, horizon=h)
        assert quantiles.shape == (12, 5, 3)
        for t in (h, 11):
            moved = copy.deepcopy(fitted).update(block.iloc[:t - h + 1])
            np.testing.assert_allclose(quantiles[t], moved.forecast(h, quantiles=levels)[-1],
                                       atol=1e-8)
        np.testing.assert_allclose(quantiles[:h], fitted.forecast(h, quantiles=levels)[:h],
                                   atol=1e-8)
    interval = fitted.predict_interval(block)  # default coverage 0.95
    np.testing.assert_allclose(interval, fitted.predict_quantiles(block, [0.025, 0.975]),
                               atol=1e-12)


def test_filtered_factors_do_not_use_later_dates(data, fitted):
    frame, _ = data
    perturbed = frame.copy()
    perturbed.iloc[N_TRAIN:] += 5.0
    refit = KalmanFactorModel(n_factors=1).fit(perturbed.iloc[:N_TRAIN])
    np.testing.assert_array_equal(np.array(refit.results_.params),
                                  np.array(fitted.results_.params))
    np.testing.assert_array_equal(fitted.transform(frame)[:N_TRAIN],
                                  fitted.transform(perturbed)[:N_TRAIN])
    # Smoothed factors do look ahead, which shows the comparison above can fail.
    smoothed = fitted.transform(frame, smooth=True)[:N_TRAIN]
    assert not np.allclose(smoothed, fitted.transform(perturbed, smooth=True)[:N_TRAIN])


def test_update_then_forecast_matches_closed_form(data):
    frame, _ = data
    model = KalmanFactorModel(n_factors=1).fit(frame.iloc[:N_TRAIN])
    model.update(frame.iloc[N_TRAIN:450]).update(frame.iloc[450:500])
    z, loadings, phi, error_cov = _reference_inputs(model, frame.iloc[:500])
    filtered, variances, _ = reference_filter(z, loadings, phi, error_cov)

    steps = np.arange(1, 7)
    factor_mean = phi ** steps * filtered[-1]
    factor_var = phi ** (2 * steps) * variances[-1] + np.cumsum(phi ** (2 * (steps - 1)))
    mean = model.mean_ + model.scale_ * np.outer(factor_mean, loadings)
    std = model.scale_ * np.sqrt(np.outer(factor_var, loadings ** 2) + np.diag(error_cov))

    forecast = model.forecast(steps=6)
    np.testing.assert_allclose(forecast.to_numpy(), mean, atol=1e-8)
    assert list(forecast.columns) == list(frame.columns)
    assert forecast.index[0] == frame.index[500]
    assert (forecast.index == frame.index[500:506]).all()

    quantiles = model.forecast(6, quantiles=[0.1, 0.5, 0.9])
    assert quantiles.shape == (6, 5, 3)
    assert np.all(np.diff(quantiles, axis=-1) > 0)
    np.testing.assert_allclose(quantiles[..., 1], mean, atol=1e-8)
    np.testing.assert_allclose(quantiles[..., 2], mean + norm.ppf(0.9) * std, atol=1e-8)
    interval = model.forecast(6, coverage=0.9)
    np.testing.assert_allclose(interval[..., 1] - interval[..., 0],
                               2 * norm.ppf(0.95) * std, atol=1e-8)
    assert model.last_date_ == frame.index[499]
    assert model.n_dates_seen_ == 500


def test_sample_paths_follow_forecast_distribution(fitted):
    paths = fitted.sample_paths(4000, 3, random_state=0)
    assert paths.shape == (4000, 3, 5)
    np.testing.assert_array_equal(paths, fitted.sample_paths(4000, 3, random_state=0))
    mean = fitted.forecast(3).to_numpy()
    _, std = fitted._forecast_moments(3)
    # Monte Carlo standard error of the mean is std / sqrt(4000) ~ 0.016 std.
    assert np.all(np.abs(paths.mean(axis=0) - mean) < 5 * std / np.sqrt(4000))
    np.testing.assert_allclose(paths.std(axis=0), std, rtol=0.08)


def test_sign_normalisation_makes_factors_comparable(data):
    frame, _ = data
    train = frame.iloc[:300]
    model = KalmanFactorModel().fit(train)
    flipped = KalmanFactorModel().fit(-train)
    assert model.loadings_[0, 0] > 0 and flipped.loadings_[0, 0] > 0
    np.testing.assert_allclose(flipped.loadings_, model.loadings_, atol=1e-3)
    np.testing.assert_allclose(flipped.transform(-train), -model.transform(train), atol=1e-2)


def test_two_factors_lower_triangular_identification():
    rng = np.random.default_rng(3)
    n_dates = 250
    factors = np.zeros((n_dates, 2))
    for t in range(1, n_dates):
        factors[t] = [0.7, 0.4] * factors[t - 1] + rng.normal(size=2)
    loadings = np.array([[1.0, 0.0], [0.8, 0.6], [0.5, 1.0], [0.9, -0.5], [0.2, 0.8]])
    values = factors @ loadings.T + 0.4 * rng.normal(size=(n_dates, 5))
    model = KalmanFactorModel(n_factors=2).fit(values)
    assert model.loadings_[0, 1] == 0.0
    assert model.loadings_[0, 0] > 0 and model.loadings_[1, 1] > 0
    assert model.transform(values).shape == (n_dates, 2)
    assert list(model.get_feature_names_out()) == ["factor_0", "factor_1"]


def test_full_error_covariance():
    values, _ = simulate_dfm(200, seed=1)
    model = KalmanFactorModel(error_cov="full").fit(values[:, :4])
    cov = model.error_cov_
    assert model.converged_
    np.testing.assert_allclose(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    assert np.any(cov[~np.eye(4, dtype=bool)] != 0)


def test_fits_when_the_default_start_is_not_stationary():
    # statsmodels' PCA + AR start is explosive on exponential growth and it refuses it.
    rng = np.random.default_rng(0)
    growth = np.exp(0.08 * np.arange(60))[:, None] * [1.0, 2.0, 3.0]
    model = KalmanFactorModel(maxiter=50).fit(growth + 0.1 * rng.normal(size=(60, 3)))
    assert model.converged_
    assert abs(model.transition_[0, 0]) < 1
    assert np.all(model.loadings_ > 0)


def test_array_panels_forecast_by_step(data):
    frame, _ = data
    model = KalmanFactorModel().fit(frame.to_numpy()[:100])
    assert model.last_date_ is None
    forecast = model.forecast(3)
    assert list(forecast.index) == [1, 2, 3]
    model.update(frame.to_numpy()[100:110])
    assert model.n_dates_seen_ == 110


def test_irregular_dates_detect_overlap_only(data):
    # Monthly dates that wander inside their month (as a last trading day does): regular
    # at the monthly frequency, on no grid of pandas' offsets.
    frame, _ = data
    irregular = frame.iloc[:120].copy()
    month_ends = pd.date_range("2000-01-31", periods=120, freq="ME")
    irregular.index = month_ends - pd.to_timedelta(np.arange(120) % 3, unit="D")
    model = KalmanFactorModel().fit(irregular.iloc[:100])
    assert model.freq_ is None
    assert list(model.forecast(2).index) == [1, 2]
    with pytest.raises(ValueError, match="overlapping"):
        model.update(irregular.iloc[99:105])
    model.update(irregular.iloc[100:105])
    assert model.last_date_ == irregular.index[104]


def test_period_index(data):
    frame, _ = data
    monthly = frame.iloc[:100].copy()
    monthly.index = pd.period_range("2000-01", periods=100, freq="M")
    model = KalmanFactorModel().fit(monthly.iloc[:90])
    assert model.forecast(2).index[0] == pd.Period("2007-07", freq="M")
    with pytest.raises(ValueError, match="gap"):
        model.update(monthly.iloc[91:95])
    model.update(monthly.iloc[90:95])
    assert model.forecast(1).index[0] == pd.Period("2007-12", freq="M")


def test_update_errors(data, fitted):
    frame, _ = data
    model = KalmanFactorModel().fit(frame.iloc[:N_TRAIN])
    with pytest.raises(ValueError, match="overlapping dates"):
        model.update(frame.iloc[N_TRAIN - 2:N_TRAIN + 3])
    with pytest.raises(ValueError, match="a gap"):
        model.update(frame.iloc[N_TRAIN + 1:N_TRAIN + 3])
    irregular = frame.iloc[N_TRAIN:N_TRAIN + 3].copy()
    irregular.index = irregular.index[:1].append(irregular.index[1:] + pd.Timedelta(days=1))
    with pytest.raises(ValueError, match="date 2007-09-15 \\(row 1\\) is not on the W-FRI grid"):
        model.update(irregular)
    with pytest.raises(ValueError, match="skips dates of frequency W-FRI: row 1"):
        model.update(frame.iloc[[N_TRAIN, N_TRAIN + 2]])
    with pytest.raises(ValueError, match="must be a DataFrame indexed by the dates"), \
            pytest.warns(UserWarning, match="does not have valid feature names"):
        model.update(frame.to_numpy()[N_TRAIN:N_TRAIN + 3])
    with pytest.raises(ValueError, match="missing:\n- s4"):
        model.update(frame.iloc[N_TRAIN:N_TRAIN + 3, :4])
    assert model.last_date_ == frame.index[N_TRAIN - 1]


def test_input_errors(data, fitted):
    frame, _ = data
    with pytest.raises(ValueError, match="X has 3 features, but KalmanFactorModel is "
                       "expecting 5"), \
            pytest.warns(UserWarning, match="does not have valid feature names"):
        fitted.transform(frame.to_numpy()[:, :3])
    with pytest.raises(ValueError, match="missing:\n- s3\n- s4"):
        fitted.transform(frame.iloc[:, :3])
    renamed = frame.rename(columns={"s1": "other"})
    with pytest.raises(ValueError, match="feature names"):
        fitted.transform(renamed)
    with pytest.raises(ValueError, match="at least 10 consecutive dates"):
        KalmanFactorModel().fit(frame.iloc[:5])
    with pytest.raises(ValueError, match="n_factors=2 needs at least 3"):
        KalmanFactorModel(n_factors=2).fit(frame.iloc[:50, :2])
    gappy = frame.iloc[:50].copy()
    gappy.iloc[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"missing \(NaN\).*date 2000-02-25, column 's2'"):
        KalmanFactorModel().fit(gappy)
    constant = frame.iloc[:50].copy()
    constant["s3"] = 1.0
    with pytest.raises(ValueError, match="'s3' is constant"):
        KalmanFactorModel().fit(constant)
    with pytest.raises(ValueError, match="KalmanFactorModel: error_cov must be one of"):
        KalmanFactorModel(error_cov="unstructured").fit(frame)
    with pytest.raises(ValueError, match="n_factors must be an integer in \\[1, inf\\), got 0"):
        KalmanFactorModel(n_factors=0).fit(frame)
    with pytest.raises(ValueError, match="standardize must be"):
        KalmanFactorModel(standardize="yes").fit(frame)
    with pytest.raises(TypeError):
        KalmanFactorModel(2)  # keyword-only
    with pytest.raises(ValueError, match="quantiles must be strictly increasing"):
        fitted.forecast(2, quantiles=[0.9, 0.1])
    with pytest.raises(ValueError, match="quantiles must be strictly increasing"):
        fitted.predict_quantiles(frame.iloc[N_TRAIN:N_TRAIN + 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="coverage must be"):
        fitted.forecast(2, coverage=1.5)
    with pytest.raises(ValueError, match="overlapping"):
        fitted.predict(frame.iloc[N_TRAIN - 1:N_TRAIN + 2])
    with pytest.raises(ValueError, match="must be a DataFrame indexed by the dates"), \
            pytest.warns(UserWarning, match="does not have valid feature names"):
        fitted.score(frame.to_numpy()[N_TRAIN:N_TRAIN + 3])
    with pytest.raises(ValueError, match="steps must be an integer in \\[1, inf\\), got 0"):
        fitted.forecast(0)


def test_unconverged_fit_warns(data):
    frame, _ = data
    with pytest.warns(ConvergenceWarning, match="maxiter=1"):
        model = KalmanFactorModel(maxiter=1).fit(frame.iloc[:200])
    assert not model.converged_


def test_pickle_round_trip(data, fitted):
    import pickle

    frame, _ = data
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(frame), fitted.transform(frame))
    np.testing.assert_array_equal(restored.forecast(3), fitted.forecast(3))

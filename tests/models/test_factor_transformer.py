import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import norm
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skyield.datasets import make_dfm_process
from skyield.models._factor_transformer import FactorTransformer
from skyield.models._factor_transformer_helpers import smooth_both_ways

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

TINY = dict(window=3, d_model=8, n_heads=2, d_k=4, d_ff=16, epochs=2, cycle_epochs=2,
            warmup_epochs=1, batch_size=16, prior="mean", random_state=0)

# Checks a sequence model cannot pass: rows are consecutive dates.
EXPECTED_FAILED = {
    "check_methods_subset_invariance": "sequence model: a date's factor depends on the "
    "dates before it, so transforming a subset of the rows changes the windows",
    "check_methods_sample_order_invariance": "sequence model: rows are consecutive dates, "
    "so permuting them changes every window",
}


@pytest.fixture(scope="module")
def panel():
    data = make_dfm_process(2, 160, random_state=0)
    dates = pd.date_range("2000-01-01", periods=160, freq="MS")
    return pd.DataFrame(data.observables, index=dates,
                        columns=[f"y{i}" for i in range(5)])


@pytest.fixture(scope="module")
def fitted(panel):
    return FactorTransformer(**dict(TINY, n_runs=2)).fit(panel)


class RecordingPCA(TransformerMixin, BaseEstimator):
    """One-factor PCA that records the rows it was fitted on."""

    def fit(self, Y, y=None):
        self.pca_ = PCA(n_components=1).fit(np.asarray(Y))
        self.fit_rows_ = np.asarray(Y).copy()
        return self

    def transform(self, Y):
        return self.pca_.transform(np.asarray(Y))


@parametrize_with_checks([FactorTransformer(**params)
                          for params in FactorTransformer.get_test_params()],
                         expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_shapes_and_missing_first_dates(fitted, panel):
    factor = fitted.transform(panel)
    assert isinstance(factor, pd.DataFrame) and list(factor.columns) == ["factor"]
    assert factor.index.equals(panel.index)
    assert factor.iloc[:2].isna().all().all() and factor.iloc[2:].notna().all().all()
    # The next date's values from every window (its first date has a full window).
    projection = fitted.project(panel, steps=1)
    assert projection.observables.shape == (len(panel) - 2, 1, 5)
    assert projection.origins.equals(panel.index[2:])
    np.testing.assert_array_equal(projection.positions, np.arange(2, len(panel)))
    assert np.isfinite(projection.observables).all()
    with pytest.warns(UserWarning, match="valid feature names"):
        array_factor = fitted.transform(panel.to_numpy())
    np.testing.assert_array_equal(array_factor, factor.to_numpy())


def test_spans_are_chronological_and_do_not_overlap(fitted, panel):
    n = len(panel)
    assert fitted.n_valid_ == int(np.ceil(0.2 * n)) and fitted.n_train_ == n - fitted.n_valid_
    net = fitted.nets_[0]
    train_set, valid_set = net.get_split_datasets(*_training_arrays(fitted, panel))
    assert len(valid_set) == fitted.n_valid_ - fitted.window
    # The validation windows are the windows of the validation span only.
    first_valid = valid_set[0][0]["Y"]
    expected = (panel.to_numpy()[fitted.n_train_:fitted.n_train_ + 3] - fitted.mean_) \
        / fitted.scale_
    np.testing.assert_allclose(first_valid, expected.astype(np.float32), rtol=1e-6)


def _training_arrays(model, panel):
    values = model._standardized(panel.to_numpy())
    return model._examples(values, values.mean(axis=1), model.prior_factor_, 0,
                           model.n_train_)


def test_examples_pair_windows_with_next_date(fitted, panel):
    X, y = _training_arrays(fitted, panel)
    values = fitted._standardized(panel.to_numpy())
    assert X["Y"].shape == (fitted.n_train_ - 3, 3, 5)
    # Window j covers dates j..j+2; its target is date j+3 and its prior the window's dates.
    np.testing.assert_allclose(X["Y"][4], values[4:7].astype(np.float32))
    np.testing.assert_allclose(y[4, :5], values[7].astype(np.float32))
    np.testing.assert_allclose(y[4, 5:], fitted.prior_factor_[4:7].astype(np.float32))


def test_scaler_and_prior_use_the_training_span_only(panel):
    model = FactorTransformer(**dict(TINY, prior=RecordingPCA())).fit(panel)
    n_train = model.n_train_
    np.testing.assert_array_equal(model.prior_.fit_rows_, panel.to_numpy()[:n_train])
    np.testing.assert_allclose(model.mean_, panel.to_numpy()[:n_train].mean(axis=0))
    assert model.prior_factor_.shape == (n_train,)


def test_leak_free_prior_parameters_ignore_validation_and_test_data(panel):
    """Perturbing the validation and an appended test span leaves the prior bit-identical."""
    model = FactorTransformer(**dict(TINY, prior=PCA(n_components=1))).fit(panel)
    perturbed = panel.copy()
    perturbed.iloc[model.n_train_:] = perturbed.iloc[model.n_train_:] * 5.0 + 3.0
    other = clone(model).fit(perturbed)
    assert other.n_train_ == model.n_train_
    np.testing.assert_array_equal(other.prior_.components_, model.prior_.components_)
    np.testing.assert_array_equal(other.prior_.mean_, model.prior_.mean_)
    np.testing.assert_array_equal(other.prior_factor_, model.prior_factor_)
    np.testing.assert_array_equal(other.mean_, model.mean_)
    np.testing.assert_array_equal(other.scale_, model.scale_)


def test_leak_free_kalman_prior(panel):
    """The default prior, KalmanFactorModel, is estimated on the training span only."""
    model = FactorTransformer(**dict(TINY, prior=None)).fit(panel)
    perturbed = panel.copy()
    perturbed.iloc[model.n_train_:] += 2.0
    other = clone(model).fit(perturbed)
    for name, value in vars(model.prior_).items():
        if name.endswith("_") and isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(other.prior_, name), value)
    np.testing.assert_array_equal(other.prior_factor_, model.prior_factor_)


def test_same_seed_is_bit_identical(panel):
    a = FactorTransformer(**TINY).fit(panel)
    b = FactorTransformer(**TINY).fit(panel)
    c = FactorTransformer(**dict(TINY, random_state=1)).fit(panel)
    np.testing.assert_array_equal(a.transform(panel), b.transform(panel))
    np.testing.assert_array_equal(a.project(panel, steps=3).observables,
                                  b.project(panel, steps=3).observables)
    np.testing.assert_array_equal(a.forecast(3), b.forecast(3))
    assert not np.array_equal(a.transform(panel).iloc[2:], c.transform(panel).iloc[2:])


def test_global_torch_generator_untouched(panel):
    torch.manual_seed(42)
    expected = torch.rand(1)
    torch.manual_seed(42)
    FactorTransformer(**TINY).fit(panel)
    assert torch.equal(torch.rand(1), expected)


def test_prior_weight_one_tracks_the_prior(panel):
    # Table 4's d_model 32 with a short window and a large learning rate: 40 epochs.
    model = FactorTransformer(window=3, prior=PCA(n_components=1), prior_weight=1.0,
                              epochs=40, cycle_epochs=40, warmup_epochs=2, lr=3e-3,
                              batch_size=16, dropout=0.0, random_state=0).fit(panel)
    factor = model.transform(panel)["factor"].to_numpy()[2:model.n_train_]
    prior = model.prior_factor_[2:]
    assert np.corrcoef(factor, prior)[0, 1] > 0.99
    assert np.mean(np.abs(factor - prior)) < 0.15 * np.mean(np.abs(prior))
    # With prior_weight=1 early stopping monitors the prior term on the validation span.
    assert model.valid_loss_[0] < 0.15


def test_runs_are_identified_and_averaged(fitted, panel):
    factor, runs = fitted.transform(panel, return_runs=True)
    assert runs.shape == (len(panel), 2)
    np.testing.assert_allclose(factor["factor"], runs.mean(axis=1))
    train = slice(2, fitted.n_train_)
    for column in runs:
        assert np.corrcoef(runs[column].to_numpy()[train],
                           fitted.prior_factor_[train])[0, 1] > 0
    assert fitted.run_scaling_.shape == (2, 2)
    assert fitted.nets_[fitted.best_run_] is fitted.net_
    assert fitted.best_run_ == int(np.argmin(fitted.valid_loss_))


def test_best_epoch_is_restored(panel):
    model = FactorTransformer(**dict(TINY, epochs=6, cycle_epochs=3, lr=5e-3)).fit(panel)
    net = model.net_
    assert model.valid_loss_[0] == pytest.approx(min(net.history[:, "valid_loss"]))
    _, valid_set = net.get_split_datasets(*_training_arrays(model, panel))
    X, y = valid_set.X, valid_set.y
    module = net.module_.eval()
    with torch.no_grad():
        _, prediction = module(torch.as_tensor(X["Y"]), torch.as_tensor(X["x_init"]))
    error = (prediction - torch.as_tensor(y[:, :5])).abs().mean().item()
    assert error == pytest.approx(model.valid_loss_[0], rel=1e-5)


def test_attention_rows_sum_to_one(fitted, panel):
    attention = fitted.get_attention(panel)
    assert set(attention) == {"state", "measurement"}
    for matrices in attention.values():
        assert matrices.shape == (len(panel), 3, 5)
        assert np.isnan(matrices[:2]).all() and np.isfinite(matrices[2:]).all()
    np.testing.assert_allclose(attention["state"][2:].sum(axis=(1, 2)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(attention["measurement"][2:].sum(axis=1), 1.0, rtol=1e-5)
    other = fitted.get_attention(panel, run=1 - fitted.best_run_)["state"]
    assert not np.allclose(other[2:], attention["state"][2:])


def test_attention_contributions(fitted, panel):
    variables = fitted.attention_contributions(panel)
    assert list(variables.columns) == list(panel.columns)
    np.testing.assert_allclose(variables.iloc[2:].sum(axis=1), 1.0, rtol=1e-5)
    lags = fitted.attention_contributions(panel, by="lag")
    assert list(lags.columns) == ["t-2", "t-1", "t"]
    factor_lags = fitted.attention_contributions(panel, attention="measurement", by="lag")
    np.testing.assert_allclose(factor_lags.iloc[2:].sum(axis=1), 1.0, rtol=1e-5)
    smooth = fitted.attention_contributions(panel, smoothing=0.1)
    np.testing.assert_allclose(smooth, smooth_both_ways(variables.to_numpy(), 0.1))
    assert smooth.iloc[2:].std().sum() < variables.iloc[2:].std().sum()
    with pytest.raises(ValueError, match="no variable contributions"):
        fitted.attention_contributions(panel, attention="measurement")


def test_residual_stream_ends_in_the_factor(fitted, panel):
    date = panel.index[50]
    stream = fitted.residual_stream(panel, date)
    assert list(stream.columns) == ["Embed", "Norm1", "Attn", "Norm2", "FFN"]
    assert stream.index.equals(panel.index[48:51])
    _, runs = fitted.transform(panel, return_runs=True)
    assert stream["FFN"].iloc[-1] == pytest.approx(
        runs.iloc[50, fitted.best_run_], rel=1e-5)
    with pytest.raises(ValueError, match="a window needs 3"):
        fitted.residual_stream(panel, panel.index[1])
    with pytest.raises(ValueError, match="not in the index"):
        fitted.residual_stream(panel, "1990-01-01")


def test_real_time_projection(fitted, panel):
    projection = fitted.project(panel, steps=4, origins=panel.index[[10, 20]])
    assert projection.factor.shape == (2, 5) and projection.observables.shape == (2, 4, 5)
    np.testing.assert_array_equal(projection.positions, [10, 20])
    _, runs = fitted.transform(panel, return_runs=True)
    np.testing.assert_allclose(projection.factor[:, 0],
                               runs.iloc[[10, 20], fitted.best_run_], rtol=1e-5)
    # The first projected values are the network's one-step predictions of the chosen
    # run from the window ending at the origin, in the units of Y.
    single = FactorTransformer(**TINY).fit(panel)
    one = single.project(panel, steps=1, origins=[10])
    window = single._standardized(panel.to_numpy()[8:11])
    module = single.net_.module_.eval()
    with torch.no_grad():
        x = torch.as_tensor(window[None], dtype=torch.float32)
        _, prediction = module(x, x.mean(dim=2))
    np.testing.assert_allclose(one.observables[0, 0],
                               prediction[0].numpy() * single.scale_ + single.mean_,
                               rtol=1e-5)
    every = single.project(panel, steps=1)
    np.testing.assert_allclose(every.observables[8], one.observables[0], rtol=1e-5)
    assert len(fitted.project(panel, steps=2).origins) == len(panel) - 2


def test_factor_init_options(panel):
    by_label = FactorTransformer(**dict(TINY, factor_init="y1")).fit(panel)
    by_position = FactorTransformer(**dict(TINY, factor_init=1)).fit(panel)
    np.testing.assert_array_equal(by_label.transform(panel), by_position.transform(panel))
    model_init = FactorTransformer(**dict(TINY, factor_init=PCA(n_components=1))).fit(panel)
    assert model_init.init_model_.n_features_in_ == 5
    assert np.isfinite(model_init.transform(panel).iloc[2:]).all().all()
    with pytest.raises(ValueError, match="model-based initial factor"):
        model_init.project(panel, steps=2)
    with pytest.raises(ValueError, match="not a column of Y"):
        FactorTransformer(**dict(TINY, factor_init="nope")).fit(panel)


class GappyPCA(RecordingPCA):
    """One-factor PCA whose factor is NaN at the first ``lead`` rows and ``bad`` at row
    ``at`` (counted from the end of the rows given)."""

    def __init__(self, lead=2, bad=None, at=5):
        self.lead = lead
        self.bad = bad
        self.at = at

    def transform(self, Y):
        factor = super().transform(Y).copy()
        factor[:self.lead] = np.nan
        if self.bad is not None:
            factor[-self.at] = self.bad
        return factor


def test_leading_missing_counts_the_leading_nan_run_and_refuses_the_rest():
    from skyield.models._factor_transformer import _leading_missing

    assert _leading_missing(np.array([np.nan, np.nan, 1.0, 2.0])) == 2
    assert _leading_missing(np.array([1.0, 2.0])) == 0
    dates = pd.date_range("2000-01-01", periods=4, freq="MS")
    with pytest.raises(ValueError, match=r"factor_init's factor is NaN after its first value "
                                         r"at date 2000-04-01 \(position 3\)"):
        _leading_missing(np.array([np.nan, 1.0, 2.0, np.nan]), dates)
    with pytest.raises(ValueError, match=r"is inf \(infinite\) at position 0"):
        _leading_missing(np.array([np.inf, 1.0]))
    with pytest.raises(ValueError, match=r"is -inf \(infinite\) at position 1"):
        _leading_missing(np.array([np.nan, -np.inf, 1.0]))
    with pytest.raises(ValueError, match="NaN at every one of its 2 dates"):
        _leading_missing(np.array([np.nan, np.nan]))


def test_factor_init_fills_only_the_leading_missing_dates(panel):
    model = FactorTransformer(**dict(TINY, factor_init=GappyPCA(lead=2))).fit(panel)
    raw = model.init_model_.transform(panel.iloc[:model.n_train_])[2:, 0]
    assert model.init_mean_ == pytest.approx(raw.mean())
    assert model.init_scale_ == pytest.approx(raw.std())
    init = model._init_series(panel, panel.to_numpy(), list(panel.columns), None)
    assert (init[:2] == 0).all() and np.isfinite(init).all()
    # a NaN after the first value, or an infinite value, is an error, not a 0 or 1.8e308
    with pytest.raises(ValueError, match=r"NaN after its first value at date 2010-04-01 "
                                         r"\(position 123\)"):
        FactorTransformer(**dict(TINY, factor_init=GappyPCA(bad=np.nan, at=5))).fit(panel)
    model.init_model_.set_params(bad=np.inf, at=3)
    with pytest.raises(ValueError, match=r"factor_init's factor is inf \(infinite\) at date "
                                         r"2013-02-01 \(position 157\)"):
        model.transform(panel)


def test_prefit_prior_is_used_as_given(panel):
    prior = PCA(n_components=1).fit(panel.to_numpy()[:50])
    model = FactorTransformer(**dict(TINY, prior=prior, refit_prior=False)).fit(
        panel.to_numpy())
    assert model.prior_ is prior
    with pytest.raises(NotFittedError):
        FactorTransformer(**dict(TINY, prior=PCA(1), refit_prior=False)).fit(panel)


def test_clear_errors(panel):
    bad = panel.copy()
    bad.iloc[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN\) value\(s\); the first is at date "
                                         r"2000-08-01, column 'y2'"):
        FactorTransformer(**TINY).fit(bad)
    with pytest.raises(ValueError, match="needs at least window \\+ 1"):
        FactorTransformer(**TINY).fit(panel.iloc[:6])
    with pytest.raises(ValueError, match="prior_weight must be a number in"):
        FactorTransformer(**dict(TINY, prior_weight=1.5)).fit(panel)
    with pytest.raises(ValueError, match=r"prior must be None, one of 'mean' or an object "
                                         r"with fit\(\), transform\(\), got 'kalman'"):
        FactorTransformer(**dict(TINY, prior="kalman")).fit(panel)
    with pytest.raises(ValueError, match="warmup_epochs"):
        FactorTransformer(**dict(TINY, warmup_epochs=5)).fit(panel)
    with pytest.raises(NotFittedError):
        FactorTransformer(**TINY).transform(panel)
    fitted = FactorTransformer(**TINY).fit(panel)
    with pytest.raises(ValueError, match="missing:\n- y3\n- y4"):
        fitted.transform(panel.iloc[:, :3])
    with pytest.raises(ValueError, match="run must be None or an integer"):
        fitted.get_attention(panel, run=3)


def test_verbose_zero_is_silent(panel, capsys):
    FactorTransformer(**TINY).fit(panel)
    assert capsys.readouterr().out == ""
    FactorTransformer(**dict(TINY, verbose=1)).fit(panel)
    assert "valid_loss" in capsys.readouterr().out


def test_without_validation(panel):
    model = FactorTransformer(**dict(TINY, validation_fraction=0.0)).fit(panel)
    assert model.n_valid_ == 0 and np.isnan(model.valid_loss_).all()
    assert model.n_epochs_[0] == 2


@pytest.mark.gpu
@cuda
def test_cuda_fit(panel):
    model = FactorTransformer(**dict(TINY, device="cuda")).fit(panel)
    assert next(model.net_.module_.parameters()).is_cuda
    assert np.isfinite(model.transform(panel).iloc[2:]).all().all()


# ---------------------------------------------------------------- sequence model
N_FIT = 120


@pytest.fixture(scope="module")
def sequence(panel):
    """Fitted on the first 120 dates (96 train, 24 validate); the rest follows."""
    return FactorTransformer(**dict(TINY, n_runs=2)).fit(panel.iloc[:N_FIT])


def run_mean_projection(model, Y, steps, origin):
    """The projection from ``origin`` averaged over the runs, (steps, n_series)."""
    return np.mean([model.project(Y, steps=steps, origins=[origin], run=run).observables[0]
                    for run in range(len(model.nets_))], axis=0)


def test_forecast_rolls_the_last_window_forward(sequence, panel):
    train = panel.iloc[:N_FIT]
    forecast = sequence.forecast(4)
    assert isinstance(forecast, pd.DataFrame)
    assert forecast.index.equals(panel.index[N_FIT:N_FIT + 4])
    assert list(forecast.columns) == list(panel.columns)
    np.testing.assert_allclose(forecast, run_mean_projection(sequence, train, 4, N_FIT - 1),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(sequence.last_window_, train.to_numpy()[-3:])
    # The error span: the validation dates and the window before its first target.
    assert sequence.error_levels_.shape == (sequence.n_valid_ + 3, 5)


def test_update_then_forecast_continues_from_the_new_dates(sequence, panel):
    model = clone(sequence).fit(panel.iloc[:N_FIT])
    weights = {k: v.clone() for k, v in model.net_.module_.state_dict().items()}
    model.update(panel.iloc[N_FIT:N_FIT + 10])
    assert model.last_date_ == panel.index[N_FIT + 9]
    assert model.n_dates_seen_ == N_FIT + 10
    for name, value in model.net_.module_.state_dict().items():
        assert torch.equal(value, weights[name]), name
    np.testing.assert_allclose(
        model.forecast(3), run_mean_projection(model, panel.iloc[:N_FIT + 10], 3,
                                               N_FIT + 9), rtol=1e-5, atol=1e-7)
    # The same forecast as a model fitted on the first 120 dates and shown the next 10
    # at once, or in two steps.
    stepwise = clone(sequence).fit(panel.iloc[:N_FIT])
    stepwise.update(panel.iloc[N_FIT:N_FIT + 4]).update(panel.iloc[N_FIT + 4:N_FIT + 10])
    np.testing.assert_array_equal(stepwise.forecast(3), model.forecast(3))
    # The quantiles keep the errors measured on the validation span.
    np.testing.assert_array_equal(model.error_levels_, sequence.error_levels_)
    with pytest.raises(ValueError, match="not after the last date seen"):
        model.update(panel.iloc[N_FIT + 5:N_FIT + 12])
    with pytest.raises(ValueError, match="a gap"):
        model.update(panel.iloc[N_FIT + 12:N_FIT + 14])


def test_predict_forecasts_each_date_of_a_following_block(sequence, panel):
    block = panel.iloc[N_FIT:N_FIT + 8]
    history = panel.iloc[:N_FIT + 8]
    prediction = sequence.predict(block)
    assert isinstance(prediction, pd.DataFrame) and prediction.index.equals(block.index)
    np.testing.assert_allclose(prediction.iloc[0], sequence.forecast(1).iloc[0], rtol=1e-6)
    for row in (1, 5, 7):
        expected = run_mean_projection(sequence, history, 1, N_FIT + row - 1)[0]
        np.testing.assert_allclose(prediction.iloc[row], expected, rtol=1e-5, atol=1e-7)
    two = sequence.predict(block, horizon=2)
    np.testing.assert_allclose(two.iloc[5], run_mean_projection(sequence, history, 2,
                                                                N_FIT + 3)[1],
                               rtol=1e-5, atol=1e-7)
    # predict does not move the model.
    assert sequence.last_date_ == panel.index[N_FIT - 1]
    np.testing.assert_array_equal(sequence.last_window_, panel.to_numpy()[N_FIT - 3:N_FIT])
    # After a gap the first date is forecast from the last date seen, further ahead.
    later = sequence.predict(panel.iloc[N_FIT + 5:N_FIT + 8])
    np.testing.assert_allclose(later.iloc[0], sequence.forecast(6).iloc[5], rtol=1e-6)
    assert sequence.score(block) == pytest.approx(
        -np.mean((prediction.to_numpy() - block.to_numpy()) ** 2))
    with pytest.raises(ValueError, match="not after the last date seen"):
        sequence.predict(panel.iloc[N_FIT - 5:N_FIT + 5])


def test_gaussian_quantiles_use_the_validation_projection_errors(panel):
    model = FactorTransformer(**TINY).fit(panel.iloc[:N_FIT])     # one run
    train = panel.iloc[:N_FIT].to_numpy()
    steps = 3
    origins = np.arange(model.n_train_ - 1, N_FIT - 1)   # targets in the validation span
    projected = model.project(panel.iloc[:N_FIT], steps=steps, origins=origins).observables
    scale = np.empty((steps, 5))
    for h in range(steps):
        usable = origins + h + 1 < N_FIT
        errors = train[origins[usable] + h + 1] - projected[usable, h]
        scale[h] = np.sqrt(np.mean(errors ** 2, axis=0))
    mean = model.forecast(steps).to_numpy()
    quantiles = model.forecast(steps, quantiles=[0.1, 0.5, 0.9])
    assert quantiles.shape == (steps, 5, 3)
    np.testing.assert_allclose(quantiles[..., 1], mean, rtol=1e-10)
    np.testing.assert_allclose(quantiles[..., 2], mean + norm.ppf(0.9) * scale, rtol=1e-5)
    interval = model.forecast(steps, coverage=0.8)
    np.testing.assert_allclose(interval, quantiles[..., [0, 2]], rtol=1e-10)
    with pytest.raises(ValueError, match="need 30-step errors"):
        model.forecast(30, quantiles=[0.1, 0.9])


def test_projection_errors_are_measured_once_per_fit(panel, monkeypatch):
    # Every interval forecast needs the validation span's projection errors; they are
    # measured once for the longest horizon asked for and serve the shorter ones, moved
    # forward or not, until the next fit.
    model = FactorTransformer(**TINY).fit(panel.iloc[:N_FIT])
    fresh = clone(model).fit(panel.iloc[:N_FIT])
    long = model.forecast(4, coverage=0.8)
    measured = []
    original = FactorTransformer._projections
    monkeypatch.setattr(FactorTransformer, "_projections", lambda self, windows, steps: (
        measured.append(len(windows)) or original(self, windows, steps)))
    short = model.forecast(2, coverage=0.8)
    assert measured == [1]                  # the forecast's own window only
    np.testing.assert_array_equal(short, long[:2])
    np.testing.assert_array_equal(short, fresh.forecast(2, coverage=0.8))
    model.update(panel.iloc[N_FIT:N_FIT + 1])
    fresh.update(panel.iloc[N_FIT:N_FIT + 1])
    np.testing.assert_array_equal(model.forecast(3, quantiles=[0.1, 0.9]),
                                  fresh.forecast(3, quantiles=[0.1, 0.9]))
    model.fit(panel.iloc[:N_FIT - 5])       # a new fit measures anew
    measured.clear()
    model.forecast(2, coverage=0.8)
    assert len(measured) == 2


def test_block_quantiles_never_cross(sequence, panel):
    block = panel.iloc[N_FIT:N_FIT + 10]
    levels = np.linspace(0.01, 0.99, 25)
    for values in (block, block * 1e6, block * -1e6 + 1e9):
        q = sequence.predict_quantiles(values, levels, horizon=2)
        assert q.shape == (10, 5, 25) and np.isfinite(q).all()
        assert np.all(np.diff(q, axis=-1) >= 0)
    bounds = sequence.predict_interval(block, coverage=0.9)
    np.testing.assert_allclose(bounds.mean(axis=-1), sequence.predict(block), rtol=1e-8)
    assert np.all(np.diff(sequence.forecast(5, quantiles=levels), axis=-1) >= 0)


def test_differences_return_levels(panel):
    settings = dict(TINY, differences=True, factor_init=0)
    model = FactorTransformer(**settings).fit(panel.iloc[:N_FIT])
    assert model.last_window_.shape == (4, 5)             # window + 1 levels
    shifted = FactorTransformer(**settings).fit(panel.iloc[:N_FIT] + 100.0)
    # The network sees only changes: levels shifted by 100 give forecasts shifted by 100.
    np.testing.assert_allclose(shifted.forecast(4), model.forecast(4) + 100.0, atol=1e-6)
    np.testing.assert_allclose(shifted.predict(panel.iloc[N_FIT:N_FIT + 5] + 100.0),
                               model.predict(panel.iloc[N_FIT:N_FIT + 5]) + 100.0,
                               atol=1e-6)
    np.testing.assert_allclose(shifted.forecast(2, coverage=0.9),
                               model.forecast(2, coverage=0.9) + 100.0, atol=1e-6)
    # Levels: the projection from an origin starts from the origin's level plus a change.
    projection = model.project(panel.iloc[:N_FIT], steps=2, origins=[N_FIT - 1])
    last = panel.to_numpy()[N_FIT - 1]
    changes = np.abs(np.diff(panel.to_numpy()[:N_FIT], axis=0)).max(axis=0)
    assert np.all(np.abs(projection.observables[0, 0] - last) < 5 * changes)
    np.testing.assert_allclose(model.forecast(2), projection.observables[0], rtol=1e-5,
                               atol=1e-7)


def test_without_validation_errors_come_from_the_training_panel(panel):
    model = FactorTransformer(**dict(TINY, validation_fraction=0.0)).fit(panel.iloc[:N_FIT])
    np.testing.assert_array_equal(model.error_levels_, panel.to_numpy()[:N_FIT])
    q = model.forecast(2, quantiles=[0.05, 0.5, 0.95])
    assert np.isfinite(q).all() and np.all(q[..., 0] < q[..., 2])


# ---------------------------------------------------------------- stacked runs
def test_stacked_runs_equal_separate_runs_without_dropout(panel):
    """The runs trained as one stacked model are the runs trained one by one (same seeds):
    same initial weights, batch orders, schedule and per-run early stopping."""
    params = dict(TINY, n_runs=3, dropout=0.0, epochs=12, cycle_epochs=4, patience=2,
                  lr=1e-3)
    stacked = FactorTransformer(**params, batched=True).fit(panel)
    separate = FactorTransformer(**params, batched=False).fit(panel)
    assert min(separate.n_epochs_) < 12, "early stopping never triggered; make it harder"
    assert len(set(separate.n_epochs_)) > 1, "the runs should stop at different epochs"
    np.testing.assert_array_equal(stacked.n_epochs_, separate.n_epochs_)
    np.testing.assert_allclose(stacked.valid_loss_, separate.valid_loss_, rtol=1e-5)
    for one, other in zip(stacked.nets_, separate.nets_):
        np.testing.assert_allclose(one.history[:, "valid_loss"],
                                   other.history[:, "valid_loss"], rtol=1e-5)
    _, runs = stacked.transform(panel, return_runs=True)
    _, expected = separate.transform(panel, return_runs=True)
    np.testing.assert_allclose(runs, expected, atol=1e-5)
    assert not np.allclose(runs.iloc[2:, 0], runs.iloc[2:, 1])


def test_stacked_runs_with_dropout_are_reproducible(panel):
    params = dict(TINY, n_runs=2, epochs=3)
    first = FactorTransformer(**params).fit(panel).transform(panel, return_runs=True)[1]
    second = FactorTransformer(**params).fit(panel).transform(panel, return_runs=True)[1]
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first.iloc[2:, 0], first.iloc[2:, 1])


class EpochRecorder:
    """Epoch callback keeping every reported run's raw factor over one panel."""

    def __init__(self, panel):
        self.panel = panel
        self.factors = {}

    def __call__(self, epoch, runs, factors):
        values = factors(self.panel)
        assert values.shape == (len(self.panel), len(runs))
        for column, run in enumerate(runs):
            self.factors.setdefault(run, {})[epoch] = values[:, column]


@pytest.mark.parametrize("batched", [True, False])
def test_epoch_callback_reports_every_epoch_of_every_run(panel, batched):
    recorder = EpochRecorder(panel)
    model = FactorTransformer(**dict(TINY, n_runs=2, epochs=6, cycle_epochs=3, patience=2,
                                     lr=5e-3, batched=batched,
                                     epoch_callback=recorder)).fit(panel)
    assert sorted(recorder.factors) == [0, 1]
    for run, by_epoch in recorder.factors.items():
        assert sorted(by_epoch) == list(range(1, model.n_epochs_[run] + 1))
        # The best epoch's weights are restored: its reported factor is the final one.
        best = int(np.argmin(model.nets_[run].history[:, "valid_loss"])) + 1
        final = model._pad(model._run_outputs(run, *model._prepare(panel)[3:])[0][:, -1],
                           len(panel))
        np.testing.assert_allclose(by_epoch[best], final, rtol=1e-5, atol=1e-6)
        assert np.isnan(by_epoch[best][:2]).all()


def test_stacked_training_rejects_other_optimizers():
    from skorch import NeuralNet

    from skyield.models._stacked import train_stacked
    from skyield.nn import FactorTransformerLoss, FactorTransformerNet

    net = NeuralNet(FactorTransformerNet, module__n_series=2, module__window=2,
                    criterion=FactorTransformerLoss, criterion__n_series=2,
                    optimizer=torch.optim.SGD).initialize()
    with pytest.raises(TypeError, match="Adam and AdamW only"):
        train_stacked([net], ({}, torch.zeros(1)), generators=[torch.Generator()])

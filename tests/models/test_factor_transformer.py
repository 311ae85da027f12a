import numpy as np
import pandas as pd
import pytest
import torch
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


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


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
    prediction = fitted.predict(panel)
    assert prediction.shape == panel.shape and list(prediction.columns) == list(panel.columns)
    assert prediction.iloc[:2].isna().all().all() and prediction.iloc[2:].notna().all().all()
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
    np.testing.assert_array_equal(a.predict(panel), b.predict(panel))
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
    # The first projected values are the one-step predictions of the chosen run.
    single = FactorTransformer(**TINY).fit(panel)
    one = single.project(panel, steps=1, origins=[10])
    np.testing.assert_allclose(one.observables[0, 0], single.predict(panel).iloc[10],
                               rtol=1e-5)
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
    with pytest.raises(ValueError, match=r"NaN at date 2000-08-01, column 'y2'"):
        FactorTransformer(**TINY).fit(bad)
    with pytest.raises(ValueError, match="needs at least window \\+ 1"):
        FactorTransformer(**TINY).fit(panel.iloc[:6])
    with pytest.raises(ValueError, match="prior_weight must be a number in"):
        FactorTransformer(**dict(TINY, prior_weight=1.5)).fit(panel)
    with pytest.raises(ValueError, match="prior must be None, 'mean' or a factor model"):
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

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skyield.preprocessing import SeriesMinMaxScaler, SeriesStandardScaler


def test_minmax_uses_the_training_span_only():
    rng = np.random.default_rng(1)
    train, test = rng.normal(size=(50, 3)), 10 + rng.normal(size=(20, 3))
    scaler = SeriesMinMaxScaler().fit(train)
    scaled_train = scaler.transform(train)
    assert np.allclose(scaled_train.min(axis=0), 0) and np.allclose(scaled_train.max(axis=0), 1)
    # Test values lie far above the training range: they are transformed, not clipped.
    assert scaler.transform(test).min() > 1
    refit = SeriesMinMaxScaler().fit(np.vstack([train, test]))
    assert not np.allclose(refit.data_max_, scaler.data_max_)


def test_global_scope_keeps_curve_shape():
    curves = np.array([[1.0, 2.0, 3.0], [2.0, 3.0, 5.0]])
    scaler = SeriesMinMaxScaler(scope="global").fit(curves)
    assert scaler.data_min_ == 1.0 and scaler.data_max_ == 5.0
    np.testing.assert_allclose(scaler.transform(curves), (curves - 1.0) / 4.0)


def test_windows_are_scaled_per_series():
    windows = np.arange(24.0).reshape(2, 4, 3)
    scaler = SeriesStandardScaler().fit(windows)
    np.testing.assert_allclose(scaler.mean_, windows.reshape(-1, 3).mean(axis=0))
    assert scaler.transform(windows).shape == (2, 4, 3)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (7, 3), elements=st.floats(-1e3, 1e3)),
       st.sampled_from(["column", "global"]))
def test_inverse_is_exact(values, scope):
    for scaler in (SeriesMinMaxScaler(scope=scope), SeriesStandardScaler(scope=scope)):
        scaler.fit(values)
        np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(values)), values,
                                   rtol=1e-12, atol=1e-9)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="scope must be one of"):
        SeriesMinMaxScaler(scope="row").fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="feature_range must be increasing"):
        SeriesMinMaxScaler(feature_range=(1, 0)).fit(np.ones((3, 2)))
    scaler = SeriesStandardScaler().fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="X has 3 features, but SeriesStandardScaler is expecting 2"):
        scaler.transform(np.ones((3, 3)))
    windows = SeriesStandardScaler().fit(np.ones((3, 4, 2)))
    with pytest.raises(ValueError, match="X has 3 series but the scaler was fitted on 2"):
        windows.transform(np.ones((3, 4, 3)))
    with pytest.raises(ValueError, match="1D"):
        SeriesStandardScaler().fit(np.ones(3))
    with pytest.raises(ValueError, match="infinity"):
        SeriesStandardScaler().fit(np.array([[np.inf]]))

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics

from skyield.metrics import mean_absolute_error, mean_squared_error, root_mean_squared_error

# 2 origins x 2 horizons x 3 maturities; errors (y_pred - y_true) chosen by hand
ERRORS = np.array(
    [
        [[1.0, -2.0, 0.0], [3.0, 0.0, -1.0]],
        [[-1.0, 0.0, 2.0], [1.0, 4.0, 0.0]],
    ]
)
Y_TRUE = np.arange(12.0).reshape(2, 2, 3) / 10.0
Y_PRED = Y_TRUE + ERRORS


def test_mse_pooled_over_everything_is_eq_5_1():
    # squares: 1 4 0 9 0 1 | 1 0 4 1 16 0 -> 37 over 12 numbers
    assert mean_squared_error(Y_TRUE, Y_PRED) == pytest.approx(37 / 12)


def test_mse_raw_values_by_horizon_and_maturity():
    raw = mean_squared_error(Y_TRUE, Y_PRED, multioutput="raw_values")
    expected = np.array(
        [[(1 + 1) / 2, (4 + 0) / 2, (0 + 4) / 2], [(9 + 1) / 2, (0 + 16) / 2, (1 + 0) / 2]]
    )
    assert raw.shape == (2, 3)
    np.testing.assert_allclose(raw, expected)
    np.testing.assert_allclose(
        mean_squared_error(Y_TRUE, Y_PRED, multioutput="by_horizon"),
        [(1 + 4 + 0 + 1 + 0 + 4) / 6, (9 + 0 + 1 + 1 + 16 + 0) / 6],
    )
    np.testing.assert_allclose(
        mean_squared_error(Y_TRUE, Y_PRED, multioutput="by_maturity"),
        [(1 + 9 + 1 + 1) / 4, (4 + 0 + 0 + 16) / 4, (0 + 1 + 4 + 0) / 4],
    )


def test_mae_hand_values():
    assert mean_absolute_error(Y_TRUE, Y_PRED) == pytest.approx(15 / 12)
    np.testing.assert_allclose(
        mean_absolute_error(Y_TRUE, Y_PRED, multioutput="by_horizon"), [6 / 6, 9 / 6]
    )


@pytest.mark.parametrize(
    "multioutput",
    ["raw_values", "uniform_average", "by_horizon", "by_maturity", [1.0, 2.0, 0.5]],
)
def test_rmse_is_root_of_pooled_mse(multioutput):
    rmse = root_mean_squared_error(Y_TRUE, Y_PRED, multioutput=multioutput)
    mse = mean_squared_error(Y_TRUE, Y_PRED, multioutput=multioutput)
    np.testing.assert_allclose(np.square(rmse), mse)


def test_rmse_by_horizon_hand_value_differs_from_mean_of_roots():
    rmse = root_mean_squared_error(Y_TRUE, Y_PRED, multioutput="by_horizon")
    np.testing.assert_allclose(rmse, [np.sqrt(10 / 6), np.sqrt(27 / 6)])
    per_output = root_mean_squared_error(Y_TRUE, Y_PRED, multioutput="raw_values")
    assert not np.allclose(rmse, per_output.mean(axis=1))


def test_sample_weight_and_output_weights():
    y_true = np.zeros((3, 2))
    y_pred = np.array([[1.0, 2.0], [3.0, 0.0], [0.0, 1.0]])
    # sample weights 1, 2, 1 on squared errors [1, 4], [9, 0], [0, 1]
    raw = mean_squared_error(y_true, y_pred, sample_weight=[1, 2, 1], multioutput="raw_values")
    np.testing.assert_allclose(raw, [(1 + 18 + 0) / 4, (4 + 0 + 1) / 4])
    weighted = mean_squared_error(y_true, y_pred, sample_weight=[1, 2, 1], multioutput=[3.0, 1.0])
    assert weighted == pytest.approx((3 * 19 / 4 + 1 * 5 / 4) / 4)


def test_output_weights_broadcast_over_horizons():
    weights = np.array([1.0, 0.0, 0.0])  # first maturity only
    got = mean_absolute_error(Y_TRUE, Y_PRED, multioutput=weights)
    assert got == pytest.approx((1 + 3 + 1 + 1) / 4)


def test_two_dimensional_matches_sklearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.normal(size=(2, 20, 4))
    for ours, theirs in [
        (mean_squared_error, sklearn.metrics.mean_squared_error),
        (mean_absolute_error, sklearn.metrics.mean_absolute_error),
    ]:
        np.testing.assert_allclose(
            ours(y_true, y_pred, multioutput="raw_values"),
            theirs(y_true, y_pred, multioutput="raw_values"),
        )
        np.testing.assert_allclose(
            ours(y_true, y_pred, multioutput="by_maturity"),
            theirs(y_true, y_pred, multioutput="raw_values"),
        )


def test_one_dimensional_returns_float():
    value = mean_absolute_error([1.0, 2.0], [2.0, 0.0], multioutput="raw_values")
    assert isinstance(value, float) and value == 1.5
    assert isinstance(root_mean_squared_error([0.0, 0.0], [3.0, 4.0]), float)


def test_pandas_input():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"1Y": [1.0, 2.0], "2Y": [3.0, 4.0]})
    np.testing.assert_allclose(
        mean_absolute_error(frame, frame + 1.0, multioutput="raw_values"), [1.0, 1.0]
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"multioutput": "by_horizon"}, ValueError, "by_horizon.*horizon"),
        ({"multioutput": "average"}, ValueError, "multioutput must be one of"),
        ({"multioutput": [1.0, 2.0, 3.0]}, ValueError, "do not broadcast"),
        ({"multioutput": [1.0, -1.0]}, ValueError, "non-negative"),
        ({"sample_weight": [1.0, 2.0]}, ValueError, r"sample_weight must have shape \(3,\)"),
        ({"sample_weight": [1.0, -2.0, 1.0]}, ValueError, "sample_weight must be non-negative"),
        ({"sample_weight": [1.0, np.nan, 1.0]}, ValueError, "sample_weight contains NaN"),
    ],
)
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        mean_squared_error(np.zeros((3, 2)), np.ones((3, 2)), **kwargs)


def test_by_maturity_needs_outputs():
    with pytest.raises(ValueError, match="by_maturity.*1-D"):
        mean_squared_error([0.0, 1.0], [0.0, 1.0], multioutput="by_maturity")


@pytest.mark.parametrize(
    "func", [mean_squared_error, mean_absolute_error, root_mean_squared_error]
)
def test_bad_arrays(func):
    with pytest.raises(ValueError, match=r"y_true and y_pred must have the same shape"):
        func(np.zeros((3, 2)), np.zeros((3, 3)))
    nan_at = r"y_pred contains NaN values \(first at index \(1, 0\)\)"
    with pytest.raises(ValueError, match=nan_at):
        func(np.zeros((3, 2)), np.array([[0.0, 0.0], [np.nan, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="y_true contains infinite"):
        func([np.inf, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"y_pred holds text \('a' at position 0\)"):
        func([1.0, 2.0], ["a", "b"])
    # Text that reads as a number and booleans are refused as well, never converted.
    with pytest.raises(ValueError, match=r"y_true holds text \('2.5' at row 1\)"):
        func(pd.Series([1.5, "2.5"], dtype=object), [1.5, 2.5])
    with pytest.raises(ValueError, match=r"y_pred holds booleans \(True at position 0\)"):
        func([1.0, 0.0], [True, False])
    too_many = r"y_true must have 1, 2 or 3 dimension\(s\), got shape \(2, 2, 2, 2\)"
    with pytest.raises(ValueError, match=too_many):
        func(np.zeros((2, 2, 2, 2)), np.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="y_true is empty"):
        func(np.zeros((0, 2)), np.zeros((0, 2)))

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skyield.metrics import interval_hits, interval_score, mpiw, picp


def test_picp_counts_closed_intervals():
    y_true = [0.0, 1.0, 2.0, 3.0, -0.5]
    lower = [0.0, 0.0, 0.0, 0.0, 0.0]
    upper = [1.0, 1.0, 1.0, 1.0, 1.0]
    # 0 and 1 lie on the bounds (inside), 2, 3 and -0.5 outside
    assert picp(y_true, lower, upper) == pytest.approx(2 / 5)
    np.testing.assert_array_equal(interval_hits(y_true, lower, upper), [0, 0, 1, 1, 1])


def test_picp_and_mpiw_breakdown_shapes_and_values():
    y_true = np.zeros((2, 2, 3))
    lower = -np.ones((2, 2, 3))
    upper = np.ones((2, 2, 3))
    lower[0, 1, 2] = 0.5  # one observation of horizon 2, maturity 3 left uncovered
    raw = picp(y_true, lower, upper, multioutput="raw_values")
    expected = np.ones((2, 3))
    expected[1, 2] = 0.5
    np.testing.assert_allclose(raw, expected)
    np.testing.assert_allclose(picp(y_true, lower, upper, multioutput="by_horizon"), [1, 5 / 6])
    widths = mpiw(lower, upper, multioutput="raw_values")
    expected_widths = np.full((2, 3), 2.0)
    expected_widths[1, 2] = (0.5 + 2.0) / 2
    np.testing.assert_allclose(widths, expected_widths)
    assert mpiw(lower, upper) == pytest.approx((11 * 2.0 + 0.5) / 12)


def test_mpiw_of_averaging_ensemble_equals_average_mpiw():
    # Richman & Scognamiglio, appendix A.2: MPIW_average == MPIW_ensemble
    rng = np.random.default_rng(1)
    n_models = 5
    centre = rng.normal(size=(n_models, 7, 3, 4))
    half_width = rng.uniform(0.1, 2.0, size=(n_models, 7, 3, 4))
    lower, upper = centre - half_width, centre + half_width
    for multioutput in ["uniform_average", "raw_values", "by_horizon"]:
        average = np.mean(
            [mpiw(lower[k], upper[k], multioutput=multioutput) for k in range(n_models)], axis=0
        )
        ensemble = mpiw(lower.mean(axis=0), upper.mean(axis=0), multioutput=multioutput)
        np.testing.assert_allclose(ensemble, average, rtol=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    arrays(float, (6, 2), elements=st.floats(-5, 5)),
    arrays(float, (6, 2), elements=st.floats(0, 5)),
    st.floats(0.01, 0.99),
)
def test_interval_score_is_width_when_covered(centre, half_width, coverage):
    lower, upper = centre - half_width, centre + half_width
    y_true = centre  # always covered
    np.testing.assert_allclose(
        interval_score(y_true, lower, upper, coverage, multioutput="raw_values"),
        mpiw(lower, upper, multioutput="raw_values"),
    )


def test_interval_score_hand_values():
    # coverage 0.8 -> a = 0.2, penalty 2 / a = 10 per unit outside
    y_true = [0.5, -1.0, 4.0]
    lower = [0.0, 0.0, 0.0]
    upper = [1.0, 1.0, 2.0]
    expected = [1.0, 1.0 + 10 * 1.0, 2.0 + 10 * 2.0]
    assert interval_score(y_true, lower, upper, 0.8) == pytest.approx(np.mean(expected))


def test_sample_weight():
    y_true = [0.0, 5.0]
    assert picp(y_true, [-1.0, -1.0], [1.0, 1.0], sample_weight=[3.0, 1.0]) == 0.75
    assert mpiw([0.0, 0.0], [1.0, 3.0], sample_weight=[1.0, 3.0]) == pytest.approx(2.5)


def test_crossed_interval_is_rejected_with_its_index():
    with pytest.raises(ValueError, match=r"lower exceeds upper at index \(1, 0\)"):
        picp(np.zeros((2, 2)), [[0.0, 0.0], [2.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="lower exceeds upper at index 0"):
        mpiw([1.0], [0.0])


@pytest.mark.parametrize("coverage", [0.0, 1.0, 1.5, -0.1])
def test_coverage_outside_unit_interval(coverage):
    with pytest.raises(ValueError, match="coverage must lie strictly between 0 and 1"):
        interval_score([0.0], [0.0], [1.0], coverage)


def test_coverage_type():
    with pytest.raises(TypeError, match="coverage must be a real number"):
        interval_score([0.0], [0.0], [1.0], True)
    with pytest.raises(TypeError, match="coverage must be a real number"):
        interval_score([0.0], [0.0], [1.0], "0.9")


def test_shape_and_nan_errors():
    with pytest.raises(ValueError, match="lower and upper must have the same shape"):
        mpiw(np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match="y_true and lower must have the same shape"):
        picp(np.zeros(4), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="upper contains NaN values"):
        picp(np.zeros(2), np.zeros(2), [1.0, np.nan])

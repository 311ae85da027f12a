import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skyield.calibration._scores import (
    calibrate_band,
    conformal_quantile,
    conformal_rank,
    conformity_scores,
    min_conformal_scores,
    rearrange_band,
)


def test_conformal_rank_and_quantile_by_hand():
    # ceil((n + 1) coverage): 19 scores at 95% -> the largest (19th); 99 at 90% -> 90th
    assert conformal_rank(19, 0.95) == 19
    assert conformal_rank(99, 0.9) == 90
    assert conformal_rank(10, 0.5) == 6
    scores = np.array([[3.0, 30.0], [1.0, 10.0], [2.0, 20.0], [5.0, 50.0], [4.0, 40.0],
                       [9.0, 90.0], [8.0, 80.0], [6.0, 60.0], [10.0, 100.0], [7.0, 70.0]])
    np.testing.assert_array_equal(conformal_quantile(scores, 0.5), [6.0, 60.0])
    with pytest.raises(ValueError, match="needs at least 19 calibration scores, but there are 10"):
        conformal_quantile(scores, 0.95)
    np.testing.assert_array_equal(conformal_quantile(scores, 0.95, beyond="infinite"),
                                  [np.inf, np.inf])
    # one level per output (ACI): 0.5 -> 6th; 0.95 -> beyond; -0.1 -> below the first
    np.testing.assert_array_equal(
        conformal_quantile(scores, np.array([0.5, 0.95]), beyond="infinite"), [6.0, np.inf])
    np.testing.assert_array_equal(
        conformal_quantile(scores, np.array([-0.1, 0.05]), beyond="infinite"), [-np.inf, 10.0])


@pytest.mark.parametrize("level, fewest", [(0.5, 1), (0.8, 4), (0.9, 9), (0.95, 19),
                                           (0.975, 39), (0.99, 99)])
def test_fewest_scores_for_a_finite_quantile(level, fewest):
    assert min_conformal_scores(level) == fewest
    assert conformal_rank(fewest, level) <= fewest
    assert fewest == 1 or conformal_rank(fewest - 1, level) > fewest - 1


def test_scores_by_hand():
    # absolute residual when the band has zero width; distance outside the interval else
    lower = np.array([[0.0], [1.0], [-1.0]])
    upper = np.array([[0.0], [2.0], [1.0]])
    y = np.array([-2.0, 3.0, 0.5])
    np.testing.assert_array_equal(conformity_scores(lower, upper, y)[:, 0], [2.0, 1.0, -0.5])


bands = arrays(np.float64, (6, 2, 3), elements=st.floats(-50, 50))
corrections = arrays(np.float64, (2, 3),
                     elements=st.one_of(st.floats(-30, 30), st.sampled_from([np.inf, -np.inf])))


@settings(max_examples=300, deadline=None)
@given(bands, arrays(np.float64, (6, 2), elements=st.floats(-50, 50)), corrections)
def test_calibrated_bounds_never_cross(bounds, center, shifts):
    # any inner band, crossing or not, and any corrections (negative, infinite): the
    # calibrated bounds are ordered lower_K <= ... <= lower_1 <= center <= upper_1 <= ...
    lower, upper, center = rearrange_band(bounds, np.flip(bounds, -1), center)
    low, high = calibrate_band(lower, upper, center, shifts)
    ordered = np.concatenate([low[..., ::-1], center[..., None], high], axis=-1)
    assert not np.isnan(ordered).any()
    assert np.all(ordered[..., 1:] >= ordered[..., :-1])


@settings(max_examples=300, deadline=None)
@given(bands, arrays(np.float64, (6, 2), elements=st.floats(-50, 50)),
       arrays(np.float64, (2, 3), elements=st.floats(-30, 30)))
def test_calibrated_intervals_contain_the_conformalized_ones(bounds, center, shifts):
    # [lower'_j, upper'_j] contains [lower_j - Q_j, upper_j + Q_j]: coverage is kept
    lower, upper, center = rearrange_band(bounds, np.flip(bounds, -1) + 1.0, center)
    low, high = calibrate_band(lower, upper, center, shifts)
    assert np.all(low <= lower - shifts)
    assert np.all(high >= upper + shifts)


def test_rearrangement_leaves_an_ordered_band_alone():
    lower = np.array([[1.0, 0.0, -1.0]])  # coverages increasing: bounds move outwards
    upper = np.array([[3.0, 4.0, 5.0]])
    center = np.array([2.0])
    got = rearrange_band(lower, upper, center)
    for a, b in zip(got, (lower, upper, center)):
        np.testing.assert_array_equal(a, b)
    # the envelope: a larger correction at an inner coverage carries outwards
    low, high = calibrate_band(lower, upper, center, np.array([0.5, 0.2, 0.1]))
    np.testing.assert_array_equal(low, [[0.5, -0.5, -1.5]])
    np.testing.assert_array_equal(high, [[3.5, 4.5, 5.5]])
    # a negative correction stops at the centre
    low, high = calibrate_band(lower, upper, center, np.array([-3.0, -3.0, -3.0]))
    np.testing.assert_array_equal(low, [[2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(high, [[2.0, 2.0, 2.0]])

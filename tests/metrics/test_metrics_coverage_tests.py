from math import log

import numpy as np
import pytest
from scipy import stats

from skyield.metrics import (
    christoffersen_test,
    interval_hits,
    kupiec_test,
    simulate_calibrated_picp,
)


def test_kupiec_hand_computed():
    hits = [0, 0, 1, 0, 0, 0, 0, 1, 0, 0]  # 2 hits in 10, expected rate 0.1
    expected = -2 * (2 * log(0.1) + 8 * log(0.9) - 2 * log(0.2) - 8 * log(0.8))
    result = kupiec_test(hits, coverage=0.9)
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert result.pvalue == pytest.approx(stats.chi2.sf(expected, df=1))


def test_kupiec_zero_and_full_hit_counts_use_zero_log_zero():
    no_hits = kupiec_test(np.zeros(20), coverage=0.95)
    assert no_hits.statistic == pytest.approx(-2 * 20 * log(0.95))
    all_hits = kupiec_test(np.ones(5, dtype=bool), coverage=0.9)
    assert all_hits.statistic == pytest.approx(-2 * 5 * log(0.1))


def test_kupiec_exact_rate_gives_zero():
    result = kupiec_test([0, 0, 0, 1, 0, 0, 0, 0, 0, 0], coverage=0.9)
    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert result.pvalue == pytest.approx(1.0)


def test_christoffersen_hand_computed():
    hits = [0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1]
    # transitions: n00 = 5, n01 = 3, n10 = 2, n11 = 1
    lr_ind = -2 * (
        7 * log(7 / 11) + 4 * log(4 / 11)
        - 5 * log(5 / 8) - 3 * log(3 / 8) - 2 * log(2 / 3) - 1 * log(1 / 3)
    )
    # 4 hits in 12 against an expected rate of 0.2
    lr_uc = -2 * (4 * log(0.2) + 8 * log(0.8) - 4 * log(1 / 3) - 8 * log(2 / 3))
    result = christoffersen_test(hits, coverage=0.8)
    assert result.statistic_ind == pytest.approx(lr_ind, rel=1e-12)
    assert result.statistic_uc == pytest.approx(lr_uc, rel=1e-12)
    assert result.statistic_cc == pytest.approx(lr_uc + lr_ind, rel=1e-12)
    assert result.pvalue_ind == pytest.approx(stats.chi2.sf(lr_ind, df=1))
    assert result.pvalue_cc == pytest.approx(stats.chi2.sf(lr_uc + lr_ind, df=2))
    assert result.statistic_uc == pytest.approx(kupiec_test(hits, 0.8).statistic)


def test_christoffersen_without_consecutive_hits():
    hits = [0, 1, 0, 0, 1, 0, 0, 0]  # n00 = 3, n01 = 2, n10 = 2, n11 = 0
    lr_ind = -2 * (5 * log(5 / 7) + 2 * log(2 / 7) - 3 * log(3 / 5) - 2 * log(2 / 5))
    result = christoffersen_test(hits, coverage=0.9)
    assert np.isfinite(result.statistic_cc)
    assert result.statistic_ind == pytest.approx(lr_ind, rel=1e-12)


@pytest.mark.parametrize("hits", [np.zeros(10), np.ones(10)])
def test_christoffersen_constant_sequences_have_zero_independence_lr(hits):
    result = christoffersen_test(hits, coverage=0.9)
    assert result.statistic_ind == 0.0
    assert result.pvalue_ind == 1.0
    assert result.statistic_cc == pytest.approx(kupiec_test(hits, 0.9).statistic)


def test_independent_looking_sequence_has_zero_independence_lr():
    # pi_01 = 2 / 6 equals pi_11 = 1 / 3
    result = christoffersen_test([0, 0, 1, 1, 0, 0, 0, 1, 0, 0], coverage=0.7)
    assert result.statistic_ind == pytest.approx(0.0, abs=1e-12)


def test_clustered_hits_are_detected():
    hits = np.zeros(200, dtype=int)
    hits[50:60] = 1  # ten hits in one cluster, right unconditional rate for 95%
    result = christoffersen_test(hits, coverage=0.95)
    assert result.pvalue_uc > 0.5
    assert result.pvalue_ind < 1e-4


def test_hits_from_intervals_feed_the_tests():
    y_true = np.array([0.0, 2.0, 0.5, -3.0])
    hits = interval_hits(y_true, -np.ones(4), np.ones(4))
    assert kupiec_test(hits, 0.5).statistic == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("func", [kupiec_test, christoffersen_test])
def test_hit_errors(func):
    with pytest.raises(ValueError, match=r"hits must contain only 0 and 1 .* got 2.0 at index 1"):
        func([0, 2, 1], 0.9)
    with pytest.raises(ValueError, match="hits contains NaN"):
        func([0, np.nan, 1], 0.9)
    with pytest.raises(ValueError, match="hits must have 1 dimension"):
        func(np.zeros((3, 2)), 0.9)
    with pytest.raises(ValueError, match="coverage must lie strictly between 0 and 1"):
        func([0, 1, 0], 1.0)


def test_christoffersen_needs_two_observations():
    with pytest.raises(ValueError, match="hits needs at least 2 observations"):
        christoffersen_test([1], 0.9)


# --------------------------------------------------------------- simulate_calibrated_picp
def _equicorrelated(n_series, rho):
    return np.full((n_series, n_series), rho) + (1.0 - rho) * np.eye(n_series)


def test_calibrated_picp_of_one_step_independent_misses_is_binomial():
    # One series, one-step errors: the misses are independent Bernoulli(0.05) draws,
    # so the PICP of 400 dates has mean 0.95 and the binomial standard deviation.
    picps = simulate_calibrated_picp(400, np.eye(1), n_draws=4000, random_state=0)
    assert picps.shape == (4000,)
    assert abs(picps.mean() - 0.95) < 0.001
    binomial = np.sqrt(0.95 * 0.05 / 400)
    assert abs(picps.std() - binomial) < 0.1 * binomial


def test_calibrated_picp_spreads_with_correlation_and_overlap():
    def spread(n_series, rho, horizon):
        return simulate_calibrated_picp(300, _equicorrelated(n_series, rho), horizon=horizon,
                                        n_draws=1500, random_state=1).std()

    independent, correlated, identical = spread(8, 0.0, 1), spread(8, 0.8, 1), spread(8, 1.0, 1)
    # Independent series pool 8 x 300 misses; identical series are one series.
    assert abs(independent - np.sqrt(0.95 * 0.05 / 2400)) < 0.1 * independent
    assert independent < correlated < identical
    assert abs(identical - spread(1, 1.0, 1)) < 0.1 * identical
    # Overlapping 12-step errors leave about 300 / 12 independent dates, not 300.
    overlapping = spread(1, 1.0, 12)
    assert 2.0 < overlapping / identical < 4.0


def test_calibrated_picp_is_reproducible_and_follows_coverage():
    correlation = _equicorrelated(3, 0.5)
    first = simulate_calibrated_picp(50, correlation, horizon=6, n_draws=200, random_state=7)
    again = simulate_calibrated_picp(50, correlation, horizon=6, n_draws=200, random_state=7)
    np.testing.assert_array_equal(first, again)
    ninety = simulate_calibrated_picp(200, correlation, coverage=0.9, n_draws=2000,
                                      random_state=0)
    assert abs(ninety.mean() - 0.9) < 0.003


@pytest.mark.parametrize("correlation, message", [
    (np.ones((2, 3)), "must be square"),
    ([[1.0, 0.5], [0.4, 1.0]], r"symmetric; entry \(0, 1\) is 0.5"),
    ([[1.0, 0.5], [0.5, 2.0]], r"ones on its diagonal; entry \(1, 1\) is 2.0"),
    ([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]], "positive semi-definite"),
    ([[1.0, np.nan], [np.nan, 1.0]], "correlation"),
])
def test_calibrated_picp_rejects_a_matrix_that_is_no_correlation(correlation, message):
    with pytest.raises(ValueError, match=message):
        simulate_calibrated_picp(10, correlation)


def test_calibrated_picp_checks_its_counts():
    with pytest.raises(ValueError, match="n_dates must be >= 1"):
        simulate_calibrated_picp(0, np.eye(2))
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        simulate_calibrated_picp(10, np.eye(2), horizon=0)
    with pytest.raises(ValueError, match="coverage must lie strictly between 0 and 1"):
        simulate_calibrated_picp(10, np.eye(2), coverage=1.0)

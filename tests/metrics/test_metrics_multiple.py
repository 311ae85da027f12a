import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from skyield.metrics import adjust_pvalues


@pytest.mark.parametrize("method", ["holm", "bonferroni"])
def test_matches_statsmodels(method):
    pvalues = np.random.default_rng(0).uniform(0, 0.3, size=37)
    expected = multipletests(pvalues, method=method)[1]
    np.testing.assert_allclose(adjust_pvalues(pvalues, method=method), expected)


def test_missing_tests_are_neither_counted_nor_adjusted():
    pvalues = np.array([[0.01, np.nan], [0.02, 0.5]])
    adjusted = adjust_pvalues(pvalues)
    assert adjusted.shape == pvalues.shape and np.isnan(adjusted[0, 1])
    # Three tests: Holm multiplies the smallest by 3, the next by 2, the last by 1.
    np.testing.assert_allclose(adjusted[~np.isnan(adjusted)], [0.03, 0.04, 0.5])


def test_holm_never_adjusts_more_than_bonferroni_and_caps_at_one():
    pvalues = np.array([0.001, 0.2, 0.6, 0.04])
    holm, bonferroni = adjust_pvalues(pvalues), adjust_pvalues(pvalues, method="bonferroni")
    assert (holm <= bonferroni).all() and (holm >= pvalues).all()
    assert bonferroni.max() == 1.0


@pytest.mark.parametrize("pvalues, method, message", [
    ([0.1, 1.2], "holm", "must lie in [0, 1]"),
    ([0.1, np.inf], "holm", "must be finite"),
    ([0.1], "hochberg", "method must be one of holm, bonferroni"),
])
def test_bad_input_is_named(pvalues, method, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        adjust_pvalues(pvalues, method=method)

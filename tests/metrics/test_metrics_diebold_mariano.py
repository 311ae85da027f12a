import numpy as np
import pytest
from scipy import stats

from skyield.metrics import diebold_mariano


def _manual_dm(d, h):
    """Textbook DM with HLN correction, written with explicit loops."""
    n = len(d)
    d_bar = sum(d) / n
    gammas = []
    for k in range(h):
        total = 0.0
        for t in range(k, n):
            total += (d[t] - d_bar) * (d[t - k] - d_bar)
        gammas.append(total / n)
    variance = (gammas[0] + 2 * sum(gammas[1:])) / n
    dm = d_bar / variance**0.5
    return dm * ((n + 1 - 2 * h + h * (h - 1) / n) / n) ** 0.5


E1 = np.array([0.5, -1.2, 0.3, 2.0, -0.7, 1.1, -0.2, 0.9, -1.5, 0.4, 0.8, -0.3])
E2 = np.array([0.2, -0.4, 0.6, 0.5, -0.1, 0.3, -0.8, 0.2, -0.4, 0.7, 0.1, -0.2])


@pytest.mark.parametrize("h", [1, 2, 3])
def test_matches_manual_computation_squared_loss(h):
    d = E1**2 - E2**2
    expected = _manual_dm(list(d), h)
    result = diebold_mariano(E1, E2, h=h)
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert result.pvalue == pytest.approx(2 * stats.t.sf(abs(expected), df=len(d) - 1))


def test_absolute_loss_and_callable_loss_agree():
    by_name = diebold_mariano(E1, E2, loss="absolute")
    by_callable = diebold_mariano(E1, E2, loss=np.abs)
    assert by_name == by_callable
    assert by_name.statistic == pytest.approx(_manual_dm(list(np.abs(E1) - np.abs(E2)), 1))


def test_equal_forecasts_give_zero_statistic():
    result = diebold_mariano(E1, E1.copy(), h=2)
    assert result.statistic == 0.0
    assert result.pvalue == 1.0
    assert diebold_mariano(E1, E1, alternative="less").pvalue == pytest.approx(0.5)


def test_swapping_forecasts_flips_sign_and_one_sided_pvalues():
    forward = diebold_mariano(E1, E2, alternative="less")
    backward = diebold_mariano(E2, E1, alternative="less")
    assert forward.statistic == pytest.approx(-backward.statistic)
    greater = diebold_mariano(E1, E2, alternative="greater")
    assert forward.pvalue + greater.pvalue == pytest.approx(1.0)
    # E1 has the larger squared errors, so "greater" is the side with evidence
    assert greater.statistic > 0 and greater.pvalue < forward.pvalue


def test_vectorised_over_maturities():
    rng = np.random.default_rng(3)
    e1 = rng.normal(size=(40, 2, 3))
    e2 = rng.normal(scale=0.8, size=(40, 2, 3))
    result = diebold_mariano(e1, e2, h=2)
    assert result.statistic.shape == (2, 3) and result.pvalue.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            single = diebold_mariano(e1[:, i, j], e2[:, i, j], h=2)
            assert result.statistic[i, j] == pytest.approx(single.statistic)
            assert result.pvalue[i, j] == pytest.approx(single.pvalue)


def test_non_positive_variance_falls_back_to_bartlett_weights():
    # absolute loss differential 1, 3, 1, 3, ...: gamma_0 = 1, gamma_1 = -(n - 1) / n,
    # so gamma_0 + 2 gamma_1 < 0; Bartlett with h = 2 gives gamma_0 + gamma_1 = 1 / n
    n, h = 10, 2
    e1 = np.tile([1.0, 3.0], n // 2)
    e2 = np.zeros(n)
    with pytest.warns(RuntimeWarning, match="Bartlett"):
        result = diebold_mariano(e1, e2, h=h, loss="absolute")
    dm = 2.0 / np.sqrt((1 / n) / n)
    expected = dm * np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    assert result.statistic == pytest.approx(expected)


def test_constant_non_zero_differential_is_an_error():
    with pytest.raises(ValueError, match="constant but not zero"):
        diebold_mariano(np.full(5, 2.0), np.ones(5))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"h": 0}, ValueError, "h must be >= 1"),
        ({"h": 12}, ValueError, "h must be smaller than the number of time points 12"),
        ({"h": 1.5}, TypeError, "h must be an integer"),
        ({"loss": "huber"}, ValueError, "loss must be one of"),
        ({"loss": 3}, TypeError, "loss must be a string or a callable"),
        ({"loss": lambda e: e.sum()}, ValueError, "loss returned shape"),
        ({"alternative": "two_sided"}, ValueError, "alternative must be one of"),
    ],
)
def test_option_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        diebold_mariano(E1, E2, **kwargs)


def test_array_errors():
    with pytest.raises(ValueError, match="e1 and e2 must have the same shape"):
        diebold_mariano(E1, E2[:-1])
    with pytest.raises(ValueError, match="e2 contains NaN values"):
        diebold_mariano(E1, np.where(np.arange(12) == 4, np.nan, E2))
    with pytest.raises(ValueError, match="at least 2 time points"):
        diebold_mariano([1.0], [2.0])

import numpy as np
import pytest
from scipy.stats import norm, t

from skyield.baselines import RandomWalk
from skyield.preprocessing import make_windows
from skyield.scenarios import GaussianCopula, fit_copula
from skyield.scenarios._copula import quantiles_at_scores, scores_at_values

CORRELATION = np.array([[1.0, 0.8, 0.3], [0.8, 1.0, 0.5], [0.3, 0.5, 1.0]])
N_STEPS = 3000


def _random_walk_panel(marginal, seed):
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal(np.zeros(3), CORRELATION, size=N_STEPS)
    steps = marginal(z)
    return np.cumsum(steps, axis=0)


@pytest.mark.parametrize("distribution, marginal", [
    ("gaussian", lambda z: z * np.array([0.1, 0.2, 0.3])),
    # Heavy-tailed marginals (Student t with 3 degrees of freedom) with the same
    # Gaussian copula: the empirical quantile functions must still give normal scores.
    ("empirical", lambda z: t.ppf(norm.cdf(z), df=3) * np.array([0.1, 0.2, 0.3])),
])
def test_copula_recovers_known_correlation(distribution, marginal):
    w = make_windows(_random_walk_panel(marginal, seed=1), window=2, horizons=[1])
    model = RandomWalk(distribution=distribution).fit(w.X, w.y)
    copula = fit_copula(model, w.X, w.y)
    assert copula.n_observations == w.X.shape[0]
    assert np.allclose(np.diag(copula.correlation), 1.0)
    # The standard error of a sample correlation is about (1 - rho^2) / sqrt(n): 0.0065
    # for rho = 0.8 and 0.017 for rho = 0.3 with n = 3000; 0.06 is over 3.5 of them.
    assert np.allclose(copula.correlation, CORRELATION, atol=0.06)


def test_pit_round_trip():
    levels = np.linspace(0.05, 0.95, 19)
    grid = norm.ppf(levels)
    quantiles = np.array([[np.exp(grid)], [2 * grid + 1]])  # (2, 1, 19): skewed, Gaussian
    scores = np.array([[-3.0], [0.3]])  # beyond the grid and inside it
    values = quantiles_at_scores(quantiles, grid, scores)
    # Gaussian marginal with mean 1 and sd 2 is exact everywhere, tails included.
    assert values[1, 0] == pytest.approx(1 + 2 * 0.3)
    assert np.allclose(scores_at_values(quantiles, grid, values), scores)


def test_pit_of_point_mass_is_middle_of_flat_stretch():
    grid = norm.ppf([0.25, 0.5, 0.75])
    quantiles = np.zeros((1, 3))
    assert scores_at_values(quantiles, grid, np.array([0.0]))[0] == pytest.approx(0.0)


def test_copula_sampling_has_its_correlation():
    copula = GaussianCopula(CORRELATION)
    scores = copula.sample_scores(20000, random_state=0)
    assert np.allclose(np.corrcoef(scores, rowvar=False), CORRELATION, atol=0.03)
    u = copula.sample(10, random_state=0)
    assert np.all((u > 0) & (u < 1))
    assert np.array_equal(copula.sample(10, random_state=3), copula.sample(10, random_state=3))


def test_copula_validation():
    with pytest.raises(ValueError, match="square"):
        GaussianCopula(np.ones((2, 3)))
    with pytest.raises(ValueError, match="unit diagonal"):
        GaussianCopula(2 * np.eye(2))
    with pytest.raises(ValueError, match="symmetric"):
        GaussianCopula(np.array([[1.0, 0.5], [0.1, 1.0]]))
    with pytest.raises(ValueError, match="positive semi-definite"):
        GaussianCopula(np.array([[1.0, 2.0], [2.0, 1.0]]))


def test_fit_copula_errors():
    w = make_windows(_random_walk_panel(lambda z: z, seed=0)[:50], window=2, horizons=[1])
    model = RandomWalk().fit(w.X, w.y)
    with pytest.raises(TypeError, match="predict_quantiles"):
        fit_copula(object(), w.X, w.y)
    with pytest.raises(ValueError, match="y_train has shape"):
        fit_copula(model, w.X, w.y[..., :2])
    with pytest.raises(ValueError, match="quantile_grid"):
        fit_copula(model, w.X, w.y, quantile_grid=[0.5])
    y = w.y.copy()
    y.reshape(len(y), -1)[4, 1] = np.nan
    with pytest.raises(ValueError, match="sample 4, series 1"):
        fit_copula(model, w.X, y)

import numpy as np
import pandas as pd
import pytest

from skyield.cli._adapters import ProjectedFactorTransformer
from skyield.models import FactorTransformer


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(3)
    dates = pd.date_range("2000-01-31", periods=80, freq="ME")
    return pd.DataFrame(2 + rng.normal(scale=0.1, size=(80, 3)).cumsum(axis=0), index=dates,
                        columns=[1.0, 5.0, 10.0])


def _transformer():
    return FactorTransformer(window=6, d_model=8, n_heads=2, d_k=4, d_ff=8, epochs=2,
                             validation_fraction=0, random_state=0)


def test_forecast_adds_projected_changes_to_the_last_level(panel):
    model = ProjectedFactorTransformer(_transformer()).fit(panel.iloc[:60])
    model.update(panel.iloc[60:70])
    changes = panel.iloc[:70].diff().iloc[1:]
    projected = model.model_.project(changes, steps=4, origins=[len(changes) - 1])
    expected = panel.iloc[69].to_numpy() + np.cumsum(projected.observables[0], axis=0)
    np.testing.assert_allclose(model.forecast(4), expected)
    assert model.forecast(4).shape == (4, 3)


def test_levels_mode_projects_the_levels_themselves(panel):
    model = ProjectedFactorTransformer(_transformer(), differences=False).fit(panel.iloc[:60])
    projected = model.model_.project(panel.iloc[:60], steps=2, origins=[59])
    np.testing.assert_allclose(model.forecast(2), projected.observables[0])


def test_update_must_follow_the_last_date_with_the_same_columns(panel):
    model = ProjectedFactorTransformer(_transformer()).fit(panel.iloc[:60])
    with pytest.raises(ValueError, match="not after the last date seen"):
        model.update(panel.iloc[50:65])
    with pytest.raises(ValueError, match="columns seen in fit"):
        model.update(panel.iloc[60:65, :2])
    with pytest.raises(TypeError, match="DataFrame of dates"):
        ProjectedFactorTransformer(_transformer()).fit(panel.to_numpy())

"""``skyield benchmark --tune``: every fit tuned on its own training span, never later."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from skyield.cli import _models, main
from skyield.cli._benchmark import _schedule
from skyield.datasets import load_gsw_zero
from skyield.model_selection import TunedSequenceModel, TunedWindowRegressor, backtest
from skyield.models import LSTMAttentionRegressor

HORIZONS = [1, 3]
PANEL = load_gsw_zero("monthly", start="2010-01-01", maturities=[1, 2, 5, 10])


def _tiny_lstm(seed, device, maturities):
    return LSTMAttentionRegressor(units=4, epochs=2, differences=True, random_state=seed)


def _planted(panel, end):
    """``panel`` with every value after ``end`` replaced by absurd yields (1000 % and up)."""
    planted = panel.copy()
    later = planted.index > end
    planted.loc[later] = 1000.0 + np.arange(later.sum() * panel.shape[1]).reshape(
        -1, panel.shape[1])
    return planted


@pytest.mark.parametrize("name", [name for name, entry in _models.MODELS.items()
                                  if entry.grid])
def test_every_grid_holds_the_default_and_tunes_the_model_cold(name):
    entry = _models.MODELS[name]
    model = entry.build(0, "cpu", None)
    for key, values in entry.grid.items():
        assert model.get_params()[key] in values, key  # the default settings are a candidate
    tuned = entry.make(0, "cpu", None, horizons=HORIZONS, tune=True)
    assert isinstance(tuned, (TunedWindowRegressor, TunedSequenceModel))
    assert tuned.cv == 3
    for point in ParameterGrid(tuned.param_grid):
        clone(tuned.estimator).set_params(**point)  # every candidate is a valid setting
    # A tuned model is fitted from scratch at every refit, never warm-started.
    assert entry.warm_params(tuned) is None
    assert _schedule(entry, tuned, 12) == (12, False)
    assert "fitted from scratch" in entry.refit_plan(12, tune=True)
    assert entry.refit_plan(0, tune=True) == "tuned and fitted once on the training span"


@pytest.mark.parametrize("name", ["random-walk", "combination"])
def test_models_without_a_grid_are_left_as_they_are(name):
    entry = _models.MODELS[name]
    made = entry.make(0, "cpu", None, horizons=HORIZONS, tune=True)
    assert type(made) is type(entry.make(0, "cpu", None, horizons=HORIZONS))
    assert entry.chosen(made) is None
    assert entry.refit_plan(12, tune=True) == entry.refit_plan(12)


def test_a_seed_ensemble_is_tuned_as_a_whole():
    entry = _models.MODELS["lstm-attention"]
    tuned = entry.make(0, "cpu", None, members=2, horizons=HORIZONS, tune=True)
    assert tuned.estimator.n_estimators == 2
    assert tuned.param_grid == {f"estimator__{key}": values
                                for key, values in entry.grid.items()}


def test_sequence_tuning_of_each_fit_reads_no_date_after_its_training_span():
    model = _models.MODELS["ns-var"].make(0, "cpu", None, horizons=HORIZONS, tune=True)
    options = dict(horizons=HORIZONS, test_start="2024-01-01", refit=12,
                   return_estimators=True)
    _, fits = backtest(model, PANEL, **options)
    assert len(fits) == 2
    for number, fit in enumerate(fits):
        end = fit["train_end"]
        results, planted_fits = backtest(model, _planted(PANEL, end), **options)
        assert planted_fits[number]["train_end"] == end
        real, planted = fit["estimator"][None], planted_fits[number]["estimator"][None]
        assert planted.best_params_ == real.best_params_
        np.testing.assert_array_equal(planted.search_.cv_results_["mean_test_score"],
                                      real.search_.cv_results_["mean_test_score"])
        np.testing.assert_array_equal(planted.forecast(3, coverage=0.9),
                                      real.forecast(3, coverage=0.9))
        # The planted values did reach the backtest: forecasts after them see them.
        assert results.loc[results["origin"] > end, "forecast"].max() > 100


def test_window_tuning_reads_no_date_after_its_training_span():
    entry = dataclasses.replace(_models.MODELS["lstm-attention"], build=_tiny_lstm)
    model = entry.make(0, "cpu", None, members=1, horizons=HORIZONS, tune=True)
    options = dict(window=6, horizons=HORIZONS, test_start="2024-01-01", refit=False,
                   return_estimators=True)
    _, (fit,) = backtest(model, PANEL, **options)
    end = fit["train_end"]
    results, (planted,) = backtest(model, _planted(PANEL, end), **options)
    real, planted = fit["estimator"], planted["estimator"]
    assert set(real.best_params_) == {"units", "weight_decay"}
    assert planted.best_params_ == real.best_params_
    np.testing.assert_array_equal(planted.search_.cv_results_["mean_test_score"],
                                  real.search_.cv_results_["mean_test_score"])
    last_window = PANEL.loc[:end].to_numpy()[None, -6:]
    np.testing.assert_array_equal(planted.predict_interval(last_window),
                                  real.predict_interval(last_window))
    assert results["forecast"].max() > 100


@pytest.fixture
def lstm_fits(monkeypatch):
    """Every fit of an LSTM with attention (a seed-ensemble member) as (warm_start,
    units); the model tiny, with a grid of two unit counts."""
    seen = []
    original = LSTMAttentionRegressor.fit

    def fit(self, *args, **kwargs):
        seen.append((self.warm_start, self.units))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LSTMAttentionRegressor, "fit", fit)
    monkeypatch.setitem(_models.MODELS, "lstm-attention", dataclasses.replace(
        _models.MODELS["lstm-attention"], build=_tiny_lstm, grid={"units": [3, 4]}))
    return seen


def test_tune_records_the_settings_of_every_fit(lstm_fits, tmp_path):
    folder = tmp_path / "out"
    assert main(["benchmark", "--dataset", "us-zero", "--models",
                 "random-walk,ns-var,lstm-attention", "--start",
                 "2010-01-01", "--test-start", "2024-01-01", "--horizons", "1,3",
                 "--window", "6", "--members", "2", "--tune", "--quiet",
                 "--output", str(folder)]) == 0
    run = json.loads((folder / "run.json").read_text())
    assert run["settings"]["tuning"].startswith("every fit of a model with a grid, by "
                                                "3-fold")
    records = run["datasets"]["us-zero"]["models"]
    assert "chosen" not in records["random-walk"]
    forecasts = pd.read_csv(folder / "forecasts.csv")
    ends = sorted(forecasts["train_end"].unique())
    assert [end[:7] for end in ends] == ["2023-12", "2024-12"]
    for name, values in [("ns-var", {"decay": _models.MODELS["ns-var"].grid["decay"]}),
                         ("lstm-attention", {"units": [3, 4]})]:
        record = records[name]
        assert "each fit tuned on its span and fitted from scratch" in record["refits"]
        assert sorted(record["chosen"]) == ends  # one choice per fit, by training end
        for chosen in record["chosen"].values():
            assert set(chosen) == set(values)
            assert all(chosen[key] in values[key] for key in values)
    # No fit is warm-started; each of the 2 fits scores 2 candidates in 3 folds and
    # refits the choice, every time as a seed ensemble of 2 members.
    assert {warm for warm, _ in lstm_fits} == {False}
    assert len(lstm_fits) == 2 * (2 * 3 + 1) * 2
    # The members of each refitted ensemble share the chosen units.
    refitted = [lstm_fits[start + 12:start + 14] for start in (0, 14)]
    assert [[units for _, units in pair] for pair in refitted] == [
        [chosen["units"]] * 2 for chosen in records["lstm-attention"]["chosen"].values()]
    report = (folder / "report.html").read_text()
    assert '<h3 id="dataset-us-zero-tuned">Tuned settings</h3>' in report
    assert 'href="#dataset-us-zero-tuned"' in report
    table = report[report.index("<h4>lstm-attention</h4>", report.index("Tuned settings")):]
    assert all(end in table for end in ends)
    assert "Attention of each output" in report  # the chosen model's insides are drawn

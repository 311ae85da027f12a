"""Every model of the benchmark is refitted on the schedule, deep ones warm-started."""

import dataclasses
import json

import pandas as pd
import pytest

from skyield.cli import _models, main
from skyield.models import LSTMAttentionRegressor

SPAN = ["--dataset", "us-zero", "--start", "2015-01-01", "--test-start", "2023-01-01", "--horizons", "1,3",
        "--window", "6", "--members", "2", "--quiet"]


def _tiny_lstm(seed, device, maturities):
    return LSTMAttentionRegressor(units=4, epochs=3, differences=True, random_state=seed)


@pytest.fixture
def fits_seen(monkeypatch):
    """Every fit of an LSTM with attention (a seed-ensemble member), as
    (warm_start, epochs) at the time of the fit."""
    seen = []
    original = LSTMAttentionRegressor.fit

    def fit(self, *args, **kwargs):
        seen.append((self.warm_start, self.epochs))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LSTMAttentionRegressor, "fit", fit)
    monkeypatch.setitem(_models.MODELS, "lstm-attention", dataclasses.replace(
        _models.MODELS["lstm-attention"], build=_tiny_lstm, warm_refit={"epochs": 1}))
    return seen


def _run(folder, refit):
    assert main(["benchmark", "--models", "random-walk,lstm-attention", *SPAN,
                 "--refit", str(refit), "--output", str(folder)]) == 0
    record = json.loads((folder / "run.json").read_text())["datasets"]["us-zero"]["models"]
    forecasts = pd.read_csv(folder / "forecasts.csv")
    return record, forecasts


def test_deep_models_are_refitted_warm_on_the_schedule(fits_seen, tmp_path):
    record, forecasts = _run(tmp_path / "out", refit=12)
    # 2023-01 to 2025-09: 33 origins, a fit every 12 of them.
    assert record["lstm-attention"]["fits"] == 3
    assert record["lstm-attention"]["members"] == 2
    # Both members trained cold on the first span, then fine-tuned for 1 epoch per refit.
    assert fits_seen == [(False, 3)] * 2 + [(True, 1)] * 4
    assert "warm-started from the previous fit (epochs=1)" in record["lstm-attention"]["refits"]
    assert record["random-walk"]["fits"] == 3
    ends = forecasts.loc[forecasts["model"] == "lstm-attention", "train_end"].unique()
    assert sorted(end[:7] for end in ends) == ["2022-12", "2023-12", "2024-12"]
    assert record["lstm-attention"]["last training end"][:7] == "2024-12"
    report = (tmp_path / "out" / "report.html").read_text()
    assert "warm-started from the previous fit (epochs=1) (3 fits)" in report


def test_refit_zero_fits_every_model_once(fits_seen, tmp_path):
    record, forecasts = _run(tmp_path / "out", refit=0)
    assert fits_seen == [(False, 3)] * 2
    assert {name: entry["fits"] for name, entry in record.items()} == {
        "random-walk": 1, "lstm-attention": 1}
    assert record["lstm-attention"]["refits"] == "fitted once on the training span"
    assert forecasts["train_end"].nunique() == 1

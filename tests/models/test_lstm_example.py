"""The Treasury attention study (examples/lstm_attention_treasury.py) in its CI size."""

import json

import numpy as np
import pytest

pytest.importorskip("statsmodels")
pytest.importorskip("matplotlib")



@pytest.fixture(scope="module")
def example(load_example):
    return load_example("lstm_attention_treasury")


@pytest.fixture(scope="module")
def quick_results(example, run_quick_example):
    return run_quick_example(example, "lstm_attention")


def test_refuses_a_non_empty_output_folder_before_any_work(example, tmp_path, monkeypatch):
    kept = tmp_path / "notes.txt"
    kept.write_text("kept")
    monkeypatch.setattr(example, "load_panel", lambda start, end: pytest.fail("data was loaded"))
    with pytest.raises(ValueError, match="already exists and is not empty"):
        example.main(["--quick", "--output-dir", str(tmp_path)])
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]
    assert kept.read_text() == "kept"


@pytest.mark.slow
def test_quick_run_invariants(quick_results):
    results, out = quick_results
    assert json.loads((out / "results.json").read_text())["settings"]["mode"] == "quick"
    assert set(results["forecasts"]) == set(results["attention"]) == {"one_step", "sequence"}
    for label, horizon in (("one_step", 1), ("sequence", 4)):
        entry = results["forecasts"][label]
        assert entry["n_train"] > 0 and entry["n_test"] > 0
        # Out of sample: every training target precedes every test origin.
        assert entry["train_targets"][1] <= "2012-12-31" < entry["test_origins"][0]
        assert {"attention_levels", "attention_changes", "random_walk",
                "weighted_rolling_regression", "arima"} <= set(entry["rmse"])
        for name, rmse in entry["rmse"].items():
            assert np.isfinite(rmse) and rmse > 0, name
            assert len(entry["rmse_by_horizon"][name]) == horizon
        for name, tests in entry["dm_vs_random_walk"].items():
            assert len(tests) == horizon
            assert all(0.0 <= t["pvalue"] <= 1.0 for t in tests), name
        for name, summary in entry["attention_test"].items():
            assert 0.0 < summary["normalised_entropy"] <= 1.0, name

        study = results["attention"][label]
        for kind in ("levels", "changes"):
            summary = study[kind]
            assert 0.0 < summary["normalised_entropy"] <= 1.0
            assert 0.0 < summary["mass_last_two_weeks"] < 1.0
            assert len(summary["max_attention_per_lag"]) == 52
            assert np.isfinite(summary["in_sample_rmse"])
            taper = summary["first_week_2014"]
            assert taper["announcement_week"] == "2013-05-24"
            assert taper["announcement_lag"] == 31
            assert len(taper["steps"]) == horizon
            assert all(0.0 < step["peak_weight"] <= 1.0 for step in taper["steps"])


@pytest.mark.slow
def test_quick_run_figures(quick_results):
    results, out = quick_results
    assert "max_attention_levels.png" in results["figures"]
    assert "attention_2014_sequence_changes.png" in results["figures"]
    assert "taper_tantrum_window.png" in results["figures"]
    for name in results["figures"]:
        assert (out / name).stat().st_size > 0


def test_models_are_built_with_the_current_parameters(example):
    settings = example.SETTINGS["quick"]
    attention = example.attention_model(settings, 4, True, 7)
    assert attention.get_params()["horizons"] == 4 and attention.targets == 7
    # The seed's Keras l2(1e-5) is Adam's coupled weight decay 2e-5.
    assert attention.weight_decay == 2e-5
    assert attention.validation_gap == 3 and attention.early_stopping
    assert not example.attention_model(settings, 1, False, 7, study=True).early_stopping
    lstm = example.lstm_model(settings, 1, False, 7)
    assert lstm.horizons == 1 and lstm.targets == 7 and lstm.weight_decay == 2e-5

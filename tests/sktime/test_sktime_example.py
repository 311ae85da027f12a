"""The sktime comparison (examples/sktime_comparison.py) in its CI size."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "sktime_comparison.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("sktime_comparison", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_results(example, tmp_path_factory):
    # A folder left by an earlier run, replaced as a whole since overwrite=True.
    out = tmp_path_factory.mktemp("sktime_comparison")
    (out / "stale.txt").write_text("earlier run")
    return example.run(quick=True, output_dir=out, overwrite=True), out


@pytest.mark.slow
def test_quick_run_writes_every_model(quick_results):
    results, out = quick_results
    assert json.loads((out / "results.json").read_text())["settings"]["mode"] == "quick"
    table = (out / "table.md").read_text()
    assert sorted(path.name for path in out.iterdir()) == ["results.json", "table.md"]
    assert set(results["models"]) == {
        "RandomWalk (skyield)", "DNS ns-ar (skyield)", "DNS ns-var (skyield)",
        "Ridge on 6 monthly changes (skyield adapter)", "NaiveForecaster last (sktime)",
        "VAR(1) (sktime)", "ARIMA(1,1,0) per maturity (sktime)",
    }
    origins = {entry["n_origins"] for entry in results["models"].values()}
    assert len(origins) == 1 and origins.pop() >= 5
    for name, entry in results["models"].items():
        assert name in table
        assert all(np.isfinite(v) and v > 0 for v in entry["rmse_bp"].values()), name
        assert entry["coverage"] is None or 0.0 <= entry["coverage"] <= 1.0, name
    # every skyield model gives intervals: the ridge from its training errors (InChanges)
    ridge = results["models"]["Ridge on 6 monthly changes (skyield adapter)"]["coverage"]
    assert 0.5 < ridge <= 1.0


@pytest.mark.slow
def test_skyield_random_walk_equals_sktime_naive_forecaster(quick_results):
    results, _ = quick_results
    ours = results["models"]["RandomWalk (skyield)"]["rmse_bp"]
    theirs = results["models"]["NaiveForecaster last (sktime)"]["rmse_bp"]
    assert ours == pytest.approx(theirs, rel=1e-12)
    # A random walk's error grows with the horizon.
    assert ours["1"] < ours["6"] < ours["12"]


def test_refuses_a_non_empty_output_folder_before_any_work(example, tmp_path, monkeypatch):
    kept = tmp_path / "notes.txt"
    kept.write_text("kept")
    monkeypatch.setattr(example, "load_panel", lambda start: pytest.fail("data was loaded"))
    with pytest.raises(ValueError, match="already exists and is not empty"):
        example.main(["--quick", "--output-dir", str(tmp_path)])
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]
    assert kept.read_text() == "kept"

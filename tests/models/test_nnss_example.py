"""The Treasury study of the neural state space model (examples/nnss_treasury.py), CI size."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "nnss_treasury.py"
MODELS = ["RW", "2-step DNS", "1-step DNS", "2-step DSV", "1-step DSV", "4-GLSS", "4-NNSS",
          "5-NNSS"]


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("nnss_treasury", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_results(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("nnss")
    threads = torch.get_num_threads()
    try:
        results = example.run(quick=True, output_dir=out, threads=1, log=lambda *a: None)
    finally:
        torch.set_num_threads(threads)
    return results, out


@pytest.mark.slow
def test_quick_run_invariants(example, quick_results):
    results, out = quick_results
    assert json.loads((out / "results.json").read_text())["settings"]["mode"] == "quick"
    for name in ("tables.md", "nnss_loadings.png", "nnss_factors.png",
                 "nnss_prior_loadings.png"):
        assert (out / name).stat().st_size > 0, name
    data = results["data"]
    # Out of sample: the fits end before the first forecast origin.
    assert data["train_end"] < data["first_origin"]
    assert data["n_train"] > 0 and data["n_origins"] > 26
    assert list(results["rmse"]) == MODELS
    for name, tables in results["rmse"].items():
        assert sorted(tables, key=int) == ["1", "4", "13", "26"], name
        for table in tables.values():
            assert list(table) == example.LABELS + ["Avg.", "Std."]
            values = np.array(list(table.values()))
            assert np.isfinite(values).all() and (values[:-1] > 0).all(), name
            assert table["Avg."] == pytest.approx(np.mean(values[:-2]))
    assert len(results["prior_grid"]) == 4
    for row in results["prior_grid"]:
        assert all(np.isfinite(row[h]) and row[h] > 0 for h in ("1", "4", "13", "26"))
    assert set(results["nnss"]) == {"4-NNSS", "5-NNSS"}
    tables_md = (out / "tables.md").read_text()
    assert tables_md.count("| 4-NNSS |") == 4


@pytest.mark.slow
def test_random_walk_rmse_is_the_h_step_change(example, quick_results):
    results, _ = quick_results
    settings = example.SETTINGS["quick"]
    panel = example.load_panel(settings["start"], settings["end"])
    n_train = results["data"]["n_train"]
    values = panel.to_numpy()
    for h in (1, 13):
        change = values[n_train + h:] - values[n_train:-h]
        expected = np.sqrt(np.mean(change**2, axis=0)) * 100
        got = [results["rmse"]["RW"][str(h)][label] for label in example.LABELS]
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.slow
def test_rolling_forecasts_follow_the_backtest_convention(example, quick_results):
    """The script's origin/target convention is skyield.model_selection.backtest's."""
    from skyield.baselines import DynamicNelsonSiegel
    from skyield.model_selection import backtest, summarize

    results, _ = quick_results
    settings = example.SETTINGS["quick"]
    panel = example.load_panel(settings["start"], settings["end"])
    model = DynamicNelsonSiegel(factors="ns", method="two-step", dynamics="var", decay="grid")
    frame = backtest(model, panel, test_start=results["data"]["first_origin"],
                     horizons=[1, 4, 13, 26], mode="sequence")
    summary = summarize(frame.dropna(subset=["error"]), by=("horizon", "series"))
    for h in (1, 4, 13, 26):
        got = [results["rmse"]["2-step DNS"][str(h)][label] for label in example.LABELS]
        expected = summary.loc[h]["rmse"].to_numpy() * 100
        np.testing.assert_allclose(got, expected, rtol=1e-9)

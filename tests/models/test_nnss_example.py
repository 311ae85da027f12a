"""The Treasury study of the neural state space model (examples/nnss_treasury.py), CI size."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "nnss_treasury.py"
MODELS = ["RW", "2-step DNS", "1-step DNS", "2-step DSV", "1-step DSV", "4-GLSS", "5-GLSS",
          "4-NNSS", "5-NNSS"]


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
    assert set(results["converged"]) == set(MODELS[1:7])
    tables_md = (out / "tables.md").read_text()
    assert tables_md.count("| 4-NNSS |") == 4
    assert tables_md.count("| 5-GLSS |") == 4
    assert "prior grid" in tables_md


@pytest.fixture(scope="module")
def selected_run(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("nnss_selected")
    args = example.parse_args(["--quick", "--models", "RW,5-GLSS", "--skip-grid",
                               "--output-dir", str(out)])
    threads = torch.get_num_threads()
    try:
        results = example.run(quick=args.quick, output_dir=args.output_dir,
                              models=args.models, skip_grid=args.skip_grid,
                              log=lambda *a: None)
    finally:
        torch.set_num_threads(threads)
    return results, out


def test_models_option_runs_only_the_named_models(selected_run):
    results, out = selected_run
    saved = json.loads((out / "results.json").read_text())
    assert list(saved["rmse"]) == ["RW", "5-GLSS"]
    assert saved["settings"]["models"] == ["RW", "5-GLSS"]
    assert saved["prior_grid"] == [] and saved["nnss"] == {}
    assert list(saved["converged"]) == ["5-GLSS"]
    tables_md = (out / "tables.md").read_text()
    assert tables_md.count("| 5-GLSS |") == 4 and "| 4-GLSS |" not in tables_md
    assert "prior grid" not in tables_md
    # Only the loadings figure has a model of this run.
    assert (out / "nnss_loadings.png").stat().st_size > 0
    assert not (out / "nnss_factors.png").exists()
    assert not (out / "nnss_prior_loadings.png").exists()


def test_grid_maxiter_option_and_its_former_name(example):
    assert example.parse_args(["--grid-maxiter", "7"]).grid_maxiter == 7
    assert example.parse_args(["--grid-epochs", "9"]).grid_maxiter == 9
    assert example.parse_args([]).grid_maxiter is None
    quick = example.SETTINGS["quick"]
    model = example._models(quick)["4-NNSS"]
    assert model.maxiter == quick["maxiter"]
    assert model.pretrain_maxiter == quick["pretrain_maxiter"]


def test_models_option_rejects_unknown_names(example, tmp_path):
    with pytest.raises(ValueError, match=r"unknown model name\(s\) \['6-GLSS'\]"):
        example.run(quick=True, output_dir=tmp_path, models=["RW", "6-GLSS"],
                    skip_grid=True)
    assert not any(tmp_path.iterdir())


def test_merge_adds_rows_in_table_order(example, selected_run, tmp_path):
    results, out = selected_run
    earlier = json.loads((out / "results.json").read_text())
    earlier["rmse"] = {"RW": earlier["rmse"]["RW"], "4-NNSS": earlier["rmse"]["RW"]}
    earlier["nnss"] = {"4-NNSS": {"fit_seconds": 1.0}}
    earlier["prior_grid"] = [{"gamma": 0.5, "weight_var": 0.05,
                              **{h: 1.0 for h in ("1", "4", "13", "26")}}]
    target = tmp_path / "results.json"
    target.write_text(json.dumps(earlier))
    merged = example.merge_results(results, target)
    assert list(merged["rmse"]) == ["RW", "5-GLSS", "4-NNSS"]
    assert merged["rmse"]["5-GLSS"] == results["rmse"]["5-GLSS"]
    assert merged["nnss"] == {"4-NNSS": {"fit_seconds": 1.0}}
    assert merged["prior_grid"] == earlier["prior_grid"]
    assert merged["merged_runs"][0]["models"] == ["RW", "5-GLSS"]
    assert json.loads(target.read_text()) == merged
    tables_md = (tmp_path / "tables.md").read_text()
    assert tables_md.count("| 5-GLSS |") == 4 and "prior grid" in tables_md

    other = dict(earlier, data={**earlier["data"], "train_end": "2017-06-30"})
    target.write_text(json.dumps(other))
    with pytest.raises(ValueError, match=r"other data: \['train_end'\] differ"):
        example.merge_results(results, target)


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
                     horizons=[1, 4, 13, 26])
    summary = summarize(frame.dropna(subset=["error"]), by=("horizon", "series"))
    for h in (1, 4, 13, 26):
        got = [results["rmse"]["2-step DNS"][str(h)][label] for label in example.LABELS]
        expected = summary.loc[h]["rmse"].to_numpy() * 100
        np.testing.assert_allclose(got, expected, rtol=1e-9)

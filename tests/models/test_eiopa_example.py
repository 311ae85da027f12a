"""Seed 001 on the EIOPA curves (examples/eiopa_yield_curve_attention.py), CI size."""

import json
import time

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("matplotlib")

METRICS = {"MSE", "MAE", "PICP", "MPIW"}


@pytest.fixture(scope="module")
def example(load_example):
    return load_example("eiopa_yield_curve_attention")


@pytest.fixture(scope="module")
def quick_results(example, run_quick_example):
    return run_quick_example(example, "eiopa")


def check_metrics(metrics):
    assert set(metrics) == METRICS
    assert metrics["MSE"] >= 0 and metrics["MAE"] >= 0 and metrics["MPIW"] > 0
    assert 0.0 <= metrics["PICP"] <= 1.0
    assert metrics["MAE"] ** 2 <= metrics["MSE"] + 1e-12     # Jensen: RMSE >= MAE


@pytest.fixture(scope="module")
def planted(example):
    """The quick panel, and a copy whose 2021 curves are all shifted by 3 points."""
    settings = example.SETTINGS["quick"]
    panel = example.load_panel(settings)
    future = panel.index.get_level_values("date") > example.T0
    changed = panel.copy()
    changed.loc[future] += 3.0
    return settings, panel, changed


def test_protocol_a_never_reads_a_2021_curve(example, planted):
    settings, panel, changed = planted
    window, steps = settings["window"], example.STEPS
    first = example.benchmark_forecasts(panel, example.T0, window, steps)
    second = example.benchmark_forecasts(changed, example.T0, window, steps)
    np.testing.assert_allclose(second[1], first[1] + 3.0)          # the truth did change
    for name in example.BENCHMARKS:
        for key in ("centre", "bounds"):
            np.testing.assert_array_equal(second[2][name]["a"][key], first[2][name]["a"][key])
        # Protocol (b) reads the observed 2021 curves: from February on it moves.
        assert not np.allclose(second[2][name]["b"]["centre"][:, 1:],
                               first[2][name]["b"]["centre"][:, 1:])
        np.testing.assert_array_equal(second[2][name]["b"]["centre"][:, 0],
                                      first[2][name]["b"]["centre"][:, 0])
    estimator = example.deep_model(settings, panel.columns, units=4, epochs=2)
    runs = [example.deep_forecasts(estimator, data, example.T0, window, steps, 2, 0)[1]
            for data in (panel, changed)]
    for before, after in zip(runs[0]["a"], runs[1]["a"]):
        np.testing.assert_array_equal(after["centre"], before["centre"])
        np.testing.assert_array_equal(after["bounds"], before["bounds"])
    assert not np.allclose(runs[1]["b"][0]["centre"][:, 1:], runs[0]["b"][0]["centre"][:, 1:])


def test_protocols_line_up_forecasts_with_their_months(example, planted):
    settings, panel, _ = planted
    assert settings["window"] == 10
    families, start, rolling, truth = example.origin_windows(panel, example.T0, 10, 12)
    eu = panel.loc["EU"]
    np.testing.assert_array_equal(start[families.index("EU")], eu.loc["2020-03":"2020-12"])
    # Protocol (b) forecasts June 2021 from the ten observed months ending in May.
    np.testing.assert_array_equal(rolling[families.index("EU"), 5], eu.loc["2020-08":"2021-05"])
    np.testing.assert_array_equal(truth[families.index("EU")], eu.loc["2021"])
    with pytest.raises(ValueError, match="needs 10 months up to 2021-06 and 12 after it"):
        example.origin_windows(panel, pd.Timestamp("2021-06-30"), 10, 12)


def test_combined_runs_and_stretched_bands(example):
    rng = np.random.default_rng(0)
    centre = rng.normal(size=(3, 12, 4))
    members = [{"centre": centre + k, "bounds": np.stack([centre - 1 + k, centre + 2 + k], -1)}
               for k in range(3)]
    combined = example.combine(members)
    np.testing.assert_allclose(combined["centre"], centre + 1)
    np.testing.assert_allclose(combined["bounds"][..., 1] - combined["bounds"][..., 0], 3.0)
    gaussian = [{"centre": centre, "bounds": None, "std": np.ones_like(centre)},
                {"centre": centre + 2, "bounds": None, "std": np.ones_like(centre)}]
    mixture = example.combine(gaussian)       # variance 1 + 1 (spread of the means)
    np.testing.assert_allclose(mixture["bounds"][..., 1] - mixture["centre"],
                               1.959964 * np.sqrt(2.0), rtol=1e-6)
    band = {"centre": np.zeros((2, 12, 3)),
            "bounds": np.stack([-np.ones((2, 12, 3)), 2 * np.ones((2, 12, 3))], -1)}
    truth = np.zeros((2, 12, 3))
    truth[:, :, 0] = -3.0                      # needs a stretch of 3 below
    truth[:, :, 1] = 4.0                       # needs a stretch of 2 above
    np.testing.assert_allclose(example.stretch_scores(truth, band)[0, 0], [3.0, 2.0, 0.0])
    factors = example.horizon_factors([example.stretch_scores(truth, band)], coverage=0.5)
    np.testing.assert_allclose(factors, 2.0)
    wide = example.stretched(band, factors)
    np.testing.assert_allclose(wide["bounds"][0, 0], [[-2.0, 4.0]] * 3)


@pytest.mark.slow
def test_quick_run_invariants(quick_results):
    results, out = quick_results
    saved = json.loads((out / "tables" / "results.json").read_text())
    assert saved["settings"]["mode"] == "quick" and saved["settings"]["t0"] == "2020-12-31"
    tables = results["tables"]
    assert set(tables["benchmarks"]) == {"RW", "NS_AR", "NS_VAR", "NSS_AR", "NSS_VAR"}
    for entry in tables["benchmarks"].values():
        check_metrics(entry["a"])
        check_metrics(entry["b"])
    for name, entry in tables["deep"].items():
        for protocol in ("a", "b"):
            check_metrics(entry[protocol]["average"])
            check_metrics(entry[protocol]["ensemble"])
            assert len(entry[protocol]["runs"]) == saved["settings"]["runs"]
            if name != "YC_ATT_DE":
                # Appendix A.2: the runs' average MPIW is the ensemble's MPIW.
                np.testing.assert_allclose(entry[protocol]["average"]["MPIW"],
                                           entry[protocol]["ensemble"]["MPIW"], rtol=1e-10)
    assert set(tables["per_family"]["a"]["NSS_VAR"]) == {"CH", "EU", "GB", "TR", "US"}
    tuning = results["tuning"]
    assert tuning["chosen"] in tuning["grid"]
    assert tuning["chosen_level"] == "paper"                # the only one in the quick grid
    assert set(tuning["seed_runs"]) == {tuning["chosen"], "paper"}
    for runs in tuning["seed_runs"].values():
        assert [run["seed"] for run in runs] == saved["settings"]["seeds"]
        for run in runs:
            check_metrics(run["calibrated"])
    for entry in tuning["grid"].values():
        assert len(entry["interval_factors"]) == 12
        check_metrics(entry["test_calibrated_a"])
    assert len(tuning["residual_runs"]) == len(saved["settings"]["seeds"])
    one_step = results["one-step"]
    assert list(one_step["grid"]) == saved["settings"]["one_step_grid"]
    assert one_step["chosen"] == min(one_step["grid"],
                                     key=lambda n: one_step["grid"][n]["cv_ratio_b"])
    assert [run["seed"] for run in one_step["seed_runs"]] == saved["settings"]["seeds"]
    for run in one_step["seed_runs"]:
        check_metrics(run["ensemble"])
        assert 0 <= run["families_below_RW"] <= one_step["n_families"]
    assert one_step["chosen_shrunk"] == min(
        one_step["grid"], key=lambda n: one_step["grid"][n]["cv_ratio_shrunk"])
    for entry in one_step["grid"].values():
        assert 0.0 <= entry["change_weight"] <= 1.0
    assert [run["seed"] for run in one_step["shrunk_runs"]] == saved["settings"]["seeds"]
    for run in one_step["shrunk_runs"]:
        check_metrics(run["ensemble"])
    assert "(chosen)" in (out / "one-step" / "tables.md").read_text()
    assert ", shrunk** (weight" in (out / "one-step" / "tables.md").read_text()
    transfer = results["transfer"]
    assert transfer["extractor_frozen"] is True
    for entry in transfer["deep"].values():
        check_metrics(entry["a"]["ensemble"])
    benchmark = results["benchmark"]
    assert set(benchmark["rmse"]["random walk"]) == {"1", "6", "12"}
    figures = {"tables": ("eiopa_by_family", "eiopa_june2021_a", "eiopa_june2021_b",
                          "eiopa_picp_by_maturity", "eiopa_attention"),
               "tuning": ("eiopa_tuning", "eiopa_tuned_by_family"),
               "transfer": ("eiopa_transfer",)}
    for study, names in figures.items():
        for name in names:
            assert (out / study / f"{name}.png").stat().st_size > 0
    assert "Table 2, protocol (b)" in (out / "tables" / "tables.md").read_text()
    # One folder per study, each complete, and nothing else (no staging folder left).
    assert sorted(p.name for p in out.iterdir()) == sorted(results)
    for study in results:
        assert {"results.json", "tables.md"} <= {p.name for p in (out / study).iterdir()}


def test_a_study_folder_is_never_overwritten_unless_asked(example, tmp_path, monkeypatch):
    kept = tmp_path / "tuning"
    kept.mkdir()
    (kept / "results.json").write_text("earlier run")
    monkeypatch.setattr(example, "load_panel", lambda settings: pytest.fail("did work"))
    with pytest.raises(ValueError, match="already exists and is not empty"):
        example.main(["--quick", "--study", "tables", "--study", "tuning",
                      "--output-dir", str(tmp_path)])
    assert (kept / "results.json").read_text() == "earlier run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tuning"]


def test_zero_start_variant_is_the_random_walk_before_training(example, planted):
    settings, panel, _ = planted
    windows = example.make_family_windows(panel, window=10, horizons=1)
    for weight_decay in (0.0, 1e-2):
        # A negligible lr leaves the weights as initialised (Adam moves each by at most lr
        # per step), so the centre is the window's last curve; a head started at random
        # would be off by tenths of a point.
        model = example.deep_model(settings, panel.columns, residual=True, units=4, epochs=1,
                                   lr=1e-12, start="zero", weight_decay=weight_decay,
                                   random_state=0)
        model.fit(windows.X, windows.y[:, 0], families=windows.families)
        assert model.net_.optimizer_.param_groups[0]["weight_decay"] == weight_decay
        centre = model.predict(windows.X[:20], families=windows.families[:20])
        np.testing.assert_allclose(centre, windows.X[:20, -1], atol=1e-6)


def test_change_weight_is_the_least_squares_combination_with_the_random_walk(example):
    from skyield.compose._combination_weights import combination_weights

    rng = np.random.default_rng(0)
    walks, truths, nets = [], [], []
    for _ in range(2):                                    # two folds, pooled
        walk = rng.normal(size=(3, 4, 5))
        change = rng.normal(scale=0.1, size=walk.shape)
        truths.append(walk + change + rng.normal(scale=0.1, size=walk.shape))
        nets.append({"centre": walk + change + rng.normal(scale=0.1, size=walk.shape)})
        walks.append({"centre": walk})
    weight = example.change_weight(truths, walks, nets)
    members = np.stack([np.concatenate([f["centre"] for f in forecasts]).reshape(-1, 1, 5)
                        for forecasts in (nets, walks)])
    expected = combination_weights(members, np.concatenate(truths).reshape(-1, 1, 5),
                                   "least_squares")[0][0, 0]
    assert 0.2 < weight < 0.8
    np.testing.assert_allclose(weight, expected, atol=1e-6)
    # A network whose change is unrelated to the surprise gets weight 0 (the random walk);
    # one that knows the surprise exactly gets weight 1.
    noise = [{"centre": w["centre"] - (t - w["centre"])} for t, w in zip(truths, walks)]
    assert example.change_weight(truths, walks, noise) == 0.0
    exact = [{"centre": t} for t in truths]
    np.testing.assert_allclose(example.change_weight(truths, walks, exact), 1.0)
    band = {"centre": nets[0]["centre"],
            "bounds": np.stack([nets[0]["centre"] - 1, nets[0]["centre"] + 2], axis=-1)}
    pulled = example.shrunk(band, walks[0], 0.25)
    np.testing.assert_allclose(pulled["centre"], walks[0]["centre"]
                               + 0.25 * (nets[0]["centre"] - walks[0]["centre"]))
    np.testing.assert_allclose(pulled["bounds"][..., 0], pulled["centre"] - 1)
    np.testing.assert_allclose(pulled["bounds"][..., 1], pulled["centre"] + 2)


@pytest.mark.slow
def test_one_step_study_reuses_the_tuning_fits_without_changing_a_number(example,
                                                                         quick_results):
    # In the quick run both studies hold "residual": the one-step study took its fits
    # from the tuning study. Run alone, it fits them itself and must agree.
    results, _ = quick_results
    settings = example.SETTINGS["quick"]
    assert "residual" in settings["grid"] and "residual" in settings["one_step_grid"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                  # as the quick run
    try:
        alone = example.one_step_study(settings, example.load_panel(settings),
                                       time.perf_counter(), {})
    finally:
        torch.set_num_threads(threads)
    together = results["one-step"]
    for name in settings["one_step_grid"]:
        assert alone["grid"][name]["folds"] == together["grid"][name]["folds"]
        assert alone["grid"][name]["test"] == together["grid"][name]["test"]
        assert alone["grid"][name]["change_weight"] == together["grid"][name]["change_weight"]
    assert alone["chosen"] == together["chosen"]
    assert alone["chosen_shrunk"] == together["chosen_shrunk"]


def test_overwrite_replaces_a_study_folder_whole(example, tmp_path, monkeypatch):
    (tmp_path / "benchmark").mkdir()
    (tmp_path / "benchmark" / "stale.txt").write_text("earlier run")
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "results.json").write_text("another study")
    monkeypatch.setattr(example, "benchmark_timing", lambda settings, started: {"rmse": {}})
    monkeypatch.setattr(example, "benchmark_markdown", lambda results: "new tables")
    example.main(["--quick", "--study", "benchmark", "--overwrite",
                  "--output-dir", str(tmp_path)])
    assert sorted(p.name for p in (tmp_path / "benchmark").iterdir()) == [
        "results.json", "tables.md"]
    assert (tmp_path / "benchmark" / "tables.md").read_text() == "new tables"
    assert (tmp_path / "tables" / "results.json").read_text() == "another study"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benchmark", "tables"]

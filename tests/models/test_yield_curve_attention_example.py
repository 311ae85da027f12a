"""The multiple-yield-curve study (examples/yield_curve_attention_multi_curve.py), CI size."""

import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")

METRICS = {"MSE", "MAE", "PICP", "MPIW"}


@pytest.fixture(scope="module")
def example(load_example):
    return load_example("yield_curve_attention_multi_curve")


@pytest.fixture(scope="module")
def quick_results(example, run_quick_example):
    return run_quick_example(example, "ycatt")


def check_metrics(metrics):
    assert set(metrics) == METRICS
    assert metrics["MSE"] >= 0 and metrics["MAE"] >= 0 and metrics["MPIW"] > 0
    assert 0.0 <= metrics["PICP"] <= 1.0
    assert metrics["MAE"] ** 2 <= metrics["MSE"] + 1e-12     # Jensen


def test_refuses_a_non_empty_output_folder_before_any_work(example, tmp_path, monkeypatch):
    kept = tmp_path / "notes.txt"
    kept.write_text("kept")
    monkeypatch.setattr(example, "family_windows", lambda *args: pytest.fail("data was loaded"))
    with pytest.raises(ValueError, match="already exists and is not empty"):
        example.main(["--quick", "--output-dir", str(tmp_path)])
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]
    assert kept.read_text() == "kept"


@pytest.mark.slow
def test_quick_run_invariants(quick_results):
    results, out = quick_results
    saved = json.loads((out / "results.json").read_text())
    assert saved["settings"]["mode"] == "quick" and saved["settings"]["t0"] == "2012-12-31"
    source = results["source"]
    data = source["data"]
    assert data["n_train"] > 0 and data["n_test"] > 0
    assert data["test_targets"][0] > "2012-12-31"          # leak-free split
    assert set(source["table1"]) == {"RW", "NS_AR", "NS_VAR", "NSS_AR", "NSS_VAR"}
    for metrics in source["table1"].values():
        check_metrics(metrics)
    expected = {f"{m} gamma={g}" for m in ("YC_ATT", "YC_CONV", "YC_LSTM", "YC_TRANS")
                for g in (1, 2)}
    assert set(source["table2"]) == expected
    for entry in list(source["table2"].values()) + [source["YC_ATT_DE"]]:
        check_metrics(entry["average"])
        check_metrics(entry["ensemble"])
        assert len(entry["runs"]) == saved["settings"]["runs"]
    for entry in source["table2"].values():
        # Appendix A.2: average MPIW of the runs equals the ensemble's MPIW.
        np.testing.assert_allclose(entry["average"]["MPIW"], entry["ensemble"]["MPIW"],
                                   rtol=1e-10)
    assert set(source["per_family"]["YC_ATT"]) == {"USD_GSW", "CAD_BOC", "EUR_AAA_ECB",
                                                   "AUD_RBA"}
    assert 0.0 < source["pca"]["explained_variance"] <= 1.0 + 1e-9
    transfer = results["transfer"]
    assert transfer["extractor_frozen"] is True
    assert transfer["data"]["test_targets"][0] > "2012-12-31"
    for entry in transfer["table3_nn"].values():
        check_metrics(entry["ensemble"])
    for name in ("ycatt_fan", "ycatt_by_family", "ycatt_picp_by_maturity", "ycatt_attention",
                 "ycatt_transfer"):
        assert (out / f"{name}.png").stat().st_size > 0
    assert "Table 2" in (out / "tables.md").read_text()


def test_dns_benchmarks_forecast_each_test_window_from_the_curves_before_it(example):
    from skyield.baselines import DynamicNelsonSiegel

    settings = example.SETTINGS["quick"]
    X, y, families, targets, panel = example.family_windows(
        example.TARGET_FAMILIES, example.TARGET_GRID, settings["target_start"],
        settings["target_end"], settings["window"])
    train, test = example.split(targets, settings["target_end"])
    table, fitted = example.fit_dns(panel, X, y, families, targets,
                                    example.TARGET_GRID, train, test)
    assert set(table) == {"RW", *example.DNS_MODELS}
    centre, bounds = fitted["NS_VAR"]
    assert centre.shape == y[test].shape and bounds.shape == y[test].shape + (2,)
    assert np.all(bounds[..., 0] <= centre) and np.all(centre <= bounds[..., 1])
    for family in example.TARGET_FAMILIES:
        curves = panel.xs(family, level=0)
        model = DynamicNelsonSiegel(factors="ns", dynamics="var", decay="mean-maturity",
                                    maturities=example.TARGET_GRID)
        model.fit(curves[curves.index <= example.T0])
        rows = np.flatnonzero(families[test] == family)
        order = np.argsort(np.asarray(targets[test][rows]))
        # The first test window is forecast from the last training curve, the others
        # after filtering the test curves before them.
        np.testing.assert_allclose(centre[rows[order[0]]], model.forecast(1).iloc[0],
                                   rtol=1e-10)
        model.update(curves[(curves.index > example.T0)].iloc[:2])
        np.testing.assert_allclose(centre[rows[order[2]]], model.forecast(1).iloc[0],
                                   rtol=1e-10)

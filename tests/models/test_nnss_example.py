"""The Treasury study of the neural state space model (examples/nnss_treasury.py), CI size."""

import json

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")

BASES = ["2-step DNS", "1-step DNS", "2-step DSV", "1-step DSV", "4-GLSS", "5-GLSS",
         "4-NNSS", "5-NNSS"]
MODELS = ["RW"] + [f"{name} ({form})" for name in BASES for form in ("no mean", "mean")]


@pytest.fixture(scope="module")
def example(load_example):
    return load_example("nnss_treasury")


def _run(example, **kwargs):
    threads = torch.get_num_threads()
    try:
        return example.run(quick=True, threads=1, log=lambda *a: None, **kwargs)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def quick_results(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("nnss")
    return _run(example, output_dir=out), out


@pytest.mark.slow
def test_quick_run_invariants(example, quick_results):
    results, out = quick_results
    assert json.loads((out / "results.json").read_text())["settings"]["mode"] == "quick"
    for name in ("tables.md", "nnss_loadings.png", "nnss_factors.png",
                 "nnss_prior_loadings.png"):
        assert (out / name).stat().st_size > 0, name
    # The run finished: the folder holds its files only, and no checkpoint is left.
    assert {p.name for p in out.iterdir()} == {
        "results.json", "tables.md", "nnss_loadings.png", "nnss_factors.png",
        "nnss_prior_loadings.png"}
    assert not example.Checkpoint(out).root.exists()
    data = results["data"]
    # Out of sample: the fits end before the first forecast origin.
    assert data["train_end"] < data["first_origin"]
    assert data["n_train"] > 0 and data["n_origins"] > 26
    assert list(results["rmse"]) == MODELS
    for name, tables in results["rmse"].items():
        assert sorted(tables, key=int) == ["1", "4", "13", "26"], name
        for h, table in tables.items():
            assert list(table) == example.LABELS + ["Avg.", "Std."]
            values = np.array(list(table.values()))
            assert np.isfinite(values).all() and (values[:-1] > 0).all(), name
            assert table["Avg."] == pytest.approx(np.mean(values[:-2]))
            # The curve losses behind the DM tests are the same errors.
            losses = np.array([v for v in results["losses"][name][h] if v is not None])
            assert len(losses) == data["n_origins"] - int(h)
            mse = np.array([table[m] for m in example.LABELS]) ** 2
            assert losses.mean() == pytest.approx(mse.mean())
    assert len(results["prior_grid"]) == 4
    for row in results["prior_grid"]:
        assert all(np.isfinite(row[h]) and row[h] > 0 for h in ("1", "4", "13", "26"))
        assert row["n_iter"] >= 1 and row["fit_cpu_seconds"] >= 0
    assert set(results["nnss"]) == {f"{n} ({f})" for n in ("4-NNSS", "5-NNSS")
                                    for f in ("no mean", "mean")}
    for name, summary in results["nnss"].items():
        intercept = np.array(summary["intercept"])
        assert (intercept == 0).all() == name.endswith("(no mean)")
    assert set(results["converged"]) == set(MODELS[1:13])
    assert results["machine"]["cuda_used"] is False
    assert results["elapsed"][0]["cpu_seconds"] > 0
    tables_md = (out / "tables.md").read_text()
    assert tables_md.count("| 4-NNSS (mean) |") == 4
    assert tables_md.count("| 5-GLSS (no mean) |") == 4
    assert "prior grid" in tables_md and "which form forecasts better" in tables_md


@pytest.mark.slow
def test_diebold_mariano_tests(example, quick_results):
    from skyield.metrics import diebold_mariano

    results, _ = quick_results
    dm = results["dm"]
    # Each NNSS in each form against the random walk and the best classical model.
    assert len(dm["against"]) == 2 * 2 * 2 * 4
    assert len(dm["forms"]) == len(BASES) * 4
    rmse = results["rmse"]
    for test in dm["against"]:
        h = test["horizon"]
        if test["against"] == "best classical":
            classical = [f"{n} ({test['form']})" for n in BASES[:6]]
            assert test["second"] == min(classical, key=lambda r: rmse[r][str(h)]["Avg."])
    # A test recomputed by hand from the curve losses.
    test = next(t for t in dm["against"] if t["horizon"] == 4 and t["against"] == "random walk")
    a = np.array(results["losses"][test["first"]]["4"], dtype=float)
    b = np.array(results["losses"]["RW"]["4"], dtype=float)
    keep = np.isfinite(a)
    expected = diebold_mariano(np.sqrt(a[keep]), np.sqrt(b[keep]), h=4)
    assert test["statistic"] == pytest.approx(expected.statistic)
    assert test["mse_ratio"] == pytest.approx(a[keep].mean() / b[keep].mean())


@pytest.fixture(scope="module")
def selected_run(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("nnss_selected")
    args = example.parse_args(["--quick", "--models", "RW,5-GLSS", "--forms", "mean",
                               "--skip-grid", "--output-dir", str(out)])
    results = _run(example, output_dir=args.output_dir, models=args.models,
                   forms=args.forms, skip_grid=args.skip_grid)
    return results, out


def test_models_and_forms_options_run_only_the_named_rows(selected_run):
    results, out = selected_run
    saved = json.loads((out / "results.json").read_text())
    assert list(saved["rmse"]) == ["RW", "5-GLSS (mean)"]
    assert saved["settings"]["models"] == ["RW", "5-GLSS (mean)"]
    assert saved["prior_grid"] == [] and saved["nnss"] == {}
    assert list(saved["converged"]) == ["5-GLSS (mean)"]
    tables_md = (out / "tables.md").read_text()
    assert tables_md.count("| 5-GLSS (mean) |") == 4 and "(no mean) |" not in tables_md
    assert "prior grid" not in tables_md
    # Only the loadings figure has a model of this run, and it shows the "no mean" form.
    assert not (out / "nnss_loadings.png").exists()
    assert not (out / "nnss_factors.png").exists()
    assert not (out / "nnss_prior_loadings.png").exists()


def _write_checkpoint(example, output_dir, partial):
    checkpoint = example.Checkpoint(output_dir)
    checkpoint.root.mkdir(exist_ok=True)
    checkpoint.path.write_text(json.dumps(partial))
    return checkpoint


def test_resume_continues_from_the_checkpoint(example, selected_run, tmp_path):
    results, out = selected_run
    target = tmp_path / "out"
    # An interrupted run: the random walk is done, 5-GLSS (mean) is not, and the output
    # folder does not exist yet.
    partial = json.loads((out / "results.json").read_text())
    for section in ("rmse", "losses", "fit_seconds", "fit_cpu_seconds", "converged"):
        partial[section].pop("5-GLSS (mean)", None)
    for key in ("dm", "total_seconds"):
        partial.pop(key)
    partial["elapsed"] = []
    checkpoint = _write_checkpoint(example, target, partial)
    assert checkpoint.root == tmp_path / "out.checkpoint"
    lines = []
    threads = torch.get_num_threads()
    try:
        resumed = example.run(quick=True, output_dir=target, models=["RW", "5-GLSS"],
                              forms=["mean"], skip_grid=True, resume=True, log=lines.append)
    finally:
        torch.set_num_threads(threads)
    assert "RW: kept from the checkpoint" in lines
    assert any(line.startswith("5-GLSS (mean): fitted") for line in lines)
    assert resumed["rmse"] == results["rmse"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]   # checkpoint removed
    # A checkpoint with another prior grid is resumed, its grid cells left out (the
    # complete folder of the first resumed run is replaced: --overwrite).
    partial["settings"]["grid_maxiter"] = 99
    partial["prior_grid"] = [{"gamma": 0.5, "weight_var": 0.05, "1": 1.0}]
    _write_checkpoint(example, target, partial)
    again = example.run(quick=True, output_dir=target, models=["RW", "5-GLSS"],
                        forms=["mean"], skip_grid=True, resume=True, overwrite=True,
                        log=lambda *a: None)
    assert again["prior_grid"] == [] and again["rmse"] == results["rmse"]
    # A checkpoint written with other settings for the models is refused.
    partial["settings"]["glss_maxiter"] = 99
    _write_checkpoint(example, tmp_path / "other", partial)
    with pytest.raises(ValueError, match="other settings"):
        example.run(quick=True, output_dir=tmp_path / "other", models=["RW", "5-GLSS"],
                    forms=["mean"], skip_grid=True, resume=True, log=lambda *a: None)


def test_earlier_results_and_checkpoints_are_kept_unless_overwritten(example, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setattr(example, "load_panel", lambda *args: pytest.fail("did work"))
    done = tmp_path / "done"
    done.mkdir()
    (done / "results.json").write_text("earlier run")
    with pytest.raises(ValueError, match="already exists and is not empty"):
        example.run(quick=True, output_dir=done, skip_grid=True)
    assert (done / "results.json").read_text() == "earlier run"
    interrupted = _write_checkpoint(example, tmp_path / "cut", {"settings": {}})
    with pytest.raises(ValueError, match="checkpoint of an interrupted run; pass --resume"):
        example.run(quick=True, output_dir=tmp_path / "cut", skip_grid=True)
    assert interrupted.path.read_text() == '{"settings": {}}'
    # --overwrite discards the checkpoint (the run then loads its data: stopped here).
    with pytest.raises(pytest.fail.Exception, match="did work"):
        example.run(quick=True, output_dir=tmp_path / "cut", skip_grid=True, overwrite=True)
    assert not interrupted.root.exists()


def test_grid_maxiter_option_and_its_former_name(example):
    assert example.parse_args(["--grid-maxiter", "7"]).grid_maxiter == 7
    assert example.parse_args(["--grid-epochs", "9"]).grid_maxiter == 9
    assert example.parse_args([]).grid_maxiter is None
    quick = example.SETTINGS["quick"]
    model = example._models(quick, ["4-NNSS"], ["mean"])["4-NNSS (mean)"]
    assert model.maxiter == quick["maxiter"] and model.factor_mean is True
    assert model.pretrain_maxiter == quick["pretrain_maxiter"]
    # Full size: every grid fit may run as long as the main fits.
    assert example.SETTINGS["full"]["grid_maxiter"] == example.SETTINGS["full"]["maxiter"]


def test_models_option_rejects_unknown_names(example, tmp_path):
    with pytest.raises(ValueError, match=r"unknown model name\(s\) \['6-GLSS'\]"):
        example.run(quick=True, output_dir=tmp_path, models=["RW", "6-GLSS"],
                    skip_grid=True)
    with pytest.raises(ValueError, match=r"unknown form\(s\) \['drift'\]"):
        example.run(quick=True, output_dir=tmp_path, forms=["drift"], skip_grid=True)
    assert not any(tmp_path.iterdir())


def test_merge_adds_rows_in_table_order(example, selected_run, tmp_path):
    results, out = selected_run
    earlier = json.loads((out / "results.json").read_text())
    for section in ("rmse", "losses"):
        earlier[section] = {"RW": earlier[section]["RW"],
                            "4-NNSS (no mean)": earlier[section]["RW"]}
    earlier["nnss"] = {"4-NNSS (no mean)": {"fit_seconds": 1.0}}
    earlier["prior_grid"] = [{"gamma": 0.5, "weight_var": 0.05,
                              **{h: 1.0 for h in ("1", "4", "13", "26")}}]
    target = tmp_path / "results.json"
    target.write_text(json.dumps(earlier))
    merged = example.merge_results(results, target)
    assert list(merged["rmse"]) == ["RW", "5-GLSS (mean)", "4-NNSS (no mean)"]
    assert merged["rmse"]["5-GLSS (mean)"] == results["rmse"]["5-GLSS (mean)"]
    assert merged["nnss"] == {"4-NNSS (no mean)": {"fit_seconds": 1.0}}
    assert merged["prior_grid"] == earlier["prior_grid"]
    assert merged["merged_runs"][0]["models"] == ["RW", "5-GLSS (mean)"]
    # NaN statistics (too few origins at 26 weeks) compare equal only as text.
    assert json.dumps(json.loads(target.read_text())) == json.dumps(merged)
    tables_md = (tmp_path / "tables.md").read_text()
    assert tables_md.count("| 5-GLSS (mean) |") == 4 and "prior grid" in tables_md

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
    for factor_mean, form in ((True, "mean"), (False, "no mean")):
        model = DynamicNelsonSiegel(factors="ns", method="two-step", dynamics="var",
                                    decay="grid", factor_mean=factor_mean)
        frame = backtest(model, panel, test_start=results["data"]["first_origin"],
                         horizons=[1, 4, 13, 26])
        summary = summarize(frame.dropna(subset=["error"]), by=("horizon", "series"))
        for h in (1, 4, 13, 26):
            got = [results["rmse"][f"2-step DNS ({form})"][str(h)][label]
                   for label in example.LABELS]
            expected = summary.loc[h]["rmse"].to_numpy() * 100
            np.testing.assert_allclose(got, expected, rtol=1e-9)

"""The Monte Carlo example runs end to end in its quick mode (pipeline invariants only)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch


@pytest.fixture(scope="module")
def example(load_example):
    return load_example("factor_transformer_monte_carlo")


def _main(example, argv):
    previous = torch.get_num_threads()
    try:
        return example.main(argv)
    finally:
        torch.set_num_threads(previous)


def test_quick_monte_carlo(example, capsys, tmp_path):
    output, summary = tmp_path / "mc.csv", tmp_path / "mc.md"
    results = _main(example, ["--quick", "--prior-weights", "0.6", "0", "--figures",
                              str(tmp_path), "--output",
                              str(output), "--summary", str(summary)])
    assert list(results["prior_weight"]) == [0.6, 0.0]
    assert (results["process"] == 2).all() and (results["seed"] == 0).all()
    # 300 fitting periods: the Transformer trains on 240 and validates on the last 60.
    assert (results["n_train"] == 240).all() and (results["n_valid"] == 60).all()
    for column in ("fit", "gain", "r2", "r2_kalman", "r2_kalman_max", "r2_oracle", "r2_mean",
                   "oracle_fit", "fit_max", "gain_max", "cpu_seconds"):
        assert np.isfinite(results[column]).all(), column
        if column.startswith("r2"):
            assert (results[column] <= 1).all()
    # Fit, Gain and the oracle's Fit (the ceiling) follow from the R2 columns (eqs. 38-40).
    mse = 1 - results["r2"]
    mse_kalman = 1 - results["r2_kalman"]
    mse_oracle = 1 - results["r2_oracle"]
    np.testing.assert_allclose(results["fit"], 100 * (mse_kalman - mse) / mse_kalman)
    np.testing.assert_allclose(results["gain"],
                               100 * (mse_kalman - mse) / (mse_kalman - mse_oracle))
    np.testing.assert_allclose(results["oracle_fit"],
                               100 * (mse_kalman - mse_oracle) / mse_kalman)
    # Fit max picks, per run, the most accurate epoch checked: at least the final Fit
    # up to the scaling (least squares to choose, LAD to score).
    assert (results["fit_max"] >= results["fit"] - 5).all()
    assert set(results["fit_max_epoch"]) <= {1.0, 1.5, 2.0, 2.5, 3.0}
    assert (~results["kalman_flat"]).all() and (results["flat_runs"] <= 2).all()
    # The oracle filter uses the true densities: it beats the data mean.
    assert (results["r2_oracle"] > results["r2_mean"]).all()
    assert "total" in capsys.readouterr().out
    for name in ("ft_mc_process2.png", "ft_mc_process2_tentacles.png"):
        assert (tmp_path / name).stat().st_size > 0
    saved = pd.read_csv(output)
    assert len(saved) == 2
    np.testing.assert_allclose(saved["gain"], results["gain"])
    text = summary.read_text()
    assert "ceiling: oracle Fit" in text and "Table 12" in text
    recorded = json.loads(output.with_suffix(".machine.json").read_text())[0]
    assert recorded["device"] == "cpu"
    # What decides the floating-point path of a run is on record.
    assert recorded["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert recorded["numpy"] == np.__version__
    # Resuming finds every row done and fits nothing.
    resumed = _main(example, ["--quick", "--prior-weights", "0.6", "0", "--output",
                              str(output), "--resume"])
    assert "resuming: 2 row(s)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(resumed.reset_index(drop=True), saved)
    # Without --resume the rows, the summary and the figures are kept unless --overwrite.
    with pytest.raises(SystemExit):
        _main(example, ["--quick", "--output", str(output)])
    assert "mc.csv, " in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_csv(output), saved)


@pytest.mark.parametrize("option, name", [("--output", "runs.csv"),
                                          ("--summary", "runs.md"),
                                          ("--figures", "ft_mc_process2_tentacles.png")])
def test_earlier_files_are_refused_before_any_work_unless_overwritten(example, tmp_path,
                                                                      option, name, capsys):
    (tmp_path / name).write_text("earlier run")
    value = str(tmp_path if option == "--figures" else tmp_path / name)
    with pytest.raises(SystemExit):
        example.parse_args(["--quick", option, value])
    assert "already exist(s); pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / name).read_text() == "earlier run"
    assert example.parse_args(["--quick", option, value, "--overwrite"]).overwrite
    with pytest.raises(SystemExit):
        example.parse_args(["--quick", "--output", value, "--resume", "--overwrite"])


def test_discarded_seeds_leave_the_means(example):
    rows = pd.DataFrame({"process": [2, 2, 2], "seed": [0, 1, 2], "prior_weight": 0.6,
                         "fit": [10.0, 20.0, -90.0], "gain": [1.0, 2.0, 3.0],
                         "kalman_flat": [False, False, True], "r2": 0.5, "r2_kalman": 0.4,
                         "r2_kalman_max": 0.5, "r2_oracle": 0.6, "r2_mean": 0.3,
                         "oracle_fit": 30.0})
    table = example.summarise(rows)
    assert table.loc[(2, 0.6), "fit"] == pytest.approx(15.0)
    assert table.loc[(2, 0.6), "seeds_kept"] == 2 and table.loc[(2, 0.6), "seeds_discarded"] == 1
    assert "| 2 | 1.5 (0.7) | 15.0 (7.1) | 30.0 (0.0) |" in example.markdown_summary(rows)


def test_oracle_filter_handles_lags_and_regimes(example):
    from skyield.datasets import make_dfm_process

    for process in (5, 6):
        data = make_dfm_process(process, 150, random_state=1)
        estimate = example.oracle_particle_filter(data.observables, data.params,
                                                  n_particles=300, random_state=0)
        assert np.isnan(estimate[:3]).all() and np.isfinite(estimate[3:]).all()
        assert np.corrcoef(estimate[3:], data.factor[3:])[0, 1] > 0.8


def test_linear_parameters_of_process_1_are_the_true_ones(example):
    from skyield.datasets import dfm_process_spec

    spec = dfm_process_spec(1)
    linear = example.linear_parameters(1)
    assert linear["a"] == 0.96
    np.testing.assert_array_equal(linear["z"], spec["beta"])


def _write_run(folder, name, rows, **settings):
    path = folder / name
    pd.DataFrame(rows).to_csv(path, index=False)
    chosen = dict(runs=3, epochs=400, cycle_epochs=100, patience=None, particles=2000,
                  n_fit=800, n_test=1000, fit_max_every=4, flat_threshold=0.1) | settings
    path.with_suffix(".machine.json").write_text(json.dumps([{"settings": chosen}]))
    return str(path)


def _rows(process, seeds, gains, shortfalls):
    return [dict(process=process, seed=s, prior_weight=0.6, fit=g / 4, gain=g,
                 oracle_fit=20.0, kalman_flat=False, r2=0.8, r2_kalman=0.8 - d,
                 r2_kalman_max=0.8, r2_oracle=0.9, r2_mean=0.6)
            for s, g, d in zip(seeds, gains, shortfalls)]


def test_summarise_joins_separate_runs_of_one_setting(example, tmp_path, capsys):
    # Two processes run by separate commands; Gain rises with the Kalman filter's
    # shortfall from Kalman max, so the rank correlation in the summary is 1.
    first = _write_run(tmp_path, "p2.csv", _rows(2, [1, 0], [20.0, 5.0], [0.02, 0.01]))
    second = _write_run(tmp_path, "p4.csv", _rows(4, [0, 1], [-40.0, 60.0], [0.0, 0.05]))
    summary = tmp_path / "all.md"
    results = _main(example, ["--summarise", first, second, "--summary", str(summary)])
    assert list(zip(results["process"], results["seed"])) == [(2, 0), (2, 1), (4, 0), (4, 1)]
    text = summary.read_text()
    assert "| 2 | 12.5 (10.6) |" in text  # Table 5's Gain: mean (sd) of the two seeds
    assert "| 4 | 0.800 (0.000) | 0.841 | 0.775 (0.035) | 0.68 | 0.025 (0.035) | 0.27 |" in text
    assert "shortfall from Kalman max is 1.00" in text
    capsys.readouterr()


@pytest.mark.parametrize("case, message", [
    ("settings", "the runs differ in epochs: "),
    ("repeated", "rows appear twice: process 2, seed 0, prior weight 0.6 in "),
    ("no machine file", "machine.json is missing"),
])
def test_summarise_refuses_rows_that_do_not_belong_together(example, tmp_path, case, message):
    first = _write_run(tmp_path, "a.csv", _rows(2, [0], [1.0], [0.0]))
    if case == "settings":
        second = _write_run(tmp_path, "b.csv", _rows(2, [1], [1.0], [0.0]), epochs=80)
    elif case == "repeated":
        second = _write_run(tmp_path, "b.csv", _rows(2, [0], [1.0], [0.0]))
    else:
        second = _write_run(tmp_path, "b.csv", _rows(2, [1], [1.0], [0.0]))
        (tmp_path / "b.machine.json").unlink()
    with pytest.raises(ValueError, match=message):
        _main(example, ["--summarise", first, second])

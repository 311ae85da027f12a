"""Data intake: bad data is refused at the door (or warned about), never misread.

Each group below covers one defect found by feeding malformed panels to the estimators
and to ``skyield benchmark`` as a new user would: dates, spacing, units, numbers, spans,
output folders and messages.
"""

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from skyield.baselines import (
    DynamicNelsonSiegel,
    GaussianLinearStateSpace,
    KalmanFactorModel,
    NelsonSiegelCurve,
    RandomWalk,
    WeightedRollingRegression,
)
from skyield.cli import main
from skyield.model_selection import backtest
from skyield.models import FactorTransformer, LSTMRegressor, NeuralStateSpaceModel
from skyield.preprocessing import SeriesMinMaxScaler, SeriesStandardScaler, make_windows

LABELS = ["1Y", "2Y", "5Y", "10Y"]


def _monthly(n_dates=48, start="2000-01-31", labels=LABELS, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=n_dates, freq="ME", name="date")
    values = 4.0 + np.linspace(0, 1, len(labels)) + 0.1 * rng.normal(
        size=(n_dates, len(labels))).cumsum(axis=0)
    return pd.DataFrame(values * scale, index=index, columns=labels)


def _gapped(panel, start=24, length=12):
    return panel.drop(panel.index[start:start + length])


def _write(frame, path, date_format="%Y-%m-%d", **kwargs):
    frame.to_csv(path, date_format=date_format, float_format="%.4f", **kwargs)
    return path


def _run(*arguments):
    return main(["benchmark", "--models", "random-walk", "--quiet", *map(str, arguments)])


def _run_csv(path, *arguments):
    """Run on every column of a CSV file (the labels of a user's file vary)."""
    return _run("--dataset", path, "--maturities", "all", *arguments)


def _settings(folder):
    (dataset,) = json.loads((folder / "run.json").read_text())["datasets"].values()
    return dataset["settings"]


def _sequence_models():
    """Every sequence model at tiny settings (none is fitted far: the intake refuses first)."""
    return {
        "dns-two-step": DynamicNelsonSiegel(),
        "dns-kalman": DynamicNelsonSiegel(method="kalman", maxiter=2),
        "kalman-factor": KalmanFactorModel(n_factors=1),
        "glss": GaussianLinearStateSpace(maxiter=2),
        "nnss": NeuralStateSpaceModel(n_factors=2, hidden_layers=(4,), maxiter=2,
                                      pretrain_maxiter=2),
        "factor-transformer": FactorTransformer(window=3, d_model=4, n_heads=1, d_k=2, d_ff=4,
                                                epochs=1, validation_fraction=0),
    }


# -- day-first dates are never read month-first ----------------------------------------------

def test_day_first_csv_dates_are_refused_naming_the_first_ambiguous_row(tmp_path, capsys):
    panel = _monthly(192, labels=LABELS).set_axis(
        pd.date_range("1990-02-01", periods=192, freq="MS", name="date"))
    path = _write(panel, tmp_path / "curves.csv", date_format="%d/%m/%Y")
    assert _run_csv(path, "--output", tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert "line 2" in error and "'01/02/1990'" in error and "--date-format" in error
    assert "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_day_first_csv_runs_with_its_date_format(tmp_path):
    panel = _monthly(192, labels=LABELS).set_axis(
        pd.date_range("1990-02-01", periods=192, freq="MS", name="date"))
    path = _write(panel, tmp_path / "curves.csv", date_format="%d/%m/%Y")
    assert _run_csv(path, "--date-format", "%d/%m/%Y", "--output",
                tmp_path / "out") == 0
    settings = _settings(tmp_path / "out")
    assert settings["span"] == "1990-02-01 .. 2006-01-01"
    assert settings["frequency"] == "monthly" and settings["rows"] == 192


def test_parse_dates_reads_iso_and_only_iso_without_a_format():
    from skyield.utils import parse_dates

    assert parse_dates(["2020-01-31", "2020-02-29"]).tolist() == [
        pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-29")]
    with pytest.raises(ValueError, match=r"entry 0 .*'01/02/1990'.* 1990-02-01 .*1990-01-02"):
        parse_dates(["01/02/1990", "01/03/1990"])
    with pytest.raises(ValueError, match=r"entry 1 .*'31/01/1990'.*date_format='%d/%m/%Y'"):
        parse_dates(["1990-01-31", "31/01/1990"])
    assert parse_dates(["01/02/1990"], date_format="%d/%m/%Y")[0] == pd.Timestamp("1990-02-01")
    with pytest.raises(ValueError, match=r"entry 1 .*'1990-03-01'.*does not match"):
        parse_dates(["01/02/1990", "1990-03-01"], date_format="%d/%m/%Y")


# -- a user's CSV is used whole unless the user narrows it ------------------------------------

def test_a_user_csv_is_used_whole_without_start(tmp_path):
    panel = _monthly(228, start="1962-01-31")
    path = _write(panel, tmp_path / "curves.csv")
    assert _run_csv(path, "--test-start", "1975-01-01", "--output",
                tmp_path / "out") == 0
    settings = _settings(tmp_path / "out")
    assert settings["span"] == "1962-01-31 .. 1980-12-31" and settings["rows"] == 228


def test_missing_values_of_a_user_csv_are_named_with_the_cli_option(tmp_path, capsys):
    panel = _monthly(228, start="1962-01-31")
    panel.iloc[5, 2] = np.nan
    path = _write(panel, tmp_path / "curves.csv")
    assert _run_csv(path, "--test-start", "1975-01-01", "--output",
                tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert "1962-06-30" in error and "'5Y'" in error and "--allow-missing" in error
    assert "missing='allow'" not in error


# -- output is written in one step --------------------------------------------------------------

def _snapshot(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_an_interrupted_overwrite_leaves_the_old_folder_whole(tmp_path, monkeypatch):
    path = _write(_monthly(120, start="1990-01-31"), tmp_path / "curves.csv")
    out = tmp_path / "out"
    span = ["--dataset", path, "--maturities", "all", "--test-start", "1998-01-01",
            "--output", out]
    assert _run(*span, "--horizons", "1,3") == 0
    before = _snapshot(out)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_parquet", interrupted)
    try:
        code = _run(*span, "--horizons", "1,6", "--overwrite")
    except KeyboardInterrupt:
        code = None
    assert code == 130
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.csv", "out"]


def test_a_failure_while_writing_leaves_no_folder(tmp_path, monkeypatch, capsys):
    path = _write(_monthly(120, start="1990-01-31"), tmp_path / "curves.csv")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    assert _run_csv(path, "--test-start", "1998-01-01", "--output",
                tmp_path / "out") == 2
    assert "disk full" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.csv"]


# -- spacing is checked against the frequency ---------------------------------------------------

@pytest.mark.parametrize("name", list(_sequence_models()))
def test_sequence_models_refuse_a_gapped_panel(name):
    model = _sequence_models()[name]
    with pytest.raises(ValueError, match="12 monthly dates are missing between 2001-12-31 "
                                         "and 2003-01-31"):
        model.fit(_gapped(_monthly()))


@pytest.mark.parametrize("name", ["dns-two-step", "kalman-factor", "nnss"])
def test_sequence_models_refuse_mixed_frequencies(name):
    panel = _monthly()
    daily = _monthly(10, start="2004-01-01").set_axis(
        pd.date_range("2004-01-05", periods=10, freq="B", name="date"))
    with pytest.raises(ValueError, match="same month"):
        _sequence_models()[name].fit(pd.concat([panel, daily]).sort_index())


def test_windows_and_backtest_refuse_a_gap():
    gapped = _gapped(_monthly())
    with pytest.raises(ValueError, match="12 monthly dates are missing"):
        make_windows(gapped, window=3)
    with pytest.raises(ValueError, match="12 monthly dates are missing"):
        backtest(RandomWalk(), gapped, window=3, horizons=1, test_start=0.6)


def test_a_gap_becomes_missing_rows_only_on_request():
    from skyield.preprocessing import insert_missing_dates

    gapped = _gapped(_monthly())
    filled = insert_missing_dates(gapped)
    assert len(filled) == 48 and filled.iloc[24:36].isna().all().all()
    assert filled.index.equals(_monthly().index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two iterations do not converge
        model = NeuralStateSpaceModel(n_factors=2, hidden_layers=(4,), maxiter=2,
                                      pretrain_maxiter=2, random_state=0).fit(filled)
    assert model.n_dates_seen_ == 48
    with pytest.raises(ValueError, match="missing"):
        KalmanFactorModel(n_factors=1).fit(filled)


def test_the_cli_refuses_a_csv_with_a_gap(tmp_path, capsys):
    path = _write(_gapped(_monthly(120, start="1990-01-31")), tmp_path / "curves.csv")
    assert _run_csv(path, "--test-start", "1998-01-01", "--output",
                tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert "12 monthly dates are missing between 1991-12-31 and 1993-01-31" in error
    assert "--allow-missing" in error


# -- every fitted model of the CLI registry pickles ------------------------------------------------

def _shrunk(estimator):
    """The registry's configuration with the training length cut to a few steps."""
    small = {"epochs": 2, "maxiter": 3, "pretrain_maxiter": 3, "cycle_epochs": 2,
             "warmup_epochs": 0}
    params = estimator.get_params(deep=False)
    return estimator.set_params(**{k: v for k, v in small.items() if k in params})


def _registry_names():
    from skyield.cli._models import MODELS

    return list(MODELS)


@pytest.mark.parametrize("name", _registry_names())
def test_every_fitted_registry_model_pickles(name):
    from skyield.cli._models import MODELS

    panel = _monthly(90, labels=["1Y", "2Y", "3Y", "5Y", "7Y", "10Y"]).set_axis(
        [1.0, 2.0, 3.0, 5.0, 7.0, 10.0], axis=1)
    estimator = _shrunk(MODELS[name].build(0, "cpu", np.asarray(panel.columns)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results, fits = backtest(estimator, panel, window=12, horizons=[1, 3], refit=False,
                                 test_start=0.8, return_estimators=True)
    fitted = fits[0]["estimator"]
    again = pickle.loads(pickle.dumps(fitted))
    if isinstance(fitted, dict):
        pd.testing.assert_frame_equal(again[None].forecast(3), fitted[None].forecast(3))
    else:
        windows = make_windows(panel, window=12, horizons=None).X[-2:]
        np.testing.assert_array_equal(again.predict(windows), fitted.predict(windows))


def test_a_seed_ensemble_of_the_linear_yc_att_fits_in_two_processes():
    from skyield.cli._models import MODELS
    from skyield.ensemble import SeedEnsemble

    member = _shrunk(MODELS["yc-att"].build(0, "cpu", None)).set_params(units=4)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4, 3)), rng.normal(size=(40, 3))
    ensemble = SeedEnsemble(member, n_estimators=2, n_jobs=2, random_state=0).fit(X, y)
    assert ensemble.predict(X[:2]).shape == (2, 3)


# -- unsorted CSV dates --------------------------------------------------------------------------

def test_unsorted_csv_dates_are_named_without_a_traceback(tmp_path, capsys):
    panel = _monthly(120, start="1990-01-31")
    path = _write(panel.iloc[list(range(50)) + [51, 50] + list(range(52, 120))],
                  tmp_path / "curves.csv")
    assert _run_csv(path, "--start", "1991-01-01", "--output",
                tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert "sorted" in error and "1994-03-31" in error and "1994-04-30" in error
    assert "Traceback" not in error and "KeyError" not in error


# -- scalers never learn from a column without data ---------------------------------------------

@pytest.mark.parametrize("scaler", [SeriesStandardScaler(), SeriesMinMaxScaler()])
def test_scalers_refuse_a_column_without_observations(scaler):
    X = np.c_[np.arange(5.0), np.full(5, np.nan), np.ones(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning on the way
        with pytest.raises(ValueError, match="column 1 has no observed value"):
            scaler.fit(X)


# -- one numeric rule: text is never read as numbers ------------------------------------------

_TEXT_WINDOWS = np.array([[["1.0", "2.0"], ["1.5", "2.5"]]] * 6)
_TEXT_TARGETS = np.array([["1.0", "2.0"]] * 6)


@pytest.mark.parametrize("estimator", [
    RandomWalk(), WeightedRollingRegression(), LSTMRegressor(units=2, epochs=1)],
    ids=lambda e: type(e).__name__)
def test_window_models_refuse_text(estimator):
    with pytest.raises(ValueError, match=r"X holds text \('1.0'"):
        estimator.fit(_TEXT_WINDOWS, _TEXT_TARGETS.astype(float))
    with pytest.raises(ValueError, match=r"y holds text \('1.0'"):
        estimator.fit(_TEXT_WINDOWS.astype(float), _TEXT_TARGETS)


@pytest.mark.parametrize("estimator", [
    NelsonSiegelCurve(maturities="uniform"), SeriesStandardScaler(), SeriesMinMaxScaler(),
    DynamicNelsonSiegel(maturities="uniform"), KalmanFactorModel(n_factors=1)],
    ids=lambda e: type(e).__name__)
def test_curve_models_panel_models_and_scalers_refuse_text(estimator):
    text = _monthly(30).to_numpy().round(3).astype(str)
    with pytest.raises(ValueError, match="holds text"):
        estimator.fit(text)
    frame = _monthly(30).astype({"5Y": str})
    with pytest.raises(ValueError, match="column '5Y' holds text"):
        estimator.fit(frame)


# -- units and frequency -------------------------------------------------------------------------

def test_decimal_yields_warn_and_say_how_to_silence_it():
    from skyield.utils import UnitsWarning

    with pytest.warns(UnitsWarning, match=r"look like decimals.*filterwarnings"):
        DynamicNelsonSiegel().fit(_monthly(scale=0.01))
    with pytest.warns(UnitsWarning):
        backtest(RandomWalk(), _monthly(scale=0.01), window=3, test_start=0.8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnitsWarning)
        DynamicNelsonSiegel().fit(_monthly())
        # Macro series are not yields: no maturities in their labels, no units check.
        KalmanFactorModel(n_factors=1).fit(_monthly(scale=0.01).set_axis(
            ["INDPRO", "PAYEMS", "RPI", "CMRMTSPL"], axis=1))


def test_the_cli_warns_on_a_decimal_csv_and_records_it(tmp_path, capsys):
    path = _write(_monthly(120, start="1990-01-31", scale=0.01), tmp_path / "curves.csv")
    out = tmp_path / "out"
    assert main(["benchmark", "--dataset", str(path), "--maturities", "all", "--models",
                 "random-walk", "--test-start", "1998-01-01", "--output", str(out)]) == 0
    assert "look like decimals" in capsys.readouterr().out
    assert any("look like decimals" in note
               for note in json.loads((out / "run.json").read_text())["warnings"])
    assert _run_csv(path, "--test-start", "1998-01-01", "--units", "percent",
                "--output", tmp_path / "quiet") == 0
    assert not json.loads((tmp_path / "quiet" / "run.json").read_text())["warnings"]


def test_the_cli_refuses_a_frequency_its_csv_does_not_have(tmp_path, capsys):
    path = _write(_monthly(120, start="1990-01-31"), tmp_path / "curves.csv")
    assert _run_csv(path, "--freq", "weekly", "--test-start", "1998-01-01", "--output",
                    tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert "--freq weekly" in error and "monthly" in error
    assert not (tmp_path / "out").exists()


# -- clear messages ------------------------------------------------------------------------------

def test_a_semicolon_csv_is_named_as_such(tmp_path, capsys):
    path = _write(_monthly(60), tmp_path / "curves.csv", sep=";")
    assert _run_csv(path, "--output", tmp_path / "out") == 2
    assert "separated by ';'" in capsys.readouterr().err


def test_decimal_commas_are_named_as_such(tmp_path, capsys):
    path = _write(_monthly(60), tmp_path / "curves.csv", sep=";", decimal=",")
    assert _run_csv(path, "--output", tmp_path / "out") == 2
    assert "decimal comma" in capsys.readouterr().err


def test_a_mistyped_option_is_named_with_its_likely_meaning(tmp_path, capsys):
    assert main(["benchmark", "----horizons", "1", "--output", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "'----horizons'" in error and "--horizons" in error and "usage" not in error


def test_a_window_mismatch_is_named_as_one():
    rng = np.random.default_rng(0)
    model = RandomWalk(window=3).fit(rng.normal(size=(20, 6)), rng.normal(size=(20, 2)))
    with pytest.raises(ValueError, match=r"3 dates x 2 series"):
        model.predict(rng.normal(size=(5, 4)))
    model = RandomWalk().fit(rng.normal(size=(20, 3, 2)), rng.normal(size=(20, 2)))
    with pytest.raises(ValueError, match="windows have length 2 but RandomWalk was fitted on "
                                         "windows of length 3"):
        model.predict(rng.normal(size=(5, 2, 2)))


def test_a_csv_labelled_in_years_runs_with_the_default_maturities(tmp_path):
    path = _write(_monthly(120, start="1990-01-31"), tmp_path / "curves.csv")
    assert _run("--dataset", path, "--test-start", "1998-01-01", "--output",
                tmp_path / "out") == 0
    assert _settings(tmp_path / "out")["maturities"] == "1Y, 2Y, 5Y, 10Y"


def test_models_that_need_no_maturities_take_columns_in_any_order():
    panel = _monthly(40)[["10Y", "5Y", "1Y"]]
    KalmanFactorModel(n_factors=1).fit(panel)
    FactorTransformer(window=3, d_model=4, n_heads=1, d_k=2, d_ff=4, epochs=1,
                      validation_fraction=0).fit(panel)
    assert make_windows(panel, window=3).X.shape == (37, 3, 3)
    with pytest.raises(ValueError, match="not sorted"):
        DynamicNelsonSiegel().fit(panel)


def test_aci_refuses_a_calibration_too_short_for_its_coverage_as_split_does():
    from sklearn.linear_model import Ridge

    from skyield.calibration import ConformalIntervalRegressor

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    for method in ("split", "aci"):
        model = ConformalIntervalRegressor(Ridge(), method=method, coverage=0.95,
                                           calibration_size=5)
        with pytest.raises(ValueError, match="needs at least 19 calibration scores"):
            model.fit(X, y)


@pytest.mark.parametrize("case, message", [
    ("unsorted", "must be sorted"), ("gapped", "12 monthly dates are missing"),
    ("short", "at least"),
])
def test_the_sktime_adapter_names_unsorted_gapped_and_short_panels(case, message):
    from skyield.sktime import SkyieldForecaster

    panel = _monthly()
    data = {"unsorted": panel.iloc[[0, 2, 1] + list(range(3, 48))], "gapped": _gapped(panel),
            "short": panel.iloc[:4]}[case]
    for estimator in (RandomWalk(), KalmanFactorModel(n_factors=1)):
        with pytest.raises(ValueError, match=message):
            SkyieldForecaster(estimator, window=3).fit(data, fh=[1, 2])

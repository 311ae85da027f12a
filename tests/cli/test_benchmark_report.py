"""The benchmark's progress display, model diagnostics and report in a browser."""

import dataclasses
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skyield.cli import _models, main
from skyield.cli._progress import ModelProgress, progress_mode

ROOT = Path(__file__).resolve().parents[2]
SPAN = ["--dataset", "us-zero", "--start", "2012-01-01", "--test-start", "2021-01-01", "--horizons", "1,3"]


def _small_builds():
    """The deep models of the registry with tiny settings, for test runs."""
    from skyield.models import FactorTransformer, LSTMAttentionRegressor, NeuralStateSpaceModel

    return {
        "lstm-attention": lambda seed, device, m: LSTMAttentionRegressor(
            units=4, epochs=3, differences=True, random_state=seed),
        "nnss": lambda seed, device, m: NeuralStateSpaceModel(
            n_factors=3, hidden_layers=(8, 8), maxiter=5, pretrain_maxiter=20, maturities=m,
            random_state=seed),
        "factor-transformer": lambda seed, device, m: FactorTransformer(
            window=6, differences=True, d_model=8, n_heads=2, d_k=4, d_ff=8, epochs=2,
            validation_fraction=0, random_state=seed),
    }


def _run_deep_models(folder):
    patch = pytest.MonkeyPatch()
    for name, build in _small_builds().items():
        patch.setitem(_models.MODELS, name,
                      dataclasses.replace(_models.MODELS[name], build=build))
    try:
        code = main(["benchmark", "--models",
                     "random-walk,dns-kalman,lstm-attention,nnss,factor-transformer",
                     *SPAN, "--members", "2", "--quiet", "--output", str(folder)])
    finally:
        patch.undo()
    assert code == 0
    return folder


@pytest.fixture(scope="module")
def deep_run(tmp_path_factory):
    return _run_deep_models(tmp_path_factory.mktemp("deep") / "out")


def test_deep_models_give_the_same_leaderboard_with_the_same_seed(deep_run, tmp_path):
    again = _run_deep_models(tmp_path / "again")
    first = pd.read_csv(deep_run / "leaderboard.csv").drop(columns="seconds")
    second = pd.read_csv(again / "leaderboard.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(first, second)


def test_report_looks_inside_every_model_that_has_diagnostics(deep_run):
    html = (deep_run / "report.html").read_text()
    assert "Inside the models" in html
    for model in ("dns-kalman", "lstm-attention", "nnss", "factor-transformer"):
        assert f"<h4>{model}</h4>" in html
    assert "<h4>random-walk</h4>" not in html
    # 2 RMSE-by-maturity, rolling RMSE, fan charts, and one figure per diagnosed model.
    assert html.count("data:image/png;base64,") == 2 + 1 + 1 + 4


def test_warnings_of_a_run_are_kept_in_the_report_and_run_file(deep_run):
    import json

    # NNSS with 5 iterations cannot meet its tolerance: a ConvergenceWarning.
    warned = json.loads((deep_run / "run.json").read_text())["warnings"]
    assert any(line.startswith("us-zero: nnss warned") and "ConvergenceWarning" in line
               for line in warned)
    assert '<h2 id="warnings">Warnings</h2>' in (deep_run / "report.html").read_text()


def test_deep_models_are_in_the_leaderboard(deep_run):
    table = pd.read_csv(deep_run / "leaderboard.csv")
    assert set(table["model"]) == {"random-walk", "dns-kalman", "lstm-attention", "nnss",
                                   "factor-transformer"}
    assert table["rmse"].notna().all()
    # The deep models run as seed ensembles with intervals: every row has a PICP, an
    # MPIW and its coverage error against the nominal 95%.
    assert table["picp"].between(0, 1).all() and (table["mpiw"] > 0).all()
    assert np.allclose(table["coverage_error"], table["picp"] - 0.95)
    record = json.loads((deep_run / "run.json").read_text())["datasets"]["us-zero"]["models"]
    assert {name: entry["members"] for name, entry in record.items()} == {
        "random-walk": 1, "dns-kalman": 1, "lstm-attention": 2, "nnss": 2,
        "factor-transformer": 2}


def test_progress_lines_when_not_on_a_terminal(tmp_path, capsys):
    assert main(["benchmark", "--models", "random-walk,ns-var", *SPAN, "--refit", "6",
                 "--output", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("[2/2] us-zero: ns-var")]
    total = int(re.search(r"0/(\d+) origins", lines[0]).group(1))
    assert lines[0] == f"[2/2] us-zero: ns-var: 0/{total} origins"
    assert f"[2/2] us-zero: ns-var: {total}/{total} origins" in lines
    assert re.fullmatch(rf"\[2/2\] us-zero: ns-var: {total} origins, \d+ fits in [0-9.]+ s",
                        lines[-1])
    # Refits every 6 of the ~57 test dates: progress moves in several steps.
    assert len(lines) >= 5


def test_quiet_prints_nothing(tmp_path, capsys):
    assert main(["benchmark", "--models", "random-walk", *SPAN, "--quiet",
                 "--output", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_on_a_terminal():
    stream = io.StringIO()
    progress = ModelProgress("[1/1] nnss", "bar", stream)
    for done in (0, 10, 25):
        progress(done, 25)
    progress.close("25 origins in 1.0 s")
    text = stream.getvalue()
    assert "[1/1] nnss" in text and "25/25" in text and "25 origins in 1.0 s" in text


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_mode_follows_quiet_and_the_terminal():
    assert progress_mode(True, _Stream(True)) == "off"
    assert progress_mode(False, _Stream(True)) == "bar"
    assert progress_mode(False, _Stream(False)) == "lines"


def test_test_start_after_the_data_is_named(tmp_path, capsys):
    assert main(["benchmark", "--dataset", "us-zero", "--models", "random-walk",
                 "--test-start", "2099-01-01",
                 "--output", str(tmp_path / "out")]) == 2
    assert "after the last date of us-zero" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- the report in a browser
def _check(report, *extra):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "check_report.py"),
                           str(report), *extra], capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="Chromium is not installed (Debian: apt-get install chromium); "
                           ".ci/run installs it")
def test_every_plot_of_the_report_renders_in_headless_chromium(deep_run, tmp_path):
    done = _check(deep_run / "report.html", "--screenshot", str(tmp_path / "page.png"))
    assert done.returncode == 0, done.stderr
    assert "ok: all 8 plots render" in done.stdout
    assert (tmp_path / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A corrupted plot is caught: the check is not a formality.
    html = (deep_run / "report.html").read_text()
    start = html.index("data:image/png;base64,") + len("data:image/png;base64,")
    broken = tmp_path / "broken.html"
    broken.write_text(html[:start] + "bm90IGEgcG5n" + html[html.index('"', start):])
    done = _check(broken)
    assert done.returncode == 1
    assert "not rendered: ['RMSE by maturity at horizon 1']" in done.stderr

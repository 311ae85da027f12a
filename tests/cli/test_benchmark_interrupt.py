"""``skyield benchmark`` interrupted by Ctrl-C leaves its output folder as it was.

The command runs in a subprocess, held at one point of the run (during a model, during
the report, while the last file is written) by a pause that announces itself; the test
then sends SIGINT and checks the output folder: the previous run's files exactly, or no
folder where there was none, and nothing left beside it.
"""

import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from skyield.cli import main

# Runs the command with a pause at the point named by the first argument. Ctrl-C raises
# KeyboardInterrupt as in a terminal even where the test itself was started in the
# background of a non-interactive shell, which makes its children ignore SIGINT.
_HELD_RUN = textwrap.dedent("""
    import json, signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import skyield.cli._benchmark as benchmark
    import skyield.model_selection as model_selection

    def held(name, function):
        def run(*args, **kwargs):
            print("held", name, flush=True)
            time.sleep(120)
            return function(*args, **kwargs)
        return run

    point = sys.argv[1]
    if point == "model":
        model_selection.backtest = held(point, model_selection.backtest)
    elif point == "report":
        benchmark.write_report = held(point, benchmark.write_report)
    elif point == "write":
        json.dump = held(point, json.dump)
    from skyield.cli import main
    sys.exit(main(sys.argv[2:]))
""")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interrupt")
    rng = np.random.default_rng(0)
    index = pd.date_range("1995-01-31", periods=72, freq="ME", name="date")
    panel = pd.DataFrame(4 + 0.1 * rng.normal(size=(72, 3)).cumsum(axis=0), index=index,
                         columns=["1Y", "5Y", "10Y"])
    path = folder / "curves.csv"
    panel.to_csv(path, float_format="%.4f")
    previous = folder / "previous"
    assert main(["benchmark", *_arguments(path, previous), "--horizons", "1,3"]) == 0
    return path, previous


def _arguments(path, output):
    return ["--dataset", str(path), "--models", "random-walk", "--test-start", "1999-01-01",
            "--quiet", "--output", str(output)]


def _snapshot(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def _interrupt_at(point, arguments):
    process = subprocess.Popen([sys.executable, "-c", _HELD_RUN, point, "benchmark",
                                *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        line = process.stdout.readline()
        assert line.strip() == f"held {point}", (line, process.stderr.read())
        process.send_signal(signal.SIGINT)
        _, error = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, error


@pytest.mark.parametrize("point", ["model", "report", "write"])
def test_an_interrupted_overwrite_leaves_the_previous_run(point, data, tmp_path):
    path, previous = data
    output = tmp_path / "out"
    shutil.copytree(previous, output)
    before = _snapshot(output)
    code, error = _interrupt_at(point, [*_arguments(path, output), "--horizons", "1,6",
                                        "--overwrite"])
    assert code == 130 and "interrupted" in error and "Traceback" not in error
    assert _snapshot(output) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_interrupted_first_run_leaves_no_folder(data, tmp_path):
    path, _ = data
    code, _ = _interrupt_at("write", _arguments(path, tmp_path / "new" / "out"))
    assert code == 130
    assert list(tmp_path.iterdir()) == []

"""Smoke test of an installed skyield, as a user who installed the wheel or the sdist meets it.

``scripts/check_package.sh`` runs it with the Python of a new virtual environment, from a
folder outside the source tree, so that ``import skyield`` can only find the installed
package (the first check makes sure of it). It checks, in order:

1. the package comes from the environment's site-packages; its version, licence and
   ``skyield --version`` agree with the installed metadata;
2. every public subpackage imports, and every name in its ``__all__`` exists;
3. the bundled data files match ``CHECKSUMS.sha256`` and every dataset of
   ``list_datasets()`` loads through its public loader;
4. a baseline (``RandomWalk``) and a deep model (``LSTMRegressor``, tiny settings) fit and
   predict on windows of bundled yields, the deep model reproducibly under one seed;
5. ``skyield benchmark`` runs on a fast model subset and records the installed version.

Any failure ends the script with a message naming the check; it prints one line per check.
"""

import importlib
import importlib.metadata
import json
import pkgutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

BENCHMARK = ["--models", "random-walk,ns-ar", "--start", "2005-01-01",
             "--test-start", "2019-01-01", "--horizons", "1,3", "--quiet"]


def expect(condition, message):
    """Stop with ``message`` unless ``condition`` holds."""
    if not condition:
        raise SystemExit(f"smoke test failed: {message}")


def check_installation():
    import skyield

    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    location = Path(skyield.__file__).resolve()
    expect(site_packages in location.parents,
           f"skyield was imported from {location}, not from {site_packages}")
    version = importlib.metadata.version("skyield")
    expect(skyield.__version__ == version,
           f"skyield.__version__ is {skyield.__version__!r}, the metadata says {version!r}")
    metadata = importlib.metadata.metadata("skyield")
    expect(metadata["License-Expression"] == "BSD-3-Clause",
           f"License-Expression is {metadata['License-Expression']!r}")
    licence = [f for f in importlib.metadata.files("skyield") if f.name == "LICENSE"]
    expect(len(licence) == 1 and "BSD 3-Clause License" in licence[0].read_text(),
           "the installed distribution carries no BSD-3-Clause LICENSE file")
    shown = subprocess.run([_command(), "--version"], capture_output=True, text=True,
                           check=True).stdout.strip()
    expect(shown == f"skyield {version}", f"'skyield --version' printed {shown!r}")
    return f"skyield {version} from {location.parent}, BSD-3-Clause with its LICENSE"


def check_subpackages():
    import skyield

    names = sorted(info.name for info in pkgutil.iter_modules(skyield.__path__)
                   if info.ispkg and not info.name.startswith("_"))
    exported = 0
    for name in names:
        module = importlib.import_module(f"skyield.{name}")
        public = getattr(module, "__all__", None)
        expect(public, f"skyield.{name} declares no __all__")
        missing = [attribute for attribute in public if not hasattr(module, attribute)]
        expect(not missing, f"skyield.{name}.__all__ names missing objects: {missing}")
        exported += len(public)
    return f"{len(names)} subpackages ({', '.join(names)}), {exported} public names"


def check_datasets():
    import skyield.datasets
    from skyield.datasets._io import verify_data_files

    digests = verify_data_files()
    table = skyield.datasets.list_datasets()
    shapes = []
    for name, loader_name in table["loader"].items():
        frame = getattr(skyield.datasets, loader_name)()
        expect(isinstance(frame, pd.DataFrame) and not frame.empty,
               f"{loader_name}() returned no data")
        shapes.append(f"{name} {frame.shape[0]}x{frame.shape[1]}")
    return f"{len(digests)} files match their checksums; loaded {', '.join(shapes)}"


def check_models():
    from skyield.baselines import RandomWalk
    from skyield.datasets import load_treasury_cmt
    from skyield.models import LSTMRegressor
    from skyield.preprocessing import make_windows

    panel = load_treasury_cmt("monthly", maturities=["1Y", "5Y", "10Y"], start="2000")
    windows = make_windows(panel, window=12, horizons=[1, 3])
    walk = RandomWalk().fit(windows.X, windows.y)
    np.testing.assert_array_equal(walk.predict(windows.X), windows.X[:, [-1, -1], :])

    ten_year = windows.y[:, 0, -1]   # the 10-year yield one month ahead
    forecasts = [LSTMRegressor(units=4, epochs=2, random_state=0)
                 .fit(windows.X, ten_year).predict(windows.X) for _ in range(2)]
    expect(forecasts[0].shape == ten_year.shape and np.isfinite(forecasts[0]).all(),
           f"LSTMRegressor predicted shape {forecasts[0].shape} or non-finite values")
    np.testing.assert_array_equal(forecasts[0], forecasts[1])
    return (f"RandomWalk and LSTMRegressor (4 units, 2 epochs, same result twice) on "
            f"{windows.X.shape[0]} windows of {windows.X.shape[1]} months")


def check_benchmark():
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "benchmark"
        subprocess.run([_command(), "benchmark", *BENCHMARK, "--output", str(output)],
                       check=True)
        table = pd.read_csv(output / "leaderboard.csv")
        expect(set(table["model"]) == {"random-walk", "ns-ar"},
               f"the leaderboard lists {sorted(set(table['model']))}")
        expect((table["rmse"] > 0).all(), "the leaderboard has a non-positive RMSE")
        with open(output / "run.json", encoding="utf-8") as handle:
            recorded = json.load(handle)["settings"]["skyield"]
        version = importlib.metadata.version("skyield")
        expect(recorded == version, f"run.json records skyield {recorded!r}, not {version!r}")
        report = (output / "report.html").read_text(encoding="utf-8")
        expect(version in report, "the report does not show the installed version")
        return f"skyield benchmark {' '.join(BENCHMARK)}: {len(table)} leaderboard rows"


def _command():
    """The ``skyield`` console script of the environment running this script."""
    command = Path(sys.executable).parent / "skyield"
    expect(command.is_file(), f"no skyield command beside {sys.executable}")
    return str(command)


def main():
    checks = [("installation", check_installation), ("subpackages", check_subpackages),
              ("datasets", check_datasets), ("models", check_models),
              ("benchmark", check_benchmark)]
    for label, check in checks:
        start = time.perf_counter()
        summary = check()
        print(f"smoke {label}: {summary} ({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

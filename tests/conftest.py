"""Suite-wide test settings.

Each test process uses one intra-op thread: the suite runs in parallel processes
(pytest-xdist), and the small tensor operations of the tests get far slower when
several threads per process compete for the same cores.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

import importlib.util  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="session")
def load_example():
    """Import a script of ``examples/`` as a module: ``load_example("nnss_treasury")``."""

    def load(name):
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def run_quick_example(tmp_path_factory):
    """Run an example's ``run(quick=True)`` on one torch thread into a new folder.

    ``run_quick_example(module, "name")`` returns ``(results, folder)``; the thread count
    is restored afterwards.
    """

    def run(module, folder):
        out = tmp_path_factory.mktemp(folder)
        threads = torch.get_num_threads()
        try:
            return module.run(quick=True, output_dir=out, threads=1), out
        finally:
            torch.set_num_threads(threads)

    return run

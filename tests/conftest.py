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

#!/usr/bin/env bash
# Creates (or updates) the project's virtual environment in .venv.
#
# torch is installed first from the pinned CPU build (constraints.txt), so that no
# dependency can pull a CUDA build onto a CPU-only machine. GPU users: see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/python_env.sh
PYTHON=$(find_python)

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install --quiet --upgrade pip
install_cpu_torch .venv/bin/python
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev,docs]"
echo "setup: environment ready in .venv ($(.venv/bin/python --version))"

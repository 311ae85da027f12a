#!/usr/bin/env bash
# Creates (or updates) the project's virtual environment in .venv.
#
# torch is installed first from the pinned CPU build (constraints.txt), so that no
# dependency can pull a CUDA build onto a CPU-only machine. GPU users: see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            PYTHON=$candidate
            break
        fi
    done
fi
if [ -z "$PYTHON" ]; then
    echo "setup: Python 3.11 or newer is required (set PYTHON=/path/to/python)" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt "torch==2.13.0"
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev,docs]"
echo "setup: environment ready in .venv ($(.venv/bin/python --version))"

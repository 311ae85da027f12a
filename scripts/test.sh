#!/usr/bin/env bash
# Sets up the environment, runs the test suite and builds the documentation strictly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MPLBACKEND=Agg
.venv/bin/python -m pytest -n 2 --dist loadfile "$@"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "${SITE_DIR:-site}"
echo "docs: built without warnings"

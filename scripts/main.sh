#!/usr/bin/env bash
# Sets up the environment and runs the main job on bundled data: `skyield benchmark`.
# Results go to a new folder under skyield-output/ unless --output is given; extra
# arguments are passed to `skyield benchmark` (see `.venv/bin/skyield benchmark --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
output=()
if [[ " $* " != *" --output "* && " $* " != *" --output="* ]]; then
    output=(--output "skyield-output/benchmark-$(date +%Y%m%d-%H%M%S)")
fi
exec .venv/bin/skyield benchmark "${output[@]}" "$@"

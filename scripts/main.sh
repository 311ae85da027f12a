#!/usr/bin/env bash
# Sets up the environment and runs the main job on bundled data: `skyield benchmark`.
# Results go to a new folder under skyield-output/ unless --output is given; extra
# arguments are passed to `skyield benchmark` (see `.venv/bin/skyield benchmark --help`).
# When Chromium is installed, the report is then opened headless and every plot checked.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
output=()
if [[ " $* " != *" --output "* && " $* " != *" --output="* ]]; then
    output=(--output "skyield-output/benchmark-$(date +%Y%m%d-%H%M%S)")
fi
.venv/bin/skyield benchmark "${output[@]}" "$@"
if [[ ${#output[@]} -gt 0 && -f "${output[1]}/report.html" ]]; then
    report="${output[1]}/report.html"
    if command -v chromium >/dev/null 2>&1; then
        .venv/bin/python scripts/check_report.py "$report" --screenshot "${output[1]}/report.png"
    else
        echo "report: $report (install chromium to check headless that its plots render:" \
             "python scripts/check_report.py $report)"
    fi
fi

#!/usr/bin/env bash
# Packaging check: builds the sdist and the wheel, and installs each into a new virtual
# environment as a user would (the CPU build of torch first, exactly as scripts/setup.sh
# does, then the package with the pins of constraints.txt). Then, from a folder outside the
# source tree, scripts/smoke_installed.py checks the installed package: imports, bundled
# data, one baseline and one deep model, and `skyield benchmark` on a fast model subset.
#
# The build must print no warning at all. Everything happens in a temporary folder
# that is removed at the end: neither .venv nor the source tree is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
PYTHON=$(find_python)
export PIP_DISABLE_PIP_VERSION_CHECK=1
work=$(mktemp -d "${TMPDIR:-/tmp}/skyield-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS

say() { echo "package: $* ($((SECONDS - started)) s)"; }

# The build reads a copy of the files git knows (tracked, or untracked and not ignored):
# it writes nothing into the source tree, and ignored files (build outputs, .venv) cannot
# slip into the sdist. The wheel is built from the sdist, so the sdist must carry what the
# wheel needs.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard \
    | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null \
    | tar -xf - -C "$work/src"
"$PYTHON" -m venv "$work/build-env"
"$work/build-env/bin/python" -m pip install --quiet -c constraints.txt build
# With PYTHONDONTWRITEBYTECODE set, setuptools warns that byte-compiling is disabled; the
# build runs without it, so that any warning left in its log is one to act on.
if ! env -u PYTHONDONTWRITEBYTECODE "$work/build-env/bin/python" -m build \
        --outdir "$work/dist" "$work/src" >"$work/build.log" 2>&1; then
    cat "$work/build.log"
    echo "package: the build failed" >&2
    exit 1
fi
# setuptools' own warnings ("WARNING ...", "warning: ..."), Python warning categories
# (SetuptoolsDeprecationWarning, ...) and anything deprecated.
if grep -n -E '^\s*(WARNING|warning)\b|[A-Za-z]Warning\b|[Dd]eprecat' "$work/build.log"; then
    echo "package: the build printed the warnings above" >&2
    exit 1
fi
say "built $(cd "$work/dist" && echo *) without warnings"

for artifact in "$work"/dist/*.whl "$work"/dist/*.tar.gz; do
    kind=$([[ $artifact == *.whl ]] && echo wheel || echo sdist)
    venv="$work/venv-$kind"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    install_cpu_torch "$venv/bin/python"
    "$venv/bin/python" -m pip install --quiet -c constraints.txt "$artifact"
    say "installed the $kind into a new environment"
    # Run from outside the source tree, without PYTHONPATH, so that only the installed
    # package can be imported.
    mkdir "$work/run-$kind"
    cp scripts/smoke_installed.py "$work/run-$kind/"
    (cd "$work/run-$kind" && env -u PYTHONPATH MPLBACKEND=Agg \
        "$venv/bin/python" smoke_installed.py)
    say "the installed $kind passed the smoke test"
done

# Sourced by setup.sh and check_package.sh (run from the repository root): which Python
# builds the virtual environments, and how PyTorch goes into them.

# Print the first Python 3.11 or newer: $PYTHON if set, else python3.11, 3.12, 3.13, python3.
find_python() {
    if [ -n "${PYTHON:-}" ]; then
        echo "$PYTHON"
        return
    fi
    local candidate
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "Python 3.11 or newer is required (set PYTHON=/path/to/python)" >&2
    return 1
}

# Install the pinned CPU build of torch into the environment of the Python given, before
# anything else, so that no dependency can pull a CUDA build onto a CPU-only machine.
install_cpu_torch() {
    "$1" -m pip install --quiet -c constraints.txt "torch==2.13.0"
}

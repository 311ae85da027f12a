"""The ``skyield`` command line: ``skyield datasets`` and ``skyield benchmark``."""

import argparse
import sys

from skyield import __version__
from skyield.cli._benchmark import add_benchmark_parser
from skyield.cli._datasets import add_datasets_parser

__all__ = ["main", "build_parser"]


def build_parser():
    """Return the argument parser of the ``skyield`` command."""
    parser = argparse.ArgumentParser(
        prog="skyield",
        description=(
            "Yield-curve and dynamic-factor forecasting models as scikit-learn estimators. "
            "Run 'skyield benchmark' for a rolling-origin comparison of models on bundled "
            "data, or 'skyield datasets' to see what data ships with the package."
        ),
    )
    parser.add_argument("--version", action="version", version=f"skyield {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_datasets_parser(commands)
    add_benchmark_parser(commands)
    return parser


def main(argv=None):
    """Run the ``skyield`` command with ``argv`` (default: ``sys.argv[1:]``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except ValueError as error:
        print(f"skyield {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

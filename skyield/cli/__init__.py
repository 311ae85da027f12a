"""The ``skyield`` command line: ``skyield datasets`` and ``skyield benchmark``.

Exit codes: 0 on success; 2 for every failure, with one message on standard error that
names the file, line or option at fault (``--debug`` shows the traceback instead); 130
when interrupted (Ctrl-C), which leaves any output folder as it was.
"""

import argparse
import difflib
import sys

from skyield import __version__
from skyield.cli._benchmark import add_benchmark_parser
from skyield.cli._datasets import add_datasets_parser

__all__ = ["main", "build_parser"]

EXIT_FAILURE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A command line that cannot be parsed, with the program it was meant for."""

    def __init__(self, prog, message):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are raised (and printed as one line by ``main``)."""

    #: The parser of each command, by name (set on the top-level parser).
    command_parsers = {}

    def error(self, message):
        raise UsageError(self.prog, message)


def _common_options():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    return common


def build_parser():
    """Return the argument parser of the ``skyield`` command."""
    parser = _Parser(
        prog="skyield",
        description=(
            "Yield-curve and dynamic-factor forecasting models as scikit-learn estimators. "
            "Run 'skyield benchmark' for a rolling-origin comparison of models on bundled "
            "data, or 'skyield datasets' to see what data ships with the package."
        ),
    )
    parser.add_argument("--version", action="version", version=f"skyield {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options()
    add_datasets_parser(commands, parents=[common])
    add_benchmark_parser(commands, parents=[common])
    parser.command_parsers = commands.choices
    return parser


def _unknown_arguments(parser, command, unknown):
    """``unrecognized arguments`` with the option each one most likely meant."""
    chosen = parser.command_parsers.get(command, parser)
    options = [option for action in chosen._actions for option in action.option_strings]
    described = []
    for token in unknown:
        close = difflib.get_close_matches(token.lstrip("-"), [o.lstrip("-") for o in options],
                                          n=1, cutoff=0.6) if token.startswith("-") else []
        suggestion = f" (did you mean --{close[0]}?)" if close else ""
        described.append(f"{token!r}{suggestion}")
    return UsageError(chosen.prog, f"unrecognized arguments: {', '.join(described)}")


def _message(error):
    if isinstance(error, (ValueError, UsageError)):
        return str(error)
    return f"{type(error).__name__}: {error} (run with --debug for the traceback)"


def main(argv=None):
    """Run the ``skyield`` command with ``argv`` (default: ``sys.argv[1:]``).

    Returns
    -------
    code : int
        0 on success, 2 on any failure (one message on standard error), 130 when
        interrupted.
    """
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            raise _unknown_arguments(parser, args.command, unknown)
    except UsageError as error:
        print(f"{error.prog}: error: {error} (see '{error.prog} --help')", file=sys.stderr)
        return EXIT_FAILURE
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"skyield {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # every failure is one message (the traceback with --debug)
        if args.debug:
            raise
        print(f"skyield {args.command}: error: {_message(error)}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())

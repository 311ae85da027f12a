"""The ``skyield`` command line."""


def main(argv=None):
    raise SystemExit("skyield: the command line is not available yet")

"""``skyield benchmark``: rolling-origin comparison of models on bundled data."""


def add_benchmark_parser(commands):
    parser = commands.add_parser("benchmark", help="compare models out of sample on bundled data")
    parser.set_defaults(run=run_benchmark)


def run_benchmark(args):
    raise ValueError("not available yet")

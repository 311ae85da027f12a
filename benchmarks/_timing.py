"""Timing helpers shared by the benchmark scripts.

Cases are timed in interleaved rounds: every case once per round, in the same order,
so that a change in the load of a shared machine hits every case alike. Each timing is
the CPU time of the process (``time.process_time``), which does not count the time spent
waiting for a core, together with the wall time; medians over the rounds are reported,
and a ratio is the median over the rounds of the ratio within each round.
"""

import os
import statistics
import time
from pathlib import Path


def interleaved(cases, rounds, sync=None, repeat=1):
    """Time ``cases`` (a dict name -> callable) in ``rounds`` interleaved rounds.

    Every case runs once untimed first. Within a round each case runs ``repeat`` times in
    a row and the mean is recorded (the first run after another case finds caches and
    allocator filled by that case; repeating measures a case as it runs in a loop of its
    own, e.g. an optimiser's). Returns a dict name -> list of ``(cpu_seconds,
    wall_seconds)``, one entry per round.
    """
    for run in cases.values():
        run()
    if sync:
        sync()
    times = {name: [] for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(repeat):
                run()
            if sync:
                sync()
            times[name].append(((time.process_time() - cpu) / repeat,
                                (time.perf_counter() - wall) / repeat))
    return times


def median_cpu(samples):
    """Median CPU seconds of a list of ``(cpu, wall)`` samples."""
    return statistics.median(cpu for cpu, _ in samples)


def median_wall(samples):
    """Median wall seconds of a list of ``(cpu, wall)`` samples."""
    return statistics.median(wall for _, wall in samples)


def median_ratio(numerator, denominator):
    """Median over the rounds of the CPU-time ratio of two cases timed together."""
    return statistics.median(a[0] / b[0] for a, b in zip(numerator, denominator, strict=True))


def load_average():
    """The 1-minute load average as text ("n/a" where unavailable)."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:  # pragma: no cover - not available on every platform
        return "n/a"


def load_note(before, after):
    """A sentence on the machine's load during a run, from the two 1-minute load averages
    (``load_average()`` before and after): whether other processes shared the cores."""
    cores = os.cpu_count() or 1
    text = f"1-minute load average {before} before and {after} after the run, on {cores} cores"
    try:
        busy = max(float(before), float(after)) > 0.75 * cores
    except ValueError:  # "n/a"
        return text + "."
    if busy:
        return (text + ": other processes were running, which stretches wall times far "
                "more than CPU times.")
    return text + ": no other sizeable work was running."


def write_section(path, section, start, end, title):
    """Replace the block of ``path`` between the markers, keeping the rest of the page.

    A page without the markers is written anew with ``title`` and the block.
    """
    path = Path(path)
    if path.exists() and start in path.read_text():
        head, rest = path.read_text().split(start, 1)
        tail = rest.split(end, 1)[1] if end in rest else ""
        path.write_text(f"{head}{start}\n{section}{end}{tail}")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {title}\n\n{start}\n{section}{end}\n")

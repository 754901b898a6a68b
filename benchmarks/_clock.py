"""The clocks the benchmarks time by, chosen with ``--clock``: ``wall`` (elapsed time) or
``cpu`` (the CPU time of this process, which other processes on a shared machine do not
inflate; every benchmark runs its solvers on one thread)."""

from __future__ import annotations

import argparse
import time

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def add_clock_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--clock {wall,cpu}`` option (default: wall)."""
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="elapsed time or this process's CPU time (default: wall)")

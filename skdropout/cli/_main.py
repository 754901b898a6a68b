"""The ``skdropout`` command: argument parsing, dispatch, and one-line errors."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .. import __version__
from . import _deep, _demo, _fit, _plots
from ._errors import CommandError, describe

# Errors a person can act on (a file, a column, an option, a missing extra): reported in one
# line with exit status 2. Anything else is a bug and keeps its traceback.
ACTIONABLE = (CommandError, OSError, ValueError, ImportError)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (usage stays available through --help)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``skdropout`` and its subcommands."""
    parser = _Parser(
        prog="skdropout",
        description="Adaptive dropout and iteratively reweighted regularisation as duals "
                    "(LeJeune, Javadi, Baraniuk, NeurIPS 2021).")
    parser.add_argument("--version", action="version", version=f"skdropout {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _demo.add_parser(sub)
    _plots.add_parser(sub)
    _deep.add_table4_parser(sub)
    _deep.add_sparsify_parser(sub)
    _fit.add_parser(sub)
    return parser


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while a command runs, so that ``kill`` stops a
    training run the way Ctrl-C does (checkpoint kept, exit status 130)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``skdropout`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Examples
    --------
    >>> from skdropout.cli import main
    >>> main(["fit", "no-such-file.csv", "--target", "y"])
    2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _terminate_as_interrupt():
            return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        resumable = args.command == "table4" or getattr(args, "checkpoint", None)
        hint = "; run the same command again to resume" if resumable else ""
        print(f"skdropout {args.command}: interrupted{hint}", file=sys.stderr)
        return 130
    except ACTIONABLE as exc:
        if args.traceback:
            raise
        print(f"skdropout {args.command}: error: {describe(exc)}", file=sys.stderr)
        return 2

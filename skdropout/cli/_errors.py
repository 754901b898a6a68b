"""Errors a person can act on: one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

# Optional dependency -> the extra that installs it.
EXTRAS = {"torch": "deep", "skorch": "deep", "tqdm": "deep", "matplotlib": "plot"}


class CommandError(Exception):
    """A problem with the command's input (a file, a column, an option), told in one line."""


def describe(exc: BaseException) -> str:
    """The one-line message for an error the command reports instead of a traceback.

    Examples
    --------
    >>> describe(ModuleNotFoundError("No module named 'torch'", name="torch"))
    "torch is not installed; install it with: pip install 'skdropout[deep]'"
    >>> describe(CommandError("no such file: data.csv"))
    'no such file: data.csv'
    """
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        root = exc.name.split(".")[0]
        if root in EXTRAS:
            return (f"{root} is not installed; install it with: "
                    f"pip install 'skdropout[{EXTRAS[root]}]'")
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return " ".join(str(exc).split()) or type(exc).__name__


def check_writable(path: str | os.PathLike, option: str) -> None:
    """Raise CommandError unless a file can be written at ``path`` (checked by opening it for
    appending, so an existing file is left as it is and a new one is removed again): an
    output option fails before the work, not after it.

    Examples
    --------
    >>> check_writable("/no-such-folder/model.pkl", "--save")
    Traceback (most recent call last):
    ...
    skdropout.cli._errors.CommandError: --save /no-such-folder/model.pkl: cannot write there (No such file or directory).
    """
    path = Path(path)
    existed = path.exists()
    try:
        with path.open("ab"):
            pass
    except OSError as exc:
        raise CommandError(f"{option} {path}: cannot write there ({exc.strerror}).") from None
    if not existed:
        path.unlink()

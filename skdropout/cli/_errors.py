"""Errors a person can act on: one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

# Optional dependency -> the extra that installs it.
EXTRAS = {"torch": "deep", "skorch": "deep", "tqdm": "deep", "matplotlib": "plot",
          "pandas": "bench"}


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

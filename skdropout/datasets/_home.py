"""Where data sets are read from (the data home) and where fast binary copies are cached."""

from __future__ import annotations

import os
import stat
from pathlib import Path

DATA_ENV = "SKDROPOUT_DATA"
CACHE_ENV = "SKDROPOUT_CACHE"


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The folder data sets are read from.

    ``data_home`` if given, else the ``SKDROPOUT_DATA`` environment variable, else
    ``~/skdropout_data``. Each data set lives in a subfolder (``mnist/`` for MNIST). The folder
    is not created here (it may be read-only); a download creates it when needed.

    Parameters
    ----------
    data_home : str or path-like, optional
        An explicit data home; ``~`` is expanded.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from skdropout.datasets import get_data_home
    >>> get_data_home("/srv/data").as_posix()
    '/srv/data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_ENV) or Path.home() / "skdropout_data"
    return Path(data_home).expanduser()


def is_writable(path: Path) -> bool:
    """Whether files may be created in ``path`` (or, if it does not exist yet, in its nearest
    existing parent). A folder whose mode has no write bit counts as read-only even for root,
    so a read-only data home is never written to."""
    path = Path(path)
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    if not path.is_dir():
        return False
    mode = path.stat().st_mode
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(path, os.W_OK)


def get_cache_home(data_home: Path) -> Path | None:
    """The folder fast binary copies (``.npz``) of data sets are cached in.

    The first writable of: the ``SKDROPOUT_CACHE`` environment variable, ``<data_home>/cache``,
    ``$XDG_CACHE_HOME/skdropout`` (default ``~/.cache/skdropout``); ``None`` when none of these
    can be written (loading then works without a cache). A folder whose mode has no write
    bit is skipped even for root, so a read-only data home is never written to.

    Parameters
    ----------
    data_home : pathlib.Path
        The data home, as returned by :func:`get_data_home`.

    Returns
    -------
    pathlib.Path or None

    Examples
    --------
    >>> import os
    >>> from pathlib import Path
    >>> from skdropout.datasets import get_cache_home
    >>> os.environ["SKDROPOUT_CACHE"] = "/tmp/skdropout-cache"
    >>> get_cache_home(Path("/srv/data")).as_posix()
    '/tmp/skdropout-cache'
    >>> del os.environ["SKDROPOUT_CACHE"]
    """
    return next((folder for folder in cache_folders(data_home) if is_writable(folder)), None)


def cache_folders(data_home: Path) -> list[Path]:
    """The folders a cache is looked for in, in order: ``$SKDROPOUT_CACHE`` (when set),
    ``<data_home>/cache``, ``$XDG_CACHE_HOME/skdropout`` (default ``~/.cache/skdropout``)."""
    explicit = os.environ.get(CACHE_ENV)
    folders = [Path(explicit).expanduser()] if explicit else []
    folders.append(Path(data_home) / "cache")
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    folders.append(Path(xdg).expanduser() / "skdropout")
    return folders

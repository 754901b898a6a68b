"""Files written whole: a temporary file beside the target, renamed over it when complete, so
a reader, a rerun or a run cut short by Ctrl-C never sees half a file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix) to write to; when the block ends
    without an error it is renamed over ``path`` (``os.replace``, atomic on one file system),
    otherwise it is removed and ``path`` is left as it was.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "result.json"
    >>> with replacing(target) as partial:
    ...     _ = partial.write_text("{}")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('{}', ['result.json'])
    """
    path = Path(path)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.part{path.suffix}")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` whole (see :func:`replacing`)."""
    with replacing(path) as partial:
        partial.write_text(text)

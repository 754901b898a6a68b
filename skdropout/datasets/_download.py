"""Downloading data files from public mirrors, verified before they touch the disk."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

TIMEOUT_S = 60.0


def _fetch_url(url: str) -> bytes:
    """The bytes at ``url`` (the one place that touches the network; tests replace it)."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310
        return response.read()


def download_verified(name: str, mirrors: Sequence[str], dest: Path,
                      verify: Callable[[bytes, str], None]) -> Path:
    """Download ``name`` from the first mirror whose copy passes ``verify`` and write it
    atomically to ``dest / name``.

    Parameters
    ----------
    name : str
        The file name, appended to each mirror's base URL.
    mirrors : sequence of str
        Base URLs ending in ``/``, tried in order.
    dest : pathlib.Path
        The folder to write to (created if missing).
    verify : callable
        ``verify(raw_bytes, source)`` raises ``ValueError`` when the content is wrong.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OSError
        When no mirror gave a verified copy; the message lists each mirror's failure.
    """
    failures = []
    for base in mirrors:
        url = base + name
        try:
            raw = _fetch_url(url)
            verify(raw, url)
        except (OSError, ValueError) as exc:
            failures.append(f"{url}: {exc}")
            continue
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / name
        partial = target.with_name(f".{name}.{os.getpid()}.part")
        partial.write_bytes(raw)
        os.replace(partial, target)
        return target
    raise OSError("; ".join(failures))

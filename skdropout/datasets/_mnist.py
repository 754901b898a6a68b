"""MNIST (LeCun, Cortes, Burges): the four IDX files, verified, cached, as float32 arrays."""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from . import _download
from ._home import cache_folders, get_cache_home, get_data_home, is_writable
from ._idx import decompress, parse_idx, read_bytes

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MANIFEST = "CONTENT_SHA256"
SIDE = 28
# subset -> the splits it holds, in order.
SUBSETS = {"train": ("train",), "test": ("test",), "all": ("train", "test")}

# part -> (file name without .gz, SHA-256 and byte count of the *decompressed* content).
FILES = {
    "train_images": ("train-images-idx3-ubyte",
                     "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016),
    "train_labels": ("train-labels-idx1-ubyte",
                     "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008),
    "test_images": ("t10k-images-idx3-ubyte",
                    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016),
    "test_labels": ("t10k-labels-idx1-ubyte",
                    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008),
}

DESCR = """\
MNIST handwritten digits (LeCun, Cortes and Burges)
--------------------------------------------------
70,000 grey-scale images of 28x28 pixels of the digits 0-9: the standard 60,000 training
images and 10,000 test images (``subset="train"``, ``"test"``). With ``subset="all"``,
``data`` and ``target`` hold the training rows followed by the test rows, and X_train,
y_train, X_test, y_test are views into them.
Pixels are float32 in [0, 1] (the stored byte divided by 255), flattened row by row to 784
features; labels are int64. Read from the four IDX files of the data home's ``mnist/``
folder, verified against the SHA-256 of their decompressed content.
"""


def _read_manifest(folder: Path) -> dict[str, tuple[str, int]] | None:
    """``name -> (sha256, n_bytes)`` from ``folder/CONTENT_SHA256`` (lines ``file sha bytes``,
    names with or without ``.gz``), or None when there is no such file."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if (len(fields) != 3 or len(fields[1]) != 64 or not fields[2].isdigit()
                or any(c not in "0123456789abcdef" for c in fields[1].lower())):
            raise ValueError(f"{path}, line {number}: expected 'FILE SHA256 BYTES', got {line!r}.")
        entries[fields[0].removesuffix(".gz")] = (fields[1].lower(), int(fields[2]))
    missing = [name for name, _, _ in FILES.values() if name not in entries]
    if missing:
        raise ValueError(f"{path} lists no content hash for {', '.join(missing)}.")
    return entries


def _check_content(content: bytes, sha256: str, n_bytes: int, source: str) -> None:
    """Raise ValueError unless ``content`` has the expected size and SHA-256."""
    if len(content) != n_bytes:
        raise ValueError(f"{source}: decompressed content is {len(content)} bytes, {n_bytes} "
                         "expected (truncated or not the MNIST file); replace the file.")
    actual = hashlib.sha256(content).hexdigest()
    if actual != sha256:
        raise ValueError(f"{source}: SHA-256 of the decompressed content is {actual}, {sha256} "
                         "expected (corrupt or not the MNIST file); replace the file.")


def _locate(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _missing_error(folder: Path, names: list[str], reason: str) -> FileNotFoundError:
    files = ", ".join(f"{name}.gz" for name in names)
    return FileNotFoundError(
        f"MNIST not found: {files} missing from {folder} ({reason}). Download the four files "
        f"from {MIRRORS[0]} (or {MIRRORS[1]}) and put them, gzipped or not, in {folder}; or "
        "pass data_home= / set SKDROPOUT_DATA to a folder whose mnist/ subfolder holds them.")


def _download_missing(folder: Path, missing: list[str],
                      expected: dict[str, tuple[str, int]]) -> None:
    if not is_writable(folder):
        raise _missing_error(folder, missing, f"cannot download: {folder} is not writable")
    failed = []
    for name in missing:
        def verify(raw: bytes, source: str, name: str = name) -> None:
            content = decompress(raw, source)
            _check_content(content, *expected[name], source)

        try:
            _download.download_verified(f"{name}.gz", MIRRORS, folder, verify)
        except OSError as exc:
            failed.append((name, str(exc)))
    if failed:
        raise _missing_error(folder, [name for name, _ in failed],
                             "download failed: " + "; ".join(reason for _, reason in failed))


def _cache_name(expected: dict[str, tuple[str, int]]) -> str:
    """The cache file's name, made of the content hashes (same files, same name)."""
    key = hashlib.sha256("".join(expected[name][0] for name, _, _ in FILES.values())
                         .encode()).hexdigest()[:16]
    return f"mnist-{key}.npz"


def _load_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of the cache file ``path``; None (with a warning when the file is there but
    unreadable, empty or invalid) when it cannot be used."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {part: npz[part] for part in FILES}
        _check_arrays(arrays, str(path))
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        warnings.warn(f"Ignoring the unreadable or invalid MNIST cache {path} ({exc}); "
                      "reading the MNIST files instead (the cache is rebuilt where it can be "
                      "written).", UserWarning, stacklevel=3)
        return None
    return arrays


def _save_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    partial = path.with_name(f".{path.stem}.{os.getpid()}.part.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(partial, **arrays)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        warnings.warn(f"Could not write the MNIST cache {path} ({exc}); loading works without "
                      "it, only slower.", UserWarning, stacklevel=3)


def _check_arrays(arrays: dict[str, np.ndarray], source: str) -> None:
    """Raise ValueError unless the four arrays are MNIST-shaped uint8 images and labels."""
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
            raise ValueError(f"{source}: {split} images are {images.dtype} of shape "
                             f"{images.shape}; uint8 of shape (n, {SIDE}, {SIDE}) expected.")
        if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
            raise ValueError(f"{source}: {split} labels are {labels.dtype} of shape "
                             f"{labels.shape}; uint8 of shape ({images.shape[0]},) expected.")
        if labels.size and labels.max() > 9:
            raise ValueError(f"{source}: {split} labels hold {labels.max()}; digits 0-9 expected.")


def _read_verified(folder: Path, expected: dict[str, tuple[str, int]]) -> dict[str, np.ndarray]:
    arrays = {}
    for part, (name, _, _) in FILES.items():
        path = _locate(folder, name)
        content = read_bytes(path)
        _check_content(content, *expected[name], str(path))
        arrays[part] = parse_idx(content, str(path))
    _check_arrays(arrays, str(folder))
    return arrays


def fetch_mnist(data_home: str | os.PathLike | None = None, *, subset: str = "all",
                download_if_missing: bool = True, return_X_y: bool = False,
                cache: bool = True) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load MNIST (60,000 training and 10,000 test digits), the paper's Table 4 data.

    Reads ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``
    and ``t10k-labels-idx1-ubyte`` (each gzipped ``.gz`` or not) from ``<data home>/mnist/``.
    Each file's decompressed content is checked against its byte count and SHA-256: those
    listed in ``<data home>/mnist/CONTENT_SHA256`` (lines ``FILE SHA256 BYTES``) when that file
    exists, else the published MNIST values built into this module. Downloads are always
    checked against the built-in values before they are written.

    The verified arrays are cached as an ``.npz`` (uint8, about 55 MB) named after the content
    hashes, in the first writable of: ``$SKDROPOUT_CACHE``, ``<data home>/cache``,
    ``$XDG_CACHE_HOME/skdropout`` (default ``~/.cache/skdropout``); a read-only data home is
    never written to. Later calls load the first valid cache found in these folders, writable
    or not (a fraction of a second), without re-reading the IDX files; as it is named after
    the content, data homes holding the same files share it. An unreadable, empty or invalid
    cache is ignored with a warning and rebuilt.

    Parameters
    ----------
    data_home : str or path-like, optional
        The data home; default the ``SKDROPOUT_DATA`` environment variable, else
        ``~/skdropout_data`` (see :func:`get_data_home`).
    subset : {"all", "train", "test"}, default="all"
        The standard 60,000 training digits, the 10,000 test digits, or all 70,000 (training
        rows first, as ``fetch_openml("mnist_784")`` orders them).
    download_if_missing : bool, default=True
        Download missing files into ``<data home>/mnist/`` from the public mirrors
        (ossci-datasets.s3.amazonaws.com/mnist/, then storage.googleapis.com/cvdf-datasets/mnist/).
    return_X_y : bool, default=False
        Return ``(data, target)`` of ``subset`` instead of a Bunch, as scikit-learn's
        ``fetch_*`` functions do.
    cache : bool, default=True
        Read and write the ``.npz`` cache.

    Returns
    -------
    sklearn.utils.Bunch
        ``data`` (n, 784) float32 in [0, 1], ``target`` (n,) int64, ``subset``,
        ``target_names`` (the digits 0-9), ``DESCR``; n is 60,000, 10,000 or 70,000. With
        ``subset="all"`` also the standard split as views into ``data``: ``X_train``
        (60000, 784), ``y_train``, ``X_test`` (10000, 784), ``y_test`` and ``n_train``.
    (data, target) : tuple of ndarray
        When ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        Files missing and not downloadable (offline, or ``download_if_missing=False``, or a
        read-only data home): the message names the folder to put them in.
    ValueError
        An unknown ``subset``; a corrupt or truncated file (bad gzip stream, wrong size or
        SHA-256, bad IDX magic, wrong dimensions), or a malformed ``CONTENT_SHA256``: the
        message names the file.

    Examples
    --------
    Needs the MNIST files (about 11 MB) in the data home, or network access:

    >>> from skdropout.datasets import fetch_mnist
    >>> X_train, y_train = fetch_mnist(subset="train", return_X_y=True)  # doctest: +SKIP
    >>> X_test, y_test = fetch_mnist(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X_train.shape, X_test.shape  # doctest: +SKIP
    ((60000, 784), (10000, 784))
    >>> mnist = fetch_mnist()  # doctest: +SKIP
    >>> mnist.data.shape, mnist.X_train.shape  # doctest: +SKIP
    ((70000, 784), (60000, 784))
    """
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {', '.join(map(repr, SUBSETS))}; "
                         f"got {subset!r}.")
    home = get_data_home(data_home)
    folder = home / "mnist"
    manifest = _read_manifest(folder)
    builtin = {name: (sha, n_bytes) for name, sha, n_bytes in FILES.values()}
    expected = manifest if manifest is not None else builtin

    arrays = None
    if cache:  # a valid cache is read wherever it lies, a read-only data home included
        name = _cache_name(expected)
        arrays = next(filter(None, (_load_cache(folder / name)
                                    for folder in cache_folders(home))), None)
    if arrays is None:
        missing = [name for name, _, _ in FILES.values() if _locate(folder, name) is None]
        if missing and not download_if_missing:
            raise _missing_error(folder, missing, "download_if_missing=False")
        if missing:
            if any(expected[name] != builtin[name] for name in missing):
                raise _missing_error(folder, missing, f"cannot download: {folder / MANIFEST} "
                                     "lists hashes that are not the published MNIST ones")
            _download_missing(folder, missing, builtin)
        arrays = _read_verified(folder, expected)
        cache_home = get_cache_home(home) if cache else None
        if cache_home is not None:
            _save_cache(cache_home / name, arrays)
    return _as_bunch(arrays, subset, return_X_y)



def _as_bunch(arrays: dict[str, np.ndarray], subset: str, return_X_y: bool
              ) -> Bunch | tuple[np.ndarray, np.ndarray]:
    splits = SUBSETS[subset]
    sizes = [len(arrays[f"{split}_labels"]) for split in splits]
    data = np.empty((sum(sizes), SIDE * SIDE), dtype=np.float32)
    start = 0
    for split, size in zip(splits, sizes):
        np.divide(arrays[f"{split}_images"].reshape(-1, SIDE * SIDE), np.float32(255),
                  out=data[start:start + size], dtype=np.float32)
        start += size
    target = np.concatenate([arrays[f"{split}_labels"] for split in splits]).astype(np.int64)
    if return_X_y:
        return data, target
    bunch = Bunch(data=data, target=target, subset=subset, target_names=np.arange(10),
                  DESCR=DESCR)
    if subset == "all":
        n_train = sizes[0]
        bunch.update(X_train=data[:n_train], y_train=target[:n_train], X_test=data[n_train:],
                     y_test=target[n_train:], n_train=n_train)
    return bunch

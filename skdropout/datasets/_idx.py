"""The IDX file format of MNIST (LeCun et al.): read, decompress, parse, never a partial array."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

# IDX type byte -> big-endian numpy dtype.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"


def decompress(raw: bytes, source: str = "<bytes>") -> bytes:
    """Gunzip ``raw`` when it starts with the gzip magic; return it as is otherwise (so
    ``x.gz`` and ``x`` are read alike).

    Raises
    ------
    ValueError
        For a truncated or corrupt gzip stream (the message names ``source``).
    """
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{source}: corrupt or truncated gzip data ({exc}).") from None


def read_bytes(path: str | os.PathLike) -> bytes:
    """The decompressed content of a file, gzipped or not (see :func:`decompress`)."""
    return decompress(Path(path).read_bytes(), str(path))


def parse_idx(content: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an IDX file into an array of its declared shape and type.

    Header: two zero bytes, a type byte (0x08 unsigned byte ... 0x0E float64), the number of
    dimensions, then one big-endian int32 per dimension; the data follow, big-endian.

    Parameters
    ----------
    content : bytes
        The decompressed file content.
    source : str
        Named in error messages.

    Returns
    -------
    numpy.ndarray
        In native byte order, of the shape the header declares.

    Raises
    ------
    ValueError
        Bad magic, an unknown type, or data shorter or longer than the header declares.

    Examples
    --------
    >>> import numpy as np
    >>> from skdropout.datasets import parse_idx
    >>> parse_idx(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
    array([[1, 2, 3],
           [4, 5, 6]], dtype=uint8)
    """
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] not in IDX_DTYPES:
        raise ValueError(f"{source}: not an IDX file (bad magic number {content[:4].hex()!r}; "
                         "expected 0000 then a type byte 08..0e and the number of dimensions).")
    dtype = np.dtype(IDX_DTYPES[content[2]])
    ndim = content[3]
    header = 4 + 4 * ndim
    if len(content) < header:
        raise ValueError(f"{source}: truncated IDX header ({len(content)} bytes, "
                         f"{header} expected for {ndim} dimensions).")
    shape = tuple(int(d) for d in np.frombuffer(content, ">i4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(content) != expected:
        kind = "truncated" if len(content) < expected else "has trailing bytes"
        raise ValueError(f"{source}: IDX file {kind}: {len(content)} bytes, {expected} expected "
                         f"for shape {shape} of {dtype.name}.")
    data = np.frombuffer(content, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzipped or not (see :func:`parse_idx`).

    Parameters
    ----------
    path : str or os.PathLike
        The file; gzip content is recognised by its magic bytes, not by the name.

    Returns
    -------
    numpy.ndarray
        In native byte order, of the shape and type the header declares.

    Raises
    ------
    ValueError
        Corrupt gzip data or a malformed IDX file (the message names ``path``).

    Examples
    --------
    >>> import gzip, tempfile, pathlib
    >>> from skdropout.datasets import read_idx
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte.gz"
    >>> _ = path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9])))
    >>> read_idx(path)
    array([7, 0, 9], dtype=uint8)
    """
    return parse_idx(read_bytes(path), str(path))

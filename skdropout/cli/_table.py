"""Reading a numeric table from a CSV file with a header row (no pandas needed)."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._errors import CommandError


def read_csv(path: str | Path, sep: str = ",",
             encoding: str = "utf-8") -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a CSV file, every row checked to have the header's length.

    A UTF-8 file may start with a byte-order mark (as spreadsheet programs write it); it is
    not part of the first column's name.

    Raises
    ------
    CommandError
        A separator that is not one character, an unknown encoding, a missing or empty file,
        text that is not in ``encoding``, a repeated column name, or a ragged row.
    """
    path = Path(path)
    if len(sep) != 1:
        raise CommandError(f"--sep must be one character, got {sep!r}.")
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise CommandError(f"--encoding: unknown encoding {encoding!r}.") from None
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig" if codec == "utf-8" else encoding) as h:
            rows = [row for row in csv.reader(h, delimiter=sep) if row]
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not {encoding} text (byte {exc.object[exc.start]:#04x} at "
                           f"offset {exc.start}); give the file's encoding with --encoding, "
                           "e.g. --encoding latin-1.") from None
    if len(rows) < 2:
        raise CommandError(f"{path}: a header row and at least one data row are needed.")
    header = [name.strip() for name in rows[0]]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise CommandError(f"{path}: repeated column names {', '.join(repeated)}.")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise CommandError(f"{path}, line {number}: {len(row)} fields, the header has "
                               f"{len(header)} (is the separator {sep!r}? see --sep).")
    return header, rows[1:]


def check_columns(path: str | Path, header: Sequence[str], names: Sequence[str]) -> None:
    """Raise CommandError naming the names that are not columns (and listing the columns)."""
    unknown = [name for name in names if name not in header]
    if unknown:
        raise CommandError(f"{path}: no column {', '.join(map(repr, unknown))}; the columns "
                           f"are: {', '.join(header)}.")


def numeric_columns(path: str | Path, header: Sequence[str], rows: Sequence[Sequence[str]],
                    names: Sequence[str]) -> np.ndarray:
    """The named columns as a float64 array of shape (n_rows, len(names)).

    Raises
    ------
    CommandError
        A name that is not a column (the message lists the columns), or a cell that is not a
        finite number (the message names the column, the line and the value).

    Examples
    --------
    >>> numeric_columns("t.csv", ["a", "b"], [["1", "x"], ["2.5", "y"]], ["a"])
    array([[1. ],
           [2.5]])
    """
    check_columns(path, header, names)
    out = np.empty((len(rows), len(names)))
    for j, name in enumerate(names):
        k = header.index(name)
        for i, row in enumerate(rows):
            cell = row[k].strip()
            try:
                value = float(cell)
            except ValueError:
                value = None
            if value is None or not np.isfinite(value):
                kind = "a missing or non-finite value" if value is not None or not cell \
                    else "a non-numeric value"
                raise CommandError(f"{path}: column {name!r} has {kind} {cell!r} on line "
                                   f"{i + 2}; encode or drop it (see --features, --drop).")
            out[i, j] = value
    return out

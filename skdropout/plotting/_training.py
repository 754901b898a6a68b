"""Training curves of the deep sparsifiers: error against density (Figure 2 of the paper)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

CURVE_COLUMNS = ("density", "valid_error")


def _curve_columns(curve: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(density, valid_error in %)`` of a curve given as columns (a pandas DataFrame or a
    dict of sequences, error in %) or as per-epoch records (a skorch History or a list of
    dicts, error as a fraction, as ``SparseNetClassifier`` records it)."""
    if hasattr(curve, "keys"):
        missing = set(CURVE_COLUMNS) - set(curve.keys())
        if missing:
            raise ValueError(f"A training curve needs columns 'density' and 'valid_error' "
                             f"(error in %); missing {sorted(missing)}.")
        density, error = (np.asarray(curve[name], dtype=float) for name in CURVE_COLUMNS)
        return density, error
    records = list(curve)
    density = np.array([_number(h.get("density")) for h in records], dtype=float)
    error = 100 * np.array([_number(h.get("valid_error")) for h in records], dtype=float)
    return density, error


def _number(value: Any) -> float:
    return np.nan if value is None else float(value)


def plot_training(curves: Mapping[str, Any], ax: Any = None,
                  published: Mapping[str, tuple[float, float]] | None = None,
                  final: Mapping[str, tuple[float, float]] | None = None,
                  paper: Mapping[str, tuple[float, float]] | None = None,
                  logx: bool = True) -> Any:
    """Error against fraction of nonzero weights over training, one line per method
    (the paper's Figure 2).

    Parameters
    ----------
    curves : mapping of name -> columns or per-epoch records
        Per-epoch ``density`` (fraction of kept weights) and ``valid_error``: as columns (a
        pandas DataFrame or a dict of sequences, error in %) or as records (a skorch History
        or a list of dicts, error as a fraction, as ``SparseNetClassifier`` records it).
    ax : matplotlib Axes, optional
        Where to draw; a new figure's Axes when None.
    published : mapping of name -> (error %, density), optional
        Reference points drawn as black markers (e.g. published LeNet-300-100 results).
    final : mapping of name -> (error %, density), optional
        Final test results of the curves' methods, drawn as stars in the line's colour.
    paper : mapping of name -> (error %, density), optional
        Reference results of the curves' methods (e.g. the paper's Table 4), drawn as
        hollow circles in the line's colour.
    logx : bool, default=True
        Logarithmic density axis.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from skdropout.plotting import plot_training
    >>> curve = {"density": [1.0, 0.3, 0.1], "valid_error": [5.0, 3.0, 2.5]}
    >>> ax = plot_training({"logsum": curve})
    >>> len(ax.get_lines())
    2
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.4))
    colors = {}
    for name, curve in curves.items():
        density, error = _curve_columns(curve)
        (line,) = ax.plot(density, error, "-", lw=1.4, label=name)
        ax.plot(density[-1:], error[-1:], "o", color=line.get_color(), ms=4)
        colors[name] = line.get_color()
    for name, (err, dens) in (final or {}).items():
        ax.plot([dens], [err], "*", ms=11, color=colors.get(name, "k"), mec="k", mew=0.5,
                label=f"{name} (test)")
    for name, (err, dens) in (paper or {}).items():
        if name in colors:
            ax.plot([dens], [err], "o", ms=9, mfc="none", mew=1.5, color=colors[name],
                    label=f"{name} (paper)")
    markers = iter("sD^vP")
    for name, (err, dens) in (published or {}).items():
        ax.plot([dens], [err], next(markers, "x"), color="k", ms=7, label=name)
    if logx:
        ax.set_xscale("log")
        # ticks at 1, 2, 5 x 10^k labelled as plain numbers (matplotlib's own minor labels
        # overlap when the densities span about a decade)
        lo, hi = ax.get_xlim()
        ax.set_xticks([m * 10.0**k for k in range(-8, 1) for m in (1, 2, 5)
                       if lo <= m * 10.0**k <= hi])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(lo, hi)
    errors = np.concatenate([_curve_columns(c)[1] for c in curves.values()]
                            ) if curves else np.array([1.0])
    finite = errors[np.isfinite(errors)]
    if finite.size:
        ax.set_ylim(0, min(float(np.max(finite)) * 1.05, max(4 * float(np.median(finite)), 5)))
    ax.set_xlabel("fraction of nonzero weights")
    ax.set_ylabel("error (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax

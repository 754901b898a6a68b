"""Training curves of the deep sparsifiers: error against density (Figure 2 of the paper)."""

from __future__ import annotations

import itertools
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
                  extra: Mapping[str, tuple[float, float, str]] | None = None,
                  logx: bool = True, final_label: str = "this library (test)",
                  paper_label: str = "paper (test)") -> Any:
    """Error against fraction of nonzero weights over training, one line per method
    (the paper's Figure 2), with final results as markers.

    The colour says the method, the marker the source of a point: a star for ``final``, a
    hollow circle for ``paper``, black markers for ``published`` and a filled marker in
    the method's colour for each ``extra`` run. The legend lists each method once, then
    each source. A curve identical to an earlier one is drawn dashed on top of it and
    labelled so; a point on top of an earlier point of the same kind is drawn smaller, so
    both stay visible. Both axes are logarithmic (``logx``): the first epochs' errors stay
    inside the axes without squeezing the final ones.

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
    extra : mapping of label -> (error %, density, method), optional
        Further runs (other settings of a method), each drawn as its own filled marker in
        the colour of ``method`` and listed by ``label``.
    logx : bool, default=True
        Logarithmic density and error axes.
    final_label, paper_label : str
        Legend entries of the ``final`` and ``paper`` markers.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from skdropout.plotting import plot_training
    >>> curve = {"density": [1.0, 0.3, 0.1], "valid_error": [5.0, 3.0, 2.5]}
    >>> ax = plot_training({"logsum": curve}, final={"logsum": (2.4, 0.1)})
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['logsum', 'this library (test)']
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 4.6))
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colors, handles, drawn = {}, [], []
    errors = [np.array([], dtype=float)]
    for i, (name, curve) in enumerate(curves.items()):
        density, error = _curve_columns(curve)
        colors[name] = palette[i % len(palette)]
        twin = next((other for other, (d, e) in drawn
                     if d.shape == density.shape and np.allclose(d, density, equal_nan=True)
                     and np.allclose(e, error, equal_nan=True)), None)
        style = dict(ls="-", lw=1.4) if twin is None else dict(ls=(0, (3, 3)), lw=1.6, zorder=3)
        (line,) = ax.plot(density, error, color=colors[name], **style)
        ax.plot(density[-1:], error[-1:], "o", color=colors[name], ms=4)
        handles.append(Line2D([], [], color=colors[name], **style, label=name if twin is None
                              else f"{name} (same curve as {twin})"))
        drawn.append((name, (density, error)))
        errors.append(error)
    grey = "0.35"
    layers = [(final, dict(marker="*", ms=12, mec="k", mew=0.5), final_label, True),
              (paper, dict(marker="o", ms=10, mfc="none", mew=1.6), paper_label, False)]
    for points, style, label, filled in layers:
        seen: list[tuple[float, float]] = []
        for name, (err, dens) in (points or {}).items():
            if name not in colors:
                continue
            repeat = any(np.isclose(err, e) and np.isclose(dens, d) for e, d in seen)
            kw = {**style, "ms": style["ms"] * (0.55 if repeat else 1.0), "zorder": 4 + repeat}
            ax.plot([dens], [err], ls="none", color=colors[name], **kw)
            seen.append((err, dens))
            errors.append(np.array([err]))
        if seen:
            handles.append(Line2D([], [], ls="none", color=grey, label=label,
                                  **{**style, "mfc": grey if filled else "none"}))
    # every extra point is drawn: markers repeat (in other colours, other labels) past 12
    for (label, (err, dens, method)), marker in zip((extra or {}).items(),
                                                    itertools.cycle("PXDphv^<>8dH")):
        ax.plot([dens], [err], marker, ms=9, color=colors.get(method, "k"), mec="k", mew=0.6,
                zorder=5)
        handles.append(Line2D([], [], ls="none", marker=marker, ms=9, mec="k", mew=0.6,
                              color=colors.get(method, "k"), label=label))
        errors.append(np.array([err]))
    for (name, (err, dens)), marker in zip((published or {}).items(), "sD^vP"):
        ax.plot([dens], [err], marker, color="k", ms=7)
        handles.append(Line2D([], [], ls="none", marker=marker, color="k", ms=7, label=name))
        errors.append(np.array([err]))
    every = np.concatenate(errors)
    finite = every[np.isfinite(every) & (every > 0)]
    if logx:
        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        _plain_log_ticks(ax.xaxis, lo, hi)
        ax.set_xlim(lo, hi)
        if finite.size:
            ax.set_yscale("log")
            lo, hi = float(finite.min()) / 1.15, float(finite.max()) * 1.15
            _plain_log_ticks(ax.yaxis, lo, hi, (1, 1.5, 2, 3, 5, 7))
            ax.set_ylim(lo, hi)
    elif finite.size:
        ax.set_ylim(0, float(finite.max()) * 1.05)
    ax.set_xlabel("fraction of nonzero weights")
    ax.set_ylabel("error (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def _plain_log_ticks(axis: Any, lo: float, hi: float,
                     mantissas: tuple[int, ...] = (1, 2, 5)) -> None:
    """Ticks at ``m x 10^k`` (m in ``mantissas``) within [lo, hi], labelled as plain numbers
    (matplotlib's own minor labels overlap when the data span about a decade)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_ticks([m * 10.0**k for k in range(-8, 4) for m in mantissas
                    if lo <= m * 10.0**k <= hi])
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())

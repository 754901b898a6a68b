"""Figure 1 of the paper: effective penalties of adaptive dropout next to classical ones."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..penalties import Penalty, get_penalty

#: The curves of the paper's Figure 1: (label, penalty, lam); lam * Omega is plotted.
FIGURE1_PENALTIES: tuple[tuple[str, str, dict[str, float], float], ...] = (
    ("LogSum($\\varepsilon=2$), $\\lambda=2$", "logsum", {"eps": 2.0}, 2.0),
    ("MCP($a=1/2$, $\\lambda=\\sqrt{2}$)", "mcp", {"a": 0.5, "lam": math.sqrt(2)},
     math.sqrt(2)),
    ("VarDrop", "vardrop", {"lam": 1.0}, 1.0),
    ("HardConcrete", "hardconcrete", {"lam": 1.0}, 1.0),
    ("Standout (of $(z)_+$)", "standout", {"lam": 1.0}, 1.0),
    ("$\\ell_1$", "l1", {}, 1.0),
    ("$\\ell_0$", "l0", {}, 1.0),
)


def _import_pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Plotting needs matplotlib: pip install 'skdropout[plot]'.") from exc
    return plt


def _curves(penalties: Sequence[tuple[str, Penalty | str, float]] | None
            ) -> list[tuple[str, Penalty, float]]:
    if penalties is None:
        return [(label, get_penalty(name, **params), lam)
                for label, name, params, lam in FIGURE1_PENALTIES]
    return [(label, get_penalty(pen), float(lam)) for label, pen, lam in penalties]


def plot_penalties(penalties: Sequence[tuple[str, Penalty | str, float]] | None = None, *,
                   w_max: float = 3.0, num: int = 601, ax: Any = None) -> Any:
    """Figure 1, left: lam * Omega(w) of separable penalties against |w|.

    Parameters
    ----------
    penalties : sequence of (label, penalty, lam), optional
        Curves to draw; by default the paper's settings (LogSum(eps=2) at lam = 2,
        MCP(a=1/2) at lam = sqrt 2, VarDrop, HardConcrete, Standout at lam = 1, with l1
        and l0 for reference). Penalties are normalised, Omega(0) = 0. The axes start a
        little left of and below 0, so that l0's jump at 0 is not hidden by the axes.
    w_max : float
        Right end of the |w| axis.
    num : int
        Points per curve.
    ax : matplotlib Axes, optional
        Where to draw; a new figure's Axes when None.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skdropout.plotting import plot_penalties
    >>> ax = plot_penalties()
    >>> len(ax.get_legend().get_texts())
    7
    """
    plt = _import_pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    w = np.linspace(0.0, w_max, num)
    for label, pen, lam in _curves(penalties):
        if not pen.separable:
            continue
        style = "--" if pen.name in ("l1", "l0") else "-"
        (line,) = ax.plot(w, lam * pen.pointwise(w), style, label=label)
        if pen.name == "l0":               # Omega(0) = 0, then 1: mark the value at 0
            ax.plot([0.0], [0.0], "o", color=line.get_color(), markersize=4)
    ax.set_xlabel("$|w|$")
    ax.set_ylabel("$\\lambda\\,\\Omega(w)$")
    ax.set_ylim(-0.08, 2.5)
    ax.set_xlim(-0.03 * w_max, w_max)
    ax.legend(fontsize=8)
    return ax


def ksparse_values(pen: Penalty, d: int = 32) -> np.ndarray:
    """Omega of the unit-norm k-sparse vectors w_j = 1{j <= k}/sqrt(k), k = 0..d."""
    out = np.empty(d + 1)
    for k in range(d + 1):
        w = np.zeros(d)
        if k:
            w[:k] = 1.0 / math.sqrt(k)
        out[k] = pen.value(w)
    return out


def plot_ksparse(penalties: Sequence[tuple[str, Penalty | str, float]] | None = None, *,
                 d: int = 32, hardthresh_k: int = 16, ax: Any = None) -> Any:
    """Figure 1, right: lam * Omega of a unit-norm k-sparse w in dimension d, k = 0..d.

    Parameters
    ----------
    penalties : sequence of (label, penalty, lam), optional
        As in :func:`plot_penalties`; non-separable penalties are drawn too.
    d : int
        Dimension (the paper uses 32).
    hardthresh_k : int
        HARDTHRESH(k) is added with this k: 0 up to k nonzeros, drawn as a thick line on
        the axis up to k with an arrow at k to mark +inf beyond.
    ax : matplotlib Axes, optional
        Where to draw; a new figure's Axes when None.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skdropout.plotting._penalties import plot_ksparse
    >>> ax = plot_ksparse(d=8, hardthresh_k=4)
    >>> ax.get_xlabel()
    'number of nonzeros $k$'
    """
    plt = _import_pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    k = np.arange(d + 1)
    top = 0.0
    for label, pen, lam in _curves(penalties):
        vals = lam * ksparse_values(pen, d)
        top = max(top, float(np.max(vals[np.isfinite(vals)])))
        style = "--" if pen.name in ("l1", "l0") else "-"
        ax.plot(k, np.where(np.isfinite(vals), vals, np.nan), style, marker=".", label=label)
    ymax = min(top * 1.05, 12.0)
    # HardThresh(k) is 0 up to k nonzeros and +inf beyond: a thick line along the axis,
    # on top of the others, and an arrow up at k.
    thresh = ksparse_values(get_penalty("hardthresh", k=hardthresh_k), d)
    kept = np.isfinite(thresh)
    (line,) = ax.plot(k[kept], thresh[kept], color="k", linewidth=3, solid_capstyle="butt",
                      zorder=5, label=f"HardThresh($k={hardthresh_k}$): 0, then $+\\infty$")
    ax.annotate("", xy=(hardthresh_k, 0.95 * ymax), xytext=(hardthresh_k, 0.0),
                arrowprops={"arrowstyle": "->", "color": line.get_color(), "linewidth": 2},
                zorder=5)
    ax.set_xlabel("number of nonzeros $k$")
    ax.set_ylabel("$\\lambda\\,\\Omega(w)$, $\\|w\\|_2 = 1$")
    ax.set_ylim(-0.03 * ymax, ymax)
    ax.set_xlim(-0.5, d + 0.5)
    ax.legend(fontsize=8)
    return ax


def figure1(out_dir: str | Path = ".", *, filename: str = "figure1.png", dpi: int = 150) -> Path:
    """Draw both panels of the paper's Figure 1 with its settings and save them as one PNG.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created if needed).
    filename : str
        Name of the PNG file in ``out_dir``.
    dpi : int
        Resolution of the PNG file.

    Returns
    -------
    Path
        The PNG written.

    Examples
    --------
    >>> import matplotlib, tempfile
    >>> matplotlib.use("Agg")
    >>> from skdropout.plotting import figure1
    >>> figure1(tempfile.mkdtemp()).name
    'figure1.png'
    """
    plt = _import_pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    plot_penalties(ax=left)
    plot_ksparse(ax=right)
    left.set_title("Separable penalties")
    right.set_title("Unit-norm $k$-sparse $w$, $d = 32$")
    fig.tight_layout()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / filename
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path

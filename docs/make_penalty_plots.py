"""Draw the small per-penalty plots of the penalty table (docs/_static/penalties/*.png).

Every curve is computed by the library's own penalty objects (``get_penalty``): Omega from
``value``/``pointwise``, f from ``dual_pointwise`` and the keep probability from
``keep_prob`` (eq. 8). Run from the repository root::

    MPLBACKEND=Agg .venv/bin/python docs/make_penalty_plots.py

and commit the PNGs it writes. It takes a few seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from skdropout.penalties import Penalty, get_penalty  # noqa: E402

OUT = Path(__file__).resolve().parent / "_static" / "penalties"
LAM = 1.0                     # lambda of the keep-probability panel (and of lam-shaped ones)

# (file stem, registry name, parameters, label): the settings each plot is drawn with.
SEPARABLE = [
    ("l1", "l1", {}, r"$\ell_1$"),
    ("lpp", "lpp", {"p": 0.5}, r"$\ell_p^p$, $p=1/2$"),
    ("l0", "l0", {}, r"$\ell_0$"),
    ("elasticnet", "elasticnet", {"theta": 0.5}, r"ElasticNet($\theta=1/2$)"),
    ("huber", "huber", {"eps": 1.0}, r"Huber($\varepsilon=1$)"),
    ("logsum", "logsum", {"eps": 2.0}, r"LogSum($\varepsilon=2$)"),
    ("scad", "scad", {"a": 3.7, "lam": LAM}, r"SCAD($a=3.7,\lambda=1$)"),
    ("mcp", "mcp", {"a": 2.0, "lam": LAM}, r"MCP($a=2,\lambda=1$)"),
    ("vardrop", "vardrop", {"lam": LAM}, r"VarDrop($\lambda=1$)"),
    ("hardconcrete", "hardconcrete", {"lam": LAM}, r"HardConcrete($\lambda=1$)"),
    ("standout", "standout", {"lam": LAM},
     r"Standout($\lambda=1$) of a pre-activation $z$: it penalises $(z)_+$"),
    ("bernoulli_l0", "bernoulli_l0", {"lam": LAM}, r"Bernoulli $\ell_0$ ($\lambda=1$)"),
]


def _style(ax: plt.Axes, title: str, xlabel: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def plot_separable(pen: Penalty, label: str) -> plt.Figure:
    """Omega(w), f(eta) and the keep probability alpha(w) at lam = 1, side by side."""
    w = np.linspace(-4.0, 4.0, 801)
    eta = np.linspace(0.0, 6.0, 601)
    arg = "w" if pen.symmetric else "z"        # standout's argument is a pre-activation
    fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.0), constrained_layout=True)
    axes[0].plot(w, pen.pointwise(w), color="C0")
    _style(axes[0], rf"$\Omega({arg})$", f"${arg}$")
    with np.errstate(all="ignore"):
        f = pen.dual_pointwise(eta)
    axes[1].plot(eta, np.where(np.isfinite(f), f, np.nan), color="C1")
    _style(axes[1], r"$f(\eta)$", r"$\eta$")
    axes[2].plot(w, pen.keep_prob(w, LAM), color="C2")
    axes[2].set_ylim(-0.05, 1.05)
    _style(axes[2], r"keep prob. $\hat\eta/(\hat\eta+\lambda)$, $\lambda=1$", f"${arg}$")
    fig.suptitle(label, fontsize=10)
    return fig


def plot_lp(p: float = 1.5) -> plt.Figure:
    """The non-separable norm ||w||_p on the line w = (t, 1), and eta_hat along it."""
    pen = get_penalty("lp", p=p)
    t = np.linspace(-3.0, 3.0, 601)
    ws = np.stack([t, np.ones_like(t)], axis=1)
    omega = np.array([pen.value(v) for v in ws])
    eta = np.array([pen.eta_hat(v) for v in ws])
    fig, axes = plt.subplots(1, 2, figsize=(4.8, 2.0), constrained_layout=True)
    axes[0].plot(t, omega, color="C0")
    _style(axes[0], r"$\Omega(t, 1) = \|(t,1)\|_p$", "$t$")
    axes[1].plot(t, eta[:, 0], label=r"$\hat\eta_1$", color="C2")
    axes[1].plot(t, eta[:, 1], label=r"$\hat\eta_2$", color="C3")
    axes[1].legend(fontsize=7)
    _style(axes[1], r"$\hat\eta(t, 1)$", "$t$")
    fig.suptitle(rf"$\ell_p$ norm, $p={p:g}$ (not separable)", fontsize=10)
    return fig


def plot_hardthresh(k: int = 3) -> plt.Figure:
    """HARDTHRESH(k) keeps the k largest magnitudes (eta_hat = inf), prunes the rest."""
    pen = get_penalty("hardthresh", k=k)
    w = np.array([0.3, -1.2, 0.05, 2.0, -0.4, 0.9, -0.1, 1.5, 0.6, -0.7])
    kept = np.isinf(pen.eta_hat(w))
    fig, ax = plt.subplots(figsize=(3.6, 2.0), constrained_layout=True)
    ax.bar(np.arange(w.size), w, color=np.where(kept, "C0", "0.75"))
    ax.axhline(0, color="k", lw=0.5)
    _style(ax, rf"HardThresh($k={k}$): kept (blue) = TOP-$k$", "index $j$")
    return fig


def main(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    figures = [(stem, lambda n=name, p=params, lab=label: plot_separable(get_penalty(n, **p),
                                                                          lab))
               for stem, name, params, label in SEPARABLE]
    figures += [("lp", plot_lp), ("hardthresh", plot_hardthresh)]
    for stem, make in figures:
        fig = make()
        path = out / f"{stem}.png"
        fig.savefig(path, dpi=100, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs")
    for path in main(parser.parse_args().out):
        print(path)

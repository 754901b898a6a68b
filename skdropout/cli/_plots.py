"""``skdropout figure1`` and the figures the demo writes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "figure1", help="draw the paper's Figure 1 (penalties, k-sparse vectors)",
        description="Draw both panels of the paper's Figure 1 with its settings: separable "
                    "effective penalties against |w|, and a unit-norm k-sparse w in d = 32.")
    p.add_argument("--out", default=".", metavar="DIR", help="output folder (default .)")
    p.set_defaults(handler=run_figure1)


def run_figure1(args: argparse.Namespace) -> int:
    from ..plotting import figure1

    print(f"wrote {figure1(args.out)}")
    return 0


def plot_coefficients(names: list[str], coefs: dict[str, np.ndarray], title: str,
                      path: Path) -> Path:
    """Grouped bars of several coefficient vectors over the same features, saved as PNG."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / len(coefs)
    x = np.arange(len(names))
    for k, (label, coef) in enumerate(coefs.items()):
        ax.bar(x + (k - (len(coefs) - 1) / 2) * width, coef, width, label=label)
    ax.axhline(0.0, color="k", linewidth=0.6)
    ax.set_xticks(x, names)
    ax.set_ylabel("coefficient (standardised features)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

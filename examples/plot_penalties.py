"""The eta-trick, checked by hand, and the effective penalty of your own dropout rule.

1. For a few penalties of the paper (Tables 2 and 3), minimise eq. (5),
   (w^2 / eta + f(eta)) / 2, over eta numerically (scipy) and compare with the library's
   closed-form or tabulated Omega(w) and its reweighting map eta_hat(w) (eq. 7).
2. Take an adaptive dropout rule that keeps a weight with probability
   sigma(4 |w| - 2) and get its effective penalty by Corollary 2
   (``skdropout.penalties.from_keep_prob``); check it against a direct quadrature.
3. Draw it next to the penalties of Figure 1 (``skdropout.plotting.plot_penalties``).

Run:  python examples/plot_penalties.py [--out DIR]      (a few seconds on one CPU)
"""

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.integrate import quad  # noqa: E402
from scipy.optimize import minimize_scalar  # noqa: E402
from scipy.special import expit  # noqa: E402

from skdropout.penalties import from_keep_prob, get_penalty  # noqa: E402
from skdropout.plotting import plot_penalties  # noqa: E402


def eta_trick_by_hand(pen, w):
    """min over eta of (w^2/eta + f(eta))/2 by a bounded search in log(eta)."""
    def objective(log_eta):
        eta = math.exp(log_eta)
        return 0.5 * (w * w / eta + pen.dual_pointwise(np.array([eta]))[0])

    res = minimize_scalar(objective, bounds=(-25.0, 25.0), method="bounded",
                          options={"xatol": 1e-10})
    return res.fun, math.exp(res.x)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    print("1. Eq. (5) by numerical minimisation against the library")
    print(f"{'penalty':<28}{'w':>6}{'Omega (lib)':>14}{'min_eta (5)':>14}"
          f"{'eta_hat (lib)':>15}{'argmin':>12}")
    for pen in (get_penalty("logsum", eps=2.0), get_penalty("mcp", a=2.0, lam=1.0),
                get_penalty("vardrop", lam=1.0), get_penalty("hardconcrete", lam=1.0)):
        for w in (0.3, 1.0):
            omega = pen.value([w]) + pen.omega0     # eq. (5) holds before normalisation
            best, eta = eta_trick_by_hand(pen, w)
            eta_lib = float(pen.eta_hat([w])[0])
            print(f"{pen.name:<28}{w:>6.2f}{omega:>14.6f}{best:>14.6f}{eta_lib:>15.5g}{eta:>12.5g}")
            assert abs(omega - best) < 1e-4 * max(1.0, abs(best)), (pen, w)

    print("\n2. The effective penalty of the dropout rule keep_prob(w) = sigmoid(4|w| - 2)")
    rule = from_keep_prob(lambda t: expit(4.0 * t - 2.0), lam=1.0, w_range=(1e-6, 5.0),
                          name="sigmoid gate")
    # Corollary 2 by hand: eta_hat = lam * alpha / (1 - alpha) = exp(4 t - 2), and
    # Omega(w) = int_0^|w| t / eta_hat(t) dt.
    for w in (0.25, 0.5, 1.0, 2.0, 4.0):
        by_quad = quad(lambda t: t * math.exp(-(4.0 * t - 2.0)), 0.0, w)[0]
        print(f"   Omega({w:4.2f}) = {rule.value([w]):.6f}   (quadrature: {by_quad:.6f})")
        assert abs(rule.value([w]) - by_quad) < 1e-6
    print("   It is quadratic near 0 (every weight is kept with probability >= sigma(-2) = "
          f"{expit(-2.0):.3f}) and saturates at {rule.value([50.0]):.4f}: a Huber-like start "
          "and an MCP-like end.")

    print("\n3. Figure: the rule next to the penalties of Figure 1")
    ax = plot_penalties()
    w = np.linspace(0.0, 3.0, 301)
    ax.plot(w, rule.pointwise(w), "k:", lw=2, label="sigmoid(4|w|-2) rule")
    ax.legend(fontsize=7)
    path = out / "plot_penalties.png"
    ax.figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(ax.figure)
    print(f"   wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("skdropout-output") / "examples",
                        help="folder for the figure (default: %(default)s)")
    main(parser.parse_args().out)

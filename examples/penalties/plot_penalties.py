"""
The eta-trick by hand, and the penalty of your own dropout rule
===============================================================

Every penalty of the paper is the minimum over eta of eq. (5),
``(w^2 / eta + f(eta)) / 2``. This example checks that by numerical minimisation for a few
penalties of Tables 2 and 3, then takes an adaptive dropout rule that is not in the paper,
gets its effective penalty by Corollary 2 (:func:`skdropout.penalties.from_keep_prob`),
and draws it next to the penalties of the paper's Figure 1
(:func:`skdropout.plotting.plot_penalties`).
"""

# %%
# Eq. (5) by numerical minimisation
# ---------------------------------
# For fixed ``w``, minimise ``(w^2 / eta + f(eta)) / 2`` over ``log(eta)`` with scipy and
# compare the minimum with the library's Omega(w) and the minimiser with its closed-form
# reweighting map ``eta_hat(w)`` (eq. 7). Penalties are stored normalised
# (``Omega(0) = 0``); eq. (5) holds before that, hence the ``omega0``.
import math

import matplotlib.pyplot as plt
import numpy as np
from scipy.integrate import quad
from scipy.optimize import minimize_scalar
from scipy.special import expit

from skdropout.penalties import from_keep_prob, get_penalty
from skdropout.plotting import plot_penalties


def eta_trick_by_hand(pen, w):
    """min over eta of (w^2/eta + f(eta))/2 by a bounded search in log(eta)."""
    def objective(log_eta):
        eta = math.exp(log_eta)
        return 0.5 * (w * w / eta + pen.dual_pointwise(np.array([eta]))[0])

    res = minimize_scalar(objective, bounds=(-25.0, 25.0), method="bounded",
                          options={"xatol": 1e-10})
    return res.fun, math.exp(res.x)


print(f"{'penalty':<14}{'w':>6}{'Omega (lib)':>14}{'min of (5)':>14}"
      f"{'eta_hat (lib)':>15}{'argmin':>12}")
for pen in (get_penalty("logsum", eps=2.0), get_penalty("mcp", a=2.0, lam=1.0),
            get_penalty("vardrop", lam=1.0), get_penalty("hardconcrete", lam=1.0)):
    for w in (0.3, 1.0):
        omega = pen.value([w]) + pen.omega0
        best, eta = eta_trick_by_hand(pen, w)
        eta_lib = float(pen.eta_hat([w])[0])
        print(f"{pen.name:<14}{w:>6.2f}{omega:>14.6f}{best:>14.6f}{eta_lib:>15.5g}{eta:>12.5g}")
        assert abs(omega - best) < 1e-4 * max(1.0, abs(best)), (pen, w)

# %%
# The effective penalty of a new dropout rule
# -------------------------------------------
# Keep each weight with probability ``sigmoid(4 |w| - 2)``. By eq. (8) its reweighting map
# is ``eta_hat = lam alpha / (1 - alpha) = lam exp(4 |w| - 2)``, and by Corollary 2
# ``Omega(w) = int_0^|w| t / eta_hat(t) dt``. The library does the integral; here it is
# checked against scipy's quadrature.
rule = from_keep_prob(lambda t: expit(4.0 * t - 2.0), lam=1.0, w_range=(1e-6, 5.0),
                      name="sigmoid gate")
for w in (0.25, 0.5, 1.0, 2.0, 4.0):
    by_quad = quad(lambda t: t * math.exp(-(4.0 * t - 2.0)), 0.0, w)[0]
    print(f"Omega({w:4.2f}) = {rule.value([w]):.6f}   (quadrature: {by_quad:.6f})")
    assert abs(rule.value([w]) - by_quad) < 1e-6

# %%
# It is quadratic near 0 (every weight is kept with probability at least
# ``sigmoid(-2) = 0.12``, so small weights are shrunk, not zeroed) and saturates: a
# Huber-like start and an MCP-like end.
print(f"saturates at Omega = {rule.value([50.0]):.4f}")

# %%
# Next to the penalties of Figure 1
# ---------------------------------
ax = plot_penalties()
w = np.linspace(0.0, 3.0, 301)
ax.plot(w, rule.pointwise(w), "k:", lw=2, label="sigmoid(4|w|-2) rule")
ax.legend(fontsize=7)
ax.set_title("Effective penalties, $\\lambda = 1$ unless stated")
plt.show()

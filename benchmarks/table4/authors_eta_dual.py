"""The eta-trick of Table 4 with the dual f of LogSum as the authors' code writes it.

    SKDROPOUT_DATA=../shared/data python benchmarks/table4/authors_eta_dual.py \
        --epochs 200 --out OUT --set method__log_eta_decay=5e-4 eta_trick

(the arguments of ``run.py``). An experiment, not a setting this library offers: the
authors' ``LogSumDualPenalty`` computes ``2 (log((s + eps)/2) - (s - eps)^2 / (4 eta))``
with ``s = sqrt(eps^2 + 4 eta)``, twice the second term of the paper's Table 1
(``2 log((s + eps)/2) - (s - eps)^2 / (4 eta)``). With a = eta_hat^{-1}(eta) = (s - eps)/2
the paper's f is ``2 Omega(a) - a^2/eta`` and the code's ``f_code = 2 Omega(a) - 2 a^2/eta``
(up to a constant). Minimised over eta, ``w^2/eta + f_code(eta)`` is not log-sum: near 0
f_code(eta) ~ eta^2 / (4 eps^2) instead of eta / (2 eps), so the effective penalty grows
like |w|^(4/3) instead of |w| (no kink at 0); only the small ``log eta_bar`` term prunes.

This script replaces the eta-trick's dual terms (``skdropout.nn._penalty._dual_terms``) by
those of f_code for this process only, checks the replacement against f_code written out
(value differences and gradients by autograd, float64), runs ``run.py`` with the given
arguments, and records ``"eta_dual": "authors_code"`` in the method's JSON.
"""

import torch

import skdropout.nn._penalty as penalty_module
from skdropout.nn._penalty import eta_trick_objective
from skdropout.penalties import get_penalty
from skdropout.penalties._xp import namespace

_paper_dual_terms = penalty_module._dual_terms


def authors_dual_terms(penalty, eta, a0, scale=1.0, offset=0.0):
    """``a``, ``scale eta f_code'(eta) + offset`` and the ``omega_sum`` with which
    ``_eta_trick`` computes ``lam/2 (w^2/eta + f_code(eta))`` and its gradients.

    ``_eta_trick`` forms ``lam omega_sum - lam/2 sum (g - w^2/eta)`` and the log eta_bar
    slope ``lam/2 (g - w^2/eta)``; with ``f_code = f - a^2/eta``, ``f'(eta) = a^2/eta^2``
    and ``a'(eta) = 1/eta_hat'(a) = 1/(2a + eps)``: ``g = eta f_code' = 2 a^2/eta - 2 a a'``
    and ``omega_sum = sum Omega(a) - sum a a'``.
    """
    a = penalty._eta_hat_inverse(namespace(eta), eta.detach().clone())  # before eta's reuse
    _, a2_over_eta, omega_sum = _paper_dual_terms(penalty, eta, a0)
    a_slope = a / (2 * a + penalty.eps)  # a a'(eta)
    return a, scale * (2 * a2_over_eta - 2 * a_slope) + offset, omega_sum - a_slope.sum()


def _f_code(eta, eps):
    s = torch.sqrt(eps ** 2 + 4 * eta)
    return 2 * torch.sum(torch.log((s + eps) / 2) - (s - eps) ** 2 / (4 * eta))


def check(lam=1e-3, decay=5e-4, eps=2.0):
    """The replaced objective against ``lam/2 (sum w^2/eta + f_code(eta)) + lam decay sum
    log eta_bar`` written out, by autograd; raises AssertionError on a mismatch."""
    pen = get_penalty("logsum", eps=eps)
    gen = torch.Generator().manual_seed(0)
    w = (0.3 * torch.randn(200, generator=gen, dtype=torch.float64)).requires_grad_()
    lev = (6 * torch.rand(200, generator=gen, dtype=torch.float64) - 4).requires_grad_()
    points = []
    for shift in (0.0, 0.7):
        w_s = (w + shift).detach().requires_grad_()
        ours = eta_trick_objective(w_s, lev, pen, lam, decay)[0]
        g_ours = torch.autograd.grad(ours, (w_s, lev))
        eta = lam * torch.exp(lev)
        ref = lam / 2 * (torch.sum(w_s ** 2 / eta) + _f_code(eta, eps)) + lam * decay * lev.sum()
        g_ref = torch.autograd.grad(ref, (w_s, lev))
        for a, b in zip(g_ours, g_ref):
            assert torch.allclose(a, b, rtol=1e-9, atol=1e-15), (a - b).abs().max()
        points.append((float(ours.detach()), float(ref.detach())))
    # the values agree up to a constant
    assert abs((points[1][0] - points[0][0]) - (points[1][1] - points[0][1])) < 1e-12


if __name__ == "__main__":
    from patched_run import run_and_mark  # this folder's helper, on the path of a script

    penalty_module._dual_terms = authors_dual_terms
    check()
    run_and_mark("eta_trick", "eta_dual", "authors_code")

"""VarDrop+LR of Table 4 with the clipping of the authors' code.

    SKDROPOUT_DATA=../shared/data python benchmarks/table4/authors_vardrop_lr.py \
        --epochs 200 --out OUT vardrop_lr

(the arguments of ``run.py``). An experiment, not a setting this library offers. This library
clips log alpha to [-10, 10] (Molchanov et al.'s rule) in both the weight variance and the KL
term, so both derivatives in log alpha vanish outside that range. The authors' local
reparameterisation layer (their ``LinearSVDO``) clips elsewhere:

- the variance is ``exp(2 log sigma)`` with ``log sigma = log alpha / 2 + log(1e-16 + |w|)``
  clipped to [-10, 10]: alpha itself is not clipped, sigma is;
- the KL term uses the unclipped log alpha, so its gradient acts at every log alpha.

This script replaces the variance and KL of the ``'lr'`` mode
(``skdropout.nn._vardrop._variance_and_kl``, the additive mode untouched) by those rules for
this process only, checks the replacement against them written out (values and gradients by
autograd, float64), runs ``run.py`` with the given arguments, and records
``"vardrop_clipping": "authors_code"`` in the method's JSON. Pruning is unchanged: a weight is
pruned at log alpha > log 19, inside the clipping range, where both rules agree.
"""

import torch

import skdropout.nn._vardrop as vardrop_module
from skdropout.nn._vardrop import K1, K2, K3, LOG_ALPHA_MAX, LOG_ALPHA_MIN, _kl_and_slope

_library_variance_and_kl = vardrop_module._variance_and_kl
_TINY = 1e-16


def authors_variance_and_kl(first, w, scale, additive):
    """``(var, kl, d var/d log alpha, d KL/d log alpha, d var/d w)`` as
    ``_variance_and_kl`` returns them, with the authors' clipping in the ``'lr'`` mode
    (``first`` is log alpha): ``var = exp(2 clip(log alpha / 2 + log(1e-16 + |w|)))``,
    whose derivatives are ``var`` in log alpha and ``2 var sign(w) / (1e-16 + |w|)`` in w
    where log sigma is not clipped (0 where it is), and the KL of the unclipped log alpha."""
    if additive:
        return _library_variance_and_kl(first, w, scale, additive)
    abs_w = w.abs().add_(_TINY)
    log_sigma = torch.log(abs_w).add_(first, alpha=0.5)
    inside = (log_sigma >= LOG_ALPHA_MIN) & (log_sigma <= LOG_ALPHA_MAX)
    var = torch.exp(2.0 * log_sigma.clamp(LOG_ALPHA_MIN, LOG_ALPHA_MAX))
    zero = torch.zeros((), dtype=w.dtype, device=w.device)
    d_first = torch.where(inside, var, zero)
    d_w = torch.where(inside, 2.0 * var * torch.sign(w) / abs_w, zero)
    kl, d_kl = _kl_and_slope(first, torch.exp(first), None, scale)
    return var, kl, d_first, d_kl, d_w


def _authors_terms(log_alpha, w, scale):
    """The authors' variance and ``scale`` times their KL term, as their layer writes them
    (their KL omits the constant k1 per weight)."""
    log_sigma = torch.clamp(log_alpha / 2.0 + torch.log(1e-16 + torch.abs(w)), -10, 10)
    kl = K1 * torch.sigmoid(K2 + K3 * log_alpha) - 0.5 * torch.log1p(torch.exp(-log_alpha))
    return torch.exp(log_sigma * 2.0), -scale * torch.sum(kl)


def check(scale=1 / 60000):
    """The replacement against :func:`_authors_terms` by autograd, float64, with log alpha
    and log sigma on both sides of the clipping bounds; raises AssertionError on a
    mismatch."""
    gen = torch.Generator().manual_seed(0)
    w = 0.05 * torch.randn(400, generator=gen, dtype=torch.float64)
    w[:40] = 1e-7  # log sigma below -10 for the smaller log alphas
    la = 30 * torch.rand(400, generator=gen, dtype=torch.float64) - 15  # beyond [-10, 10]
    probe = torch.randn(400, generator=gen, dtype=torch.float64)
    w.requires_grad_()
    la.requires_grad_()
    var_ref, kl_ref = _authors_terms(la, w, scale)
    g_ref = torch.autograd.grad(torch.sum(probe * var_ref) + kl_ref, (la, w))
    var, kl, d_first, d_kl, d_w = authors_variance_and_kl(la.detach(), w.detach(), scale,
                                                         False)
    assert torch.allclose(var, var_ref.detach(), rtol=1e-12, atol=0.0)
    kl_ref = float(kl_ref.detach())
    assert abs(float(kl) - kl_ref - scale * K1 * la.numel()) < 1e-12 * max(1.0, abs(kl_ref))
    assert torch.allclose(probe * d_first + d_kl, g_ref[0], rtol=1e-9, atol=1e-15)
    assert torch.allclose(probe * d_w, g_ref[1], rtol=1e-9, atol=1e-15)
    # the check covers both branches of both clippings
    log_sigma = la.detach() / 2 + torch.log(1e-16 + w.detach().abs())
    assert bool((log_sigma < -10).any() and (la.detach() > 10).any() and (la.detach() < -10).any())


if __name__ == "__main__":
    from patched_run import run_and_mark  # this folder's helper, on the path of a script

    check()
    vardrop_module._variance_and_kl = authors_variance_and_kl
    run_and_mark("vardrop_lr", "vardrop_clipping", "authors_code")

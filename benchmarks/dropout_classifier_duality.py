"""How close adaptive dropout on the log-loss lands to the eta-trick: AdaptiveDropoutClassifier
against IRLSClassifier at the same lam, on real and synthetic data.

For every problem and penalty both estimators are fitted with default settings (dropout:
``random_state=0``) at ``lam = lam_max / 20``, ``lam_max = max_j |X_j'(y - ybar)| / n`` (the
l1 lam_max; the same lam for every penalty). Columns:

* ``t_irls``, ``t_drop``: wall time of one fit (seconds, one BLAS thread);
* ``rel_obj``: ``(F_drop - F_irls) / F_irls``, F the objective both report as ``objective_``
  (the mean log-loss plus ``lam * Omega``);
* ``supp``: the numbers of nonzero coefficients (dropout / IRLS) and of coefficients that are
  zero in one fit and not in the other;
* ``rel_coef``: ``||W_drop - W_irls|| / ||W_irls||``;
* ``agree``: fraction of the training samples both predict the same class for;
* ``kkt``, ``epochs``: the dropout fit's scaled KKT residual and epochs.

Problems (every penalty on each, except elasticnet on text, see ``SKIP``):

* breast_cancer: scikit-learn's ``load_breast_cancer``, 569 x 30, standardised;
* wide: ``make_classification(500, 2000, n_informative=20, random_state=0)``, standardised;
* text: CSR 2000 x 10000, 0.5 % density, counts 1 + Poisson(2), labels from 50 features
  with N(0, 2^2) weights plus N(0, 1) noise (not centred or scaled);
* multinomial: ``make_classification(600, 200, n_informative=20, n_classes=4,
  random_state=0)``, standardised (K = 4 coefficient vectors).

Usage (from the repository root):
``OMP_NUM_THREADS=1 python benchmarks/dropout_classifier_duality.py
[--out benchmarks/results/dropout_classifier_duality.txt]``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, make_classification

from skdropout.linear import AdaptiveDropoutClassifier, IRLSClassifier

PENALTIES = [("l1", None), ("elasticnet", {"theta": 0.5}), ("logsum", {"eps": 1.0})]
# IRLSClassifier with elasticnet on the text problem (a support above n) runs for more than
# 4 minutes: that row is left out
SKIP = {("text", "elasticnet")}


def _standardise(X: np.ndarray) -> np.ndarray:
    return (X - X.mean(0)) / X.std(0)


def problems() -> dict:
    out = {}
    X, y = load_breast_cancer(return_X_y=True)
    out["breast_cancer"] = (_standardise(X), y)
    X, y = make_classification(500, 2000, n_informative=20, random_state=0)
    out["wide"] = (_standardise(X), y)
    rng = np.random.default_rng(0)
    X = sp.random(2000, 10000, density=0.005, random_state=0, format="csr",
                  data_rvs=lambda k: rng.poisson(2, k) + 1.0)
    w = np.zeros(10000)
    w[:50] = 2.0 * rng.standard_normal(50)
    y = (np.asarray(X @ w).ravel() + rng.standard_normal(2000) > 0).astype(int)
    out["text"] = (X, y)
    X, y = make_classification(600, 200, n_informative=20, n_classes=4, random_state=0)
    out["multinomial"] = (_standardise(X), y)
    return out


def lam_max(X, y) -> float:
    """``max_j |X_j'(Y - Ybar)| / n`` over the one-hot classes (binary: the class-1 column)."""
    Y = np.eye(y.max() + 1)[y]
    Y = Y[:, 1:] if Y.shape[1] == 2 else Y
    G = np.asarray(X.T @ (Y - Y.mean(0)))
    return float(np.abs(G).max()) / X.shape[0]


def row(name, X, y, penalty, params) -> str:
    lam = lam_max(X, y) / 20
    t0 = time.perf_counter()
    irls = IRLSClassifier(penalty=penalty, penalty_params=params, lam=lam).fit(X, y)
    t_irls = time.perf_counter() - t0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        drop = AdaptiveDropoutClassifier(penalty=penalty, penalty_params=params, lam=lam,
                                         random_state=0).fit(X, y)
        t_drop = time.perf_counter() - t0
    warn = "warned" if caught else ""
    rel_obj = (drop.objective_ - irls.objective_) / irls.objective_
    nz_d, nz_i = drop.coef_ != 0, irls.coef_ != 0
    rel_coef = np.linalg.norm(drop.coef_ - irls.coef_) / np.linalg.norm(irls.coef_)
    agree = float(np.mean(drop.predict(X) == irls.predict(X)))
    return (f"{name:14s}{penalty:11s}{lam:9.2e}{t_irls:8.2f}{t_drop:8.2f}{rel_obj:+11.2e}"
            f"{nz_d.sum():6d}{nz_i.sum():6d}{(nz_d != nz_i).sum():6d}{rel_coef:10.1e}"
            f"{agree:7.3f}{drop.kkt_:9.1e}{drop.n_iter_:7d} {warn}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    lines = [f"# python benchmarks/dropout_classifier_duality.py   (one BLAS thread; "
             f"{platform.machine()}, {platform.python_version()}; shared 2-core machine)",
             f"{'problem':14s}{'penalty':11s}{'lam':>9s}{'t_irls':>8s}{'t_drop':>8s}"
             f"{'rel_obj':>11s}{'nnz_d':>6s}{'nnz_i':>6s}{'supp':>6s}{'rel_coef':>10s}"
             f"{'agree':>7s}{'kkt':>9s}{'epochs':>7s}"]
    print("\n".join(lines), flush=True)
    for name, (X, y) in problems().items():
        for penalty, params in PENALTIES:
            if (name, penalty) in SKIP:
                continue
            line = row(name, X, y, penalty, params)
            print(line, flush=True)
            lines.append(line)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())

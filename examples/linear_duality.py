"""Theorem 1 on real data: adaptive dropout and the eta-trick reach the same model.

On scikit-learn's diabetes data (standardised), the same penalised least-squares problem,
eq. (1) with the loss (3), is solved from its two sides:

* ``IRLSRegressor``: the eta-trick (eq. 6), exact weighted ridge solves alternating with
  eta = eta_hat(w) (eq. 7);
* ``AdaptiveDropoutRegressor``: stochastic training of masked weights s * w, the keep
  probabilities adapting to the weights (eq. 8, Algorithm 1).

The penalties are log-sum (eps = 2) and MCP (a = 3), which give a well-defined sparse
solution on these strongly correlated features. For l1, the IRLS solution is compared with
scikit-learn's ``Lasso(alpha=lam)``, which solves the same problem by coordinate descent.

Run:  python examples/linear_duality.py [--out DIR]      (a few seconds on one CPU)
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.linear_model import Lasso  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skdropout.linear import AdaptiveDropoutRegressor, IRLSRegressor  # noqa: E402

PROBLEMS = [  # (penalty, penalty_params, lam)
    ("logsum", {"eps": 2.0}, 2.0),
    ("mcp", {"a": 3.0}, 5.0),
]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = load_diabetes()
    X = StandardScaler().fit_transform(data.data)   # Theorem 1 assumes diag(X'X/n) = I
    y = data.target
    names = data.feature_names

    fig, axes = plt.subplots(1, len(PROBLEMS), figsize=(11, 3.2), sharey=True)
    print(f"{'penalty':<10}{'lam':>5}  {'IRLS objective':>15}{'dropout objective':>19}"
          f"{'rel. coef diff':>16}   support (IRLS = dropout?)")
    for ax, (penalty, params, lam) in zip(axes, PROBLEMS):
        irls = IRLSRegressor(penalty=penalty, penalty_params=params, lam=lam).fit(X, y)
        # default settings: the fit stops when the KKT residual is at IRLS's tolerance
        drop = AdaptiveDropoutRegressor(penalty=penalty, penalty_params=params, lam=lam,
                                        random_state=0).fit(X, y)
        diff = np.linalg.norm(drop.coef_ - irls.coef_) / np.linalg.norm(irls.coef_)
        support = [names[j] for j in np.flatnonzero(irls.coef_)]
        same = np.array_equal(irls.coef_ != 0, drop.coef_ != 0)
        print(f"{penalty:<10}{lam:>5g}  {irls.objective_:>15.4f}{drop.objective_:>19.4f}"
              f"{diff:>16.2%}   {support} ({'same' if same else 'DIFFERENT'})")
        assert same and diff < 1e-3, (penalty, diff)
        assert abs(drop.objective_ - irls.objective_) <= 1e-3 * irls.objective_

        idx = np.arange(len(names))
        ax.bar(idx - 0.2, irls.coef_, width=0.4, label="IRLS (eta-trick)")
        ax.bar(idx + 0.2, drop.coef_, width=0.4, label="adaptive dropout")
        ax.set_xticks(idx, names, rotation=90, fontsize=8)
        ax.set_title(f"{penalty}, lam = {lam:g}", fontsize=10)
        ax.axhline(0.0, color="k", lw=0.5)
    lam = 1.0
    irls = IRLSRegressor(penalty="l1", lam=lam).fit(X, y)
    lasso = Lasso(alpha=lam, tol=1e-12, max_iter=100_000).fit(X, y)
    gap = np.max(np.abs(lasso.coef_ - irls.coef_))
    print(f"\nl1, lam = {lam:g}: IRLSRegressor vs scikit-learn Lasso(alpha={lam:g}): "
          f"max |coef diff| = {gap:.1e}, same zeros: "
          f"{np.array_equal(irls.coef_ == 0, lasso.coef_ == 0)}")
    assert gap < 1e-4 and np.array_equal(irls.coef_ == 0, lasso.coef_ == 0)

    axes[0].set_ylabel("coefficient")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path = out / "linear_duality.png"
    fig.savefig(path, dpi=100, metadata={"Software": None})
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("skdropout-output") / "examples",
                        help="folder for the figure (default: %(default)s)")
    main(parser.parse_args().out)

"""
Adaptive dropout and IRLS reach the same model
==============================================

Theorem 1 on real data. On scikit-learn's diabetes data (standardised, as the theorem
assumes), the same penalised least-squares problem, eq. (1) with the loss (3), is solved
from its two sides:

* :class:`~skdropout.linear.IRLSRegressor`: the eta-trick (eq. 6), exact weighted ridge
  solves alternating with ``eta = eta_hat(w)`` (eq. 7);
* :class:`~skdropout.linear.AdaptiveDropoutRegressor`: stochastic training of masked
  weights ``s * w`` whose keep probabilities adapt to the weights (eq. 8, Algorithm 1).

The penalties are log-sum (eps = 2) and MCP (a = 3), which give a well-defined sparse
solution on these strongly correlated features.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso
from sklearn.preprocessing import StandardScaler

from skdropout.linear import AdaptiveDropoutRegressor, IRLSRegressor

data = load_diabetes()
X = StandardScaler().fit_transform(data.data)
y = data.target
names = data.feature_names

# %%
# Both sides of the duality, two penalties
# ----------------------------------------
# The dropout fit stops when its KKT residual is at IRLS's tolerance, so both must give the
# same objective, the same support and nearly the same coefficients.
PROBLEMS = [("logsum", {"eps": 2.0}, 2.0), ("mcp", {"a": 3.0}, 5.0)]  # penalty, params, lam

fig, axes = plt.subplots(1, len(PROBLEMS), figsize=(10, 3.4), sharey=True,
                         constrained_layout=True)
idx = np.arange(len(names))
for ax, (penalty, params, lam) in zip(axes, PROBLEMS):
    irls = IRLSRegressor(penalty=penalty, penalty_params=params, lam=lam).fit(X, y)
    drop = AdaptiveDropoutRegressor(penalty=penalty, penalty_params=params, lam=lam,
                                    random_state=0).fit(X, y)
    diff = np.linalg.norm(drop.coef_ - irls.coef_) / np.linalg.norm(irls.coef_)
    same = np.array_equal(irls.coef_ != 0, drop.coef_ != 0)
    print(f"{penalty}(lam={lam:g}): objective IRLS {irls.objective_:.4f}, dropout "
          f"{drop.objective_:.4f}; relative coefficient difference {diff:.2e}; "
          f"support {[names[j] for j in np.flatnonzero(irls.coef_)]} "
          f"({'the same' if same else 'DIFFERENT'})")
    assert same and diff < 1e-3, (penalty, diff)
    assert abs(drop.objective_ - irls.objective_) <= 1e-3 * irls.objective_
    ax.bar(idx - 0.2, irls.coef_, width=0.4, label="IRLS (eta-trick)")
    ax.bar(idx + 0.2, drop.coef_, width=0.4, label="adaptive dropout")
    ax.set_xticks(idx, names, rotation=90, fontsize=8)
    ax.set_title(f"{penalty}, $\\lambda$ = {lam:g}", fontsize=10)
    ax.axhline(0.0, color="k", lw=0.5)
axes[0].set_ylabel("coefficient")
axes[0].legend(fontsize=8)
fig.suptitle("The same model from the two sides of the duality")
plt.show()

# %%
# The lasso: the same solution as scikit-learn
# --------------------------------------------
# For ``penalty="l1"`` the problem is the lasso, which scikit-learn's
# :class:`~sklearn.linear_model.Lasso` solves by coordinate descent with ``alpha = lam``.
lam = 1.0
irls = IRLSRegressor(penalty="l1", lam=lam).fit(X, y)
lasso = Lasso(alpha=lam, tol=1e-12, max_iter=100_000).fit(X, y)
gap = np.max(np.abs(lasso.coef_ - irls.coef_))
print(f"max |IRLS - Lasso| = {gap:.1e}; same zeros: "
      f"{np.array_equal(irls.coef_ == 0, lasso.coef_ == 0)}")
assert gap < 1e-4 and np.array_equal(irls.coef_ == 0, lasso.coef_ == 0)

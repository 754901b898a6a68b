"""
Per-feature penalty factors: unpenalised features and the adaptive lasso
========================================================================

``penalty_factor`` (glmnet's ``penalty.factor``) gives feature j the strength
``lam_j = lam * v_j``: the penalty term becomes ``lam * sum_j v_j Omega(w_j)``.
Two common uses:

* ``v_j = 0`` keeps a feature in the model whatever lambda (a treatment indicator, a
  confounder you must adjust for);
* the **adaptive lasso**, ``v_j = 1 / |w_init_j|`` from a first fit: large coefficients are
  penalised less, small ones more, which removes most of the lasso's bias and false
  positives. It is one step of the reweighting that log-sum's eta-trick repeats until it
  converges.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import Lasso, Ridge
from sklearn.model_selection import KFold

from skdropout.linear import IRLSRegressor, IRLSRegressorCV

# Correlated Gaussian features (Toeplitz, rho = 0.6), 6 nonzero coefficients out of 60.
rng = np.random.default_rng(0)
n, d = 150, 60
cov = 0.6 ** np.abs(np.subtract.outer(np.arange(d), np.arange(d)))
X = rng.standard_normal((n, d)) @ np.linalg.cholesky(cov).T
X = (X - X.mean(0)) / X.std(0)
w_true = np.zeros(d)
w_true[[0, 5, 10, 20, 30, 40]] = [3.0, -2.5, 2.0, -1.5, 1.0, 0.8]
y = X @ w_true + rng.standard_normal(n)
folds = KFold(5, shuffle=True, random_state=0)

# %%
# An unpenalised feature
# ----------------------
# At a lambda large enough to remove every feature but a few, feature 59 (not in the
# true model) stays when its factor is 0: it gets an ordinary least-squares coefficient.
v = np.ones(d)
v[59] = 0.0
plain = IRLSRegressor(penalty="l1", lam=0.5).fit(X, y)
kept = IRLSRegressor(penalty="l1", lam=0.5, penalty_factor=v).fit(X, y)
print(f"lasso: {np.count_nonzero(plain.coef_)} nonzeros, w_59 = {plain.coef_[59]:.3f}; "
      f"with v_59 = 0: w_59 = {kept.coef_[59]:.3f}")
assert plain.coef_[59] == 0.0 and kept.coef_[59] != 0.0

# %%
# The adaptive lasso
# ------------------
# Factors from a ridge fit, then lambda by 5-fold cross-validation for both models, with
# the one-standard-error rule (the sparsest model within one standard error of the best).
w_init = Ridge(alpha=1.0).fit(X, y).coef_
factors = 1.0 / np.abs(w_init)
models = {
    "lasso": IRLSRegressorCV(penalty="l1", lams=30, cv=folds, selection="1se").fit(X, y),
    "adaptive lasso": IRLSRegressorCV(penalty="l1", lams=30, cv=folds, selection="1se",
                                      penalty_factor=factors).fit(X, y),
}
support = w_true != 0
for name, est in models.items():
    false_pos = int(np.count_nonzero(est.coef_[~support]))
    err = np.linalg.norm(est.coef_ - w_true) / np.linalg.norm(w_true)
    print(f"{name:<15} lam_ = {est.lam_:.4f}: {np.count_nonzero(est.coef_)} nonzeros, "
          f"{false_pos} false positives, relative coefficient error {err:.3f}")
adaptive = models["adaptive lasso"].coef_
assert np.array_equal(adaptive != 0, support)
assert (np.linalg.norm(adaptive - w_true) < np.linalg.norm(models["lasso"].coef_ - w_true))

# %%
# An independent check: for l1, factors ``v > 0`` are the lasso on the rescaled columns
# ``X_j / v_j`` (with ``w_j`` divided by ``v_j``), which scikit-learn's Lasso solves.
lam = models["adaptive lasso"].lam_
ours = IRLSRegressor(penalty="l1", lam=lam, penalty_factor=factors, tol=1e-10).fit(X, y)
ref = Lasso(alpha=lam, tol=1e-12, max_iter=100_000).fit(X / factors, y)
print(f"max |difference| to Lasso on X / v: {np.max(np.abs(ours.coef_ - ref.coef_ / factors)):.1e}")
assert np.allclose(ours.coef_, ref.coef_ / factors, atol=1e-6)

# %%
fig, ax = plt.subplots(figsize=(8, 3.2), constrained_layout=True)
j = np.arange(d)
ax.plot(j, w_true, "ko", label="true", markersize=5)
for (name, est), marker in zip(models.items(), ["x", "+"]):
    ax.plot(j, est.coef_, marker, label=name, markersize=7)
ax.axhline(0.0, color="0.5", lw=0.5)
ax.set_xlabel("feature $j$")
ax.set_ylabel("coefficient")
ax.set_title("Lasso and adaptive lasso (factors 1/|ridge|), $\\lambda$ by 5-fold CV, 1-SE")
ax.legend()
plt.show()

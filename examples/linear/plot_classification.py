"""
Sparse logistic regression from both sides of the duality
=========================================================

:class:`~skdropout.linear.IRLSClassifier` minimises the penalised log-loss

.. math::

    F(w, b) = \\frac{1}{n} \\sum_i \\mathrm{logloss}(y_i, x_i^\\top w + b)
              + \\lambda\\, \\Omega(w)

with Newton steps that are weighted ridge problems (weights ``p_i (1 - p_i)``) and the
eta-trick for Omega. :class:`~skdropout.linear.AdaptiveDropoutClassifier` gets there by
dropout instead: random masks on the inputs, with keep probabilities
``alpha_j = c_j eta_j / (c_j eta_j + lam)`` where ``c_j`` is the Fisher-weighted
second moment of feature j (the logistic counterpart of eq. (4)). This example picks lambda
by stratified cross-validation, then fits both estimators at that lambda and compares them.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.preprocessing import StandardScaler

from skdropout.linear import AdaptiveDropoutClassifier, IRLSClassifier, IRLSClassifierCV

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# Lambda by cross-validation
# --------------------------
# 20 values of lambda from the smallest that zeroes every coefficient down to 1/100 of it,
# scored by held-out log-loss; the one-standard-error rule picks the sparsest model whose
# score is within one standard error of the best.
cv = IRLSClassifierCV(penalty="l1", lams=20, eps=1e-2, selection="1se",
                      cv=StratifiedKFold(5, shuffle=True, random_state=0)).fit(X_train, y_train)
res = cv.cv_results_
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.errorbar(cv.lams_, -res["mean_test_score"], yerr=res["sem_test_score"], marker="o", ms=3)
ax.axvline(cv.lam_, color="k", ls=":", label=f"1-SE choice, λ = {cv.lam_:.3g}")
ax.set(xscale="log", xlabel="λ", ylabel="held-out log-loss",
       title="l1 logistic regression, 5-fold CV")
ax.legend()
print(f"lambda = {cv.lam_:.4g}: {np.count_nonzero(cv.coef_)} of {X.shape[1]} features, "
      f"test accuracy {cv.score(X_test, y_test):.3f}")

# %%
# The same problem by adaptive dropout
# ------------------------------------
# At the chosen lambda, dropout reaches the objective of the IRLS fit (l1 is convex, so
# both find its one minimum) with the same features.
irls = IRLSClassifier(penalty="l1", lam=cv.lam_).fit(X_train, y_train)
drop = AdaptiveDropoutClassifier(penalty="l1", lam=cv.lam_, random_state=0).fit(X_train, y_train)
gap = (drop.objective_ - irls.objective_) / irls.objective_
print(f"objective: IRLS {irls.objective_:.6f}, dropout {drop.objective_:.6f} "
      f"(relative gap {gap:.1e})")
assert abs(gap) < 1e-4
assert np.array_equal(irls.coef_ != 0, drop.coef_ != 0)

fig, ax = plt.subplots(figsize=(4, 4))
lim = 1.1 * np.abs(irls.coef_).max()
ax.plot([-lim, lim], [-lim, lim], color="0.8", lw=1)
ax.scatter(irls.coef_.ravel(), drop.coef_.ravel(), s=15)
ax.set(xlabel="IRLSClassifier coefficient", ylabel="AdaptiveDropoutClassifier coefficient",
       title="l1, the same lambda", xlim=(-lim, lim), ylim=(-lim, lim))

# %%
# A non-convex penalty
# --------------------
# Log-sum penalises large coefficients less than l1 does (less bias) and small ones more
# (fewer features) at the same lambda.
logsum = IRLSClassifier(penalty="logsum", lam=cv.lam_).fit(X_train, y_train)
for name, est in [("l1", irls), ("logsum", logsum)]:
    print(f"{name:7s}: {np.count_nonzero(est.coef_):2d} features, "
          f"test accuracy {est.score(X_test, y_test):.3f}")
assert np.count_nonzero(logsum.coef_) <= np.count_nonzero(irls.coef_)

"""
Error against density: three sparsifiers on the digits
======================================================

Each sparsifier trades accuracy for sparsity through one knob: lambda for the penalty
methods (here plain log-sum regularisation, ``method="logsum"``, and variational dropout,
``vardrop_lr_ar``), the target density for magnitude pruning (``magnitude``, the
HardThresh(k) constraint of the paper). Sweeping it traces a curve of test error against
the fraction of weights kept, the way the paper's Figure 2 compares methods.

A 64-100-10 network on scikit-learn's digits, 15 epochs per fit; the error is that of the
pruned network.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skdropout.nn import LeNet300100, SparseNetClassifier

torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                    stratify=y)

# %%
# The sweep
# ---------
SWEEP = {  # method: the settings of its knob, from dense to sparse
    "logsum": [{"lam": lam} for lam in (1e-3, 3e-3, 1e-2)],
    "vardrop_lr_ar": [{"lam": lam} for lam in (3e-4, 1e-3, 3e-3)],
    "magnitude": [{"callbacks__pruning__target_density": d} for d in (0.3, 0.1, 0.03)],
}
results = {}
for method, settings in SWEEP.items():
    for knob in settings:
        net = SparseNetClassifier(LeNet300100, module__in_features=64,
                                  module__hidden=(100,), method=method, lr=3e-3,
                                  max_epochs=15, batch_size=64, random_state=0, verbose=0,
                                  **knob)
        net.fit(X_train, y_train)
        error = 1.0 - net.score(X_test, y_test)
        results.setdefault(method, []).append((net.density_, error))
        print(f"{method:<14}{knob}: density {net.density_:.3f}, test error {error:.2%}")

# %%
# Sparser costs accuracy along every method's curve.
for method, points in results.items():
    densities = [d for d, _ in points]
    assert densities == sorted(densities, reverse=True), (method, densities)

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
for method, points in results.items():
    density, error = np.array(points).T
    ax.plot(density, 100 * error, marker="o", label=method)
ax.set_xscale("log")
ticks = [0.03, 0.1, 0.3, 0.7]
ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
ax.minorticks_off()
ax.set_xlabel("density (fraction of weights kept)")
ax.set_ylabel("test error of the pruned network (%)")
ax.set_title("Digits, 64-100-10: the accuracy-sparsity trade-off")
ax.legend()
plt.show()

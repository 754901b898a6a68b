"""
A sparse conv net, compacted, and its inference time
====================================================

:class:`~skdropout.nn.LeNet5` (two convolutions and two fully connected layers) is
sparsified with hard-concrete L0 gates (``method="hardconcrete"``) on scikit-learn's
digits, upsampled from 8x8 to 16x16 pixels so that the two 5x5 convolutions fit.

A sparse network is only faster once its zeros are gone:
:meth:`~skdropout.nn.SparseNetClassifier.compact` returns a smaller dense ``nn.Module``
without the convolution channels and hidden units that no longer feed the output. Here
both networks are timed on the test images, on one CPU thread.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skdropout.nn import LeNet5, SparseNetClassifier

torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
images = np.kron(X.reshape(-1, 8, 8) / 16.0, np.ones((2, 2)))       # 8x8 -> 16x16
X = images.reshape(len(X), -1).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                    stratify=y)

# %%
# Training
# --------
net = SparseNetClassifier(LeNet5, module__image_size=16, method="hardconcrete", lam=1e-4,
                          lr=3e-3, max_epochs=10, batch_size=64, random_state=0, verbose=0)
net.fit(X_train, y_train)
error = 1.0 - net.score(X_test, y_test)
print(f"test error {error:.2%}, density {net.density_:.3f}")
print("per layer:", {name: round(d, 3) for name, d in net.layer_density_.items()})
assert error < 0.15, error

# %%
# Compacting
# ----------
# The compact network gives the same predictions with fewer channels and units.
small = net.compact()
X_t = torch.as_tensor(X_test)
with torch.no_grad():
    assert np.array_equal(small(X_t).argmax(1).numpy(), net.predict(X_test))


def widths(module):
    return [m.out_channels if isinstance(m, torch.nn.Conv2d) else m.out_features
            for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


dense = LeNet5(image_size=16)
before, after = widths(dense), widths(small)
print(f"channels/units per layer: {before} -> {after}")
print(f"parameters: {n_params(dense)} -> {n_params(small)}")
assert after[1] < before[1] and after[2] < before[2]

# %%
# Inference time
# --------------
# The median of 15 passes over the 540 test images, for the trained sparse network (its
# method layers, pruned weights held as zeros) and for the compact one.


def median_ms(module, repeats=15):
    times = []
    with torch.no_grad():
        module(X_t)                                   # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            module(X_t)
            times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


timed = {"sparse (module_)": median_ms(net.module_.eval()), "compact()": median_ms(small)}
for name, ms in timed.items():
    print(f"{name:<18}{ms:7.2f} ms")

fig, ax = plt.subplots(figsize=(6, 2.6), constrained_layout=True)
ax.barh(list(timed), list(timed.values()), color=["C0", "C2"])
ax.set_xlabel("ms per pass over 540 images (1 CPU thread)")
ax.set_title(f"LeNet5 on digits, compacted: conv2 {before[1]} -> {after[1]} channels,\n"
             f"fc1 {before[2]} -> {after[2]} units", fontsize=10)
plt.show()

"""
Variational dropout and its noise-free twin on a small network
==============================================================

Variational dropout with both reparameterisation tricks (``vardrop_lr_ar``), whose
effective penalty is close to log-sum (the paper's Figure 1), and the proximal eta-trick
with the log-sum(2) penalty and no dropout noise (``adaprox``, Algorithm 1) train the same
64-100-10 network on scikit-learn's digits. Both prune the weights whose keep probability
(eq. 8) falls below 0.05; the error is always that of the pruned network.

Variational dropout's default ``lam = 1/N`` (the variational bound) prunes almost
everything with only N = 1,257 training images, so lambda is set by hand here, as the
paper's Table 4 gives the two families different lambdas.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from skdropout.nn import LeNet300100, SparseNetClassifier

torch.set_num_threads(1)
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                    stratify=y)

# %%
# Training, with the test set as the validation set
# -------------------------------------------------
# With a validation set, every epoch's history holds the density and the validation error
# of the pruned network.
METHODS = {"vardrop_lr_ar": 1e-3, "adaprox": 5e-3}     # method: lam
nets = {}
for method, lam in METHODS.items():
    nets[method] = SparseNetClassifier(
        LeNet300100, module__in_features=64, module__hidden=(100,), method=method,
        lam=lam, lr=3e-3, max_epochs=20, batch_size=64, random_state=0, verbose=0,
        train_split=predefined_split(Dataset(X_test, y_test))).fit(X_train, y_train)
    error = 1.0 - nets[method].score(X_test, y_test)
    print(f"{method:<14} test error {error:.2%}, density {nets[method].density_:.3f}")
    assert error < 0.10 and nets[method].density_ < 0.5, (method, error)

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
for method, net in nets.items():
    epochs = net.history[:, "epoch"]
    left.plot(epochs, 100 * np.asarray(net.history[:, "valid_error"]), label=method)
    right.plot(epochs, net.history[:, "density"], label=method)
left.set(xlabel="epoch", ylabel="test error of the pruned network (%)")
right.set(xlabel="epoch", ylabel="density (fraction of weights kept)", ylim=(0, 1))
right.legend()
fig.suptitle("Digits, 64-100-10: error and density during training")
plt.show()

# %%
# A smaller dense network
# -----------------------
# :meth:`~skdropout.nn.SparseNetClassifier.compact` turns the pruned network into plain
# ``nn.Linear`` layers without the hidden units that no longer feed the output; it
# predicts exactly as the sparse network.
for method, net in nets.items():
    small = net.compact()
    with torch.no_grad():
        pred = small(torch.as_tensor(X_test)).argmax(1).numpy()
    assert np.array_equal(pred, net.predict(X_test)), "compact() changed predictions"
    widths = [m.out_features for m in small.modules() if isinstance(m, torch.nn.Linear)]
    print(f"{method:<14} compact(): hidden units {widths[0]} of 100, same predictions")

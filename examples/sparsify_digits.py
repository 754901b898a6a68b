"""Sparsify a small network on scikit-learn's digits: variational dropout and its
noise-free log-sum counterpart.

Variational dropout with both reparameterisation tricks (``vardrop_lr_ar``), whose effective
penalty is close to log-sum (Figure 1), and the proximal eta-trick with the log-sum(2)
penalty and no dropout noise (``adaprox``, Algorithm 1) train the same 64-100-10 network.
Both prune the weights whose keep probability (eq. 8) falls below 0.05, and the test
error is that of the pruned network. Then ``compact()`` turns each pruned network into a
smaller dense one, which must give the same predictions.

Variational dropout's default lam = 1/N (the variational bound) prunes almost everything
with only N = 1,257 training images; lam is set by hand here, as in the paper's Table 4
the two families get different lam.

Run:  python examples/sparsify_digits.py [--out DIR]      (about ten seconds on one CPU)
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skdropout.nn import LeNet300100, SparseNetClassifier  # noqa: E402

torch.set_num_threads(1)

METHODS = {  # method: (lam, Adam learning rate), chosen to reach about the same density
    "vardrop_lr_ar": (2e-4, 3e-3),
    "adaprox": (1e-2, 3e-3),
}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    print(f"{'method':<16}{'test error':>12}{'density':>10}   per-layer density")
    for method, (lam, lr) in METHODS.items():
        net = SparseNetClassifier(LeNet300100, module__in_features=64, module__hidden=(100,),
                                  method=method, lam=lam, lr=lr, max_epochs=30,
                                  batch_size=64, random_state=0, verbose=0)
        net.fit(X_train, y_train)
        error = 1.0 - net.score(X_test, y_test)
        layers = ", ".join(f"{d:.3f}" for d in net.layer_density_.values())
        print(f"{method:<16}{error:>12.3%}{net.density_:>10.3f}   [{layers}]")
        assert error < 0.10 and net.density_ < 0.5, (method, error, net.density_)
        ax.plot(net.history[:, "density"], label=method)

        small = net.compact()                      # dead hidden units removed
        with torch.no_grad():
            pred = small(torch.as_tensor(X_test)).argmax(1).numpy()
        assert np.array_equal(pred, net.predict(X_test)), "compact() changed predictions"
        hidden = [m.out_features for m in small.modules() if isinstance(m, torch.nn.Linear)]
        print(f"{'':<16}compact(): layer widths {hidden[:-1]} (from [100]), same predictions")

    ax.set_xlabel("epoch")
    ax.set_ylabel("density (fraction of weights kept)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    path = out / "sparsify_digits.png"
    fig.savefig(path, dpi=100, metadata={"Software": None})
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("skdropout-output") / "examples",
                        help="folder for the figure (default: %(default)s)")
    main(parser.parse_args().out)

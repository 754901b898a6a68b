"""Cross-validation and a grid search on a Dask cluster, through joblib's ``"dask"`` backend.

Usage: ``python dask_cluster.py tcp://scheduler-address:8786``. ``tests/test_dask.py`` runs
:func:`main` on a ``distributed.LocalCluster`` and compares the results with joblib's loky
backend and with a search in one process.
"""

import sys

import joblib
import numpy as np
import torch
from dask.distributed import Client
from sklearn.datasets import load_digits, make_regression
from sklearn.model_selection import GridSearchCV

from skdropout.linear import AdaptiveDropoutRegressorCV, IRLSRegressorCV
from skdropout.nn import LeNet300100, SparseNetClassifier


def linear_cv(X: np.ndarray,
              y: np.ndarray) -> tuple[IRLSRegressorCV, AdaptiveDropoutRegressorCV]:
    """Both CV estimators; each fold's path, and the path on all data, is one joblib task."""
    irls = IRLSRegressorCV(penalty="logsum", lams=12, cv=4, n_jobs=-1)
    dropout = AdaptiveDropoutRegressorCV(penalty="logsum", lams=12, cv=4, n_jobs=-1,
                                         random_state=0)
    return irls.fit(X, y), dropout.fit(X, y)


def net_search(X: np.ndarray, y: np.ndarray) -> GridSearchCV:
    """A grid search over the strength lam of a small sparsified network; each candidate
    and fold is one joblib task, trained on one worker."""
    net = SparseNetClassifier(LeNet300100, module__in_features=X.shape[1],
                              module__hidden=(32, 16), method="logsum", max_epochs=2,
                              batch_size=16, lr=1e-2, random_state=0, verbose=0)
    return GridSearchCV(net, {"lam": [1e-4, 1e-2]}, cv=2, n_jobs=-1).fit(X, y)


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A regression problem with d > n for the linear models, and 600 digits for the net."""
    X, y = make_regression(n_samples=80, n_features=120, n_informative=5, noise=1.0,
                           random_state=0)
    digits, labels = load_digits(return_X_y=True)
    return X, y, (digits[:600] / 16.0).astype(np.float32), labels[:600]


def main(address: str) -> tuple[IRLSRegressorCV, AdaptiveDropoutRegressorCV, GridSearchCV]:
    """Run the linear CVs and the grid search on the cluster at ``address``."""
    X, y, images, labels = data()
    with Client(address) as client:
        # one torch thread per worker process: the parallelism is across workers
        client.run(torch.set_num_threads, 1)
        with joblib.parallel_config(backend="dask"):
            irls, dropout = linear_cv(X, y)
            search = net_search(images, labels)
    print(f"IRLS lam_ = {irls.lam_:.4g}, adaptive dropout lam_ = {dropout.lam_:.4g}")
    print(f"network: best lam = {search.best_params_['lam']}, "
          f"accuracy {search.best_score_:.3f}")
    return irls, dropout, search


if __name__ == "__main__":
    main(sys.argv[1])

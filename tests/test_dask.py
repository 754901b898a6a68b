"""CV and grid search on a real Dask cluster give the results of joblib's default backend.

A ``distributed.LocalCluster`` of two worker processes (one thread each, loopback only, no
dashboard) runs the user guide's recipe ``docs/guide/dask_cluster.py`` through its ``main``,
with the cluster's address in place of a remote scheduler's. The same estimators fitted
under loky must give the same lam_, coef_, mse_path_, best_params_ and scores; the workers'
executed-task counters show that the fits ran on them, not in the test process. Needs the
``test`` extra's ``dask[distributed]``.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")
pytest.importorskip("torch")

RECIPE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "dask_cluster.py"


def _load_recipe():
    spec = importlib.util.spec_from_file_location("dask_cluster", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _executed(dask_worker):
    return dask_worker.state.executed_count


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  worker_dashboard_address=None, death_timeout=60) as local:
        yield local


def test_recipe_on_cluster_equals_loky(cluster):
    recipe = _load_recipe()
    X, y, images, labels = recipe.data()
    with distributed.Client(cluster, set_as_default=False, timeout=60) as observer:
        before = observer.run(_executed)
        irls, dropout, search = recipe.main(cluster.scheduler_address)
        after = observer.run(_executed)
        threads = observer.run(lambda: __import__("torch").get_num_threads())

    # the fits ran on both worker processes, each with one torch thread
    ran = {w: after[w] - before[w] for w in after}
    assert len(ran) == 2 and all(n > 0 for n in ran.values()), ran
    assert set(threads.values()) == {1}, threads

    with joblib.parallel_config(backend="loky", n_jobs=2):
        irls_loky, dropout_loky = recipe.linear_cv(X, y)
    # in this process: loky workers would each import torch, seconds on a busy machine
    with joblib.parallel_config(backend="sequential"):
        search_local = recipe.net_search(images, labels)

    for remote, local in ((irls, irls_loky), (dropout, dropout_loky)):
        assert remote.lam_ == local.lam_
        np.testing.assert_array_equal(remote.coef_, local.coef_)
        np.testing.assert_array_equal(remote.mse_path_, local.mse_path_)
    assert search.best_params_ == search_local.best_params_
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(search.cv_results_[key], search_local.cv_results_[key])

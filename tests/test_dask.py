"""CV and grid search on a real Dask cluster give the results of joblib's default backend.

A ``distributed.LocalCluster`` of two worker processes (one thread each, loopback only, no
dashboard) runs the user guide's recipe ``docs/guide/dask_cluster.py`` through its ``main``,
with the cluster's address in place of a remote scheduler's. The CV estimators fitted under
loky must give the same lam_, coef_ and mse_path_, and the grid search run in this process
the same best_params_ and fold scores; the workers' executed-task counters show that the
fits ran on them, not in the test process. Needs the ``test`` extra's ``dask[distributed]``.
"""

import importlib.util
import threading
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")
torch = pytest.importorskip("torch")

# generous for a busy 2-core machine; a lost worker fails the test instead of hanging it
TIMEOUT = 180

RECIPE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "dask_cluster.py"


def _load_recipe():
    spec = importlib.util.spec_from_file_location("dask_cluster", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _within(seconds, func, *args):
    """``func(*args)`` in a daemon thread: a hung cluster fails the test after ``seconds``
    instead of blocking the run (and its exit)."""
    out = {}

    def target():
        try:
            out["value"] = func(*args)
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{func.__name__} did not finish within {seconds} s"
    if "error" in out:
        raise out["error"]
    return out["value"]


def _executed(dask_worker):
    return dask_worker.state.executed_count


@pytest.fixture(scope="module")
def cluster():
    # loopback only, free ports, no dashboards; the context closes the workers and scheduler
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", scheduler_port=0, dashboard_address=None,
                                  worker_dashboard_address=None, death_timeout=TIMEOUT) as local:
        yield local


def test_recipe_on_cluster_equals_loky(cluster):
    recipe = _load_recipe()
    X, y, images, labels = recipe.data()
    with distributed.Client(cluster, set_as_default=False, timeout=TIMEOUT) as observer:
        before = observer.run(_executed)
        irls, dropout, search = _within(TIMEOUT, recipe.main, cluster.scheduler_address)
        after = observer.run(_executed)
        threads = observer.run(torch.get_num_threads)

    # the fits ran on both worker processes, each with one torch thread
    ran = {w: after[w] - before[w] for w in after}
    assert len(ran) == 2 and all(n > 0 for n in ran.values()), ran
    assert set(threads.values()) == {1}, threads

    with joblib.parallel_config(backend="loky", n_jobs=2):
        irls_loky, dropout_loky = recipe.linear_cv(X, y)
    # in this process: loky workers would each import torch, seconds on a busy machine
    with joblib.parallel_config(backend="sequential"):
        search_local = recipe.net_search(images, labels)

    # same solves in the same order; a tolerance only for BLAS thread counts, which differ
    # between Dask's workers (one thread) and loky's (cores / n_jobs) on larger machines
    for remote, local in ((irls, irls_loky), (dropout, dropout_loky)):
        assert remote.lam_ == local.lam_
        np.testing.assert_allclose(remote.coef_, local.coef_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(remote.mse_path_, local.mse_path_, rtol=1e-10)
    assert search.best_params_ == search_local.best_params_
    assert search.best_score_ > 0.3  # trained on the workers: ten classes, chance is 0.1
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(search.cv_results_[key], search_local.cv_results_[key])

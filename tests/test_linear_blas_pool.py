"""A fit runs one threaded BLAS pool: numpy's keeps its threads, every other threaded BLAS
library (scipy's OpenBLAS in a pip install) runs on one thread while the solver runs, and
the thread counts come back afterwards, also after a failed fit."""

from types import SimpleNamespace

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_limits

from skdropout.linear import (AdaptiveDropoutClassifier, AdaptiveDropoutRegressor,
                              AdaptiveDropoutRegressorCV, IRLSClassifier, IRLSClassifierCV,
                              IRLSRegressor, IRLSRegressorCV, adaptive_dropout_path, irls_path)
from skdropout.linear._blas_pool import pools_to_serialise
from skdropout.penalties import LogSum


def _lib(filepath, num_threads, user_api="blas"):
    return SimpleNamespace(filepath=filepath, num_threads=num_threads, user_api=user_api)


def test_every_threaded_blas_but_numpy_s_is_serialised():
    numpy_blas = _lib("/site/numpy.libs/libscipy_openblas64_.so", 4)
    scipy_blas = _lib("/site/scipy.libs/libscipy_openblas.so", 4)
    other_blas = _lib("/opt/lib/libmkl_rt.so", 2)
    openmp = _lib("/site/scikit_learn.libs/libgomp.so", 4, user_api="openmp")
    libs = [scipy_blas, openmp, numpy_blas, other_blas]
    assert pools_to_serialise(libs, "/site/numpy") == [scipy_blas, other_blas]
    # one library for both packages, or only one threaded pool: nothing to do
    assert pools_to_serialise([numpy_blas, openmp], "/site/numpy") == []
    assert pools_to_serialise([scipy_blas, _lib(numpy_blas.filepath, 1)], "/site/numpy") == []
    # none of them is numpy's: the first threaded one keeps its threads
    assert pools_to_serialise([scipy_blas, other_blas], "/site/numpy") == [other_blas]


class _Recording(LogSum):
    """log-sum whose reweighting map records every BLAS library's thread count."""

    seen: list = []
    fail = False

    def _eta_hat(self, xp, a):
        _Recording.seen.append(_blas_threads())
        if _Recording.fail:
            raise ArithmeticError("stop the fit")
        return super()._eta_hat(xp, a)


def _blas_threads():
    return {lib.filepath: lib.num_threads
            for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"}


def _data(classify):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 30))
    y = X[:, :3] @ np.array([2.0, -1.5, 1.0]) + 0.3 * rng.standard_normal(60)
    return X, (y > 0).astype(int) if classify else y


FITS = {
    "IRLSRegressor": lambda X, y: IRLSRegressor(penalty=_Recording(1.0), lam=0.05).fit(X, y),
    "AdaptiveDropoutRegressor": lambda X, y: AdaptiveDropoutRegressor(
        penalty=_Recording(1.0), lam=0.05, random_state=0).fit(X, y),
    "IRLSRegressorCV": lambda X, y: IRLSRegressorCV(penalty=_Recording(1.0), lams=3,
                                                    cv=2).fit(X, y),
    "AdaptiveDropoutRegressorCV": lambda X, y: AdaptiveDropoutRegressorCV(
        penalty=_Recording(1.0), lams=3, cv=2, random_state=0).fit(X, y),
    "irls_path": lambda X, y: irls_path(X, y, penalty=_Recording(1.0), lams=3),
    "adaptive_dropout_path": lambda X, y: adaptive_dropout_path(
        X, y, penalty=_Recording(1.0), lams=3, random_state=0),
    "IRLSClassifier": lambda X, y: IRLSClassifier(penalty=_Recording(1.0),
                                                  lam=0.01).fit(X, y > 0),
    "AdaptiveDropoutClassifier": lambda X, y: AdaptiveDropoutClassifier(
        penalty=_Recording(1.0), lam=0.01, random_state=0).fit(X, y > 0),
    "IRLSClassifierCV": lambda X, y: IRLSClassifierCV(penalty=_Recording(1.0), lams=3,
                                                      cv=2).fit(X, y > 0),
}


@pytest.fixture
def two_threads_each():
    """Every BLAS library on two threads (as on a 2-core machine without limits), the
    record cleared; the counts the fits must see, and must leave, are returned."""
    _Recording.seen, _Recording.fail = [], False
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        serialised = {lib.filepath for lib in pools_to_serialise(
            ThreadpoolController().lib_controllers)}
        inside = {path: 1 if path in serialised else n for path, n in before.items()}
        yield before, inside
    _Recording.fail = False


@pytest.mark.parametrize("fit", list(FITS), ids=list(FITS))
def test_a_fit_runs_one_threaded_blas_pool_and_restores_the_counts(fit, two_threads_each):
    before, inside = two_threads_each
    X, y = _data(classify=False)
    FITS[fit](X, y)
    assert _Recording.seen, "the penalty was not used"
    assert all(seen == inside for seen in _Recording.seen)
    assert _blas_threads() == before
    if len(before) > 1:  # numpy's and scipy's OpenBLAS (pip wheels): one of them serialised
        assert sorted(inside.values()) == [1] + [2] * (len(before) - 1)


def test_a_failed_fit_restores_the_thread_counts(two_threads_each):
    before, inside = two_threads_each
    _Recording.fail = True
    X, y = _data(classify=False)
    with pytest.raises(ArithmeticError, match="stop the fit"):
        IRLSRegressor(penalty=_Recording(1.0), lam=0.05).fit(X, y)
    assert _Recording.seen == [inside]
    assert _blas_threads() == before

"""The step along negative curvature (skdropout.linear._curvature) against direct
computations."""

import numpy as np

from skdropout.linear._curvature import descent_eigenvector, lowest_along


def test_descent_eigenvector_is_the_smallest_eigenvalue_s_signed_to_descend():
    rng = np.random.default_rng(0)
    Q = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    values = np.array([-0.3, -0.1, 0.2, 0.5, 1.0, 2.0])
    H = Q @ np.diag(values) @ Q.T
    for sign in (1.0, -1.0):
        g = sign * Q[:, 0] + 0.1 * Q[:, 3]
        v = descent_eigenvector(H, g)
        np.testing.assert_allclose(H @ v, -0.3 * v, atol=1e-12)
        assert abs(np.linalg.norm(v) - 1.0) < 1e-12
        assert g @ v < 0
        # to second order F falls along v for every step length
        t = np.array([1e-3, 1e-1, 10.0])
        assert np.all(g @ v * t + 0.5 * (v @ H @ v) * t**2 < 0)


def test_descent_eigenvector_is_none_without_negative_curvature_or_finite_entries():
    H = np.diag([1e-3, 1.0, 2.0])
    assert descent_eigenvector(H, np.ones(3)) is None
    # a negative eigenvalue at rounding level of the diagonal counts as 0
    assert descent_eigenvector(np.diag([-1e-18, 1.0]), np.ones(2)) is None
    assert descent_eigenvector(np.diag([-1.0, np.inf]), np.ones(2)) is None


def test_lowest_along_doubles_to_the_lowest_point_and_stops_past_it():
    seen = []

    def point(t):
        seen.append(t)
        return t, (t - 5.0) ** 2

    # t = 1, 2, 4, 8: 4 is the lowest, 8 is past it
    assert lowest_along(point, 25.0, 1.0) == (4.0, 1.0)
    assert seen == [1.0, 2.0, 4.0, 8.0]
    # nothing below F at the start: None
    assert lowest_along(lambda t: (t, 1.0 + t), 1.0, 1.0) is None

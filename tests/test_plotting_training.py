"""Figure 2's reading: one legend entry per method and per source, identical curves and
points visible, every curve inside the axes."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from skdropout.plotting import plot_training  # noqa: E402


def curves():
    d = np.array([1.0, 0.2, 0.05, 0.02])
    return {"vardrop_lr_ar": {"density": d / 2, "valid_error": [40.0, 9.0, 5.0, 3.6]},
            "logsum": {"density": d, "valid_error": [10.0, 5.0, 3.0, 2.7]},
            "adatikhonov": {"density": d, "valid_error": [10.0, 5.0, 3.0, 2.7]}}


def test_legend_has_a_colour_per_method_and_a_marker_per_source():
    import matplotlib.pyplot as plt

    final = {"vardrop_lr_ar": (3.6, 0.01), "logsum": (2.7, 0.0192), "adatikhonov": (2.7, 0.0192)}
    paper = {"vardrop_lr_ar": (3.21, 0.024), "logsum": (2.93, 0.019),
             "adatikhonov": (2.88, 0.018)}
    published = {"Sparse VD": (1.92, 0.015), "DNS": (1.99, 0.018)}
    extra = {"vardrop_lr_ar, KL warm-up": (1.8, 0.014, "vardrop_lr_ar")}
    ax = plot_training(curves(), final=final, paper=paper, published=published, extra=extra)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # 3 methods + 2 sources (this library, paper) + 1 extra run + 2 published points
    assert labels == ["vardrop_lr_ar", "logsum", "adatikhonov (same curve as logsum)",
                      "this library (test)", "paper (test)", "vardrop_lr_ar, KL warm-up",
                      "Sparse VD", "DNS"]
    colours = [line.get_color() for line in ax.get_lines()[:6:2]]
    assert len(set(colours)) == 3  # a colour per method
    # the twin curve is dashed and on top; the repeated star is drawn smaller, on top
    twin = ax.get_lines()[4]
    assert twin.get_linestyle() == "--" and twin.get_zorder() > ax.get_lines()[2].get_zorder()
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert [s.get_markersize() < stars[1].get_markersize() for s in stars] == [False, False,
                                                                               True]
    # every curve and point lies inside the axes (none runs off the top)
    lo, hi = ax.get_ylim()
    assert ax.get_yscale() == "log" and lo < 1.8 and hi > 40.0
    plt.close(ax.figure)


def test_linear_axes_start_at_zero_and_hold_every_curve():
    import matplotlib.pyplot as plt

    ax = plot_training(curves(), logx=False)
    assert ax.get_ylim()[0] == 0 and ax.get_ylim()[1] >= 40.0
    assert ax.get_xscale() == "linear"
    plt.close(ax.figure)


def test_every_extra_point_is_drawn():
    """More extra runs than distinct markers: each one still gets its point and label."""
    import matplotlib.pyplot as plt

    extra = {f"run {i}": (2.0 + 0.1 * i, 0.01 + 0.001 * i, "logsum") for i in range(14)}
    ax = plot_training(curves(), extra=extra)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [label for label in labels if label.startswith("run ")] == list(extra)
    drawn = {(line.get_xdata()[0], line.get_ydata()[0]) for line in ax.get_lines()
             if len(line.get_xdata()) == 1}
    assert {(d, e) for e, d, _ in extra.values()} <= drawn
    plt.close(ax.figure)

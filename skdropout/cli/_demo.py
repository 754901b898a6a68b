"""``skdropout demo``: the paper's duality in a minute, on data that ships with scikit-learn.

1. Diabetes (442 patients, 10 standardised features): lam chosen by IRLSRegressorCV with the
   log-sum penalty (eps = 5) and the one-standard-error rule; at that lam, IRLSRegressor (the
   eta-trick, eq. 6) and AdaptiveDropoutRegressor (adaptive dropout with keep probability
   eq. 8) solve the same problem, eq. (1), from its two sides; their coefficients, keep
   probabilities, supports and objective values are printed side by side.
2. Digits (1,797 8x8 images): one sparsifier (LeNet-300-100 shape) with its test error and
   density.
Figures go to the output folder: the two coefficient vectors, the CV curve and the
regularisation path, the sparsifier's error against density over training, Figure 1 of the
paper.
"""

from __future__ import annotations

import argparse
import time
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from ._plots import plot_coefficients

PENALTY = "logsum"
PENALTY_PARAMS = {"eps": 5.0}  # Omega(w) = sum log(1 + |w_j|/eps), w in units of y per std


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="the duality in a minute: IRLS and adaptive dropout side by side",
        description="IRLSRegressor and AdaptiveDropoutRegressor with the same (log-sum) "
                    "penalty on scikit-learn's diabetes data at the cross-validated lam, then "
                    "one sparsifier on the digits; prints the results and writes figures.")
    p.add_argument("--out", default="skdropout-output", metavar="DIR",
                   help="folder for the figures (default ./skdropout-output)")
    p.add_argument("--method", default="vardrop_lr_ar",
                   help="the digits sparsifier (default vardrop_lr_ar)")
    p.add_argument("--lam", type=float, default=3e-5,
                   help="lam of the digits sparsifier (default 3e-5)")
    p.add_argument("--lr", type=float, default=3e-3,
                   help="Adam learning rate of the digits sparsifier (default 3e-3)")
    p.add_argument("--epochs", type=int, default=30,
                   help="training epochs of the digits sparsifier (default 30)")
    p.add_argument("--cv", type=int, default=5, help="CV folds for lam (default 5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ._deep import check_method, check_training_options

    check_training_options(args)
    import_module("matplotlib")  # fail before the work when an extra is missing
    check_method(args.method)  # imports skdropout.nn, hence torch
    out = Path(args.out)
    names, cv_model, fits = duality(args.cv, args.seed)
    figures = [*linear_figures(out, names, cv_model, fits)]
    net, error = digits_sparsifier(args.method, args.lam, args.lr, args.epochs, args.seed)
    figures.append(training_figure(out, args.method, net, error))
    from ..plotting import figure1

    figures.append(figure1(out))
    print("\nfigures written:")
    for path in figures:
        print(f"  {path}")
    return 0


def duality(cv: int, seed: int) -> tuple[list[str], Any, dict[str, Any]]:
    """Part 1: lam by CV, then both sides of the duality at that lam; prints the comparison."""
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import StandardScaler

    from ..linear import AdaptiveDropoutRegressor, IRLSRegressor, IRLSRegressorCV

    data = load_diabetes()
    X = StandardScaler().fit_transform(data.data)
    y = data.target
    names = list(data.feature_names)
    print(f"1. Duality on scikit-learn's diabetes data ({X.shape[0]} patients, {X.shape[1]} "
          f"standardised features),\n   penalty {PENALTY} with eps = {PENALTY_PARAMS['eps']:g}")
    start = time.perf_counter()
    cv_model = IRLSRegressorCV(penalty=PENALTY, penalty_params=PENALTY_PARAMS, cv=cv,
                               selection="1se").fit(X, y)
    lam = cv_model.lam_
    mse = -cv_model.cv_results_["mean_test_score"][cv_model.best_index_]
    print(f"   lam chosen by {cv}-fold CV (IRLSRegressorCV, largest lam within one standard "
          f"error of the best):\n   lam = {lam:.4g}, CV mean squared error {mse:.1f} "
          f"({time.perf_counter() - start:.1f} s)")
    fits = {}
    both = dict(penalty=PENALTY, penalty_params=PENALTY_PARAMS, lam=lam)
    for label, est in (("IRLS (eta-trick)", IRLSRegressor(**both)),
                       ("adaptive dropout", AdaptiveDropoutRegressor(**both,
                                                                     random_state=seed))):
        start = time.perf_counter()
        fits[label] = est.fit(X, y)
        fits[label].seconds_ = time.perf_counter() - start
    print_side_by_side(names, fits, cv_model)
    return names, cv_model, fits


def print_side_by_side(names: list[str], fits: dict[str, Any], cv_model: Any) -> None:
    """The two coefficient vectors, the dropout keep probabilities (eq. 8), the objectives
    (eq. 1) and supports; then the CV path's own solution at the same lam."""
    (irls_label, irls), (drop_label, drop) = fits.items()
    columns = {irls_label: irls.coef_, drop_label: drop.coef_,
               "keep probability": drop.keep_prob_}
    width = max(len(n) for n in [*names, "objective (eq. 1)"])
    print("   " + " " * width + "".join(f"  {title:>18}" for title in columns))
    for j, name in enumerate(names):
        print(f"   {name:<{width}}" + "".join(f"  {col[j]:>18.4f}" for col in columns.values()))
    for title, values in (("intercept", [irls.intercept_, drop.intercept_]),
                          ("objective (eq. 1)", [irls.objective_, drop.objective_]),
                          ("seconds", [irls.seconds_, drop.seconds_])):
        print(f"   {title:<{width}}" + "".join(f"  {v:>18.4f}" for v in values))
    for label, est in fits.items():
        support = [n for n, c in zip(names, est.coef_) if c != 0]
        print(f"   support of {label}: {len(support)} features: {', '.join(support)}")
    gap = np.max(np.abs(irls.coef_ - drop.coef_)) / max(np.max(np.abs(irls.coef_)),
                                                         np.finfo(float).tiny)
    print(f"   largest coefficient difference: {100 * gap:.2f} % of the largest coefficient")
    path_fit = cv_model.best_estimator_
    if np.allclose(path_fit.coef_, irls.coef_, rtol=1e-6, atol=1e-9 * np.abs(irls.coef_).max()):
        print("   (IRLSRegressorCV's own fit at this lam, warm-started down the lam path, is "
              "the same point.)")
    else:
        support = [n for n, c in zip(names, path_fit.coef_) if c != 0]
        print("   Both start from least squares. IRLSRegressorCV's own fit at this lam, "
              f"warm-started\n   down the lam path, reaches objective {path_fit.objective_:.4f} "
              f"with support {', '.join(support)}:\n   log-sum is not convex, so the start "
              "picks the local minimum.")


def linear_figures(out: Path, names: list[str], cv_model: Any,
                   fits: dict[str, Any]) -> list[Path]:
    import matplotlib.pyplot as plt

    from ..plotting import plot_cv, plot_path

    paths = [plot_coefficients(names, {k: f.coef_ for k, f in fits.items()},
                               f"Diabetes, {PENALTY}(eps={PENALTY_PARAMS['eps']:g}), "
                               f"lam = {cv_model.lam_:.3g}",
                               out / "duality_coefficients.png")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    plot_cv(cv_model, ax=left)
    plot_path(cv_model, ax=right)
    fig.tight_layout()
    paths.append(out / "diabetes_cv_path.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def digits_sparsifier(method: str, lam: float, lr: float, epochs: int,
                      seed: int) -> tuple[Any, float]:
    """Part 2: one sparsifier on the digits; prints and returns it with its test error."""
    from ._deep import load_dataset, train_sparsifier

    X_train, y_train, X_test, y_test = load_dataset("digits", seed)
    print(f"\n2. Sparsifier {method} on the digits ({len(X_train)} training, {len(X_test)} "
          f"test images), network 64-300-100-10, lam {lam:g}, {epochs} epochs")
    net = train_sparsifier(method, X_train, y_train, lam=lam, epochs=epochs, lr=lr,
                           hidden=[300, 100], seed=seed, report_every=5)
    error = float(np.mean(net.predict(X_test) != y_test))
    n_weights = 64 * 300 + 300 * 100 + 100 * 10
    print(f"   test error of the pruned network: {100 * error:.2f} %   density: "
          f"{100 * net.density_:.2f} % of the {n_weights} weights kept")
    return net, error


def training_figure(out: Path, method: str, net: Any, error: float) -> Path:
    """Validation error against density over training (the paper's Figure 2 for one method),
    with the final test result as a star."""
    import matplotlib.pyplot as plt

    from ..plotting import plot_training

    ax = plot_training({method: net.history}, final={method: (100 * error, net.density_)})
    ax.set_title(f"Digits, {method}: error against density over training")
    path = out / "digits_training.png"
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    plt.close(ax.figure)
    return path

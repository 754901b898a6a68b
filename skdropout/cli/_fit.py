"""``skdropout fit``: cross-validated IRLS on the columns of a CSV file: IRLSRegressorCV for a
numeric target, IRLSClassifierCV for a categorical one.

With ``--task auto`` (the default) the target is categorical when one of its cells is not a
number, or when every cell is an integer and there are at most ``MAX_CLASSES`` distinct
values; otherwise it is numeric."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ._errors import CommandError, check_writable
from ._table import check_columns, numeric_columns, read_csv

MAX_CLASSES = 10


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "fit", help="fit IRLSRegressorCV to a CSV file and print the chosen lam and support",
        description="Cross-validate lam for an IRLS regressor with the given penalty on the "
                    "columns of a CSV file (header row required), refit at the chosen lam, "
                    "print the nonzero coefficients by column name and the CV score.")
    p.add_argument("data", help="CSV file with a header row")
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument("--features", nargs="+", metavar="COLUMN",
                   help="the predictor columns (default: all but the target and --drop)")
    p.add_argument("--drop", nargs="+", default=[], metavar="COLUMN",
                   help="columns not to use as predictors")
    p.add_argument("--sep", default=",", help="field separator, one character (default ',')")
    p.add_argument("--encoding", default="utf-8",
                   help="text encoding of the file, e.g. latin-1 (default utf-8, with or "
                        "without a byte-order mark)")
    p.add_argument("--penalty", default="logsum",
                   help="penalty name, see skdropout.penalties (default logsum)")
    p.add_argument("--param", nargs="+", default=[], metavar="NAME=VALUE",
                   help="penalty parameters, e.g. --param eps=0.5")
    p.add_argument("--task", choices=["auto", "regression", "classification"], default="auto",
                   help="regression (IRLSRegressorCV) or classification (IRLSClassifierCV, "
                        "l1-type penalised logistic regression); auto: classification when "
                        "the target has a non-numeric cell, or only integers with at most "
                        f"{MAX_CLASSES} distinct values (default auto)")
    p.add_argument("--cv", type=int, default=5, help="number of CV folds (default 5)")
    grid = p.add_mutually_exclusive_group()
    grid.add_argument("--n-lams", type=int, help="number of lams on the automatic grid")
    grid.add_argument("--lams", nargs="+", type=float, metavar="LAM", help="explicit lam grid")
    p.add_argument("--scoring", default=None,
                   help="a scikit-learn scorer name (default: mean squared error)")
    p.add_argument("--selection", choices=["min", "1se"], default="min",
                   help="best mean score, or the one-standard-error rule (default min)")
    p.add_argument("--no-standardize", dest="standardize", action="store_false",
                   help="fit on the raw columns instead of standardised ones")
    p.add_argument("--n-jobs", type=int, default=None, help="parallel CV folds (joblib)")
    p.add_argument("--save", metavar="FILE", help="save the fitted model with joblib")
    p.set_defaults(handler=run)


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["eps=0.5", "k=3"]`` -> ``{"eps": 0.5, "k": 3}`` (int, else float, else str).

    Examples
    --------
    >>> parse_params(["eps=0.5", "k=3"])
    {'eps': 0.5, 'k': 3}
    """
    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise CommandError(f"--param {item!r}: expected NAME=VALUE, e.g. eps=0.5.")
        for convert in (int, float, str):
            try:
                params[name] = convert(text)
                break
            except ValueError:
                continue
    return params


def is_categorical(cells: list[str]) -> bool:
    """The ``--task auto`` rule (module docstring).

    Examples
    --------
    >>> is_categorical(["a", "b"]), is_categorical(["1", "2", "1"]), is_categorical(["1.5", "2"])
    (True, True, False)
    """
    try:
        values = np.array([float(c) for c in cells])
    except ValueError:
        return True
    finite = values[np.isfinite(values)]
    return bool(np.all(finite == np.round(finite)) and np.unique(finite).size <= MAX_CLASSES)


def run(args: argparse.Namespace) -> int:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..penalties import get_penalty

    if args.save:
        check_writable(args.save, "--save")
    header, rows = read_csv(args.data, args.sep, args.encoding)
    check_columns(args.data, header, [args.target, *args.drop])
    features = args.features or [c for c in header if c != args.target and c not in args.drop]
    if args.target in features:
        raise CommandError(f"the target {args.target!r} cannot also be a feature.")
    if not features:
        raise CommandError(f"{args.data}: no predictor columns left.")
    X = numeric_columns(args.data, header, rows, features)
    cells = [row[header.index(args.target)].strip() for row in rows]
    classify = (args.task == "classification"
                or (args.task == "auto" and is_categorical(cells)))
    y = (np.array(cells) if classify
         else numeric_columns(args.data, header, rows, [args.target])[:, 0])
    params = parse_params(args.param)
    try:
        penalty = get_penalty(args.penalty, **params)
    except TypeError as exc:
        raise CommandError(str(exc)) from None
    from ..linear import IRLSClassifierCV, IRLSRegressorCV

    lams = args.lams if args.lams is not None else args.n_lams
    cv_model = (IRLSClassifierCV if classify else IRLSRegressorCV)(penalty=args.penalty, penalty_params=params or None,
                               cv=args.cv, scoring=args.scoring, selection=args.selection,
                               n_jobs=args.n_jobs, **({} if lams is None else {"lams": lams}))
    model = make_pipeline(StandardScaler(), cv_model) if args.standardize else cv_model
    model.fit(X, y)
    report(cv_model, model, features, penalty, args)
    if args.save:
        import joblib

        from ..experiments._atomic import replacing

        with replacing(args.save) as partial:
            joblib.dump(model, partial)
        print(f"saved the fitted model to {args.save} (joblib.load it; predict takes the "
              f"columns {', '.join(features)})")
    return 0


def report(cv_model: Any, model: Any, features: list[str], penalty: Any,
           args: argparse.Namespace) -> None:
    best = cv_model.best_index_
    scores = cv_model.cv_results_
    n_lams = len(cv_model.lams_)
    print(f"{type(cv_model).__name__}, penalty {penalty!r}, {args.cv}-fold CV over {n_lams} lams "
          f"({cv_model.lams_.max():.4g} .. {cv_model.lams_.min():.4g}), {args.selection} rule")
    print(f"chosen lam: {cv_model.lam_:.6g}")
    mean, sem = scores["mean_test_score"][best], scores["sem_test_score"][best]
    classify = hasattr(cv_model, "classes_")
    if args.scoring is None:
        what = "log-loss" if classify else "mean squared error"
        print(f"CV {what}: {-mean:.6g} (standard error {sem:.3g})")
    else:
        print(f"CV {args.scoring}: {mean:.6g} (standard error {sem:.3g})")
    if classify:
        report_classes(cv_model, features)
        return
    coef = np.asarray(cv_model.coef_)
    support = np.flatnonzero(coef)
    print(f"nonzero coefficients: {len(support)} of {len(features)}")
    names = [features[j] for j in support] + ["(intercept)"]
    columns = {"coefficient": [*coef[support], cv_model.intercept_]}
    if args.standardize:  # coefficients per standard deviation, and in the columns' units
        scaler = model[0]
        raw = coef / scaler.scale_
        columns = {"standardised": columns["coefficient"],
                   "original units": [*raw[support], cv_model.intercept_ - raw @ scaler.mean_]}
    width = max(len(name) for name in names)
    print("  " + " " * width + "".join(f"  {title:>14}" for title in columns))
    for i, name in enumerate(names):
        print(f"  {name:<{width}}" + "".join(f"  {col[i]:>14.6g}" for col in columns.values()))


def report_classes(cv_model: Any, features: list[str]) -> None:
    """The classes and the nonzero coefficients (per standardised column when standardised)
    of a fitted IRLSClassifierCV: one column for two classes (the log-odds of the second),
    one per class otherwise."""
    classes = [str(c) for c in cv_model.classes_]
    print(f"classes: {', '.join(classes)}")
    coef = np.asarray(cv_model.coef_)  # (n_columns, n_features)
    support = np.flatnonzero(np.any(coef != 0, axis=0))
    print(f"nonzero coefficients: {len(support)} of {len(features)} features")
    titles = [f"log-odds {classes[1]}"] if coef.shape[0] == 1 else classes
    names = [features[j] for j in support] + ["(intercept)"]
    columns = [[*coef[k, support], cv_model.intercept_[k]] for k in range(coef.shape[0])]
    width = max(len(name) for name in names)
    print("  " + " " * width + "".join(f"  {t[:14]:>14}" for t in titles))
    for i, name in enumerate(names):
        print(f"  {name:<{width}}" + "".join(f"  {col[i]:>14.6g}" for col in columns))

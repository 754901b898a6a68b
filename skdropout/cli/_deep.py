"""``skdropout sparsify`` (one sparsifier on digits or MNIST) and ``skdropout table4``."""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..experiments._atomic import replacing
from ._errors import CommandError, check_writable


def add_sparsify_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sparsify", help="train one sparsifier (LeNet-300-100) on digits or MNIST",
        description="Train a LeNet-300-100 sparsified by one method, print the validation "
                    "error and density of the pruned network every epoch, then its test "
                    "error and density; optionally save the fitted estimator.")
    p.add_argument("--method", required=True,
                   help="one of skdropout.nn.METHODS, e.g. vardrop_lr_ar, logsum, hardconcrete")
    p.add_argument("--dataset", choices=["digits", "mnist"], default="digits",
                   help="digits (scikit-learn's 8x8, ships with it) or mnist (data home)")
    p.add_argument("--lam", type=float, default=None,
                   help="regularisation strength (default: the method's, see SparseNetClassifier)")
    p.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--batch-size", type=int, default=128, help="(default 128)")
    p.add_argument("--hidden", type=int, nargs="+", default=[300, 100], metavar="UNITS",
                   help="hidden layer sizes (default 300 100, LeNet-300-100)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--data-home", default=None, help="MNIST data home (default $SKDROPOUT_DATA)")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar on stderr")
    p.add_argument("--save", metavar="FILE", help="pickle the fitted estimator to FILE")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="save the training state to FILE after every epoch; the same command "
                        "run again after an interrupt (Ctrl-C) resumes from it")
    p.set_defaults(handler=run_sparsify)


def add_table4_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "table4", help="rerun the paper's Table 4 and Figure 2 on MNIST",
        description="The paper's protocol (appendix C), and the authors' code where the "
                    "paper is silent: LeNet-300-100 on standardised MNIST, their 48,000/"
                    "12,000 split, Adam with the learning rate decaying linearly once per "
                    "epoch, batch 128. Writes a CSV and a JSON per method (test errors of "
                    "the pruned and unpruned networks, every setting), the final table and "
                    "Figure 2 to --out. "
                    "Run again after an interrupt (Ctrl-C), it resumes where it stopped and "
                    "skips the methods already finished in --out.")
    p.add_argument("--epochs", type=int, default=200, help="(default 200, the paper's)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--out", default="skdropout-table4", metavar="DIR",
                   help="output folder (default ./skdropout-table4)")
    p.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                   help="a subset of Table 4's methods (default all)")
    p.add_argument("--data-home", default=None, help="MNIST data home (default $SKDROPOUT_DATA)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--collect", action="store_true",
                   help="train nothing: assemble the table and figures of the methods "
                        "finished in --out")
    p.set_defaults(handler=run_table4)


def check_method(method: str) -> None:
    """Raise CommandError for a method skdropout.nn does not have (before any data loads)."""
    from ..nn import METHODS

    if method not in METHODS:
        raise CommandError(f"unknown method {method!r}; choose from: {', '.join(METHODS)}.")


def check_training_options(args: argparse.Namespace) -> None:
    """Raise CommandError for training options no run can use (before any data loads)."""
    if args.epochs < 1:
        raise CommandError(f"--epochs must be >= 1, got {args.epochs}.")
    for option in ("lr", "lam"):
        value = getattr(args, option, None)
        if value is not None and not (np.isfinite(value) and value > 0):
            raise CommandError(f"--{option} must be a finite number > 0, got {value}.")
    if getattr(args, "batch_size", 1) < 1:
        raise CommandError(f"--batch-size must be >= 1, got {args.batch_size}.")
    hidden = getattr(args, "hidden", [])
    if any(units < 1 for units in hidden):
        raise CommandError(f"--hidden: every layer needs >= 1 unit, got "
                           f"{' '.join(map(str, hidden))}.")


def _check_common(args: argparse.Namespace) -> None:
    check_training_options(args)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise CommandError(f"--device {args.device}: CUDA is not available here "
                               "(torch.cuda.is_available() is False); use --device cpu.")
    elif args.device != "cpu":
        raise CommandError(f"--device must be cpu or cuda[:N], got {args.device!r}.")


def load_dataset(name: str, seed: int, data_home: str | None = None) -> tuple[np.ndarray, ...]:
    """``(X_train, y_train, X_test, y_test)`` as float32 in [0, 1] and int64: scikit-learn's
    digits split 80/20 (stratified, ``seed``), or MNIST's standard 60,000/10,000 split."""
    if name == "mnist":
        from ..datasets import fetch_mnist

        X_train, y_train = fetch_mnist(data_home=data_home, subset="train", return_X_y=True)
        X_test, y_test = fetch_mnist(data_home=data_home, subset="test", return_X_y=True)
        return X_train, y_train, X_test, y_test
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        (X / 16.0).astype(np.float32), y.astype(np.int64), test_size=0.2, stratify=y,
        random_state=seed)
    return X_train, y_train, X_test, y_test


def train_sparsifier(method: str, X_train: np.ndarray, y_train: np.ndarray, *,
                     lam: float | None, epochs: int, hidden: list[int], seed: int,
                     lr: float = 1e-3, batch_size: int = 128, device: str = "cpu",
                     progress: bool = False, report_every: int = 1,
                     checkpoint: str | None = None, config: dict[str, Any] | None = None
                     ) -> Any:
    """Fit a SparseNetClassifier (LeNet-300-100 shape) holding out 20 % of the training set
    (stratified) for the per-epoch validation error, printing a line every ``report_every``
    epochs (and after the last); resumable from ``checkpoint`` (see
    :func:`skdropout.experiments.fit_resumable`, which raises KeyboardInterrupt when the
    training is interrupted)."""
    from skorch.dataset import ValidSplit

    from ..experiments._checkpoint import fit_resumable
    from ..nn import LeNet300100, SparseNetClassifier
    from ._progress import EpochReport

    callbacks: list[Any] = [EpochReport(every=report_every)]
    if progress:
        from skorch.callbacks import ProgressBar

        callbacks.insert(0, ProgressBar())
    net = SparseNetClassifier(
        LeNet300100, module__in_features=X_train.shape[1], module__hidden=tuple(hidden),
        module__n_classes=10, method=method, lam=lam, max_epochs=epochs, lr=lr,
        batch_size=batch_size, device=device, random_state=seed, verbose=0,
        train_split=ValidSplit(0.2, stratified=True, random_state=seed), callbacks=callbacks)
    return fit_resumable(net, X_train, y_train, checkpoint, config)


def run_sparsify(args: argparse.Namespace) -> int:
    check_method(args.method)
    _check_common(args)
    for option in ("save", "checkpoint"):
        if getattr(args, option):
            check_writable(getattr(args, option), f"--{option}")
    config = {name: getattr(args, name) for name in ("method", "dataset", "lam", "epochs", "lr",
                                                     "batch_size", "hidden", "seed")}
    if args.checkpoint:  # another run's checkpoint is refused before the data load
        from ..experiments._checkpoint import EpochCheckpoint

        EpochCheckpoint(args.checkpoint, config).check()
    X_train, y_train, X_test, y_test = load_dataset(args.dataset, args.seed, args.data_home)
    print(f"{args.method} on {args.dataset}: {len(X_train)} training images (80 % fit, 20 % "
          f"validation), {len(X_test)} test images; network {X_train.shape[1]}-"
          f"{'-'.join(map(str, args.hidden))}-10")
    net = train_sparsifier(args.method, X_train, y_train, lam=args.lam, epochs=args.epochs,
                           hidden=args.hidden, seed=args.seed, lr=args.lr,
                           batch_size=args.batch_size, device=args.device,
                           progress=args.progress, checkpoint=args.checkpoint, config=config)
    error = float(np.mean(net.predict(X_test) != y_test))
    print(f"test error of the pruned network: {100 * error:.2f}%   density: "
          f"{100 * net.density_:.2f}% of the weights kept")
    if args.save:
        with replacing(args.save) as partial, open(partial, "wb") as handle:
            pickle.dump(net, handle)
        print(f"saved the fitted estimator to {args.save} (pickle.load it)")
    if args.checkpoint:  # the run is complete: nothing left to resume
        Path(args.checkpoint).unlink()
    return 0


def run_table4(args: argparse.Namespace) -> int:
    _check_common(args)
    from ..experiments.table4 import collect_table4, format_table
    from ..experiments.table4 import run_table4 as table4

    if args.collect:
        table = collect_table4(args.out)
    else:
        table = table4(methods=args.methods, epochs=args.epochs, device=args.device,
                       out=args.out, data_home=args.data_home, seed=args.seed)

    print(format_table(table))
    print(f"results written to {args.out}")
    return 0

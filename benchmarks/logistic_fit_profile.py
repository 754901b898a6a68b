"""What one fit of a logistic_speed.py text row costs: a warm process against a fresh child.

For each row (penalty, our tol, the peer's tol: the tols at which the committed table times
the row), ours (``IRLSClassifier``) and skglm (the fastest peer of those rows) fit the
``make_text`` problem of benchmarks/logistic_speed.py at ``lam = lam_max / divisor``:

* warm: ``--repeat`` fits in this process after a first one (its memory already in use);
* fresh: ``--repeat`` fits, each the first fit of a forked child, as logistic_speed.py
  times them, with the child's minor page faults during the fit (each page of memory
  that the fit is the first to write costs one);
* for reference, the conversion of X (CSR) to CSC in a fresh child, which every solver's
  fit starts with (skglm's coordinate descent and our column slices read X by columns);
* for ours, the part of the warm fit spent in the working sets' Gram matrices
  ``X_W' V X_W`` of its Newton steps (``Design.cross``, scipy's sparse product), timed
  around the outermost call.

CPU time of the process, one BLAS thread; minimum and median of the fits. The ratios are
ours over the peer's (minima). Usage: ``OMP_NUM_THREADS=1 python
benchmarks/logistic_fit_profile.py [--divisor 20] [--rows PENALTY=OURS_TOL,PEER_TOL ...]
[--repeat 9] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from logistic_speed import make_text, solvers, warm_up  # benchmarks/ is on sys.path
from skdropout.linear import _design

OURS = "skdropout IRLS"
ROWS = ["l1=1e-2,1e-6", "l1-noint=1e-2,1e-6", "scad=1e-4,1e-4"]


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _fresh_run(send, job) -> None:
    faults, start = _minor_faults(), time.process_time()
    job()
    send.send((time.process_time() - start, _minor_faults() - faults))


def fresh(job) -> tuple[float, int]:
    """(CPU seconds, minor page faults) of ``job()`` (a fit) in a forked child, the first
    work of the child."""
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_fresh_run, args=(send, job))
    child.start()
    send.close()
    out = receive.recv()
    child.join()
    return out


class GramTimer:
    """CPU time inside ``Design.cross`` (its outermost calls) while installed."""

    def __init__(self) -> None:
        self.seconds, self._depth, self._cross = 0.0, 0, _design.Design.cross

    def __enter__(self) -> "GramTimer":
        cross = self._cross

        def timed(design, rows, cols):
            self._depth += 1
            start = time.process_time()
            try:
                return cross(design, rows, cols)
            finally:
                self._depth -= 1
                if not self._depth:
                    self.seconds += time.process_time() - start

        _design.Design.cross = timed
        return self

    def __exit__(self, *exc) -> None:
        _design.Design.cross = self._cross


def warm(job, repeat: int) -> tuple[list[float], list[float]]:
    """CPU seconds of ``repeat`` runs of ``job()`` (a fit) after a first one in this
    process, and the seconds of each in ``Design.cross`` (none for a peer)."""
    job()
    times, grams = [], []
    for _ in range(repeat):
        with GramTimer() as timer:
            start = time.process_time()
            job()
            times.append(time.process_time() - start)
        grams.append(timer.seconds)
    return times, grams


def ms(values) -> str:
    return f"{1e3 * min(values):8.1f} {1e3 * float(np.median(values)):8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--divisor", type=float, default=20.0)
    parser.add_argument("--rows", nargs="+", default=ROWS,
                        help="PENALTY=OURS_TOL,PEER_TOL (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    X, y = make_text()
    n = X.shape[0]
    lam = float(np.max(np.abs(X.T @ (y - y.mean())))) / n / args.divisor
    penalties = [row.split("=")[0] for row in args.rows]
    warm_up(penalties, {"sparse"})  # skglm's numba functions compiled, every module imported
    lines = [f"# benchmarks/logistic_fit_profile.py {' '.join(sys.argv[1:])}",
             f"# {platform.platform()}, CPU time, BLAS threads=1, text lam_max/"
             f"{args.divisor:g}, {args.repeat} fits each; times in ms (min, median)",
             f"{'penalty':<10}{'solver':<20}{'tol':>7}{'warm':>18}{'fresh child':>18}"
             f"{'faults':>8}{'Gram':>18}"]
    fits = []  # (penalty, solver, tol, job) of every fit
    for row in args.rows:
        penalty, tols = row.split("=")
        facs = solvers(penalty, n, True)
        peer = next(name for name in facs if name.startswith("skglm"))
        for name, tol in zip((OURS, peer), map(float, tols.split(","))):
            fits.append((penalty, name, tol,
                         lambda f=facs[name], tol=tol: f(lam, tol).fit(X, y)))
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # every fresh child first, forked (as logistic_speed.py forks them) from a process
        # that has fitted only warm_up's small problems
        runs = [[fresh(job) for _ in range(args.repeat)] for *_, job in fits]
        # what every solver pays first: X (CSR) as CSC, the layout of column access
        csc = [fresh(lambda: sp.csc_matrix(X)) for _ in range(args.repeat)]
        warms = [warm(job, args.repeat) for *_, job in fits]
    for (penalty, name, tol, _), run, (times, grams) in zip(fits, runs, warms):
        gram = ms(grams) if name == OURS else f"{'':>17}"
        lines.append(f"{penalty:<10}{name:<20}{tol:>7.0e} {ms(times)} "
                     f"{ms([t for t, _ in run])} {int(np.median([f for _, f in run])):>7} "
                     f"{gram}")
    lines.append(f"{'X to CSC':<30}{'':>7} {'':>17} {ms([t for t, _ in csc])} "
                 f"{int(np.median([f for _, f in csc])):>7}")
    ratios = []
    for i in range(0, len(fits), 2):  # ours, then its peer
        (penalty, _, _, _), peer = fits[i], fits[i + 1][1]
        (w_ours, g_ours), w_peer = warms[i], warms[i + 1][0]
        f_ours, f_peer = ([t for t, _ in runs[j]] for j in (i, i + 1))
        best = int(np.argmin(w_ours))
        rest = w_ours[best] - g_ours[best]  # ours' fastest warm fit without its Gram matrices
        ratios.append(f"# {penalty}: ours / {peer}: warm {min(w_ours) / min(w_peer):.2f}, "
                      f"fresh child {min(f_ours) / min(f_peer):.2f}; ours' fastest warm fit "
                      f"without its Gram matrices {rest / min(w_peer):.2f}")
    text = "\n".join(lines + ratios) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()

"""Run (part of) the Table 4 / Figure 2 reproduction into this folder, one torch thread.

    SKDROPOUT_DATA=../shared/data python benchmarks/table4/run.py --epochs 200 [METHOD ...]

Several processes with disjoint method lists may run at once; each rebuilds table4.csv and the
figures from every finished method when it ends (``--collect`` only rebuilds them). A run cut
short by Ctrl-C resumes from its last finished epoch when started again.
"""

import argparse
import json
from pathlib import Path

import torch

from skdropout.experiments import collect_table4, format_table, run_table4


def _value(text: str) -> object:
    """A --set value: a JSON number, true/false or null, else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("methods", nargs="*", default=None)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0,
                        help="torch seed (initial weights, noise, shuffling); the split is "
                             "always the authors'")
    parser.add_argument("--collect", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                        help="an estimator parameter for every method, e.g. "
                             "callbacks__kl_warmup__epochs=50 or iterator_train__shuffle=false "
                             "(a JSON value, else a string; a deviation from the protocol)")
    parser.add_argument("--out", default=None, help="output folder (default: this folder)")
    parser.add_argument("--extra", action="append", default=[], metavar="LABEL=JSON",
                        help="with --collect: another run's result JSON (relative to --out) "
                             "drawn as a labelled point in figure2_published.png")
    args = parser.parse_args()
    out = Path(args.out) if args.out else Path(__file__).resolve().parent
    torch.set_num_threads(args.threads)
    if args.collect:
        table = collect_table4(out, extra=dict(item.split("=", 1) for item in args.extra))
    else:
        params = {k: _value(v) for k, v in (item.split("=", 1) for item in args.set)}
        table = run_table4(methods=args.methods or None, epochs=args.epochs,
                           device=args.device, out=out, params=params, seed=args.seed,
                           verbose=1)
    print(format_table(table))

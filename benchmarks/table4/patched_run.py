"""``run.py`` under a replacement made by an experiment script, its result JSON marked.

The experiments that replace a piece of the library for their own process only
(``authors_eta_dual.py``, ``authors_vardrop_lr.py``) make the replacement, then call
:func:`run_and_mark` with the command-line arguments of ``run.py``.
"""

import json
import runpy
import sys
from pathlib import Path


def run_and_mark(method: str, key: str, value: str) -> None:
    """Run ``run.py`` with this process's arguments, then record ``key: value`` in
    ``<out>/<method>.json`` (when the run finished)."""
    runpy.run_path(str(Path(__file__).with_name("run.py")), run_name="__main__")
    argv = sys.argv[1:]
    path = Path(argv[argv.index("--out") + 1]) / f"{method}.json"
    if path.exists():
        result = json.loads(path.read_text())
        result[key] = value
        path.write_text(json.dumps(result, indent=1))

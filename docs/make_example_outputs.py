"""Run every script under examples/ and keep what it prints and draws for the docs.

Writes ``docs/_static/examples/<script>.txt`` (its standard output) and the PNGs it saves
(``--out docs/_static/examples``); the examples page includes both. Run from the repository
root after changing an example, and commit the outputs::

    MPLBACKEND=Agg .venv/bin/python docs/make_example_outputs.py [script.py ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "_static" / "examples"


def run(script: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    res = subprocess.run([sys.executable, str(script), "--out", str(OUT)], cwd=ROOT,
                         capture_output=True, text=True, env=env, check=True)
    # The figure paths printed by the scripts are made relative to the repository.
    text = res.stdout.replace(str(ROOT) + os.sep, "")
    (OUT / f"{script.stem}.txt").write_text(text)
    print(f"{script.name}: {len(text.splitlines())} lines")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    names = sys.argv[1:]
    scripts = [ROOT / "examples" / n for n in names] if names else sorted(
        (ROOT / "examples").glob("*.py"))
    for script in scripts:
        run(script)

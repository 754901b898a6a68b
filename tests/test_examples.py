"""Every script under examples/ runs to completion (exit status 0) on CPU in seconds.

Each one is executed in a fresh interpreter with a non-interactive matplotlib backend and
writes its figures into a temporary folder (``--out``). The scripts check their own
numbers (``assert``), so a wrong result fails here too.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def test_there_are_examples():
    assert EXAMPLES, "no example scripts found under examples/"


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=180)
    assert res.returncode == 0, f"{script.name} failed:\n{res.stdout}\n{res.stderr}"
    assert res.stdout.strip(), f"{script.name} printed nothing"
    assert list(tmp_path.glob("*.png")), f"{script.name} wrote no figure"

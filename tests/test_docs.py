"""The documentation builds with warnings as errors, and its code snippets run.

The same command as docs/conf.py documents, into a temporary folder:
``python -m sphinx -W --keep-going -b html docs <tmp>``; then the guide's ``doctest``
blocks through Sphinx's doctest builder. Needs the ``docs`` extra (sphinx, numpydoc).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _sphinx(builder: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", builder,
           "-d", str(out / "doctrees"), str(DOCS), str(out / builder)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_html_build_has_no_warnings(tmp_path):
    res = _sphinx("html", tmp_path)
    assert res.returncode == 0, f"sphinx -W failed:\n{res.stdout}\n{res.stderr}"
    assert res.stderr.strip() == "", res.stderr
    html = tmp_path / "html"
    for page in ("index.html", "guide/idea.html", "guide/penalties.html",
                 "api/penalties.html", "generated/skdropout.penalties.get_penalty.html"):
        assert (html / page).is_file(), page


def test_guide_doctests_pass(tmp_path):
    res = _sphinx("doctest", tmp_path)
    assert res.returncode == 0, f"doctest builder failed:\n{res.stdout}\n{res.stderr}"
    report = (tmp_path / "doctest" / "output.txt").read_text()
    assert "0 failures in tests" in report, report

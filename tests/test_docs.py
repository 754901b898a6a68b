"""The documentation builds with warnings as errors, and the guide's code snippets run.

The build is the command docs/conf.py documents, into a temporary folder:
``python -m sphinx -W --keep-going -b html docs <tmp>`` (nitpicky, so a broken cross-reference
fails). It runs every gallery script under examples/ (sphinx-gallery), each of which checks
its own numbers with ``assert``: a failing example fails the build. The guide's
``.. doctest::`` blocks are run with the standard library's doctest, one namespace per page.
Needs the ``docs`` extra (sphinx, numpydoc, sphinx-gallery).
"""

import doctest
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLES = sorted((DOCS.parent / "examples").rglob("plot_*.py"))
PAGES = sorted(DOCS.rglob("*.rst"))
_BLOCK = re.compile(r"^\.\. doctest::[^\n]*\n((?:[ \t]*\n|   .*\n)+)", re.MULTILINE)


def test_html_build_has_no_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("sphinx_gallery")
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html",
           "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, f"sphinx -W failed:\n{res.stdout}\n{res.stderr}"
    assert res.stderr.strip() == "", res.stderr
    html = tmp_path / "html"
    for page in ("index.html", "guide/idea.html", "guide/penalties.html",
                 "auto_examples/index.html", "api/penalties.html",
                 "generated/skdropout.penalties.get_penalty.html"):
        assert (html / page).is_file(), page
    # every example has its page with a figure, a thumbnail and both downloads
    assert EXAMPLES
    gallery = (html / "auto_examples/index.html").read_text()
    for script in EXAMPLES:
        rel = script.relative_to(DOCS.parent / "examples").with_suffix("")
        page = (html / "auto_examples" / rel).with_suffix(".html")
        text = page.read_text()
        assert f"sphx_glr_{rel.name}_001.png" in text, f"{rel}: no figure"
        assert f"{rel.name}.ipynb" in text and f"{rel.name}.py" in text, f"{rel}: downloads"
        assert f"sphx_glr_{rel.name}_thumb.png" in gallery, f"{rel}: no thumbnail"
    # API pages list the examples that use them
    api = (html / "generated/skdropout.linear.IRLSRegressorCV.html").read_text()
    assert "Examples using" in api and "plot_cv_path" in api


def test_guide_has_doctests():
    assert sum(len(_BLOCK.findall(p.read_text())) for p in PAGES) >= 4


@pytest.mark.parametrize("page", [p for p in PAGES if _BLOCK.search(p.read_text())],
                         ids=lambda p: str(p.relative_to(DOCS)))
def test_guide_doctests_pass(page):
    text = "\n".join(textwrap.dedent(b) for b in _BLOCK.findall(page.read_text()))
    test = doctest.DocTestParser().get_doctest(text, {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out: list[str] = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)
    assert runner.tries > 0

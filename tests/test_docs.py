"""The documentation builds with warnings as errors, and the guide's code snippets run.

The build is the command docs/conf.py documents, into a temporary folder:
``python -m sphinx -W --keep-going -b html docs <tmp>`` (nitpicky, so a broken cross-reference
fails). The guide's ``.. doctest::`` blocks are run with the standard library's doctest, one
namespace per page. Needs the ``docs`` extra (sphinx, numpydoc).
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
PAGES = sorted(DOCS.rglob("*.rst"))
_BLOCK = re.compile(r"^\.\. doctest::[^\n]*\n((?:[ \t]*\n|   .*\n)+)", re.MULTILINE)


def test_html_build_has_no_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html",
           "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, f"sphinx -W failed:\n{res.stdout}\n{res.stderr}"
    assert res.stderr.strip() == "", res.stderr
    html = tmp_path / "html"
    for page in ("index.html", "guide/idea.html", "guide/penalties.html", "examples.html",
                 "api/penalties.html", "generated/skdropout.penalties.get_penalty.html"):
        assert (html / page).is_file(), page


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

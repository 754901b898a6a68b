"""The API docstrings stay complete, and the docs' cross-project links stay offline.

- docs/audit_docstrings.py finds nothing: every public parameter, fitted attribute and
  method is described (a type alone is not a description), and the required sections
  are there.
- The registries the CLI help points to (``PENALTIES``, ``METHODS``) document every name.
- The intersphinx inventories in docs/_intersphinx are those docs/make_intersphinx.py
  writes, and docs/conf.py reads them from disk, never from the network.
"""

import importlib.util
import inspect
import runpy
import sys
import zlib
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


audit = _load("audit_docstrings")


@pytest.mark.parametrize("module", audit.MODULES)
def test_public_api_docstrings_are_complete(module):
    pytest.importorskip("numpydoc")
    if module == "skdropout.nn":
        pytest.importorskip("torch")
        pytest.importorskip("skorch")
    if module == "skdropout.plotting":
        pytest.importorskip("matplotlib")
    problems = audit.audit([module])
    assert not problems, "\n".join(f"{path}: {line}" for path, lines in problems.items()
                                   for line in lines)


def test_audit_reports_a_type_without_description():
    pytest.importorskip("numpydoc")
    from numpydoc.docscrape import ClassDoc, FunctionDoc

    def shaped(w, eps=2.0):
        """Summary.

        Parameters
        ----------
        w : array-like
            Weights.
        eps : float > 0
        """

    class Fitted:
        """Summary.

        Attributes
        ----------
        coef_ : ndarray
        """

    found = (audit.check_descriptions(FunctionDoc(shaped), "shaped")
             + audit.check_descriptions(ClassDoc(Fitted, config={"show_class_members": False}),
                                        "Fitted"))
    assert found == ["shaped: parameters entry 'eps' has no description",
                     "Fitted: attributes entry 'coef_' has no description"]


def test_penalties_registry_documents_every_name():
    from sphinx.pycode import ModuleAnalyzer

    from skdropout.penalties import PENALTIES
    comment = "\n".join(ModuleAnalyzer.for_module("skdropout.penalties")
                        .find_attr_docs()[("", "PENALTIES")])
    for name, cls in PENALTIES.items():
        assert f"``{name}``" in comment and f":class:`{cls.__name__}`" in comment, name


def test_methods_registry_documents_every_name():
    pytest.importorskip("torch")
    pytest.importorskip("skorch")
    from skdropout.nn import METHODS
    page = (DOCS / "api" / "nn.rst").read_text()
    entry = page.split(".. data:: METHODS", 1)[1].split("\n.. ", 1)[0]
    table = entry.split("\n   ===")[2]          # the body: from the 2nd rule to the 3rd
    rows = [line.split()[0] for line in table.splitlines() if line.startswith("   ``")]
    assert rows == [f"``{name}``" for name in METHODS]


def _inventory_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = data.index(b"\n", header_end) + 1
    assert data.startswith(b"# Sphinx inventory version 2\n")
    return zlib.decompress(data[header_end:]).decode().splitlines()


def test_intersphinx_inventories_are_those_the_script_writes():
    pytest.importorskip("torch")
    pytest.importorskip("skorch")
    from sphinx.util.inventory import InventoryFile

    make = _load("make_intersphinx")
    assert sorted(p.stem for p in (DOCS / "_intersphinx").glob("*.inv")) == sorted(
        make.PROJECTS)
    for key, project in make.PROJECTS.items():
        path = DOCS / "_intersphinx" / f"{key}.inv"
        assert _inventory_lines(path) == make.entries(project), key
        with path.open("rb") as stream:
            inventory = InventoryFile.load(stream, project.url, lambda base, uri: base + uri)
        data = inventory.data if hasattr(inventory, "data") else inventory
        names = {name for objects in data.values() for name in objects}
        assert {n for n, _, _ in project.names} | set(project.aliases) == names


def test_intersphinx_reads_local_files_only():
    conf = runpy.run_path(str(DOCS / "conf.py"))
    assert "sphinx.ext.intersphinx" in conf["extensions"]
    mapping = conf["intersphinx_mapping"]
    assert set(mapping) == {"sklearn", "numpy", "scipy", "torch", "skorch"}
    for key, (url, inventory) in mapping.items():
        assert url.startswith("https://"), key
        assert Path(inventory).is_file(), (key, inventory)
    assert inspect.isfunction(conf["setup"])

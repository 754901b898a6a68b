"""Write the local intersphinx inventories in ``docs/_intersphinx/`` (the build stays offline).

The documentation links to scikit-learn, numpy, scipy, torch and skorch through intersphinx,
but builds without a network: ``conf.py`` points ``intersphinx_mapping`` at the
``objects.inv`` files written here instead of downloading the projects' own. Each file is a
standard Sphinx inventory (version 2: four header lines, then zlib-compressed lines
``name domain:role priority uri display-name``) holding only the names these docs refer to,
each pointing at the page of the project's public documentation where the object is
described (the URL pattern of that project's API pages).

Every name is imported before it is written, so a renamed or removed object fails here, not
as a dead link. Some entries are the module paths that autodoc's ``show-inheritance`` writes
for a base class (``torch.nn.modules.module.Module``); they point at the page of the public
name (``torch.nn.Module``) and must be the same object.

The build is nitpicky: a reference to one of these projects that is not listed fails it.
To refer to a new object, add it to ``PROJECTS`` and rerun, from the repository root::

    .venv/bin/python docs/make_intersphinx.py

(torch and skorch must be installed). The output is deterministic, so a rerun without
changes leaves the committed files unchanged.
"""

from __future__ import annotations

import importlib
import zlib
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parent / "_intersphinx"


@dataclass
class Project:
    """One project's inventory: its public URL and the names these docs refer to."""

    title: str
    package: str
    url: str
    # (name, role, page) where page is the URI relative to ``url`` without the anchor;
    # the anchor is the object's public name. ``alias_of`` entries map a module path to
    # the public name whose page documents the object.
    names: list[tuple[str, str, str]] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)


def _gen(prefix: str, names: list[str], role: str = "py:class",
         suffix: str = ".html") -> list[tuple[str, str, str]]:
    """Entries whose page is ``<prefix><name><suffix>`` (Sphinx autosummary's layout)."""
    return [(n, role, f"{prefix}{n}{suffix}") for n in names]


SKLEARN = Project(
    "scikit-learn", "sklearn", "https://scikit-learn.org/stable/",
    names=_gen("modules/generated/", [
        "sklearn.base.BaseEstimator", "sklearn.base.RegressorMixin",
        "sklearn.base.ClassifierMixin", "sklearn.linear_model.Lasso",
        "sklearn.linear_model.LassoCV", "sklearn.linear_model.ElasticNet",
        "sklearn.linear_model.ElasticNetCV", "sklearn.linear_model.Ridge",
        "sklearn.model_selection.KFold", "sklearn.model_selection.ShuffleSplit",
        "sklearn.model_selection.GridSearchCV", "sklearn.exceptions.ConvergenceWarning",
        "sklearn.pipeline.Pipeline"])
    + _gen("modules/generated/", [
        "sklearn.linear_model.enet_path", "sklearn.linear_model.lasso_path",
        "sklearn.utils.estimator_checks.check_estimator"], role="py:function"),
)

NUMPY = Project(
    "NumPy", "numpy", "https://numpy.org/doc/stable/",
    names=_gen("reference/generated/", ["numpy.ndarray"])
    + _gen("reference/generated/", ["numpy.geomspace"], role="py:function")
    + [("numpy.random.Generator", "py:class", "reference/random/generator.html"),
       ("numpy.random.default_rng", "py:function", "reference/random/generator.html"),
       ("numpy.random.RandomState", "py:class", "reference/random/legacy.html")],
)

SCIPY = Project(
    "SciPy", "scipy", "https://docs.scipy.org/doc/scipy/",
    names=_gen("reference/generated/", [
        "scipy.sparse.csr_matrix", "scipy.sparse.csc_matrix", "scipy.sparse.csr_array"])
    + _gen("reference/generated/", ["scipy.sparse.issparse", "scipy.special.dawsn",
                                    "scipy.special.expit"], role="py:function")
    + [("scipy.sparse", "py:module", "reference/sparse.html")],
)

TORCH = Project(
    "PyTorch", "torch", "https://docs.pytorch.org/docs/stable/",
    names=_gen("generated/", ["torch.nn.Module", "torch.nn.Linear", "torch.nn.Conv2d",
                              "torch.optim.SGD", "torch.optim.Adam"])
    + _gen("generated/", ["torch.manual_seed", "torch.set_num_threads", "torch.rand_like",
                          "torch.randn_like"], role="py:function")
    + [("torch.Tensor", "py:class", "tensors.html"),
       ("torch.device", "py:class", "tensor_attributes.html"),
       ("torch.autograd.Function", "py:class", "autograd.html")],
    aliases={"torch.nn.modules.module.Module": "torch.nn.Module",
             "torch.nn.modules.linear.Linear": "torch.nn.Linear",
             "torch.nn.modules.conv.Conv2d": "torch.nn.Conv2d"},
)

SKORCH = Project(
    "skorch", "skorch", "https://skorch.readthedocs.io/en/stable/",
    names=[("skorch.net.NeuralNet", "py:class", "net.html"),
           ("skorch.classifier.NeuralNetClassifier", "py:class", "classifier.html"),
           ("skorch.regressor.NeuralNetRegressor", "py:class", "regressor.html"),
           ("skorch.callbacks.Callback", "py:class", "callbacks.html"),
           ("skorch.callbacks.LRScheduler", "py:class", "callbacks.html"),
           ("skorch.callbacks.EpochScoring", "py:class", "callbacks.html"),
           ("skorch.callbacks.EarlyStopping", "py:class", "callbacks.html"),
           ("skorch.dataset.ValidSplit", "py:class", "dataset.html"),
           ("skorch.history.History", "py:class", "history.html")],
    aliases={"skorch.NeuralNet": "skorch.net.NeuralNet",
             "skorch.NeuralNetClassifier": "skorch.classifier.NeuralNetClassifier",
             "skorch.NeuralNetRegressor": "skorch.regressor.NeuralNetRegressor",
             "skorch.callbacks.base.Callback": "skorch.callbacks.Callback",
             "skorch.callbacks.lr_scheduler.LRScheduler": "skorch.callbacks.LRScheduler"},
)

PROJECTS = {"sklearn": SKLEARN, "numpy": NUMPY, "scipy": SCIPY, "torch": TORCH,
            "skorch": SKORCH}


def resolve(name: str) -> object:
    """The object a dotted name refers to (module, or attribute of one)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


def entries(project: Project) -> list[str]:
    """The inventory lines of a project, after checking that every name exists."""
    pages = {}
    lines = []
    for name, role, page in project.names:
        resolve(name)
        pages[name] = (role, page)
        lines.append(f"{name} {role} 1 {page}#{_anchor(name, role)} -")
    for alias, public in project.aliases.items():
        if resolve(alias) is not resolve(public):
            raise ValueError(f"{alias} is not the same object as {public}")
        role, page = pages[public]
        lines.append(f"{alias} {role} 1 {page}#{_anchor(public, role)} {public}")
    return sorted(lines)


def _anchor(name: str, role: str) -> str:
    return f"module-{name}" if role == "py:module" else name


def write(key: str, project: Project) -> Path:
    version = getattr(importlib.import_module(project.package), "__version__", "")
    header = ("# Sphinx inventory version 2\n"
              f"# Project: {project.title}\n"
              f"# Version: {version.split('+')[0]}\n"
              "# The remainder of this file is compressed using zlib.\n")
    body = "".join(line + "\n" for line in entries(project))
    path = OUT / f"{key}.inv"
    path.write_bytes(header.encode() + zlib.compress(body.encode(), 9))
    return path


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for key, project in PROJECTS.items():
        print(write(key, project).relative_to(OUT.parents[1]))

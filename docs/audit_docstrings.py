"""List the public objects whose numpydoc docstring lacks a section the project requires.

The project asks every public function and class for: a summary, a Parameters section
(when it takes parameters), a Returns section (functions and methods that return
something), the paper's equation / table / algorithm it implements, and an Examples
section that runs as a doctest. Public methods of public classes are checked for a
summary, Parameters and Returns. Every entry of a Parameters, Other Parameters or
Attributes section (fitted attributes included) needs a description, not only a type.
``tests/test_docstrings.py`` runs this audit. Run from the repository root::

    .venv/bin/python docs/audit_docstrings.py [skdropout.penalties skdropout.linear ...]

It prints one line per problem, grouped by file, and exits with status 1 if there is any.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from collections import defaultdict
from pathlib import Path

from numpydoc.docscrape import ClassDoc, FunctionDoc

MODULES = ["skdropout.penalties", "skdropout.linear", "skdropout.nn", "skdropout.datasets",
           "skdropout.plotting"]
CITING = ("skdropout.penalties", "skdropout.linear", "skdropout.nn")
CITES = re.compile(r"\b(eqs?\.|equation|Table\s*\d|Theorem|Corollary|Algorithm|section\s*\d|"
                   r"appendix|Figure\s*\d)", re.IGNORECASE)
ROOT = Path(__file__).resolve().parents[1]


def _params(obj) -> list[str]:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [n for n, p in sig.parameters.items()
            if n not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _returns_something(obj) -> bool:
    try:
        ann = inspect.signature(obj).return_annotation
    except (TypeError, ValueError):
        return True
    return ann not in (None, "None")


def _where(obj) -> str:
    try:
        return str(Path(inspect.getsourcefile(obj)).resolve().relative_to(ROOT))
    except (TypeError, ValueError):
        return "?"


def _inherits_doc(cls, attr: str) -> bool:
    """An undocumented override of a documented base member shows the base's docstring."""
    for base in cls.__mro__[1:]:
        member = vars(base).get(attr)
        if member is not None:
            doc = member.__doc__ if isinstance(member, property) else inspect.getdoc(member)
            if (doc or "").strip():
                return True
    return False


def _own_members(cls) -> dict:
    """The members the API page of ``cls`` shows from this package: its own and those it
    inherits from the package's (private) base classes, not those of scikit-learn, torch
    or skorch."""
    members: dict = {}
    for base in reversed(cls.__mro__):
        if (getattr(base, "__module__", "") or "").startswith("skdropout"):
            members.update(vars(base))
    return members


def _foreign_member(cls, attr: str) -> bool:
    """Whether a scikit-learn / torch / skorch base class defines ``attr``: docs/conf.py
    leaves such a member off the API page unless the override has its own docstring."""
    return any(attr in vars(base) for base in cls.__mro__
               if not (getattr(base, "__module__", "") or "").startswith("skdropout"))


def _cites(name: str) -> bool:
    """Only the modules that implement the paper must cite it (not data or plot helpers)."""
    return name.startswith(CITING)


DESCRIBED = ("Parameters", "Other Parameters", "Attributes")


def check_descriptions(doc, name: str) -> list[str]:
    """Entries of the Parameters / Other Parameters / Attributes sections with a name and a
    type but no description."""
    return [f"{name}: {section.lower()} entry '{entry.name}' has no description"
            for section in DESCRIBED for entry in doc[section]
            if not "".join(entry.desc).strip()]


def check_function(obj, name: str, method: bool = False) -> list[str]:
    problems = []
    raw = inspect.getdoc(obj) or ""
    if not raw.strip():
        return [f"{name}: no docstring"]
    doc = FunctionDoc(obj, doc=raw) if not method else FunctionDoc(None, doc=raw)
    if _params(obj) and not doc["Parameters"]:
        problems.append(f"{name}: no Parameters section ({', '.join(_params(obj))})")
    if _returns_something(obj) and not (doc["Returns"] or doc["Yields"]):
        problems.append(f"{name}: no Returns section")
    problems += check_descriptions(doc, name)
    if not method:
        if not doc["Examples"]:
            problems.append(f"{name}: no Examples section (doctest)")
        if _cites(name) and not CITES.search(raw):
            problems.append(f"{name}: cites no equation/table/algorithm of the paper")
    return problems


def check_class(cls, name: str) -> list[str]:
    raw = inspect.getdoc(cls) or ""
    if not raw.strip():
        return [f"{name}: no docstring"]
    problems = []
    doc = ClassDoc(cls, doc=raw, config={"show_class_members": False})
    init_params = _params(cls)
    if init_params and not doc["Parameters"]:
        problems.append(f"{name}: no Parameters section ({', '.join(init_params)})")
    if not doc["Examples"]:
        problems.append(f"{name}: no Examples section (doctest)")
    if _cites(name) and not CITES.search(raw):
        problems.append(f"{name}: cites no equation/table/algorithm of the paper")
    problems += check_descriptions(doc, name)
    for attr, member in _own_members(cls).items():
        if attr.startswith("_"):
            continue
        own = (getattr(member, "__doc__", None) or "").strip()
        if not own and (_inherits_doc(cls, attr) or _foreign_member(cls, attr)):
            continue                # shown with its base's docstring, or not shown at all
        if isinstance(member, property):
            if not (member.__doc__ or "").strip():
                problems.append(f"{name}.{attr}: property without docstring")
        elif inspect.isfunction(member):
            problems += check_function(member, f"{name}.{attr}", method=True)
    return problems


def audit(module_names: list[str]) -> dict[str, list[str]]:
    report: dict[str, list[str]] = defaultdict(list)
    for mod_name in module_names:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError as exc:
            report[mod_name].append(f"cannot import: {exc}")
            continue
        for attr in getattr(mod, "__all__", []):
            try:
                obj = getattr(mod, attr)
            except (ImportError, AttributeError) as exc:
                report[mod_name].append(f"{mod_name}.{attr}: listed in __all__ but not "
                                        f"importable ({exc})")
                continue
            full = f"{mod_name}.{attr}"
            if inspect.isclass(obj):
                report[_where(obj)] += check_class(obj, full)
            elif callable(obj):
                report[_where(obj)] += check_function(obj, full)
    return {k: v for k, v in report.items() if v}


if __name__ == "__main__":
    result = audit(sys.argv[1:] or MODULES)
    for path in sorted(result):
        print(path)
        for line in result[path]:
            print(f"    {line}")
    sys.exit(1 if result else 0)

"""The house rules of lab_utils that a reader can check from the source (STYLE.md, issue 16)."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import lab_utils

MODULES = sorted(info.name for info in pkgutil.iter_modules(lab_utils.__path__))
SOURCE = Path(lab_utils.__file__).parent


#: Every module of the package, subpackages included (``__main__`` only runs ``grading.parallel``).
ALL_MODULES = sorted(
    info.name.removeprefix("lab_utils.")
    for info in pkgutil.walk_packages(lab_utils.__path__, "lab_utils.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", ALL_MODULES)
def test_every_module_has_docstring_examples(name):
    module = importlib.import_module(f"lab_utils.{name}")
    examples = sum(len(test.examples) for test in doctest.DocTestFinder().find(module))
    assert examples > 0, f"lab_utils.{name} has no docstring example for doctest to run"


def public_functions():
    for name in MODULES:
        module = importlib.import_module(f"lab_utils.{name}")
        for attribute in getattr(module, "__all__", []):
            value = getattr(module, attribute)
            if inspect.isfunction(value) and value.__module__ == module.__name__:
                yield f"{name}.{attribute}", value


@pytest.mark.parametrize(
    "qualified, function", list(public_functions()), ids=[name for name, _ in public_functions()]
)
def test_every_public_function_has_type_hints(qualified, function):
    signature = inspect.signature(function)
    unhinted = [
        name
        for name, parameter in signature.parameters.items()
        if parameter.annotation is inspect.Parameter.empty
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]
    assert not unhinted, f"{qualified}: parameters without a type hint: {unhinted}"
    assert signature.return_annotation is not inspect.Signature.empty, (
        f"{qualified}: no return hint"
    )


@pytest.mark.parametrize("filename", ["explorers.py", "explorer_base.py"])
def test_explorers_only_wire_controls_drawing_is_in_plots(filename):
    text = (SOURCE / filename).read_text(encoding="utf-8")
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert not re.search(r"\bax\w*\.(set_\w+|axhline|legend|bar|plot|text)\(", code)
    assert not re.search(r"[\"']#[0-9A-Fa-f]{6}[\"']", code), "colours come from style.ROLE"
    for private in (
        "_png_is_old",
        "_force_full",
        "_last_buff",
        "_current_image_mode",
        "_data_url",
        "_parent_header",
    ):
        assert private not in text, f"{private} belongs in canvas/ipympl_canvas/cells"


def test_nothing_imports_explorers_or_checks():
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names = {node.module} | {alias.name for alias in node.names}
                assert not names & {"explorers", "checks"}, f"{path.name} imports {names}"

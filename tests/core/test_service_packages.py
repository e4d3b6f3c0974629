"""Billing's and orders' services are packages, one module per aggregate, whose ``__init__``
re-exports every public name (README, "Layout"): callers write ``from billing import services``
and never need to know which module a service lives in. Read with ``ast``, so a name added to a
module and forgotten in ``__all__`` fails here, not in a caller."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _modules_of(folder: str) -> list[Path]:
    return [p for p in sorted((ROOT / folder).glob("*.py")) if p.name != "__init__.py"]


# Each package and the modules whose public names it re-exports.
PACKAGES = {
    "billing.services": _modules_of("billing/services"),
    "orders.services": [*_modules_of("orders/services"), ROOT / "orders/pricing.py"],
}


def _public_definitions(path: Path) -> set[str]:
    """The public names a module defines itself (functions, classes, constants)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


def _dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_public_name_of_a_services_module_is_re_exported(package):
    exported = set(importlib.import_module(package).__all__)
    missing = {
        f"{_dotted(path)}.{name}"
        for path in PACKAGES[package]
        for name in _public_definitions(path) - exported
    }
    assert not missing, f"add to {package}.__all__ (and its imports): {sorted(missing)}"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_the_re_exports_are_the_modules_own_objects(package):
    module = importlib.import_module(package)
    owners = {
        name: importlib.import_module(_dotted(path))
        for path in PACKAGES[package]
        for name in _public_definitions(path)
    }
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.__all__ names {name}, which is not imported"
        if name in owners:
            assert getattr(module, name) is getattr(owners[name], name), name


def test_the_source_scans_read_the_packages():
    # The layering and error-code tests read every module of an app, packages included.
    from tests.core import test_error_codes, test_layering

    layered = {path for _package, path in test_layering._modules()}
    scanned = set(test_error_codes._modules())
    for package in PACKAGES.values():
        for path in package:
            assert path in layered and path in scanned, path

"""Every error code the app raises or compares against is in the published list
(``core.errors.CODES``), and every code on the list is still used.

The scan reads the source (``ast``), so a code in a branch no test reaches is checked too. It
finds codes in ``ValidationError(..., code=...)``, in the small helpers that build one from a
``code`` argument (``_field_error("amount", "…", "not_positive")``), in ``Refusal(…)`` for a
constraint, and in comparisons such as ``exc.code == "wrong_client"``. A code it cannot read
(computed at run time) fails the test: forward an existing error's ``.code`` or use a literal.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from core import errors

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "core",
    "audit",
    "clients",
    "hosting",
    "billing",
    "orders",
    "support",
    "affiliates",
    "kb",
    "accounts",
    "jobs",
    "review",
    "approvals",
)
# Classes that take a code, and its position when given without the keyword.
ERROR_CLASSES = {"ValidationError": 1, "RegexValidator": 2}
# Constructors that take the code as their third argument (core.rules).
KNOWN_BUILDERS = {"Refusal": 2}
ERROR_CONSTANTS = {
    name: value for name, value in vars(errors).items() if name.isupper() and isinstance(value, str)
}


def _modules() -> Iterator[Path]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_code_read(node: ast.expr) -> bool:
    """``exc.code`` or ``getattr(exc, "code", …)``: an existing error's code passed on."""
    if isinstance(node, ast.Attribute) and node.attr == "code":
        return True
    return (
        isinstance(node, ast.Call)
        and _name(node.func) == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value == "code"
    )


class Scan:
    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}
        self.unreadable: list[str] = []
        self.trees = {path: ast.parse(path.read_text(), str(path)) for path in _modules()}
        self.constants = dict(ERROR_CONSTANTS)
        for tree in self.trees.values():
            for node in tree.body:
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)
                ):
                    self.constants.setdefault(node.targets[0].id, node.value.value)
        self.builders = dict(KNOWN_BUILDERS)
        for tree in self.trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef):
                    index = self._forwarded_param(node)
                    if index is not None:
                        self.builders[node.name] = index
        for path, tree in self.trees.items():
            self._scan(path, tree)

    def _forwarded_param(self, func: ast.FunctionDef) -> int | None:
        """The position of the parameter a helper passes on as a ``ValidationError`` code."""
        params = [a.arg for a in func.args.args]
        for node in ast.walk(func):
            if isinstance(node, ast.Call) and _name(node.func) in ERROR_CLASSES:
                code = self._code_arg(node, 1)
                if isinstance(code, ast.Name) and code.id in params:
                    return params.index(code.id)
        return None

    @staticmethod
    def _code_arg(call: ast.Call, position: int) -> ast.expr | None:
        for keyword in call.keywords:
            if keyword.arg == "code":
                return keyword.value
        return call.args[position] if len(call.args) > position else None

    def _add(self, code: str, where: str) -> None:
        self.found.setdefault(code, []).append(where)

    def _read(self, node: ast.expr, where: str, params: set[str]) -> None:
        """Record the codes an expression can be; an unreadable one is reported."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self._add(node.value, where)
        elif isinstance(node, ast.Constant) and node.value is None:
            pass
        elif isinstance(node, ast.Name) and node.id in params:
            pass  # a helper's own parameter: its callers are scanned
        elif isinstance(node, ast.Name | ast.Attribute) and _name(node) in self.constants:
            self._add(self.constants[_name(node)], where)
        elif _is_code_read(node):
            pass
        elif isinstance(node, ast.IfExp):
            self._read(node.body, where, params)
            self._read(node.orelse, where, params)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self._read(value, where, params)
        else:
            self.unreadable.append(f"{where}: {ast.unparse(node)}")

    def _scan(self, path: Path, tree: ast.Module) -> None:
        rel = path.relative_to(ROOT)
        scopes: list[tuple[ast.AST, set[str]]] = [(tree, set())]
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                scopes.append((func, {a.arg for a in func.args.args + func.args.kwonlyargs}))
        seen: set[int] = set()
        # Innermost scope first, so a helper's parameters are known inside it.
        for scope, params in reversed(scopes):
            for node in ast.walk(scope):
                if id(node) in seen:
                    continue
                where = f"{rel}:{getattr(node, 'lineno', '?')}"
                if isinstance(node, ast.Call):
                    name = _name(node.func)
                    if name in ERROR_CLASSES:
                        code = self._code_arg(node, ERROR_CLASSES[name])
                    elif name in self.builders:
                        code = self._code_arg(node, self.builders[name])
                    else:
                        continue
                    seen.add(id(node))
                    if code is not None:
                        self._read(code, where, params)
                elif isinstance(node, ast.Compare) and (
                    _is_code_read(node.left) or any(map(_is_code_read, node.comparators))
                ):
                    seen.add(id(node))
                    for side in [node.left, *node.comparators]:
                        if _is_code_read(side):
                            continue
                        items = side.elts if isinstance(side, ast.Set | ast.Tuple) else [side]
                        for item in items:
                            self._read(item, where, params)


SCAN = Scan()


def test_every_code_raised_is_published():
    unknown = {code: places for code, places in SCAN.found.items() if code not in errors.CODES}
    assert not unknown, f"add these to core/errors.py (or use a published code): {unknown}"


def test_every_code_is_readable_from_the_source():
    assert not SCAN.unreadable, SCAN.unreadable


def test_every_published_code_is_still_used():
    unused = set(errors.CODES) - set(SCAN.found)
    assert not unused, f"no longer raised, remove from core/errors.py: {sorted(unused)}"


def test_each_code_has_a_one_line_meaning():
    for code, meaning in errors.CODES.items():
        assert code == code.lower() and " " not in code, code
        assert meaning and "\n" not in meaning, code


def test_the_scan_sees_helpers_builders_and_comparisons():
    # The shapes the scan must read, so a rename cannot hide behind them.
    assert "duplicate_transaction_id" in SCAN.found  # Refusal(...) for a constraint
    assert "not_positive" in SCAN.found  # billing's _field_error("amount", "…", code)
    assert "promotion_unknown" in SCAN.found  # orders' _promotion_refused
    assert any("clients/views.py" in w for w in SCAN.found["wrong_client"])  # exc.code == …

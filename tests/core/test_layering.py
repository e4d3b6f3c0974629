"""The layering written in the README ("Layout"): every import of every module (at module level
or inside a function) is checked against the map below, read with ``ast``, without importing
anything. An app reaches a higher layer only through the extension points it registers in
``core/extension_points.py``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Which of our packages each package may import, besides itself. Lower layers never import
# higher ones; business apps that are not in a line (orders, support, affiliates; kb) never
# import each other.
CORE: set[str] = set()
AUDIT = {"core"}
# The queue and sign-in build on the audit context (every job and every reset is audited).
JOBS = {*AUDIT, "audit"}
ACCOUNTS = {*AUDIT, "audit"}
# Four eyes runs the business apps' services only through what they register (ApprovalAction).
APPROVALS = {*JOBS, "jobs"}
CLIENTS = {*APPROVALS, "approvals"}
HOSTING = {*CLIENTS, "clients"}
BILLING = {*HOSTING, "hosting"}
ALLOWED: dict[str, set[str]] = {
    "core": CORE,
    "audit": AUDIT,
    "jobs": JOBS,
    "accounts": ACCOUNTS,
    "approvals": APPROVALS,
    "clients": CLIENTS,
    "hosting": HOSTING,
    "billing": BILLING,
    "orders": {*BILLING, "billing"},
    "support": {*BILLING, "billing"},
    "affiliates": {*BILLING, "billing"},
    "kb": {*AUDIT, "audit"},
    # The review queue reads the trail (audit), queues its digest through the outbox (clients)
    # and its scan on the queue (jobs); business rows only by model label, never imported.
    "review": {*CLIENTS, "clients"},
}
OURS = {*ALLOWED, "demo", "whmcs_manual", "benchmarks"}
# The project (settings, urls), the demo data and the benchmark sit on top: they may import
# every app, and no app imports them...
TOP = {"demo", "whmcs_manual", "benchmarks"}
# ...except these modules, which import none of our packages (checked below).
LEAVES = {"whmcs_manual.embedded_db"}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in sorted(OURS):
        for path in sorted((ROOT / package).rglob("*.py")):
            found.append((package, path))
    found.append(("manage", ROOT / "manage.py"))
    return found


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute import in ``path``: (line, dotted module), function-level ones included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.lineno, node.module))
            # ``from core import views`` imports core.views
            names += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.append((node.lineno, str(node.args[0].value)))
    return names


def _violations() -> list[str]:
    found = []
    for package, path in _modules():
        allowed = ALLOWED.get(package)
        for line, module in _imports(path):
            target = module.split(".")[0]
            if target not in OURS or target == package:
                continue
            if any(module == leaf or module.startswith(leaf + ".") for leaf in LEAVES):
                continue
            if allowed is None:  # the top: anything
                continue
            if target not in allowed:
                found.append(f"{path.relative_to(ROOT)}:{line}: {package} imports {module}")
    return found


def test_every_import_follows_the_layering():
    assert _violations() == []


def test_the_layer_map_has_no_cycle():
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in ALLOWED.get(start, set()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [p for p in ALLOWED if reaches(p, p, set())] == []


def test_core_imports_no_app_and_audit_only_core():
    # core ↔ audit in one direction: audit builds on core (forms, the permission mixin, the
    # registry), core never imports audit.
    assert ALLOWED["core"] == set()
    assert ALLOWED["audit"] == {"core"}


def test_the_leaves_import_none_of_our_packages():
    for leaf in LEAVES:
        path = ROOT / (leaf.replace(".", "/") + ".py")
        assert [m for _line, m in _imports(path) if m.split(".")[0] in OURS] == []


def test_the_demo_data_lives_in_the_demo_app():
    assert not list(ROOT.glob("*/catalog.py"))
    assert (ROOT / "demo/management/commands/seed_demo.py").exists()


def test_each_app_registers_from_its_extensions_module_only():
    """Glue has one home: ``<app>/extensions.py`` (imported by its AppConfig.ready) is the only
    module that calls ``core.extension_points.register``."""
    registering = []
    for _package, path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "core.extension_points"
                and any(alias.name == "register" for alias in node.names)
            ):
                registering.append(str(path.relative_to(ROOT)))
    assert sorted(registering) == sorted(f"{p}/extensions.py" for p in ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_app_loads_its_extensions_in_ready(package):
    tree = ast.parse((ROOT / package / "apps.py").read_text())
    ready = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "ready")
    imported = {
        (node.module, alias.name)
        for node in ast.walk(ready)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert (package, "extensions") in imported

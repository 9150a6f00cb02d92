"""The emulators are written from the contract notes alone (DESIGN §2): an emulator that shares
code with the client agrees with it by construction and proves nothing. So no module of
providers/sandbox/ may import an adapter, its mapping, the adapters' shared helpers or webapp/ —
by any spelling: absolute, relative (`from .. import base`), or importlib at run time."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import providers

PROVIDERS_DIR = Path(providers.__file__).parent
SANDBOX_FILES = sorted((PROVIDERS_DIR / "sandbox").glob("*.py"))
SERVICES = ("fakturownia", "fakturowo", "firmao", "ifirma", "infakt", "wfirma")
FORBIDDEN = (
    {f"providers.{s}" for s in SERVICES}
    | {f"providers.{s}_mapping" for s in SERVICES}
    | {f"providers.{m}" for m in ("base", "money", "checks", "parties", "payments")}
    | {"providers", "webapp"}  # `providers` itself loads every adapter (the registry)
)


def _forbidden(module: str) -> bool:
    return module in FORBIDDEN or module.startswith("webapp.") or any(
        module.startswith(f"{name}.") for name in FORBIDDEN if name not in ("providers", "webapp"))


def _resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module the file imports, with its line: `from X import y` counts as X and X.y."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = "providers.sandbox"
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node, package)
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in ("__import__", "import_module")))):
            found.append((node.lineno, node.args[0].value))
    return found


def test_the_sandbox_package_has_modules_to_check():
    names = {p.stem for p in SANDBOX_FILES}
    assert {"fakturownia", "infakt", "wfirma", "ifirma", "firmao", "fakturowo", "money"} <= names


@pytest.mark.parametrize("path", SANDBOX_FILES, ids=[p.name for p in SANDBOX_FILES])
def test_no_sandbox_module_imports_the_client_side(path):
    offending = [f"{path.name}:{line} imports {module}" for line, module in imported_modules(path)
                 if _forbidden(module)]
    assert offending == []


@pytest.mark.parametrize("source", [
    "from providers import fakturownia_mapping",
    "from providers.base import Line",
    "import providers.money",
    "from .. import checks",
    "from ..parties import display_name",
    "from ..infakt import InfaktProvider",
    "import webapp.models",
    "from webapp import create_app",
    "from providers import PROVIDERS",
    "importlib.import_module('providers.wfirma')",
    "__import__('webapp')",
])
def test_the_check_catches_every_spelling(tmp_path, source):
    path = tmp_path / "emulator.py"
    path.write_text(source + "\n", encoding="utf-8")
    assert any(_forbidden(module) for _, module in imported_modules(path))


@pytest.mark.parametrize("source", ["from .money import round_money", "from . import store",
                                    "from .store import Account", "import decimal", "from flask import g"])
def test_the_sandbox_own_helpers_are_allowed(tmp_path, source):
    path = tmp_path / "emulator.py"
    path.write_text(source + "\n", encoding="utf-8")
    assert not any(_forbidden(module) for _, module in imported_modules(path))

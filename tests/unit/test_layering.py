"""Imports point one way (docs/architecture.md): cli -> server -> federation -> cluster -> http / transport / features -> router ->
store -> cot; http and transport never import each other; cot imports only errors."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "rallypoint"
LAYERS = [
    "cot",
    "store",
    "router",
    "missions",
    "fusion",
    "pki",
    "http",
    "transport",
    "cluster",
    "federation",
    "server",
    "bench",
    "cli",
]
"""Lowest first: a package may import only packages at or below its own layer."""
PEERS = {frozenset({"http", "transport"})}
"""Packages on one level that must not know each other: the server passes apps to the transport."""
SHARED = {"errors", "config", "hostnames", "clock", "tasks", "__init__"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rallypoint."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("rallypoint."))
    return found


def _layer(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def test_imports_point_down() -> None:
    violations = []
    for path in SRC.rglob("*.py"):
        layer = _layer(path)
        if layer in SHARED or layer == "__main__":
            continue
        for imported in _imports(path) - SHARED:
            if layer == "cot" and imported != "cot":
                violations.append(f"{path.name} (cot) imports {imported}")
            elif imported in LAYERS and LAYERS.index(imported) > LAYERS.index(layer):
                violations.append(f"{path.relative_to(SRC)} ({layer}) imports {imported}")
            elif frozenset({layer, imported}) in PEERS:
                violations.append(f"{path.relative_to(SRC)} ({layer}) imports its peer {imported}")
    assert violations == []


def test_cot_imports_nothing_of_ours_but_errors() -> None:
    for path in (SRC / "cot").rglob("*.py"):
        assert _imports(path) <= {"cot", "errors"}, path

"""The layering of ARCHITECTURE.md: no module imports a room above its own."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bdd4bnn"

# room -> rank; a module may import rooms of lower or equal rank only
BOTTOM = (
    "model",
    "semantics",
    "region",
    "errors",
    "limits",
    "formats",
    "onnx_import",
    "linf",
    "thermometer",
    "packed",
    "files",
    "jit",
    "data",
    "plots",
)
RANK = {name: 0 for name in (*BOTTOM, "__version__")} | {
    "encoders": 1,
    "kernels": 2,
    "engines": 3,
    "analyses": 4,
    "training": 5,
    "batch": 6,
    "cli": 7,
    "__init__": 7,
    "__main__": 8,
}


def _room(parts: tuple[str, ...]) -> str:
    return parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, ...]]:
    """Return the bdd4bnn modules ``path`` imports, as package-relative parts."""
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = rel[: len(rel) - node.level]
                mod = tuple(node.module.split(".")) if node.module else ()
                target = base + mod
                if not mod:  # from . import x
                    target = base + (node.names[0].name,)
            elif node.module and node.module.startswith("bdd4bnn."):
                target = tuple(node.module.split(".")[1:])
            else:
                continue
            if target:
                out.append(target)
    return out


def test_no_module_imports_upward():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _room(path.relative_to(PACKAGE).parts)
        for target in _imports(path):
            other = _room(target)
            if other not in RANK or own not in RANK:
                bad.append(f"{path.relative_to(PACKAGE)}: unknown room {other or own}")
                continue
            if RANK[other] > RANK[own]:
                bad.append(f"{path.relative_to(PACKAGE)} imports {'.'.join(target)}")
    assert not bad, "\n".join(bad)


def test_checker_sees_an_upward_import(tmp_path):
    """The check can fail: an encoder importing an analysis is reported."""
    src = PACKAGE / "encoders" / "_probe_upward.py"
    src.write_text("from ..analyses import count\n")
    try:
        assert ("analyses",) in _imports(src)
        assert RANK["analyses"] > RANK["encoders"]
    finally:
        src.unlink()

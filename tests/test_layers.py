"""The floor plan: mlgate's packages form layers, and every import points down them.

The layer map is the table at the top of ``mlgate/__init__.py`` (one line per package or
top-level module, highest first). This test reads that table, so the map cannot drift from
the code: a module missing from it, an import of a higher layer or of a sibling on the same
line, and a function-level import of mlgate's own code without a reason all fail here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlgate

SRC = Path(mlgate.__file__).resolve().parent


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported mlgate module, dotted
    line: int
    local: bool  # inside a function
    reason: bool  # a comment on its line or the line above says why


def layer_map() -> list[list[str]]:
    """Units per layer, highest first: ``cli``, ``commands``, ``git``…"""
    doc = mlgate.__doc__ or ""
    table = doc.split("Layers", 1)[1]
    layers = []
    for line in table.splitlines():
        match = re.match(r"\s{2,}((?:[a-z_]+(?:/|\.py)\s+)+)\s", line + "  ")
        if match:
            layers.append([u.rstrip("/").removesuffix(".py") for u in match.group(1).split()])
    return layers


def unit_of(module: str) -> str:
    """``mlgate.storage.objects`` -> ``storage``; ``mlgate.git`` -> ``git``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mlgate"


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def imports(module: str, path: Path) -> Iterator[Import]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    local_nodes = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        for n in ast.walk(f)
    }
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package upwards
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            # ``from mlgate import git``: a name may be a module itself.
            targets = [
                f"{base}.{a.name}" if is_module(f"{base}.{a.name}") else base for a in node.names
            ]
        for target in targets:
            if target == "mlgate" or not target.startswith("mlgate."):
                continue
            above = lines[node.lineno - 2] if node.lineno > 1 else ""
            reason = "#" in lines[node.lineno - 1] or above.strip().startswith("#")
            yield Import(module, target, node.lineno, id(node) in local_nodes, reason)


def is_module(dotted: str) -> bool:
    path = SRC.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def rank() -> dict[str, int]:
    return {unit: i for i, layer in enumerate(layer_map()) for unit in layer}


def test_the_map_names_every_package_and_module() -> None:
    ranks = rank()
    units = {unit_of(m) for m, _ in modules()} - {"mlgate"}
    assert sorted(units - ranks.keys()) == [], "add these to the layer map in mlgate/__init__.py"
    assert sorted(ranks.keys() - units) == [], "the layer map names units that do not exist"


def test_imports_point_down_the_layers() -> None:
    ranks = rank()
    wrong = []
    for module, path in modules():
        for imp in imports(module, path):
            here, there = unit_of(imp.module), unit_of(imp.target)
            if here == there or here == "mlgate":  # inside one package, or __init__ itself
                continue
            if ranks[there] <= ranks[here]:
                how = "a sibling on the same layer" if ranks[there] == ranks[here] else "up"
                wrong.append(f"{path.relative_to(SRC)}:{imp.line} imports {imp.target} ({how})")
    assert wrong == []


def test_function_level_imports_say_why() -> None:
    """Imports of mlgate's own modules inside functions only where they keep heavy libraries
    off the start-up path, and then with a comment saying so."""
    silent = [
        f"{path.relative_to(SRC)}:{imp.line} {imp.target}"
        for module, path in modules()
        for imp in imports(module, path)
        if imp.local and not imp.reason
    ]
    assert silent == []


def test_only_the_cli_prints_or_parses_arguments() -> None:
    allowed = {"mlgate.cli", "mlgate.progress", "mlgate.__main__"}
    found = []
    for module, path in modules():
        if module in allowed or module == "mlgate.run.fit":  # the worker answers on its stdout
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                found.append(f"{module}:{node.lineno} print")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if "argparse" in names:
                    found.append(f"{module}:{node.lineno} argparse")
    assert found == []


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The check itself can fail: an import of a higher layer is reported."""
    ranks = rank()
    fake = tmp_path / "objects.py"
    fake.write_text("from mlgate.commands import check\n")
    found = list(imports("mlgate.storage.objects", fake))
    assert [i.target for i in found] == ["mlgate.commands.check"]
    assert ranks[unit_of(found[0].target)] < ranks[unit_of(found[0].module)]

"""The package's folders are layers: each imports only the folders below it, and no
module imports itself back through others (no import cycle)."""

import ast
from pathlib import Path
from typing import Dict, List, Set, Tuple

from conftest import REPO

PACKAGE = REPO / "spacy_torch_tagger"
NAME = PACKAGE.name

# Lower imports nothing above it; rooms of one rank do not import each other.
RANK = {
    "errors": 0,
    "extras": 0,
    "network": 1,
    "tokenization": 2,
    "layers": 2,
    "pipeline": 3,
    "calibration": 4,
    "annotate": 4,
    "report": 5,
    "cli": 6,
    "__main__": 7,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").is_file() or (
        PACKAGE.parent / relative / "__init__.py"
    ).is_file()


def imports_of(path: Path) -> Set[str]:
    """The package's modules a file imports statically (relative imports resolved)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            submodules = [f"{target}.{alias.name}" for alias in node.names]
            found.update(sub for sub in submodules if is_module(sub))
            if not all(is_module(sub) for sub in submodules):
                found.add(target)
    return {module for module in found if module.split(".")[0] == NAME}


def graph() -> Dict[str, Set[str]]:
    return {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else NAME


def test_every_room_has_a_rank():
    rooms = {room(module) for module in graph()} - {NAME}
    assert rooms == set(RANK), f"rank the new rooms: {sorted(rooms ^ set(RANK))}"


def test_each_room_imports_only_rooms_below_it():
    upward: List[Tuple[str, str]] = []
    for module, targets in graph().items():
        for target in targets:
            source_room, target_room = room(module), room(target)
            if NAME in (source_room, target_room) or source_room == target_room:
                continue
            if RANK[target_room] >= RANK[source_room]:
                upward.append((module, target))
    assert not upward, f"imports that point up or sideways: {upward}"


def test_no_module_imports_itself_through_others():
    edges = graph()
    cycles: List[List[str]] = []
    state: Dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: List[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in edges:
        if module not in state:
            visit(module, [module])
    assert not cycles, f"import cycles: {cycles}"

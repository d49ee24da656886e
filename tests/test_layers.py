"""The package layout is the pipeline: imports run one way, from the apps down to the records.

    pytest tests/test_layers.py

Every module is imported, and every `import` in its source (those inside functions and under
TYPE_CHECKING too) is checked against the layers below: a module may import its own layer and the
layers under it, never a layer above, and the stages of one layer never import each other.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import twinchat

PACKAGE = Path(twinchat.__file__).parent
# Lowest first. Each entry is a layer; the names in it are stages that must not import each other.
LAYERS = [
    ["twinchat.errors", "twinchat.atomic", "twinchat.jsonl", "twinchat.progress", "twinchat.pages"],
    ["twinchat.bundled"],
    ["twinchat.models"],
    ["twinchat.data"],
    ["twinchat.description"],
    ["twinchat.training", "twinchat.inference"],
    ["twinchat.evaluation"],
    ["twinchat.apps"],
    ["twinchat.cli"],
]
FOUNDATION = set(LAYERS[0])  # small leaf modules any module may use


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules()


def _stage(module: str) -> tuple[int, str] | None:
    for rank, stages in enumerate(LAYERS):
        for stage in stages:
            if module == stage or module.startswith(stage + "."):
                return rank, stage
    return None


def _imports(module: str) -> set[str]:
    """The twinchat modules that `module`'s source imports, wherever the import statement is."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {name for name in found if name.split(".")[0] == "twinchat" and name != "twinchat"}


GRAPH = {module: _imports(module) for module in MODULES}


def test_the_layout_holds_its_stage_packages():
    for stage in ("data", "training", "inference", "evaluation", "apps", "cli"):
        assert (PACKAGE / stage / "__init__.py").exists(), stage
    assert not [m for m in MODULES if m not in ("twinchat", "twinchat.__main__") and not _stage(m)]


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports(module):
    importlib.import_module(module)


def test_imports_run_down_the_layers():
    wrong = []
    for module, imported in GRAPH.items():
        here = _stage(module)
        if here is None:
            continue
        for name in imported:
            there = _stage(name)
            assert there is not None, f"{module} imports {name}, which has no layer"
            if name in FOUNDATION or there[1] == here[1]:
                continue
            if there[0] >= here[0]:
                wrong.append(f"{module} -> {name}")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_no_module_imports_itself_back():
    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen = set()
        while stack:
            module, path = stack.pop()
            for name in GRAPH.get(module, ()):
                if name == start:
                    return [*path, name]
                if name not in seen:
                    seen.add(name)
                    stack.append((name, [*path, name]))
        return None

    cycles = [cycle for m in MODULES if (cycle := cycle_from(m))]
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checks_see_a_wrong_import():
    """The layer check is not vacuous: an app imported from the data stage is caught."""
    assert _stage("twinchat.apps.server")[0] > _stage("twinchat.data.prepare")[0]
    assert "twinchat.data.builder" in GRAPH["twinchat.data.prepare"]
    assert "twinchat.inference.suggester" in GRAPH["twinchat.apps.server.launcher"]

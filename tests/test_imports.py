"""The package's import graph: no circle, and no module imports another module's `_private` name.

Every `import`/`from ... import` counts, at module level or inside a function: a lazy import still
ties two modules together. Edges come from the source (ast), so the test needs no TensorFlow.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tflite_edge"


def _modules() -> dict:
    mods = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def _target(mods: dict, module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if mods[module].name == "__init__.py" else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph():
    """({module: {imported modules}}, [(module, imported from, private name)]) of the package."""
    mods, edges, private = _modules(), {}, []
    for module, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = _target(mods, module, node)
                if not target.startswith(PACKAGE.name):
                    continue
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    dest = full if full in mods else target
                    if dest in mods and dest != module:
                        edges.setdefault(module, set()).add(dest)
                    if alias.name.startswith("_") and full not in mods:
                        private.append((module, target, alias.name))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in mods and alias.name != module:
                        edges.setdefault(module, set()).add(alias.name)
    return edges, private


def find_cycle(edges: dict):
    """One import circle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(edges.get(m, ())):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(edges):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_the_package_has_no_import_circle():
    edges, _ = import_graph()
    assert len(edges) > 40  # the walk found the package's imports at all
    cycle = find_cycle(edges)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_no_module_imports_another_modules_private_name():
    _, private = import_graph()
    assert private == [], "\n".join(f"{m} imports {name} from {src}" for m, src, name in private)


def test_the_checker_finds_a_circle_and_a_private_import():
    edges = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}
    assert find_cycle(edges) == ["p.a", "p.b", "p.c", "p.a"]
    assert find_cycle({"p.a": {"p.b"}, "p.b": set()}) is None


def task_name_comparisons(task_names) -> list:
    """(module, line) of every comparison with a task name as a string (`task == "detection"`,
    `x in ("classification", ...)`) in a module outside tasks/."""
    names, found = set(task_names), []

    def is_name(node):
        if isinstance(node, ast.Constant):
            return node.value in names
        return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(is_name(e) for e in node.elts)

    for module, path in _modules().items():
        if module.startswith(f"{PACKAGE.name}.tasks"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(is_name(n) for n in [node.left, *node.comparators]):
                found.append((module, node.lineno))
    return found


def test_no_module_outside_tasks_compares_a_task_name():
    from tflite_edge.tasks import TASKS

    found = task_name_comparisons(TASKS)
    assert found == [], "task-specific branches belong in tasks/NAME/: " + ", ".join(f"{m}:{n}" for m, n in found)


def test_the_checker_finds_a_task_name_comparison(tmp_path, monkeypatch):
    pkg = tmp_path / PACKAGE.name
    (pkg / "tasks").mkdir(parents=True)
    (pkg / "stage.py").write_text('def f(r):\n    return 1 if r.task == "detection" else 2\n')
    (pkg / "other.py").write_text('def g(t):\n    return t in ("classification",)\n')
    (pkg / "tasks" / "fine.py").write_text('def h(t):\n    return t == "detection"\n')
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    assert sorted(task_name_comparisons(["classification", "detection"])) == [
        (f"{PACKAGE.name}.other", 2), (f"{PACKAGE.name}.stage", 2)]


ADAPTIVE = f"{PACKAGE.name}.tasks.classification.adaptive"


def test_no_module_outside_tasks_imports_the_adaptive_package():
    """Early exits are classification's: stages reach them through the Task's hooks."""
    edges, _ = import_graph()
    assert ADAPTIVE in _modules()  # the package is where this test looks for it
    found = sorted(f"{m} imports {d}" for m, dests in edges.items() if not m.startswith(f"{PACKAGE.name}.tasks")
                   for d in dests if d == ADAPTIVE or d.startswith(ADAPTIVE + "."))
    assert found == [], "reach adaptive/ through the task: " + ", ".join(found)

"""The package's rooms depend one way (issue 38): every import between sparsenet's modules, those inside
functions included, read from the source; no package imports one ranked above it, and no module cycle."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "sparsenet"
# lowest first; a package may import its own rank or below. Root modules are utilities (allowed, atomic, h5io, wheels,
# backend: rank 0) or the user-facing front (estimator, classifier, benchmark, __main__: above the studies).
RANKS = {
    "utilities": 0,
    "engine": 1,
    "masks": 2,
    "fluxes": 2,
    "data": 3,
    "training": 4,
    "config": 5,
    "stats": 6,
    "runs": 7,
    "report": 8,
    "studies": 9,
    "front": 10,
}
UTILITIES = {"allowed", "atomic", "h5io", "wheels", "backend", "version", "progress"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "front"  # the package itself: its __init__ names the engine and, on demand, the estimators
    if (ROOT / f"{parts[1]}.py").exists():
        return "utilities" if parts[1] in UTILITIES else "front"
    return parts[1]


def imports():
    """{module: {module it imports}} for every module under sparsenet/, resolved to modules that exist."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    out = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                candidates = [f"{target}.{a.name}" for a in node.names] + [target]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            for c in candidates:
                if c.startswith("sparsenet") and c in modules and c != name:
                    found.add(c)
                    break
        out[name] = found
    return out


def test_no_package_imports_one_ranked_above_it():
    wrong = [f"{a} -> {b}" for a, targets in imports().items() for b in targets if RANKS[room(b)] > RANKS[room(a)]]
    assert not wrong, wrong


def test_no_module_cycle():
    graph = imports()
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(nxt_ := node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif not state.get(nxt):
                visit(nxt)
        stack.pop()
        state[nxt_] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node)
    assert not cycles, [" -> ".join(c) for c in cycles]

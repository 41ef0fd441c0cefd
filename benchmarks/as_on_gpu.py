"""Run a Python module or script here as it would run on the lent GPU machine: any top-level import of a
distribution that machine lacks (gpu_packages.txt) fails as it would there, so an optional import is
skipped and a needed one stops the run. The refused imports are written to $REFUSED_IMPORTS.

    python benchmarks/as_on_gpu.py -m sparsenet.cli.main train ...     python benchmarks/as_on_gpu.py script.py ...
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.metadata
import os
import re
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALIASES = {"cupy": "cupy-cuda13x", "cupy_backends": "cupy-cuda13x", "sklearn": "scikit-learn"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def with_requirements(names) -> set:
    """The distributions and, as installed here, everything they require (the GPU machine's packages come
    with their own dependencies, at whatever version it has)."""
    from packaging.requirements import Requirement

    seen, todo = set(), [_norm(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_norm(req.name))
    return seen


class Refuse(importlib.abc.MetaPathFinder):
    def __init__(self):
        lines = (HERE / "gpu_packages.txt").read_text().splitlines()
        self.allowed = with_requirements(n for n in lines if n.strip() and not n.startswith("#"))
        self.dists = importlib.metadata.packages_distributions()
        self.stdlib = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
        self.refused = set()

    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if path is not None or top in self.stdlib or top in ("sparsenet", "cli", "benchmarks"):
            return None
        owners = self.dists.get(top)
        if owners is None:  # not installed from a distribution: ours, or absent anyway
            return None
        if any(_norm(ALIASES.get(top, d)) in self.allowed for d in owners):
            return None
        self.refused.add(f"{top} ({', '.join(owners)})")
        raise ModuleNotFoundError(f"No module named {top!r} (not on the GPU machine)", name=top)


def main():
    refuse = Refuse()
    sys.meta_path.insert(0, refuse)

    @atexit.register
    def report():
        if os.environ.get("REFUSED_IMPORTS"):
            Path(os.environ["REFUSED_IMPORTS"]).write_text("\n".join(sorted(refuse.refused)) + "\n")

    args = sys.argv[1:]
    if args[0] == "-m":
        sys.argv = [args[1]] + args[2:]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()

"""The CUDA sources as compiled: each .cu file with its local headers (``#include "x.cuh"``)
written in place. One self-contained text per module, so CuPy's kernel cache (keyed by the
source text) sees a change to a header too. No CuPy here: the tests read sources on any machine."""

from __future__ import annotations

import re
from pathlib import Path

SOURCES = Path(__file__).parent
_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$', re.MULTILINE)
_PRAGMA_ONCE = re.compile(r"^\s*#pragma\s+once\s*$", re.MULTILINE)


def read_source(filename: str, directory: Path = SOURCES) -> str:
    """``directory / filename`` with every local ``#include "..."`` replaced by that file's text."""
    directory = Path(directory)
    seen = set()

    def expand(name):
        if name in seen:  # #pragma once
            return ""
        seen.add(name)
        text = _PRAGMA_ONCE.sub("", (directory / name).read_text())  # the seen set does its job
        return _INCLUDE.sub(lambda m: expand(m.group(1)) if (directory / m.group(1)).exists() else m.group(0), text)

    return expand(filename)

"""Read a COBRA model from a file or one of the names whose copy ships inside cobra's wheel."""

from __future__ import annotations

import hashlib
from pathlib import Path

SHIPPED = {"iJO1366": "iJO1366.xml.gz", "e_coli_core": "textbook.xml.gz"}


class ModelError(ValueError):
    """The model cannot be used (unreadable, unknown, missing reactions, infeasible)."""


def resolve_model_path(model: str) -> Path:
    """A model file path, or a shipped name (iJO1366, e_coli_core) mapped into cobra's data."""
    if model in SHIPPED:
        import cobra

        return Path(cobra.__file__).parent / "data" / SHIPPED[model]
    path = Path(model)
    if not path.exists():
        raise ModelError(f"{model}: no such model file (or use one of the names {', '.join(SHIPPED)})")
    return path


def load_model(model: str):
    """Return (cobra.Model, path, sha256 of the file). Raises ModelError with one clear line."""
    import cobra

    path = resolve_model_path(model)
    name = path.name.lower()
    try:
        if name.endswith((".xml", ".xml.gz", ".sbml")):
            m = cobra.io.read_sbml_model(str(path))
        elif name.endswith((".json", ".json.gz")):
            m = cobra.io.load_json_model(str(path))
        elif name.endswith(".mat"):
            m = cobra.io.load_matlab_model(str(path))
        else:
            raise ModelError(f"{path}: unknown model format; give an SBML (.xml, .xml.gz), JSON or MAT file")
    except ModelError:
        raise
    except Exception as e:  # cobra raises many kinds for a corrupt file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{path}: cannot read the model ({first})") from None
    if len(m.reactions) == 0:
        raise ModelError(f"{path}: the model has no reactions")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return m, path, digest

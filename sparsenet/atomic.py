"""Write files atomically: into a temporary file beside the target, then rename onto it.

Nothing half-written is ever left under the target's name, even if the process is killed.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_atomically(path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``; on failure remove the temporary file."""
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"{path}: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path, text: str) -> None:
    write_atomically(path, lambda tmp: Path(tmp).write_text(text))


def write_json(path, data) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")

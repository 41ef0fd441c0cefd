"""Files shipped inside another package's wheel, fetched once into the user's cache.

PRECISE comes in ``pymodulon`` 0.2.1's wheel, Reactome in ``binn`` 0.1.1's: on first use the wheel is
downloaded with pip (no dependencies, nothing installed), the named members are extracted into the cache
folder, which appears whole or not at all, and from then on they are read from there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


class FetchError(ValueError):
    """The wheel could not be had or is not the expected one; the message says what to do instead."""


def cache_root() -> Path:
    """``$SPARSENET_CACHE``, else ``$XDG_CACHE_HOME/sparsenet``, else ``~/.cache/sparsenet``."""
    return Path(
        os.environ.get("SPARSENET_CACHE")
        or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sparsenet")
    )


def wheel_files(
    package: str, version: str, members: dict, target: Path, wanted=None, progress=print, what: str = ""
) -> dict:
    """Paths in ``target`` of ``members`` (file name -> path inside the wheel), fetching the wheel once if
    any of ``wanted`` (default: all) is missing."""
    target = Path(target)
    paths = {name: target / name for name in members}
    wanted = list(members) if wanted is None else list(wanted)
    if all(paths[n].exists() for n in wanted):
        return paths
    progress(f"fetching {what or package} ({package} {version} wheel) into {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-q",
            "-d",
            tmp,
            f"{package}=={version}",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            said = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            folder = os.path.dirname(next(iter(members.values())))
            raise FetchError(
                f"could not download {package} {version} with pip ({said}); put {', '.join(wanted)} "
                f"from its {folder}/ into {target}, or pass your own files"
            )
        staging = Path(tmp) / "files"
        staging.mkdir()
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                for name, member in members.items():
                    with wheel.open(member) as src, open(staging / name, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        except (zipfile.BadZipFile, KeyError) as e:
            raise FetchError(f"{wheels[0].name}: not the expected {package} wheel ({e})") from None
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)  # all files appear at once or not at all
    return paths

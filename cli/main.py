"""The ``sparsenet`` command line."""
from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Sparse neural networks from genome-scale metabolic models (DeepMetabolism).")
masks_app = typer.Typer(no_args_is_help=True, help="Connection masks from a COBRA model.")
app.add_typer(masks_app, name="masks")


class UserError(Exception):
    """A problem with the user's input: reported as one line, exit status 1."""


def friendly(fn):
    """Report bad input as one line on stderr with a non-zero exit, never a traceback."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (UserError, ValueError, FileNotFoundError, KeyError, OSError) as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            typer.echo(f"error: {msg}", err=True)
            raise typer.Exit(1)
    return wrapper


def write_atomically(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: no partial file on failure."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise UserError(f"{path}: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict) -> None:
    write_atomically(path, lambda p: p.write_text(json.dumps(data, indent=2) + "\n"))


@app.command()
@friendly
def bench(dense_vs_sparse: bool = typer.Option(True, "--dense-vs-sparse", help="Time sparse (C) against dense (A)."),
          device: str = typer.Option("auto", help="cpu, gpu or auto"),
          batch: int = typer.Option(5000, min=1),
          repeats: int = typer.Option(20, min=1, help="timed steps (dense: a quarter, at least 3)"),
          mask_file: Optional[Path] = typer.Option(None, "--mask", help="masks .h5 (default: shipped iJO1366 masks, else random)"),
          json_out: Optional[Path] = typer.Option(None, "--json", help="write the results here")):
    """Time one training step (forward + backward + Adam) of the DeepMetabolism autoencoder."""
    from sparsenet import benchmark

    mask, source = None, None
    try:
        from sparsenet.masks import store

        path = mask_file or store.shipped_mask_path("iJO1366")
        if path is not None and Path(path).exists():
            masks = store.read_masks(path)
            mask, source = masks.protein_phenotype, f"{Path(path).name} ({masks.protein_phenotype.nnz} links)"
        elif mask_file is not None:
            raise UserError(f"{mask_file}: no such masks file")
    except ImportError:
        pass
    result = benchmark.dense_vs_sparse(device=device, batch=batch, repeats=repeats, mask=mask, mask_source=source)
    typer.echo(benchmark.format_table(result))
    if json_out:
        write_json(json_out, result)
        typer.echo(f"wrote {json_out}")


def main():  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

"""What every command shares: one-line errors, output checks."""
from __future__ import annotations

import functools
from pathlib import Path

import typer



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


def check_output_folder(path: Path) -> None:
    if not Path(path).parent.exists():
        raise UserError(f"{path}: folder {Path(path).parent} does not exist")

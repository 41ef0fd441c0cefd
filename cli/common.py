"""What every command shares: one-line errors, output checks."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import typer


def command_line() -> str:
    """The command line this process runs, as each run's report records it."""
    import shlex
    import sys

    return shlex.join(["sparsenet", *sys.argv[1:]])


class UserError(Exception):
    """A problem with the user's input: reported as one line, exit status 1."""


def friendly(fn):
    """Report bad input as one line on stderr with exit status 1, never a traceback. Anything else that
    goes wrong is a bug of sparsenet's: one line saying so, exit status 2 (SPARSENET_DEBUG=1 re-raises it,
    traceback and all)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import warnings

        def one_line(message, category, *rest, **kw):  # a library warning as the command's own: one line
            typer.echo(f"warning: {str(message).strip().splitlines()[0]}", err=True)

        try:
            with warnings.catch_warnings():
                warnings.showwarning = one_line
                if kwargs.get("strict") or getattr(kwargs.get("data"), "strict", False):
                    from sparsenet.data.tables import DataWarning

                    warnings.simplefilter("error", DataWarning)  # --strict: what reading changed stops the command
                return fn(*args, **kwargs)
        except (UserError, ValueError, FileNotFoundError, KeyError, OSError, Warning) as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            typer.echo(f"error: {msg}", err=True)
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:
            if os.environ.get("SPARSENET_DEBUG"):
                raise
            what = str(e).strip().splitlines()[0] if str(e).strip() else ""
            typer.echo(
                f"error: sparsenet failed unexpectedly ({type(e).__name__}: {what[:200]}); this is a bug, "
                "please report it with the command you ran (SPARSENET_DEBUG=1 shows where)",
                err=True,
            )
            raise typer.Exit(2) from None

    return wrapper


def flag(*names: str, help: str, rich_help_panel: str | None = None):
    """A boolean flag: on when given, off otherwise, shown in --help without a value (typer's rich help
    would show '<bool>', which reads as if it took one)."""
    return typer.Option(False, *names, help=help, metavar="", rich_help_panel=rich_help_panel)


def check_output_folder(path: Path) -> None:
    if not Path(path).parent.exists():
        raise UserError(f"{path}: folder {Path(path).parent} does not exist")


def check_masks_output(path: Path) -> None:
    """A masks file to write: an .h5 name in a folder that exists."""
    if Path(path).suffix not in (".h5", ".hdf5"):
        raise UserError(f"{path}: the masks file must end in .h5")
    check_output_folder(path)

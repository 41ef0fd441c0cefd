"""How a study says where it is: one small event (:class:`Stage`) handed to one callable (a ``progress``
argument: ``progress(stage)``), from the plan down to each fit, and to the command line's progress bars.
A study run without one is quiet (:func:`quiet`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    """``kind``: 'plan' (``total``: the fits a study will run), 'pretrain' or 'finetune' (one fit's steps), or
    'tasks' (fits finished across Dask workers); ``label`` names the fit; ``loss`` the latest, when known."""

    kind: str
    label: str
    done: int
    total: int
    loss: float | None = None


def quiet(stage: Stage) -> None:
    """The progress of a study nobody watches."""

"""One finished fold of one model: its record (:class:`FoldRecord`: the held-out samples, what was predicted
for them, how the networks were trained, their link weights) and that record as one HDF5 file under a run's
``state/``, written atomically: what ``--resume``, ``sparsenet links`` and the reports read back.

On disk a record is flat: each array a dataset, the training record's fields beside the fold's own (the
layout of every earlier version, so a run folder made before the record was a class resumes), ``stop`` and
``flux_failed`` as attributes, the reconstruction's numbers as a group's attributes."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import h5py
import numpy as np

from ..atomic import write_atomically
from ..training.fitting import TrainingRecord

_TEXT = ("stop", "flux_failed")
_FLOAT = ("pretrain_seconds", "finetune_seconds", "l2_chosen")
_INT = ("wiring_nodes", "wiring_links")


@dataclass(frozen=True)
class FoldRecord:
    """One held-out fold of one model at one network seed.

    ``test``: the held-out rows of the labelled samples; ``training``: how it was trained (a baseline's is the
    default :class:`~sparsenet.training.fitting.TrainingRecord`). What was predicted for ``test`` is one of:
    ``predicted`` (samples × targets: a network or a baseline), ``predicted_draws`` (draws × samples × targets:
    a null model's every draw, with each draw's ``steps_draws`` and, under ``--l2 auto``, ``l2_chosen_draws``) or
    ``predicted_subsets`` (subsets × samples × targets: a learning curve's points, keyed by ``subset_keys``
    ``"label|kind|draw"`` and sized by ``subset_sizes``). A network's ``link_weights`` (members × links; a
    null model's ``link_weights_draws``: draws × links), its own wiring's size under ``--wiring ica``
    (``wiring_nodes``, ``wiring_links``), strategy C's held-out ``reconstruction`` (its metrics) and
    ``recon_sample`` (observed and reconstructed values, 2 × up to 2,000), a flux baseline's ``flux_failed``
    (samples whose fluxes could not be computed)."""

    test: np.ndarray
    training: TrainingRecord = field(default_factory=TrainingRecord)
    predicted: np.ndarray | None = None
    predicted_draws: np.ndarray | None = None
    steps_draws: np.ndarray | None = None
    l2_chosen_draws: np.ndarray | None = None
    predicted_subsets: np.ndarray | None = None
    subset_keys: np.ndarray | None = None
    subset_sizes: np.ndarray | None = None
    link_weights: np.ndarray | None = None
    link_weights_draws: np.ndarray | None = None
    wiring_nodes: int | None = None
    wiring_links: int | None = None
    reconstruction: dict | None = None
    recon_sample: np.ndarray | None = None
    flux_failed: str | None = None

    def timed(self, finetune_seconds: float) -> FoldRecord:
        """This record with its fine-tuning seconds set (a fold whose fitting the caller timed)."""
        return replace(self, training=replace(self.training, finetune_seconds=finetune_seconds))


_TRAINING = tuple(f.name for f in fields(TrainingRecord))
_FOLD = tuple(f.name for f in fields(FoldRecord) if f.name != "training")


def _flat(rec: FoldRecord) -> dict:
    """The record's fields that are set, the training record's beside the fold's own."""
    out = {k: getattr(rec.training, k) for k in _TRAINING}
    out.update({k: getattr(rec, k) for k in _FOLD})
    return {k: v for k, v in out.items() if v is not None}


def write_fold(path, rec: FoldRecord):
    def write(tmp):
        with h5py.File(tmp, "w") as f:
            for k, v in _flat(rec).items():
                if isinstance(v, dict):
                    g = f.create_group(k)
                    for kk, vv in v.items():
                        g.attrs[kk] = vv
                elif isinstance(v, str):
                    f.attrs[k] = v
                else:
                    f.create_dataset(k, data=np.asarray(v))

    write_atomically(path, write)


def read_fold(path) -> FoldRecord:
    try:
        with h5py.File(path, "r") as f:
            flat = {k: (dict(v.attrs) if isinstance(v, h5py.Group) else v[()]) for k, v in f.items()}
            flat.update({k: str(v) for k, v in f.attrs.items()})
    except OSError as e:
        raise ValueError(f"{path}: corrupt fold state ({e}); delete it to recompute that fold") from None
    unknown = set(flat) - set(_TRAINING) - set(_FOLD)
    if unknown or "test" not in flat:
        raise ValueError(
            f"{path}: not a fold record of this version (fields {', '.join(sorted(unknown)) or 'test'}"
            f" {'unknown' if unknown else 'missing'}); delete the run's state/ folder to recompute"
        )
    for k in _TEXT:
        if k in flat:
            flat[k] = str(flat[k])
    for k in _FLOAT:
        if k in flat:
            flat[k] = float(flat[k])
    for k in _INT:
        if k in flat:
            flat[k] = int(flat[k])
    training = TrainingRecord(**{k: flat.pop(k) for k in _TRAINING if k in flat})
    return FoldRecord(training=training, **flat)

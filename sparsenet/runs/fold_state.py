"""One finished fold's record (held-out predictions, losses, link weights, timings) as one HDF5 file
under a run's ``state/``, written atomically: what ``--resume``, ``sparsenet links`` and the reports
read back."""
from __future__ import annotations

import h5py
import numpy as np

from ..atomic import write_atomically


def write_fold(path, rec):
    def write(tmp):
        with h5py.File(tmp, "w") as f:
            for k, v in rec.items():
                if isinstance(v, dict):
                    g = f.create_group(k)
                    for kk, vv in v.items():
                        g.attrs[kk] = vv
                elif isinstance(v, str):
                    f.attrs[k] = v
                else:
                    f.create_dataset(k, data=np.asarray(v))
    write_atomically(path, write)


def read_fold(path):
    try:
        with h5py.File(path, "r") as f:
            rec = {k: (dict(v.attrs) if isinstance(v, h5py.Group) else v[()]) for k, v in f.items()}
            rec.update({k: str(v) for k, v in f.attrs.items()})
    except OSError as e:
        raise ValueError(f"{path}: corrupt fold state ({e}); delete it to recompute that fold") from None
    for k in ("pretrain_seconds", "finetune_seconds"):
        rec[k] = float(rec[k])
    return rec

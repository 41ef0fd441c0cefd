"""HDF5 pieces the masks file, checkpoints and expression files share: strings, sparse index
arrays, and opening a file of a known format with one clear error for anything else."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import scipy.sparse as sp


def encode_strings(values) -> np.ndarray:
    return np.array([str(v).encode() for v in values], dtype=h5py.string_dtype())


def decode_strings(dataset) -> list:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in dataset[()]]


def write_sparse(group, m) -> None:
    """A 0/1 matrix's structure: ``indptr``, ``indices`` and a ``shape`` attribute."""
    m = sp.csr_matrix(m)
    group.attrs["shape"] = m.shape
    group.create_dataset("indptr", data=m.indptr.astype(np.int64))
    group.create_dataset("indices", data=m.indices.astype(np.int32))


def read_sparse(group) -> sp.csr_matrix:
    indptr, indices = group["indptr"][()], group["indices"][()]
    shape = tuple(int(v) for v in group.attrs["shape"])
    return sp.csr_matrix((np.ones(indices.size, dtype=np.int8), indices, indptr), shape=shape)


@contextmanager
def open_checked(path, fmt: str, what: str):
    """Open ``path`` for reading as a file whose ``format`` attribute is ``fmt``. A missing file,
    another format, or a file that is unreadable or lacks a member inside the block raises one
    error naming the file (``what`` says what it should have been)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {what}")
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != fmt:
                raise ValueError(f"{path}: not a sparsenet {what} (format {f.attrs.get('format')!r})")
            yield f
    except (OSError, KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: unreadable or corrupt {what} ({e})") from None


def has_format(path, fmt: str) -> bool:
    """Whether ``path`` is an HDF5 file whose ``format`` attribute is ``fmt`` (False for anything else)."""
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == fmt
    except OSError:
        return False

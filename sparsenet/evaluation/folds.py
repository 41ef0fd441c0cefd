"""k-fold and grouped k-fold splits (seeded), as lists of test-row arrays.

Grouped folds keep every sample of a group (a project, a condition) in one fold, so
replicates of one condition cannot sit on both sides of a split.
"""
from __future__ import annotations

import numpy as np


def kfold(n: int, k: int, seed: int) -> list[np.ndarray]:
    if not 2 <= k <= n:
        raise ValueError(f"k-fold needs 2 <= k <= samples ({n}), got k = {k}")
    order = np.random.default_rng([seed, 1]).permutation(n)
    return [np.sort(part) for part in np.array_split(order, k)]


def grouped_kfold(groups, k: int, seed: int) -> list[np.ndarray]:
    """Assign whole groups to folds, largest groups first onto the smallest fold (ties seeded)."""
    groups = np.asarray(groups, dtype=object)
    names = list(dict.fromkeys(groups.tolist()))
    if len(names) < 2:
        raise ValueError(f"grouped k-fold needs at least 2 groups, got {len(names)}")
    k = min(k, len(names))
    sizes = {g: int(np.sum(groups == g)) for g in names}
    rng = np.random.default_rng([seed, 2])
    shuffled = [names[i] for i in rng.permutation(len(names))]
    shuffled.sort(key=lambda g: -sizes[g])  # stable: equal sizes keep their shuffled order
    load = np.zeros(k, dtype=np.int64)
    members = [[] for _ in range(k)]
    for g in shuffled:
        f = int(np.argmin(load))
        members[f].append(g)
        load[f] += sizes[g]
    return [np.sort(np.flatnonzero(np.isin(groups, m))) for m in members]


def leave_one_group_out(groups) -> list[np.ndarray]:
    """One fold per group (a project held out at a time), in order of first appearance."""
    groups = np.asarray(groups, dtype=object)
    names = list(dict.fromkeys(groups.tolist()))
    if len(names) < 2:
        raise ValueError(f"leave-one-group-out needs at least 2 groups, got {len(names)}")
    return [np.flatnonzero(groups == g) for g in names]


def make_folds(ds, scheme: str, k: int, seed: int) -> list[np.ndarray]:
    """The held-out rows of each fold of a dataset's labelled samples under one scheme: ``kfold``,
    ``grouped`` (k folds of whole groups) or ``lopo`` (one group per fold)."""
    n = ds.labelled.size
    if scheme == "kfold":
        return kfold(n, min(k, n), seed)
    if ds.groups is None:
        raise ValueError(f"{scheme} cross-validation needs --group-by COLUMN of the phenotype table")
    return leave_one_group_out(ds.groups) if scheme == "lopo" else grouped_kfold(ds.groups, k, seed)

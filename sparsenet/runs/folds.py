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


MIN_PER_FOLD = 2  # labelled samples a held-out fold and its training side each need, at least


def check_trainable(ds, schemes, k: int, group_by: str | None = None) -> None:
    """Refuse, with one line naming the column and the fix, data no cross-validation can learn from: a
    phenotype with a single value, fewer labelled samples than the folds need, one group to split by."""
    where = f"{ds.summary.get('phenotype_file', 'phenotypes')}: "
    n = ds.labelled.size
    for j, col in enumerate(ds.target_columns):
        y = ds.y[:, j][np.isfinite(ds.y[:, j])]
        if np.unique(y).size < 2:
            raise ValueError(
                f"{where}phenotype column {col!r} has {'one value' if y.size else 'no value'}"
                f"{f' ({y[0]:g})' if y.size else ''} in all {y.size} labelled samples: nothing to learn "
                "or score; choose another --phenotype (or check --keep-zero and --na-values)"
            )
    for scheme in schemes:
        if scheme in ("grouped", "lopo") and ds.groups is not None:
            names = set(ds.groups)
            if len(names) < 2:
                raise ValueError(
                    f"{where}column {group_by or 'of --group-by'!r} has one group ({next(iter(names))!r}) "
                    f"among the {n} labelled samples: {scheme} CV holds out whole groups and needs at "
                    "least 2; group by another column (--group-by) or use --cv kfold"
                )
        need = MIN_PER_FOLD * (2 if scheme == "lopo" else min(k, n if scheme == "kfold" else k))
        if n < max(need, 2 * MIN_PER_FOLD):
            raise ValueError(
                f"{where}{n} labelled samples: too few for {scheme} CV with {k} folds (at least "
                f"{max(need, 2 * MIN_PER_FOLD)}); label more samples or lower --folds"
            )

"""A data table and the labels of its samples, for classification: BINN's layout (features as rows, IDs in
the first column; a design table of sample -> class) or samples as rows.

Missing values: ``zero`` (BINN's choice: proteomics values missing because they are low read as 0 before
standardisation) or ``mean`` (the feature's mean over the samples read, a label-free fill).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..allowed import one_of
from .tables import DataError, read_rows, read_text_table

MISSING = ("zero", "mean")


@dataclass(frozen=True)
class LabelledTable:
    X: np.ndarray  # samples x features
    labels: np.ndarray  # one class label (text) per sample
    feature_ids: list
    sample_ids: list
    groups: np.ndarray | None  # one group per sample, where a group column was asked for
    notes: tuple  # what was filled, dropped or mapped, one line each


def read_labelled(
    data,
    design,
    sample_column: str = "sample",
    label_column: str = "group",
    group_column: str | None = None,
    samples_as_rows: bool = False,
    missing: str = "zero",
    merge: dict | None = None,
) -> LabelledTable:
    """The samples of ``design`` that ``data`` holds, their labels (and groups), in the design's order.
    ``merge``: new label -> the design's labels it stands for (e.g. ``{"evolved": ["Endpoint", "Midpoint"]}``)."""
    renamed = {old: new for new, olds in (merge or {}).items() for old in olds}
    one_of("missing", missing, MISSING, DataError)
    header, row_labels, values = read_text_table(data)
    features, samples, matrix = (header, row_labels, values) if samples_as_rows else (row_labels, header, values.T)
    rows = read_rows(design)
    if not rows:
        raise DataError(f"{design}: empty design table")
    head = [h.strip() for h in rows[0]]
    for column, flag in (
        (sample_column, "--sample-column"),
        (label_column, "--label-column"),
        (group_column, "--group-by"),
    ):
        if column is not None and column not in head:
            raise DataError(f"{design}: no column {column!r} ({flag}); the columns are {', '.join(head)}")
    si, li = head.index(sample_column), head.index(label_column)
    gi = head.index(group_column) if group_column else None
    where = {s: i for i, s in enumerate(samples)}
    take, labels, groups, unknown, unlabelled = [], [], [], [], 0
    for r in rows[1:]:
        sample = r[si].strip() if si < len(r) else ""
        label = r[li].strip() if li < len(r) else ""
        if sample not in where:
            unknown.append(sample)
            continue
        if not label or label.upper() in ("NA", "NAN"):
            unlabelled += 1
            continue
        take.append(where[sample])
        labels.append(renamed.get(label, label))
        groups.append(r[gi].strip() if gi is not None and gi < len(r) else "")
    if not take:
        raise DataError(
            f"{design}: none of its samples (like {rows[1][si]!r}) is in {data} (whose samples look like "
            f"{samples[0]!r}); "
            f"{'drop --samples-as-rows' if samples_as_rows else 'samples as rows? pass --samples-as-rows'}"
            " or fix the sample IDs"
        )
    X = matrix[np.asarray(take)]
    notes = []
    if unknown:
        notes.append(
            f"{len(unknown)} samples of the design are not in the data and are left out: "
            + ", ".join(unknown[:5])
            + (" ..." if len(unknown) > 5 else "")
        )
    if unlabelled:
        notes.append(f"{unlabelled} samples have no label and are left out")
    unused = sorted(set(renamed) - {r[li].strip() for r in rows[1:] if li < len(r)})
    if unused:
        raise DataError(
            f"{design}: --merge names labels the column {label_column!r} does not hold: " + ", ".join(map(repr, unused))
        )
    holes = ~np.isfinite(X)
    if holes.any():
        fill = np.zeros(X.shape[1]) if missing == "zero" else np.nanmean(np.where(holes, np.nan, X), axis=0)
        fill = np.where(np.isfinite(fill), fill, 0.0)
        X = np.where(holes, fill[None, :], X)
        notes.append(
            f"{int(holes.sum())} missing values ({100 * holes.mean():.1f} %) filled with "
            f"{'0' if missing == 'zero' else 'the feature mean'}"
        )
    return LabelledTable(
        X,
        np.asarray(labels, dtype=object),
        list(features),
        [samples[i] for i in take],
        np.asarray(groups, dtype=object) if group_column else None,
        tuple(notes),
    )


def binn_example(missing: str = "zero") -> LabelledTable:
    """BINN's example (plasma proteomics, 554 proteins x 197 samples, groups 1 and 2), shipped with its MIT
    licence (``sparsenet/shipped/binn_example``)."""
    from importlib import resources

    folder = Path(str(resources.files("sparsenet.shipped").joinpath("binn_example")))
    return read_labelled(folder / "sample_datamatrix.csv", folder / "sample_design_matrix.tsv", missing=missing)


def read_features(data, feature_ids, orientation: str = "auto") -> tuple:
    """A table's samples over ``feature_ids`` (a model's features, in its order): (samples x features with NaN
    where the table lacks the feature or the value, sample IDs, notes). ``orientation``: 'features-by-samples'
    (feature IDs in the first column, as ``read_labelled`` reads by default), 'samples-by-features', or 'auto'
    (the side whose labels share more IDs with ``feature_ids``)."""
    allowed = ("auto", "features-by-samples", "samples-by-features", "genes-by-samples", "samples-by-genes")
    if orientation not in allowed:
        raise DataError(f"orientation must be one of {', '.join(allowed[:3])}, got {orientation!r}")
    header, row_labels, values = read_text_table(data)
    wanted = {f: i for i, f in enumerate(feature_ids)}
    by_rows = sum(r in wanted for r in row_labels)
    by_columns = sum(c in wanted for c in header)
    as_rows = (
        by_rows >= by_columns if orientation == "auto" else orientation in ("features-by-samples", "genes-by-samples")
    )
    features, samples, matrix = (row_labels, header, values.T) if as_rows else (header, row_labels, values)
    if not max(by_rows, by_columns):
        raise DataError(
            f"{data}: none of its row or column labels (like {row_labels[0]!r}, {header[0]!r}) is a "
            f"feature of the model (like {feature_ids[0]!r}); give the table the model was trained on's "
            "kind of IDs"
        )
    X = np.full((len(samples), len(feature_ids)), np.nan)
    seen = [(wanted[f], j) for j, f in enumerate(features) if f in wanted]
    cols, src = (np.array(v, dtype=np.int64) for v in zip(*seen, strict=True))
    X[:, cols] = matrix[:, src]
    notes = [
        f"{len(seen)} of the model's {len(feature_ids)} features in {data} "
        f"({'features as rows' if as_rows else 'samples as rows'})"
    ]
    return X, list(samples), notes

"""``sparsenet predict`` as a function: a trained model's predictions for an expression file, with an
interval from the model's held-out residuals, the networks' spread and a flag for unusual samples."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np

from ..stats.intervals import DEFAULT_LEVEL, check_level, interval_of, unusual


@dataclass
class Predictions:
    """Predictions of one model for one data file (``csv()`` is what ``sparsenet predict`` writes)."""

    sample_ids: list
    target_columns: list
    targets: list
    mean: np.ndarray  # samples x targets
    sd: np.ndarray | None  # the networks' spread (None for one network)
    half_width: np.ndarray | None  # per target (None: the model kept no residuals)
    level: float
    flags: list
    networks: int
    how: str  # how the values were normalised
    alignment: str = ""
    gene_labels: str = ""
    checks: dict = field(default_factory=dict)
    floor: np.ndarray | None = None  # per target, the least value it can take (growth: 0; NaN: no floor)

    @property
    def n_samples(self) -> int:
        return len(self.sample_ids)

    @property
    def lower(self):
        """The interval's lower bounds, clipped to the phenotype's floor (a growth rate is never below 0)."""
        if self.half_width is None:
            return None
        low = self.mean - self.half_width
        return low if self.floor is None else np.where(np.isfinite(self.floor), np.maximum(low, self.floor), low)

    @property
    def clipped(self) -> int:
        """How many lower bounds the floor raised."""
        if self.half_width is None or self.floor is None:
            return 0
        return int(np.sum(np.isfinite(self.floor) & (self.mean - self.half_width < self.floor)))

    @property
    def upper(self):
        return None if self.half_width is None else self.mean + self.half_width

    def said(self) -> str:
        """What the columns are, in one sentence."""
        parts = [f"the mean of {self.networks} networks" if self.networks > 1 else "one network's prediction"]
        if self.half_width is not None:
            parts.append(
                f"a {100 * self.level:g} % interval from the cross-validation's held-out residuals "
                f"(+- {', '.join(f'{h:.3g}' for h in self.half_width)})"
            )
        else:
            parts.append("no interval (a model trained before sparsenet 0.2 keeps no held-out residuals: train again)")
        if self.sd is not None:
            parts.append("the networks' sd (their spread, not an error bar)")
        if self.clipped:
            parts.append(
                f"{self.clipped} lower bound{'s' if self.clipped != 1 else ''} raised to the phenotype's "
                "floor (a growth rate is never below 0)"
            )
        n = sum(bool(f) for f in self.flags)
        parts.append(f"{n} sample{'s' if n != 1 else ''} flagged (the flag column says why)")
        return ", ".join(parts)

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        pct = f"{100 * self.level:g} %"
        header = ["sample_id"]
        for c, t in zip(self.target_columns, self.targets, strict=True):
            header.append(f"{c} [{t}] predicted")
            if self.half_width is not None:
                header += [
                    f"{c} lower ({pct} interval from held-out residuals)",
                    f"{c} upper ({pct} interval from held-out residuals)",
                ]
            if self.sd is not None:
                header.append(f"{c} sd over {self.networks} networks (spread, not an error bar)")
        header.append("flag (why to doubt this prediction)")
        w.writerow(header)
        lo, hi = self.lower, self.upper
        for i, sid in enumerate(self.sample_ids):
            row = [sid]
            for j in range(len(self.target_columns)):
                row.append(f"{self.mean[i, j]:.6g}")
                if self.half_width is not None:
                    row += [f"{lo[i, j]:.6g}", f"{hi[i, j]:.6g}"]
                if self.sd is not None:
                    row.append(f"{self.sd[i, j]:.3g}")
            row.append(self.flags[i])
            w.writerow(row)
        return buf.getvalue()


def predict_file(
    checkpoint,
    data,
    *,
    reference=None,
    orientation="auto",
    masks=None,
    level=DEFAULT_LEVEL,
    device="cpu",
    na_values=None,
    gene_ids="auto",
    duplicates="mean",
) -> Predictions:
    """Predict every sample of ``data`` with the model in ``checkpoint`` (see ``sparsenet predict --help``)."""
    from .. import backend
    from ..data.checks import data_checks
    from ..data.genes import GeneVocabulary, resolve_expression_genes
    from ..data.normalise import ModelInput, Normalisation, fit_reference
    from ..data.tables import NA_VALUES, DataError, align, read_expression, said_while
    from ..masks.store import linked_genes
    from ..training.checkpoint import check_same_masks, encoder_from_checkpoint, input_transform_of, load_checkpoint
    from ..training.finetune import member_predictions

    check_level(level)
    ck = load_checkpoint(checkpoint)
    if masks is not None:
        check_same_masks(ck, masks, checkpoint)
    vocabulary = GeneVocabulary(ck.masks)
    expr, read_warnings = said_while(
        read_expression, data, vocabulary.labels(), orientation, na_values or NA_VALUES, ck.normalisation.transform
    )  # the model's own transform (log2p1 if trained so)
    expr, mapping = resolve_expression_genes(expr, ck.masks, gene_ids, duplicates, vocabulary)
    alignment = align(expr.gene_ids, ck.masks.gene_ids, expr.path)
    stored = ck.normalisation
    if reference == "none":
        norm = Normalisation(clip=stored.clip, scale=stored.scale, transform=stored.transform)
        how = "values taken as log2 fold changes"
    elif reference:
        norm = fit_reference(expr, alignment, [r.strip() for r in reference.split(",")])
        how = f"log2 fold change against {reference}"
    elif stored.reference and all(r in set(expr.sample_ids) for r in stored.reference):
        norm = fit_reference(expr, alignment, stored.reference)
        how = f"log2 fold change against {', '.join(stored.reference)} (found in DATA)"
    elif stored.reference:
        norm = stored
        how = f"log2 fold change against the checkpoint's stored profile of {', '.join(stored.reference)}"
    else:
        norm = Normalisation(clip=stored.clip, scale=stored.scale, transform=stored.transform)
        how = "values taken as log2 fold changes"
    linked = linked_genes(ck.masks)
    checks = data_checks(expr, alignment, ck.masks, linked, norm.reference, mapping=mapping)
    checks["warnings"] = read_warnings + checks["warnings"]
    encoder, columns = encoder_from_checkpoint(ck, backend.resolve_device(device))
    transform = input_transform_of(ck)
    source = ModelInput(expr, alignment, norm)
    chunks, flags = [], []
    data_coverage = float(np.mean(source.present[linked])) if linked.any() else 1.0
    if data_coverage < MIN_GENE_SHARE:  # as the estimator's min_gene_share: predictions from few genes are guesses
        raise DataError(
            f"{data}: it gives {100 * data_coverage:.0f} % of the {int(linked.sum())} genes the model "
            f"links to a phenotype, below {100 * MIN_GENE_SHARE:.0f} %: predictions would rest on few "
            "genes; give the genes the model was trained on (check the gene IDs or symbols)"
        )
    for a in range(0, expr.n_samples, 10000):
        x = transform.apply(source.take(np.arange(a, min(a + 10000, expr.n_samples))))
        chunks.append(member_predictions(encoder, x, columns))
        flags += unusual(ck, x, data_coverage)
    members = np.concatenate(chunks, axis=1)  # networks x samples x targets
    k = members.shape[0]
    floor = phenotype_floor(ck.target_columns, ck.targets)
    mean = members.mean(axis=0)
    for i in range(mean.shape[0]):  # a prediction outside the phenotype's range is flagged, never silent
        below = [
            f"{c} below {floor[j]:g}"
            for j, c in enumerate(ck.target_columns)
            if np.isfinite(floor[j]) and mean[i, j] < floor[j]
        ]
        if below:
            said = f"predicted {', '.join(below)}, outside the phenotype's range"
            flags[i] = f"{flags[i]}; {said}" if flags[i] else said
    return Predictions(
        list(expr.sample_ids),
        list(ck.target_columns),
        list(ck.targets),
        mean,
        members.std(axis=0, ddof=1) if k > 1 else None,
        interval_of(ck, level),
        level,
        flags,
        k,
        how,
        alignment.summary(),
        mapping.sentence(),
        checks,
        floor,
    )


def phenotype_floor(columns, targets) -> np.ndarray:
    """Per target, the least value the phenotype can take: 0 for a growth rate (a column or reaction named for
    growth or biomass), else NaN (a flux may run either way)."""
    from ..data.phenotypes import mentions_growth

    return np.array(
        [
            0.0 if mentions_growth(str(c)) or "biomass" in str(t).lower() else np.nan
            for c, t in zip(columns, targets, strict=True)
        ]
    )


@dataclass
class ClassPredictions:
    """Class probabilities for a table's samples from a pathway classifier (``classifier.h5``): per sample the
    probability of every class, the most probable class, and the share of the model's wired features the table
    holds (a feature it lacks is taken at the training mean); ``flag`` says why a prediction deserves doubt."""

    sample_ids: list
    classes: list
    probabilities: np.ndarray
    present: np.ndarray
    notes: list = field(default_factory=list)

    @property
    def predicted(self) -> list:
        return [self.classes[i] for i in self.probabilities.argmax(axis=1)]

    def flags(self) -> list:
        return [
            "" if p >= 0.999 else f"{100 * p:.0f} % of the model's wired features in the data" for p in self.present
        ]

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(
            [
                "sample_id",
                "predicted_class",
                *(f"probability {c}" for c in self.classes),
                "wired_features_present",
                "flag",
            ]
        )
        for i, s in enumerate(self.sample_ids):
            w.writerow(
                [
                    s,
                    self.predicted[i],
                    *(f"{v:.6g}" for v in self.probabilities[i]),
                    f"{self.present[i]:.3f}",
                    self.flags()[i],
                ]
            )
        return buf.getvalue()


MIN_GENE_SHARE = 0.5  # below this share of the linked genes sparsenet predict refuses (the estimator: min_gene_share)
MIN_FEATURES_PRESENT = 0.5  # below this share of the wired features a sample's classes are not predicted


def predict_classes_file(model_path, data, *, orientation: str = "auto", device: str = "cpu") -> ClassPredictions:
    """``sparsenet predict`` for a classifier model: class probabilities for every sample of the table ``data``
    (features matched by ID, either orientation). A sample holding under half of the model's wired features
    (those that feed its first level) is refused with the count; a missing value or feature is taken at the
    training mean (0 after standardising) and flagged."""
    from ..data.labelled import read_features
    from ..training.pathway_model import load_pathway_model

    model = load_pathway_model(model_path)
    X, samples, notes = read_features(data, model.feature_ids, orientation)
    wired = np.asarray(np.diff(model.hierarchy.masks[0].tocsc().indptr) > 0)
    present = np.isfinite(X[:, wired]).mean(axis=1) if wired.any() else np.ones(len(samples))
    few = np.flatnonzero(present < MIN_FEATURES_PRESENT)
    if few.size:
        raise ValueError(
            f"{data}: {few.size} samples (like {samples[few[0]]!r}) hold under "
            f"{100 * MIN_FEATURES_PRESENT:.0f} % of the model's {int(wired.sum())} wired features "
            f"({100 * present[few[0]]:.0f} %); give the features the model was trained on"
        )
    X = np.where(np.isfinite(X), X, model.mean[None, :])
    return ClassPredictions(samples, [str(c) for c in model.classes], model.predict_proba(X, device), present, notes)

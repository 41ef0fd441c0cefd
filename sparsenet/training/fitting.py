"""Fitting the networks of one fit: the one code path behind ``sparsenet train``'s folds, its null
draws and ``SparseNetRegressor.fit``.

For each wiring (masks; null draws are more wirings), ``ensemble`` members are built (member k from
seed ``seed + k * MEMBER_SEED``), pre-trained for strategy C (by the caller's ``pretrained``: the CLI
caches pre-trainings on disk, the estimator runs them on its pool), started small with a read-out at
the training mean, then fine-tuned: every member of every wiring at once as one stack where they can
be (``training.stacked_finetune``), else each as a stack of one. With ``l2='auto'`` each wiring's penalty
comes first from inner folds of the training samples (``training.penalty``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from .. import backend
from ..progress import Stage, quiet
from .finetune import FinetuneSettings, default_lr, scale_fresh_weights
from .network import Architecture, Ensemble, build_autoencoder, build_encoder
from .penalty import L2_PATH, choose_l2
from .stacked_finetune import choose_steps, finetune_stack

MEMBER_SEED = 1_000_003  # offset between the seeds of an ensemble's members


@dataclass(frozen=True)
class NetworkSpec:
    """What to build and how to fine-tune it, fixed when made: a fine-tuning without a learning rate gets the
    strategy's default here (``default_lr``), so what is fitted is what the spec says."""

    strategy: str = "B"
    architecture: Architecture = None
    ensemble: int = 1
    finetune: FinetuneSettings = None
    device: str = "cpu"

    def __post_init__(self):
        finetune = self.finetune or FinetuneSettings()
        object.__setattr__(self, "architecture", self.architecture or Architecture())
        if not finetune.lr:
            finetune = replace(finetune, lr=default_lr(self.strategy))
        object.__setattr__(self, "finetune", finetune)


def _empty():
    return np.zeros(0)


@dataclass(frozen=True)
class TrainingRecord:
    """How one wiring's networks were trained: member 0's losses and why its fine-tuning stopped, every member's
    seconds summed; with ``l2='auto'`` the penalty chosen and the inner folds' loss along the path
    (``l2_path``, ``l2_path_steps``); with inner early stopping member 0's step grid and inner loss. A model with
    nothing trained step by step (a baseline) has the defaults: no losses, stopped by 'fitted'."""

    pretrain_seconds: float = 0.0
    pretrain_losses: np.ndarray = field(default_factory=_empty)
    finetune_seconds: float = 0.0
    finetune_losses: np.ndarray = field(default_factory=_empty)
    stop: str = "fitted"
    l2_chosen: float | None = None
    l2_path: np.ndarray | None = None
    l2_inner_loss: np.ndarray | None = None
    l2_path_steps: np.ndarray | None = None
    inner_steps: np.ndarray | None = None
    inner_loss: np.ndarray | None = None


@dataclass
class Fitted:
    """One wiring's fitted networks: its members' autoencoders, the encoder that predicts (an Ensemble of
    the members' when there are several), the output columns of the targets, and how they were trained
    (a :class:`TrainingRecord`)."""

    nets: list
    encoder: object
    columns: np.ndarray
    record: TrainingRecord


@dataclass
class Built:
    """One network ready to fine-tune: its autoencoder, the encoder that is tuned, the encoder's output columns
    of the targets, and its record so far (pre-training's losses and seconds)."""

    net: object
    encoder: object
    columns: np.ndarray
    record: TrainingRecord


def build_member(spec: NetworkSpec, masks, y, seed: int, target_indices, pretrained=None, sample_weight=None) -> Built:
    """One network on ``masks`` ready to fine-tune: built, for strategy C loaded with ``pretrained()``'s
    parameters, its fresh layers started small and a read-out at the (weighted) training mean of ``y``."""
    record = TrainingRecord()
    net = build_autoencoder(masks, spec.strategy, seed, spec.device, spec.architecture)
    if spec.strategy == "C":
        params, losses, seconds = pretrained()
        net.load_state_dict(params)
        record = TrainingRecord(pretrain_seconds=seconds, pretrain_losses=np.asarray(losses))
    encoder, columns = build_encoder(net, spec.architecture, target_indices, seed)
    scale_fresh_weights(encoder, spec.finetune.init_scale, net.n_encoder if spec.strategy == "C" else 0)
    if spec.architecture.head == "readout":  # start the read-out at the training mean of each target
        if sample_weight is None:
            mean = np.nanmean(y, axis=0)
        else:
            w = np.where(np.isnan(y), 0.0, np.asarray(sample_weight, dtype=float)[:, None])
            mean = (w * np.nan_to_num(y)).sum(axis=0) / np.maximum(w.sum(axis=0), 1e-300)
        encoder.layers[-1].params["bias"][...] = backend.xp_for(spec.device).asarray(
            np.nan_to_num(mean), dtype=encoder.params.dtype
        )
    return Built(net, encoder, columns, record)


def fit_networks(
    spec: NetworkSpec,
    wirings,
    xt,
    y,
    target_indices,
    seed: int,
    pretrained=None,
    inner_folds=None,
    progress=None,
    label: str = "",
    sample_weight=None,
    l2_path=None,
    initial=None,
    subsets=None,
) -> list:
    """Fit ``spec.ensemble`` networks per wiring on transformed inputs ``xt`` and targets ``y`` (NaN: not
    observed). ``pretrained(masks, k, label)`` returns (params, losses, seconds) of member k's pre-training
    (strategy C); ``inner_folds``: held-out rows of ``xt`` for ``l2='auto'`` (along ``l2_path``, default
    ``penalty.L2_PATH``) and inner early stopping; ``sample_weight``: each sample's weight in the loss;
    ``initial``: per wiring, each member's encoder parameters to start from
    (warm start) instead of a fresh start; ``subsets``: boolean masks of the rows of ``xt`` to fit on, each
    wiring fitted once per subset (a learning curve's label counts; without inner early stopping). Returns one
    :class:`Fitted` per wiring (and subset: wiring-major)."""
    progress = progress or quiet
    k_members = spec.ensemble
    settings = spec.finetune
    pretrained_run = spec.strategy == "C"
    if subsets is not None and settings.l2 == "auto":
        raise ValueError("--l2 auto chooses the penalty on all training samples; give a fixed --l2 for subsets")
    problems = [(w, s) for w in wirings for s in (subsets if subsets is not None else [None])]

    def member(masks, subset, k, tag=""):
        rows = slice(None) if subset is None else np.asarray(subset, dtype=bool)
        sw = None if sample_weight is None else np.asarray(sample_weight)[rows]
        return build_member(
            spec,
            masks,
            y[rows],
            seed + k * MEMBER_SEED,
            target_indices,
            (lambda: pretrained(masks, k, label + tag)) if pretrained_run else None,
            sw,
        )

    built = [
        [member(w, s, k, f" member {k + 1}/{k_members}" if k_members > 1 else "") for k in range(k_members)]
        for w, s in problems
    ]
    for w, start in enumerate(initial or []):  # warm start: the members continue from where they were
        for m, params in zip(built[w], start, strict=False):  # members beyond the earlier ensemble start afresh
            m.encoder.params[...] = backend.xp_for(spec.device).asarray(params, dtype=m.encoder.params.dtype)
    records = [replace(ms[0].record, pretrain_seconds=sum(m.record.pretrain_seconds for m in ms)) for ms in built]
    progress(Stage("finetune", label, 0, 1))
    t0 = time.perf_counter()
    l2 = [settings.l2] * len(wirings)
    if settings.l2 == "auto":  # each wiring's penalty from inner folds of these training samples

        def fresh(w):  # member 0 of wiring w, as choose_l2 starts every inner fold from it
            built_one = member(w, None, 0)
            return built_one.encoder, built_one.columns

        factories = [lambda w=w: fresh(w) for w in wirings]
        chosen = choose_l2(factories, xt, y, inner_folds, settings, pretrained_run, l2_path or L2_PATH, sample_weight)
        l2 = [c.l2 for c in chosen]
        records = [
            replace(
                rec,
                l2_chosen=c.l2,
                l2_path=np.asarray(c.path),
                l2_inner_loss=np.asarray(c.inner_loss),
                l2_path_steps=np.asarray(c.steps),
            )
            for rec, c in zip(records, chosen, strict=True)
        ]
    encoders = [m.encoder for ms in built for m in ms]
    columns = [m.columns for ms in built for m in ms]
    train = (
        None
        if subsets is None
        else np.repeat(np.array([np.asarray(s, dtype=bool) for _, s in problems]), k_members, axis=0)
    )
    per_wiring = len(problems) // len(wirings)  # problems are wiring-major
    l2 = [l2[i // per_wiring] for i in range(len(problems))]
    if settings.early_stopping == "none":  # every member of every wiring (and subset) in one stack
        results = finetune_stack(
            encoders,
            columns,
            xt,
            y,
            settings,
            pretrained_run,
            l2=np.repeat(np.asarray(l2, dtype=np.float64), k_members),
            sample_weight=sample_weight,
            train=train,
        )
    else:  # each member's step count from inner folds of these training samples, then fitted to it
        if subsets is not None:
            raise ValueError(
                "a learning curve's subsets are fitted without inner early stopping (--early-stopping none)"
            )
        results = []
        for i, (e, c) in enumerate(zip(encoders, columns, strict=True)):
            own = replace(settings, l2=l2[i // k_members])
            steps, grid, curve = choose_steps(e, xt, y, c, own, pretrained_run, inner_folds)
            if i % k_members == 0:  # the report keeps member 0's choice
                records[i // k_members] = replace(records[i // k_members], inner_steps=grid, inner_loss=curve)
            results += finetune_stack(
                [e], [c], xt, y, replace(own, max_steps=steps, tol=0.0), pretrained_run, sample_weight=sample_weight
            )
    seconds = time.perf_counter() - t0
    fitted = []
    for w, (ms, rec) in enumerate(zip(built, records, strict=True)):
        losses, reason = results[w * k_members]
        rec = replace(rec, finetune_seconds=seconds / len(problems), finetune_losses=losses, stop=reason)
        members = [m.encoder for m in ms]
        fitted.append(
            Fitted([m.net for m in ms], members[0] if len(members) == 1 else Ensemble(members), ms[0].columns, rec)
        )
    losses = fitted[0].record.finetune_losses
    progress(Stage("finetune", label, 1, 1, losses[-1] if losses.size else None))
    return fitted

"""Fine-tuning many encoders at once: K members that share their input (an ensemble, null-wiring
draws, points on a penalty path, inner folds) as one stacked network, one forward/backward/Adam
pass a step for all of them, and stopping per member.

Each member keeps its own mask, weights, biases, gene -> protein scale and read-out, its own
training samples (``train``: inner folds are members that see different samples of the same
input), its own penalty and its own stopping step, and ends where fitting it alone ends (the same
arithmetic, row by row; float32 round-off apart in the read-out's sums). What can be stacked:
encoders whose first layer is a masked layer with the gene -> protein scale folded in
(strategies B and C with one-to-one gene -> protein masks), with the node head or a read-out.

This is the one fine-tuning loop: any other encoder (a dense first layer, strategy A; a masked gene ->
reaction layer; float64 parameters) is a stack of one, trained in place (``SingleNetwork``, ``finetune``),
and early stopping's inner folds are members of a stack (``choose_steps``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from .. import backend
from ..allowed import one_of
from ..engine import Adam, MaskedLinear, Sequential, kernels
from ..engine.dense_linear import DenseLinear
from ..engine.stack import block_diagonal, member_of_rows, scale_index, stack_rows
from ..engine.threads import threads_for
from . import lbfgs
from .finetune import LOSSES, TUNE, freeze_for_tuning, held_out_loss, predict, step_grid
from .network import freeze_gene_protein

LOSS_KINDS = {"squared": 0, "relative": 1}  # the kernels' codes (cpu_kernels.member_losses)


def stackable(encoder) -> bool:
    """Whether an encoder can join a stack: a masked first layer with an input scale, then at most a
    dense read-out."""
    layers = encoder.layers
    first = layers[0]
    return (
        isinstance(first, MaskedLinear)
        and "scale" in first.params
        and len(layers) <= 2
        and all(isinstance(h, DenseLinear) for h in layers[1:])
    )


@dataclass
class Member:
    """Where one member lives in the stack: its output columns and its parameters' slices."""

    columns: np.ndarray  # output columns of its targets
    rows: slice  # its rows of the stacked phenotype layer


class EncoderStack:
    """The members' encoders as one Sequential: a stacked masked layer (per-member input scales), and a
    block-diagonal read-out when the members have one. ``load`` copies the members' parameters in,
    ``store`` copies them back."""

    def __init__(self, encoders, columns, device: str = "cpu"):
        if not encoders or not all(stackable(e) for e in encoders):
            raise ValueError(
                "EncoderStack: every member needs a masked first layer with an input scale and at most a dense read-out"
            )
        firsts = [e.layers[0] for e in encoders]
        n_in = firsts[0].in_features
        self.k = len(encoders)
        stacked, offsets = stack_rows([f.mask() for f in firsts])
        phen = MaskedLinear(
            stacked,
            bias=True,
            activation=firsts[0].activation,
            input_scale=True,
            scale_index=scale_index(stacked, offsets),
            n_scales=self.k * n_in,
        )
        layers = [phen]
        self.readout = len(encoders[0].layers) == 2
        if self.readout:
            shapes = [tuple(e.layers[1].params["weight"].shape) for e in encoders]
            mask, out_rows, _ = block_diagonal(shapes)
            layers.append(MaskedLinear(mask, bias=True))
            self.members = [
                Member(out_rows[k] + np.asarray(c, dtype=np.int64), slice(offsets[k], offsets[k + 1]))
                for k, c in enumerate(columns)
            ]
        else:
            self.members = [
                Member(offsets[k] + np.asarray(c, dtype=np.int64), slice(offsets[k], offsets[k + 1]))
                for k, c in enumerate(columns)
            ]
        self.net = Sequential(layers).to(device)
        self.width = self.net.out_features
        self.offsets, self.n_in = offsets, n_in
        self.member_of_param = self._member_of_params()
        self.load(encoders)

    @property
    def device(self) -> str:
        return self.net.device

    def _member_of_params(self) -> np.ndarray:
        """The member each entry of the flat parameter buffer belongs to."""
        phen = self.net.layers[0]
        row_member = member_of_rows(self.offsets)
        out = np.empty(self.net.params.size, dtype=np.int64)
        nz_rows = np.repeat(np.arange(phen.out_features), np.diff(backend.to_numpy(phen.indptr)))
        out[self.net.slices["0.weight"]] = row_member[nz_rows]
        out[self.net.slices["0.bias"]] = row_member
        out[self.net.slices["0.scale"]] = np.repeat(np.arange(self.k), self.n_in)
        if self.readout:
            head = self.net.layers[1]
            per_row = np.repeat(np.arange(self.k), [len(m.columns) for m in self.members])
            head_rows = np.repeat(np.arange(head.out_features), np.diff(backend.to_numpy(head.indptr)))
            out[self.net.slices["1.weight"]] = per_row[head_rows]
            out[self.net.slices["1.bias"]] = per_row
        return out

    def _pairs(self, encoders):
        """(stacked array, [each member's array]) for every parameter."""
        phen = self.net.layers[0]
        yield phen.params["weight"], [e.layers[0].params["weight"] for e in encoders]
        yield phen.params["bias"], [e.layers[0].params["bias"] for e in encoders]
        yield phen.params["scale"], [e.layers[0].params["scale"] for e in encoders]
        if self.readout:
            head = self.net.layers[1]
            yield head.params["weight"], [e.layers[1].params["weight"] for e in encoders]
            yield head.params["bias"], [e.layers[1].params["bias"] for e in encoders]

    def load(self, encoders) -> None:
        xp = backend.xp_for(self.device)
        for stacked, parts in self._pairs(encoders):
            stacked[...] = xp.asarray(np.concatenate([backend.to_numpy(p).ravel() for p in parts]), dtype=stacked.dtype)
        for mine, theirs in zip(
            self.net.layers, encoders[0].layers, strict=False
        ):  # what is held fixed, held fixed here
            mine.trainable = theirs.trainable
        self.net.layers[0].frozen = set(encoders[0].layers[0].frozen)

    def store(self, encoders) -> None:
        for stacked, parts in self._pairs(encoders):
            flat = backend.to_numpy(stacked)
            at = 0
            for p in parts:
                n = int(p.size)
                p[...] = backend.get_array_module(p).asarray(flat[at : at + n].reshape(p.shape), dtype=p.dtype)
                at += n


class SingleNetwork:
    """A stack of one: any encoder, trained in place (its own parameters and gradients are the stack's), for
    what ``EncoderStack`` cannot hold and for ``finetune``'s one network."""

    def __init__(self, encoder, columns):
        self.net, self.k = encoder, 1
        self.readout = isinstance(encoder.layers[-1], DenseLinear)  # a read-out on top: tuned afresh
        # the output's width: the last layer that sets one (an activation keeps its input's)
        self.width = next(w for w in (layer.out_features for layer in reversed(encoder.layers)) if w is not None)
        self.members = [Member(np.asarray(columns, dtype=np.int64), slice(0, self.width))]
        self.member_of_param = np.zeros(encoder.params.size, dtype=np.int64)

    @property
    def device(self) -> str:
        return self.net.device

    def store(self, encoders) -> None:  # trained in place: nothing to copy back
        pass


class StackObjective:
    """Each member's fine-tuning loss on the stack's shared input, its data gradient and its penalty.

    ``data_gradient()`` runs forward and backward at the current parameters: it returns the members'
    data losses (sums over their observations, (K,)) and leaves the data gradient in ``net.grads``.
    ``penalty`` holds each parameter's L2 coefficient l2_k * n_k (0 for frozen ones), so that a member's
    objective is (data loss + penalty |p|^2 / 2) / n_k, as ``finetune`` minimises it for one network."""

    def __init__(self, stack: EncoderStack, x, y, loss: str, train=None, l2=None, sample_weight=None):
        self.stack, self.net = stack, stack.net
        k, (n_samples, n_targets) = stack.k, np.shape(y)
        xp = self.xp = backend.xp_for(stack.device)
        train = np.ones((k, n_samples), dtype=bool) if train is None else np.asarray(train, dtype=bool)
        y = np.asarray(y, dtype=np.float64)
        sw = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        known = train[:, None, :] & ~np.isnan(y).T[None]  # K x T x B: what each member trains on
        weight = np.where(known, sw[None, None, :], 0.0)
        self.n = (
            np.maximum(weight.sum(axis=(1, 2)), 1e-12)
            if sample_weight is not None
            else np.maximum(1, known.sum(axis=(1, 2)))
        )  # (weighted) observations per member
        scale = np.empty((k, n_targets))
        for m in range(k):  # each member's (weighted) mean |target| over its own observations
            wt = weight[m].T  # B x T
            total = wt.sum(axis=0)
            mean = np.where(total > 0, (wt * np.nan_to_num(y)).sum(axis=0) / np.where(total > 0, total, 1), np.nan)
            scale[m] = np.nan_to_num(np.abs(mean), nan=1.0) + 1e-12
        l2 = np.zeros(k) if l2 is None else np.broadcast_to(np.asarray(l2, dtype=np.float64), (k,))
        dtype = self.net.params.dtype  # float32 for stacks; a float64 network is its own reference
        penalty = np.zeros(self.net.params.size, dtype=dtype)
        for i, layer in enumerate(self.net.layers):
            if layer.trainable:
                for name in layer.params:
                    if name not in layer.frozen:
                        sl = self.net.slices[f"{i}.{name}"]
                        penalty[sl] = (l2 * self.n)[stack.member_of_param[sl]]
        self.penalty = xp.asarray(penalty) if penalty.any() else None
        self.anchor = None  # what the penalty pulls toward (None: 0); set_anchor_here for pre-trained weights
        self.x = backend.feature_major(xp.asarray(x, dtype=dtype))
        self.yT = xp.asarray(np.nan_to_num(y).T, dtype=dtype)  # T x B
        self.weight = xp.asarray(weight, dtype=dtype)
        self.scale = xp.asarray(scale, dtype=dtype)
        self.columns = xp.asarray(np.stack([m.columns for m in stack.members]))  # K x T
        self.kind = LOSS_KINDS[loss]
        self.gradT = xp.zeros((stack.width, n_samples), dtype=dtype)  # rows of no target stay 0
        self.values = xp.zeros(k, dtype=np.float64)
        self.ops = kernels.for_module(xp)

    def set_anchor_here(self) -> None:
        """Pull the penalty toward the current (pre-trained) weights of every layer but a read-out, which is tuned
        afresh and still pulled toward 0."""
        anchor = self.net.params.copy()
        layers = self.net.layers
        for i in range(len(layers) - 1 if self.stack.readout else len(layers), len(layers)):
            for name in self.net.layers[i].params:
                anchor[self.net.slices[f"{i}.{name}"]] = 0
        self.anchor = anchor

    def data_gradient(self):
        out = self.net.forward(self.x, check=False)  # (B, width), feature-major for masked layers
        self.ops.member_losses(
            self.kind,
            self.xp.ascontiguousarray(out.T),
            self.columns,
            self.yT,
            self.weight,
            self.scale,
            self.gradT,
            self.values,
        )
        self.net.backward(self.gradT.T)
        return self.values


COMPACT = 0.6  # rebuild the stack without its stopped members once no more than this share of it is active


def finetune_stack(
    encoders,
    columns,
    x,
    y,
    settings,
    pretrained: bool,
    train=None,
    l2=None,
    sample_weight=None,
    at_steps=(),
    on_step=None,
):
    """Fine-tune every encoder of ``encoders`` on (x, y) at once: one stack where they all stack, else each as a
    stack of one (``finetune``).

    ``columns``: each member's target columns in its own output (as ``build_encoder`` returns them);
    ``train`` (K, samples) bool: the samples each member trains on (default: all); ``l2`` (K,): each
    member's penalty (default: ``settings.l2``); ``sample_weight`` (samples,): each sample's weight in the
    loss and in the observation count the penalty scales with (integer weights: as if repeated).
    ``settings.optimizer``: 'adam' (``settings.lr``, stopping by ``settings.tol`` over ``settings.window``
    steps) or 'lbfgs' (``training.lbfgs``). Every member stops on its own and is then held where it
    stopped. ``on_step(step, k)`` is called after each of ``at_steps`` Adam steps for every member k, its
    encoder then holding its parameters of that step. The encoders' parameters are replaced by the tuned
    ones. Returns [(per-observation data losses, one per step or iteration, stop reason)] per member."""
    k = len(encoders)
    n_samples = np.shape(y)[0]
    train = np.ones((k, n_samples), dtype=bool) if train is None else np.asarray(train, dtype=bool)
    l2 = np.broadcast_to(np.asarray(settings.l2 if l2 is None else l2, dtype=np.float64), (k,))
    if not all(stackable(e) for e in encoders) or len({e.params.dtype for e in encoders}) > 1:
        return [
            finetune(
                e,
                x,
                y,
                c,
                replace(settings, l2=float(l2[m])),
                pretrained,
                train=train[m],
                sample_weight=sample_weight,
                at_steps=at_steps,
                on_step=None if on_step is None else (lambda step, _, m=m: on_step(step, m)),
            )
            for m, (e, c) in enumerate(zip(encoders, columns, strict=True))
        ]

    def objective_of(members):
        """The stack and objective of ``members`` (indices into ``encoders``), parameters loaded."""
        chosen = [encoders[m] for m in members]
        for e in chosen:
            freeze_for_tuning(e, settings.tune, pretrained)
        try:
            stack = EncoderStack(chosen, [columns[m] for m in members], chosen[0].device)
        finally:
            for e in chosen:
                freeze_gene_protein(e, False)
        return StackObjective(stack, x, y, settings.loss, train[members], l2[members], sample_weight)

    work = sum(int(e.params.size) for e in encoders) * n_samples  # compaction only lowers it
    with threads_for(work, encoders[0].device):
        return _optimise(objective_of, encoders, settings, at_steps, on_step)


def finetune(
    encoder, x, y, columns, settings, pretrained: bool, train=None, sample_weight=None, at_steps=(), on_step=None
) -> tuple:
    """Fine-tune one encoder in place, as a stack of one (the same loop, stopping rule and penalty as every
    stack): any encoder, float32 or float64. Arguments as :func:`finetune_stack`'s for one member
    (``train``: its samples, (samples,) bool). Returns (per-observation data losses, stop reason)."""
    one_of("tune", settings.tune, TUNE)
    one_of("loss", settings.loss, LOSSES)
    if not settings.lr and settings.optimizer == "adam":
        raise ValueError("finetune: settings.lr is not set (see finetune.default_lr)")
    n_samples = np.shape(y)[0]
    rows = np.ones((1, n_samples), dtype=bool) if train is None else np.asarray(train, dtype=bool).reshape(1, -1)
    freeze_for_tuning(encoder, settings.tune, pretrained)
    try:
        single = SingleNetwork(encoder, columns)
        objective = StackObjective(single, x, y, settings.loss, rows, [settings.l2], sample_weight)
        with threads_for(int(encoder.params.size) * n_samples, encoder.device):
            return _optimise(lambda members: objective, [encoder], settings, at_steps, on_step)[0]
    finally:
        freeze_gene_protein(encoder, False)


def choose_steps(encoder, x, y, columns, settings, pretrained: bool, folds):
    """Early stopping on inner folds of the training samples only: a copy of the encoder per inner fold, from
    its current parameters, fine-tuned on the fold's training part (the copies are members of one stack),
    each scored on its held-out part after each of ``step_grid`` steps. Returns (the step count of least mean
    held-out loss, the grid, the mean held-out losses); the encoder is left as it was."""
    grid = step_grid(settings.max_steps)
    n = np.shape(y)[0]
    copies = [copy.deepcopy(encoder) for _ in folds]
    train = np.ones((len(folds), n), dtype=bool)
    for i, test in enumerate(folds):
        train[i, np.asarray(test)] = False
    y = np.asarray(y, dtype=np.float64)
    at = {int(s): j for j, s in enumerate(grid)}
    curves = np.full((len(folds), len(grid)), np.nan)
    # each inner fold's mean |target| over its training part, as fine-tuning scales its loss
    scales = [np.nan_to_num(np.abs(np.nanmean(y[keep], axis=0)), nan=1.0) + 1e-12 for keep in train]

    def score(step, i):
        test = np.asarray(folds[i])
        curves[i, at[step]] = held_out_loss(predict(copies[i], x[test], columns), y[test], scales[i], settings.loss)

    finetune_stack(
        copies,
        [columns] * len(folds),
        x,
        y,
        replace(settings, max_steps=int(grid[-1]), tol=0.0),
        pretrained,
        train=train,
        at_steps=grid,
        on_step=score,
    )
    mean = curves.mean(axis=0)
    return int(grid[int(np.argmin(mean))]), grid, mean


def _optimise(objective_of, encoders, settings, at_steps=(), on_step=None):
    k = len(encoders)
    if getattr(settings, "optimizer", "adam") == "lbfgs":
        objective = objective_of(np.arange(k))
        if settings.anchor == "pretrained":
            objective.set_anchor_here()
        results = _lbfgs(objective, settings)
        objective.stack.store(encoders)
        return results
    return _adam(objective_of, encoders, settings, at_steps, on_step)


def _adam(objective_of, encoders, settings, at_steps=(), on_step=None):
    """Adam with the penalty's gradient added inside the update, stopping per member when its data loss moved
    less than ``tol`` (relative) over ``window`` steps. Once no more than ``COMPACT`` of the stack is active,
    it is rebuilt from the active members alone (their Adam moments carried over): the same numbers, without
    the stopped members' arithmetic. ``on_step(step, k)`` after each of ``at_steps`` steps."""
    k = len(encoders)
    members = np.arange(k)  # the members in the current stack
    objective = objective_of(members)
    if settings.anchor == "pretrained":
        objective.set_anchor_here()
    stack, xp = objective.stack, objective.xp
    opt = Adam(stack.net.params, stack.net.grads, lr=settings.lr, penalty=objective.penalty, anchor=objective.anchor)
    active, moving = np.ones(k, dtype=bool), None  # moving: the current stack's active parameters
    losses = np.zeros((settings.max_steps, k))
    stopped_at = np.full(k, -1)
    checkpoints = sorted(int(s) for s in at_steps) if on_step is not None else []

    def report(step):  # every member's encoder at ``step`` steps (stopped members held where they stopped)
        stack.store([encoders[m] for m in members])
        for m in range(k):
            on_step(step, m)

    step = 0
    for step in range(settings.max_steps):
        values = objective.data_gradient()
        opt.step(active=moving)
        losses[step, members] = backend.to_numpy(values) / objective.n
        while checkpoints and checkpoints[0] == step + 1:
            report(checkpoints.pop(0))
        if step >= settings.window:
            before, now = losses[step - settings.window, members], losses[step, members]
            done = active[members] & (np.abs(before - now) <= settings.tol * np.maximum(np.abs(before), 1e-12))
            if done.any():
                stopped_at[members[done]] = step
                active[members[done]] = False
                if not active.any():
                    break
                inside = active[members]
                if inside.mean() <= COMPACT and settings.max_steps - step > settings.window:
                    stack.store([encoders[m] for m in members])  # the stopped ones keep where they stopped
                    keep = np.flatnonzero(inside[stack.member_of_param])  # the same order in the new stack
                    m_, v_, t_ = opt.m[keep], opt.v[keep], opt.t
                    anchor = None if objective.anchor is None else objective.anchor[keep]
                    members = members[inside]
                    objective = objective_of(members)
                    objective.anchor = anchor
                    stack = objective.stack
                    opt = Adam(
                        stack.net.params, stack.net.grads, lr=settings.lr, penalty=objective.penalty, anchor=anchor
                    )
                    opt.m[...], opt.v[...], opt.t = m_, v_, t_
                    moving = None
                else:
                    moving = xp.asarray(inside[stack.member_of_param].astype(np.uint8))
    stack.store([encoders[m] for m in members])
    for later in checkpoints:  # every member stopped before these steps: they stay where they stopped
        report(later)
    return [
        (losses[: (s if s >= 0 else step) + 1, m].copy(), "tolerance" if s >= 0 else "step limit")
        for m, s in enumerate(stopped_at)
    ]


def _lbfgs(objective: StackObjective, settings):
    """L-BFGS over each member's penalised objective, members side by side (equal parameter counts)."""
    stack, xp, n = objective.stack, objective.xp, objective.n
    order = np.argsort(stack.member_of_param, kind="stable")  # member-major: (K, P)
    counts = np.bincount(stack.member_of_param, minlength=stack.k)
    if np.any(counts != counts[0]):
        raise ValueError("L-BFGS on a stack needs members with equal numbers of parameters; use Adam")
    order_d = xp.asarray(order)
    shape = (stack.k, int(counts[0]))
    params, grads = stack.net.params, stack.net.grads
    pen = (
        (objective.penalty[order_d] if objective.penalty is not None else xp.zeros(order.size, dtype=np.float32))
        .reshape(shape)
        .astype(np.float64)
    )
    anchor = 0.0 if objective.anchor is None else objective.anchor[order_d].reshape(shape).astype(np.float64)
    n_d = xp.asarray(n, dtype=np.float64)[:, None]

    def evaluate(p):
        params[order_d] = p.ravel().astype(params.dtype)
        p32 = params[order_d].reshape(shape).astype(np.float64)  # what the network computes with
        data = objective.data_gradient().copy()
        pull = p32 - anchor
        g = (grads[order_d].reshape(shape).astype(np.float64) + pen * pull) / n_d
        f = (data + 0.5 * (pen * pull * pull).sum(axis=1)) / n_d[:, 0]
        return f, g, backend.to_numpy(data) / n

    p0 = params[order_d].reshape(shape).astype(np.float64)
    result = lbfgs.minimise(
        evaluate, p0, xp, max_iter=settings.max_steps, tol=settings.lbfgs_tol, window=settings.lbfgs_window
    )
    params[order_d] = result.params.ravel().astype(params.dtype)
    return [(result.recorded[: result.iterations[m] + 1, m].copy(), result.reasons[m]) for m in range(stack.k)]

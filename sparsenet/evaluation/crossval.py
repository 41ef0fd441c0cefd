"""Cross-validate strategies A/B/C on the same folds, resumable, then train the final model.

For each CV scheme (plain k-fold, grouped k-fold), each fold and each strategy:
  1. strategy C pre-trains the autoencoder on the expression pool minus the fold's held-out
     samples (held-out expression is never seen, not even unlabelled);
  2. the encoder is fine-tuned on the training samples' phenotypes;
  3. the held-out samples are predicted, and (C) reconstructed through the autoencoder.
Every finished fold is saved under ``state/``; pre-training checkpoints every few steps.
A killed run started again with the same settings picks up where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
import numpy as np

from .. import backend
from ..data.dataset import Dataset
from ..data.standardise import InputTransform, TransformedSource, fit_input_transform
from ..masks.ica import IcaSettings, ica_masks
from ..masks.randomise import randomise
from ..training.checkpoint import (Checkpoint, check_same_masks, load_checkpoint, mask_fingerprint, member_prefix,
                                   save_checkpoint)
from ..training.finetune import predict
from ..training.fitting import MEMBER_SEED, NetworkSpec, fit_networks
from ..training.network import build_autoencoder, linked_genes
from ..training.pretrain import pretrain
from . import baselines, metrics
from .config import RunConfig
from .fold_state import read_fold, write_fold
from .folds import grouped_kfold, kfold
from .noise import NoisyInput, noisy_pairs
from .plan import Executor, Plan
from .curves import subsets as curve_subsets
from .links import encoder_link_weights

PCA_ROWS = 20_000  # rows of the pool the PCA reference of the reconstruction is fitted on, at most


def spaced(rows: np.ndarray, at_most: int = PCA_ROWS) -> np.ndarray:
    """At most ``at_most`` of ``rows``, evenly spaced (all of them when there are fewer)."""
    return rows[np.linspace(0, rows.size - 1, min(rows.size, at_most)).astype(int)]


@dataclass(frozen=True)
class FoldFit:
    """What :meth:`Runner.fit` fitted: the input transform, the pool rows it was fitted on (and
    pre-training read), one :class:`~sparsenet.training.fitting.Fitted` per wiring."""
    transform: InputTransform
    pool_rows: np.ndarray
    fitted: list


@dataclass(frozen=True)
class RunOutcome:
    """What :meth:`Runner.run` returns: ``results[(scheme, model, repeat)]`` is the list of fold records;
    ``final`` the final model's checkpoint (None when not asked for); ``seconds`` the wall time."""
    results: dict
    final: object
    seconds: float


# ---------------------------------------------------------------- one fit
class Runner:
    def __init__(self, ds: Dataset, cfg: RunConfig, out: Path, progress=None, pretrain_dir: Path | None = None):
        self.ds, self.cfg, self.out = ds, cfg, Path(out)
        self.state = self.out / "state"
        # pre-trainings are cached by what they depend on; runs may share a folder of them
        self.pretrain_dir = Path(pretrain_dir) if pretrain_dir else self.state
        self.pretrain_dir.mkdir(parents=True, exist_ok=True)
        self.device = backend.resolve_device(cfg.device)
        self.linked = linked_genes(ds.masks)
        self.progress = progress or (lambda *a, **k: None)
        self.pool = ds.pretrain_source
        if cfg.noise and cfg.noise.where in ("pretrain", "both"):
            self.pool = NoisyInput(ds.pretrain_source, cfg.noise.percent, cfg.seed)
        self.x_labelled = ds.inputs.take(ds.labelled)

    def __getstate__(self):  # shipped to Dask workers: without the (terminal-bound) progress display
        state = dict(self.__dict__)
        state["progress"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.progress = self.progress or (lambda *a, **k: None)

    def _checkpoint(self, strategy, params, progress, extra=None, masks=None) -> Checkpoint:
        return Checkpoint(strategy, params, masks or self.ds.masks, self.ds.normalisation, self.ds.targets,
                          self.ds.target_columns, self.cfg.to_dict(), progress, extra or {})

    def pool_rows(self, exclude_ids: set, first_ids=()) -> np.ndarray:
        """Rows of the pre-training pool without ``exclude_ids``: those of ``first_ids`` first (in their order),
        then the others in file order."""
        where = {s: i for i, s in enumerate(self.pool.sample_ids)}
        first = [where[s] for s in first_ids if s in where and s not in exclude_ids]
        taken = set(first)
        rest = [i for i, s in enumerate(self.pool.sample_ids) if s not in exclude_ids and i not in taken]
        return np.array(first + rest, dtype=np.int64)

    def pretrained(self, rows, transform: InputTransform, seed: int, label: str, masks=None):
        """Pre-trained autoencoder parameters and losses on ``masks`` (default: the data set's) for the pool
        ``rows`` (cached by everything they depend on, the masks' fingerprint included)."""
        masks = masks or self.ds.masks
        noise = self.cfg.noise
        pool_noise = noise.percent if noise and noise.where in ("pretrain", "both") else None
        what = [seed, asdict(self.cfg.pretrain), pool_noise, transform.how, asdict(self.cfg.architecture),
                mask_fingerprint(masks)]
        key = hashlib.sha256(rows.tobytes() + json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]
        done = self.pretrain_dir / f"pretrain-{key}.h5"
        partial = self.pretrain_dir / f"pretrain-{key}.partial.h5"
        if done.exists():
            ck = load_checkpoint(done)
            check_same_masks(ck, masks, done)
            return ck.params, ck.extra["losses"], float(ck.progress["seconds"])
        net = build_autoencoder(masks, "C", seed, self.device, self.cfg.architecture)
        resume = None
        if partial.exists():
            ck = load_checkpoint(partial)
            check_same_masks(ck, masks, partial)
            net.load_state_dict(ck.params)
            resume = {"step": ck.progress["step"], "losses": ck.extra["losses"],
                      "adam": {"m": ck.extra["adam_m"], "v": ck.extra["adam_v"], "t": ck.extra["adam_t"]}}
        t0 = time.perf_counter() - (float(ck.progress.get("seconds", 0.0)) if resume else 0.0)
        total = -(-self.cfg.pretrain.samples // self.cfg.pretrain.batch)

        def on_step(step, n, loss):
            self.progress("pretrain", label, step, total, loss)

        def on_checkpoint(s):
            save_checkpoint(partial, self._checkpoint("C", net.state_dict(), {
                "stage": "pretrain", "step": s["step"], "seconds": time.perf_counter() - t0},
                {"losses": s["losses"], "adam_m": s["adam"]["m"], "adam_v": s["adam"]["v"], "adam_t": s["adam"]["t"]},
                masks))

        losses = pretrain(net, TransformedSource(self.pool, transform), rows, self.cfg.pretrain, self.linked_of(masks),
                          seed, resume, on_step, on_checkpoint)
        seconds = time.perf_counter() - t0
        params = net.state_dict()
        save_checkpoint(done, self._checkpoint("C", params, {"stage": "pretrained", "seconds": seconds},
                                               {"losses": losses}, masks))
        partial.unlink(missing_ok=True)
        return params, losses, seconds

    def fit(self, strategy, train, exclude_ids, seed, pretrain_seed, label, wirings=None, subsets=None):
        """Fit the input transform on the pool without ``exclude_ids`` (the fold's labelled training samples
        first, then the rest of the pool in file order: what ``SparseNetRegressor(unlabelled=...)`` fits it on),
        then the networks of each of ``wirings`` (masks; default: the data set's) by
        ``training.fitting.fit_networks``, network seed ``seed``, member k pre-trained from
        ``pretrain_seed + k * MEMBER_SEED`` (cached). ``wirings`` may be a function of the fit's own wiring
        (:meth:`fold_masks`: its null draws).

        Returns a :class:`FoldFit`."""
        rows = self.pool_rows(exclude_ids, [self.ds.labelled_ids[i] for i in train])
        own = self.fold_masks(rows)
        wirings = wirings(own) if callable(wirings) else wirings
        transform = fit_input_transform(self.ds.pretrain_source, rows, self.cfg.inputs)
        x, y = self.x_labelled[train], self.ds.y[train]
        if self.cfg.noise and self.cfg.noise.where in ("finetune", "both"):
            x, y = noisy_pairs(x, y, self.cfg.noise.percent, seed)
        spec = NetworkSpec(strategy, self.cfg.architecture, self.cfg.ensemble, self.cfg.finetune, self.device)
        needs_folds = spec.finetune.l2 == "auto" or spec.finetune.early_stopping == "inner"

        def pretrained(masks, k, member_label):
            return self.pretrained(rows, transform, pretrain_seed + k * MEMBER_SEED, member_label, masks)

        fitted = fit_networks(spec, list(wirings or [own]), transform.apply(x), y, self.ds.target_indices,
                              seed, pretrained, self.inner_folds(train, seed) if needs_folds else None,
                              self.progress, label, subsets=subsets)
        return FoldFit(transform, rows, fitted)

    def fold_masks(self, rows) -> object:
        """The wiring of a fit whose pool is ``rows``: the data set's masks, or (``cfg.wiring`` 'ica') the
        independent components of those rows alone (centred per gene on them; at most PCA_ROWS rows evenly
        spaced), over the masks' genes. Computed once per pool."""
        w = self.cfg.wiring
        if not w:
            return self.ds.masks
        rows = np.sort(rows)
        cache = self.__dict__.setdefault("_fold_masks", {})
        key = hashlib.sha256(rows.tobytes()).hexdigest()
        if key not in cache:
            pool = np.asarray(self.ds.pretrain_source.take(spaced(rows)), dtype=np.float64)
            cache[key] = ica_masks(pool - pool.mean(axis=0), self.ds.masks,
                                   IcaSettings(components=w.components, seed=w.seed, min_genes=w.min_genes))
        return cache[key]

    def linked_of(self, masks) -> np.ndarray:
        """The genes ``masks`` link to a node (the data set's: computed once)."""
        return self.linked if masks is self.ds.masks else linked_genes(masks)

    def genes_of_fold(self, name, exclude_ids, train):
        """The genes a baseline sees: every gene, or (ridge_linked) those the fit's wiring links."""
        if name not in baselines.ON_LINKED_GENES:
            return slice(None)
        if not self.cfg.wiring:  # the data set's masks: no pool to look at
            return self.linked
        return self.linked_of(self.fold_masks(self.pool_rows(exclude_ids, [self.ds.labelled_ids[i] for i in train])))

    def inner_folds(self, train, seed):
        """Folds of the training samples for early stopping, grouped like the outer CV where it can be."""
        k = self.cfg.finetune.inner_folds
        groups = None if self.ds.groups is None else [self.ds.groups[i] for i in train]
        if groups is not None and len(set(groups)) >= 2:
            return grouped_kfold(groups, k, seed)
        return kfold(len(train), min(k, len(train)), seed)

    def reconstruction(self, transform, rows, pretrain_seed, x_test, masks=None):
        """Held-out reconstruction of the pre-trained autoencoder(s) (before fine-tuning moves the phenotype
        layer; an ensemble's members averaged) over the linked genes, in input units, against the training mean
        and against PCA of the same width fitted on the same training pool."""
        masks = masks or self.ds.masks
        linked = self.linked_of(masks)
        z = 0.0
        for k in range(self.cfg.ensemble):
            net = build_autoencoder(masks, "C", 0, self.device, self.cfg.architecture)
            net.load_state_dict(self.pretrained(rows, transform, pretrain_seed + k * MEMBER_SEED, "", masks)[0])
            z = z + np.asarray(backend.to_numpy(net.forward(backend.xp_for(self.device).asarray(
                transform.apply(x_test))))) / self.cfg.ensemble
        recon = transform.invert(np.asarray(z))[:, linked]
        obs, mean = x_test[:, linked].astype(np.float64), transform.mean[linked]
        pool = self.ds.pretrain_source.take(spaced(rows))
        out = metrics.reconstruction_metrics(obs, recon, mean)
        pca = metrics.pca_reconstruction(pool[:, linked], obs, len(masks.phenotype_ids))
        out.update({f"pca_{k}": v for k, v in metrics.reconstruction_metrics(obs, pca, mean).items()})
        return out, np.stack([obs.ravel()[:2000], recon.ravel()[:2000]])

    # ------------------------------------------------------------ folds
    def run_fold(self, scheme, model, f, test, repeat=0):
        """One held-out fold of one model (a strategy, or ``baseline:NAME``) at network seed ``cfg.seed + repeat``."""
        path = self.state / f"{scheme}-{model.replace(':', '-')}-s{repeat}-fold{f:02d}.h5"
        if path.exists():
            return read_fold(path)
        n = self.ds.labelled.size
        train = np.setdiff1d(np.arange(n), test)
        ids = self.ds.labelled_ids
        run_seed = self.cfg.seed + repeat
        label = f"{scheme} {model} fold {f + 1}" + (f" seed {run_seed}" if self.cfg.seeds > 1 else "")
        x_test = self.x_labelled[test]
        if model.startswith("baseline:"):
            groups = None if self.ds.groups is None else [self.ds.groups[i] for i in train]
            name = model.split(":", 1)[1]
            genes = self.genes_of_fold(name, {ids[i] for i in test}, train)
            t0 = time.perf_counter()
            rec = {"pretrain_seconds": 0.0, "pretrain_losses": np.zeros(0), "finetune_losses": np.zeros(0),
                   "stop": "fitted", "test": test,
                   "predicted": baselines.fit_predict(name, self.x_labelled[train][:, genes], self.ds.y[train],
                                                      groups, x_test[:, genes], run_seed)}
            rec["finetune_seconds"] = time.perf_counter() - t0
            self.progress("finetune", label, 1, 1, None)
        elif model.startswith("curve:"):  # a learning curve: every subset of the training samples, one stack
            rec = self.curve_fold(model.split(":", 1)[1], f, train, test, run_seed, label)
        elif model.startswith("null:"):  # every draw of a null wiring, trained as the real one, in one stack
            kind = model.split(":", 1)[1]
            fold_fit = self.fit(self.cfg.strategies[0], train, {ids[i] for i in test}, run_seed, run_seed, label,
                                wirings=lambda own: self.null_masks(kind, own))
            transform, fitted = fold_fit.transform, fold_fit.fitted
            rec = dict(fitted[0].record, test=test)
            x_in = transform.apply(x_test)
            rec["predicted_draws"] = np.stack([predict(fi.encoder, x_in, fi.columns) for fi in fitted])
            weights = [encoder_link_weights(fi.encoder) for fi in fitted]
            if weights[0] is not None:  # each draw's links, mean over its ensemble (links.csv's null percentiles)
                rec["link_weights_draws"] = np.stack([w.mean(axis=0) for w in weights])
            rec["steps_draws"] = np.array([fi.record["finetune_losses"].size for fi in fitted])
            if "l2_chosen" in rec:
                rec["l2_chosen_draws"] = np.array([fi.record["l2_chosen"] for fi in fitted])
        else:
            fold_fit = self.fit(model, train, {ids[i] for i in test}, run_seed, run_seed, label)
            transform, rows, [fitted] = fold_fit.transform, fold_fit.pool_rows, fold_fit.fitted
            rec = dict(fitted.record, test=test)
            rec["predicted"] = predict(fitted.encoder, transform.apply(x_test), fitted.columns)
            weights = encoder_link_weights(fitted.encoder)
            if weights is not None:  # every network's link weights on the targets (links.csv over folds)
                rec["link_weights"] = weights
            if self.cfg.wiring:  # this fold's own wiring: its size
                own = self.fold_masks(rows)
                rec["wiring_nodes"], rec["wiring_links"] = len(own.phenotype_ids), int(own.protein_phenotype.nnz)
            if model == "C":
                rec["reconstruction"], rec["recon_sample"] = self.reconstruction(transform, rows, run_seed, x_test,
                                                                                 self.fold_masks(rows))
        write_fold(path, rec)
        return rec

    def models(self):
        if self.cfg.curve:  # a learning curve: its models only
            return [f"curve:{m}" for m in list(self.cfg.strategies) + [f"baseline:{b}" for b in self.cfg.baselines]]
        nulls = self.cfg.nulls.kinds if self.cfg.nulls else ()
        return list(self.cfg.strategies) + [f"baseline:{b}" for b in self.cfg.baselines] + [f"null:{k}" for k in nulls]

    def curve_fold(self, inner: str, f, train, test, run_seed, label) -> dict:
        """One fold of a learning curve: ``inner`` (a strategy or ``baseline:NAME``) fitted on every subset of the
        fold's training samples that ``cfg.curve`` asks for (``evaluation.curves.subsets``)."""
        c = self.cfg.curve
        groups = [self.ds.groups[i] for i in train] if self.ds.groups is not None else [str(i) for i in train]
        subs = curve_subsets(groups, list(c.labels), c.draws, list(c.kinds), c.seed, f)
        x_test = self.x_labelled[test]
        t0 = time.perf_counter()
        if inner.startswith("baseline:"):
            name = inner.split(":", 1)[1]
            genes = self.genes_of_fold(name, {self.ds.labelled_ids[i] for i in test}, train)
            x_train, y_train = self.x_labelled[train][:, genes], self.ds.y[train]
            preds = [baselines.fit_predict(name, x_train[m], y_train[m], [g for g, keep in zip(groups, m) if keep],
                                           x_test[:, genes], run_seed) for *_, m in subs]
            rec = {"pretrain_seconds": 0.0, "pretrain_losses": np.zeros(0), "finetune_losses": np.zeros(0),
                   "stop": "fitted"}
            self.progress("finetune", label, 1, 1, None)
        else:
            fold_fit = self.fit(inner, train, {self.ds.labelled_ids[i] for i in test}, run_seed, run_seed, label,
                                subsets=[m for *_, m in subs])
            transform, fitted = fold_fit.transform, fold_fit.fitted
            x_in = transform.apply(x_test)
            preds = [predict(fi.encoder, x_in, fi.columns) for fi in fitted]
            rec = dict(fitted[0].record)
        rec.update(test=test, predicted_subsets=np.stack(preds), finetune_seconds=time.perf_counter() - t0,
                   subset_keys=np.array([f"{n}|{kind}|{d}".encode() for n, kind, d, _ in subs]),
                   subset_sizes=np.array([int(m.sum()) for *_, m in subs]))
        return rec

    def null_masks(self, kind: str, masks=None) -> list:
        """The ``cfg.nulls.draws`` randomised copies of ``masks`` (default: the data set's; a fit's own wiring
        under ``cfg.wiring``) of one null model (seeded by ``cfg.nulls.seed``; made once per runner)."""
        masks = masks or self.ds.masks
        cache = self.__dict__.setdefault("_null_masks", {})
        key = kind if masks is self.ds.masks else (kind, mask_fingerprint(masks))
        if key not in cache:
            nulls = self.cfg.nulls
            cache[key] = [randomise(masks, kind, nulls.seed, d) for d in range(nulls.draws)]
        return cache[key]

    def run(self, executor=None):
        """Every (scheme, model, repeat) over the same folds, then the final model: a :class:`RunOutcome`.
        ``executor``: an :class:`~sparsenet.evaluation.plan.Executor` (default: serial, in-process)."""
        done = (executor or Executor()).run(Plan([self]), self.progress)
        return RunOutcome(done.results[0], done.finals[0], done.seconds)

    def final_model(self):
        path = self.out / "model.h5"
        strategy = "C" if "C" in self.cfg.strategies else self.cfg.strategies[0]  # the product, when run
        if path.exists():
            return load_checkpoint(path)
        n = self.ds.labelled.size
        fold_fit = self.fit(strategy, np.arange(n), set(), self.cfg.seed, self.cfg.seed, f"final model ({strategy})")
        transform, rows, [fitted] = fold_fit.transform, fold_fit.pool_rows, fold_fit.fitted
        nets, encoder, rec = fitted.nets, fitted.encoder, fitted.record
        params = {}
        for k, (net, member) in enumerate(zip(nets, getattr(encoder, "members", [encoder]))):
            prefix = member_prefix(k)
            params.update({prefix + name: v for name, v in net.state_dict().items()})
            if self.cfg.architecture.head == "readout":
                params.update({f"{prefix}head.{name}": backend.to_numpy(v).copy()
                               for name, v in member.layers[-1].params.items()})
        ck = self._checkpoint(strategy, params,
                              {"stage": "final", "finetune_stop": rec["stop"], "samples": int(n),
                               **({"l2_chosen": float(rec["l2_chosen"])} if "l2_chosen" in rec else {})},
                              {"finetune_losses": rec["finetune_losses"], "input_mean": transform.mean,
                               "input_sd": transform.sd}, self.fold_masks(rows))
        save_checkpoint(path, ck)
        return ck

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

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import backend
from ..config.choices import FLUX_BASELINES, ON_LINKED_GENES
from ..config.model_keys import Model
from ..config.run_config import RunConfig
from ..data.dataset import Dataset
from ..data.standardise import InputTransform, fit_input_transform
from ..progress import Stage, quiet
from ..stats import metrics
from ..stats.curves import subsets as curve_subsets
from ..training.checkpoint import Checkpoint, load_checkpoint, member_prefix, save_checkpoint
from ..training.finetune import predict
from ..training.fitting import MEMBER_SEED, NetworkSpec, TrainingRecord, fit_networks
from ..training.network import build_autoencoder
from . import baselines
from .flux_baselines import FoldFluxes
from .flux_baselines import fit_predict as fit_flux_baseline
from .fold_state import FoldRecord, read_fold, write_fold
from .folds import grouped_kfold, kfold
from .links import encoder_link_weights
from .noise import NoisyInput, noisy_pairs
from .plan import Executor, Plan
from .pretrain_cache import PretrainCache
from .wirings import Wirings, spaced


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
    """One run's fits: each held-out fold of each model (a :class:`~sparsenet.config.model_keys.Model`) at
    each network seed, saved under ``out/state`` when done, and the final model. Its pieces: the
    pre-training cache (:class:`PretrainCache`; runs may share a folder of them), the wirings
    (:class:`Wirings`: ICA per pool, null draws) and the baselines (``runs.baselines``)."""

    def __init__(self, ds: Dataset, cfg: RunConfig, out: Path, progress=None, pretrain_dir: Path | None = None):
        self.ds, self.cfg, self.out = ds, cfg, Path(out)
        self.wirings = Wirings(ds, cfg)
        self.fluxes = FoldFluxes(ds.masks, ds.inputs.levels)  # flux baselines: E-Flux per fold, the model read once
        self.progress = progress or quiet
        self.pool = ds.pretrain_source
        if cfg.noise and cfg.noise.where in ("pretrain", "both"):
            self.pool = NoisyInput(ds.pretrain_source, cfg.noise.percent, cfg.seed)
        self.x_labelled = ds.inputs.take(ds.labelled)
        self.pretrainings = PretrainCache(
            self.pool, cfg, Path(pretrain_dir) if pretrain_dir else self.state, self.device, self._checkpoint
        )

    @property
    def state(self) -> Path:
        """The folder of finished folds (and, by default, pre-training checkpoints)."""
        return self.out / "state"

    @property
    def device(self) -> str:
        return self.cfg.device  # resolved by build_config

    def __getstate__(self):  # shipped to Dask workers: without the (terminal-bound) progress display
        state = dict(self.__dict__)
        state["progress"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.progress = self.progress or quiet

    def _checkpoint(self, strategy, params, progress, extra=None, masks=None) -> Checkpoint:
        return Checkpoint(
            strategy,
            params,
            masks or self.ds.masks,
            self.ds.normalisation,
            self.ds.targets,
            self.ds.target_columns,
            self.cfg.to_dict(),
            progress,
            extra or {},
        )

    def pool_rows(self, exclude_ids: set, first_ids=()) -> np.ndarray:
        """Rows of the pre-training pool without ``exclude_ids``: those of ``first_ids`` first (in their order),
        then the others in file order."""
        where = {s: i for i, s in enumerate(self.pool.sample_ids)}
        first = [where[s] for s in first_ids if s in where and s not in exclude_ids]
        taken = set(first)
        rest = [i for i, s in enumerate(self.pool.sample_ids) if s not in exclude_ids and i not in taken]
        return np.array(first + rest, dtype=np.int64)

    def pretrained(self, rows, transform: InputTransform, seed: int, label: str, masks=None):
        """Pre-trained autoencoder (parameters, losses, seconds) on ``masks`` (default: the data set's) for the
        pool ``rows``, from the cache."""
        masks = masks or self.ds.masks
        return self.pretrainings.get(rows, transform, seed, masks, self.wirings.linked_of(masks), label, self.progress)

    def fit(self, strategy, train, exclude_ids, seed, pretrain_seed, label, wirings=None, subsets=None):
        """Fit the input transform on the pool without ``exclude_ids`` (the fold's labelled training samples
        first, then the rest of the pool in file order: what ``SparseNetRegressor(unlabelled=...)`` fits it on),
        then the networks of each of ``wirings`` (masks; default: the data set's) by
        ``training.fitting.fit_networks``, network seed ``seed``, member k pre-trained from
        ``pretrain_seed + k * MEMBER_SEED`` (cached). ``wirings`` may be a function of the fit's own wiring
        (``Wirings.nulls``: its null draws).

        Returns a :class:`FoldFit`."""
        rows = self.pool_rows(exclude_ids, [self.ds.labelled_ids[i] for i in train])
        own = self.wirings.of_pool(rows)
        wirings = wirings(own) if callable(wirings) else wirings
        transform = fit_input_transform(self.ds.pretrain_source, rows, self.cfg.inputs)
        x, y = self.x_labelled[train], self.ds.y[train]
        if self.cfg.noise and self.cfg.noise.where in ("finetune", "both"):
            x, y = noisy_pairs(x, y, self.cfg.noise.percent, seed)
        spec = NetworkSpec(strategy, self.cfg.architecture, self.cfg.ensemble, self.cfg.finetune, self.device)
        needs_folds = spec.finetune.l2 == "auto" or spec.finetune.early_stopping == "inner"

        def pretrained(masks, k, member_label):
            return self.pretrained(rows, transform, pretrain_seed + k * MEMBER_SEED, member_label, masks)

        fitted = fit_networks(
            spec,
            list(wirings or [own]),
            transform.apply(x),
            y,
            self.ds.target_indices,
            seed,
            pretrained,
            self.inner_folds(train, seed) if needs_folds else None,
            self.progress,
            label,
            subsets=subsets,
        )
        return FoldFit(transform, rows, fitted)

    def genes_of_fold(self, name, exclude_ids, train):
        """The genes a baseline sees: every gene, or (ridge_linked) those the fit's wiring links."""
        if name not in ON_LINKED_GENES:
            return slice(None)
        if not self.cfg.wiring:  # the data set's masks: no pool to look at
            return self.wirings.linked
        rows = self.pool_rows(exclude_ids, [self.ds.labelled_ids[i] for i in train])
        return self.wirings.linked_of(self.wirings.of_pool(rows))

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
        linked = self.wirings.linked_of(masks)
        z = 0.0
        for k in range(self.cfg.ensemble):
            net = build_autoencoder(masks, "C", 0, self.device, self.cfg.architecture)
            net.load_state_dict(self.pretrained(rows, transform, pretrain_seed + k * MEMBER_SEED, "", masks)[0])
            z = (
                z
                + np.asarray(
                    backend.to_numpy(net.forward(backend.xp_for(self.device).asarray(transform.apply(x_test))))
                )
                / self.cfg.ensemble
            )
        recon = transform.invert(np.asarray(z))[:, linked]
        obs, mean = x_test[:, linked].astype(np.float64), transform.mean[linked]
        pool = self.ds.pretrain_source.take(spaced(rows))
        out = metrics.reconstruction_metrics(obs, recon, mean)
        pca = metrics.pca_reconstruction(pool[:, linked], obs, len(masks.phenotype_ids))
        out.update({f"pca_{k}": v for k, v in metrics.reconstruction_metrics(obs, pca, mean).items()})
        return out, np.stack([obs.ravel()[:2000], recon.ravel()[:2000]])

    # ------------------------------------------------------------ folds
    def run_fold(self, scheme, model, f, test, repeat=0):
        """One held-out fold of one model (a :class:`Model`, or its text: 'B', 'baseline:ridge', 'null:genes',
        'curve:C') at network seed ``cfg.seed + repeat``."""
        model = Model.parse(model) if isinstance(model, str) else model
        path = self.state / f"{scheme}-{str(model).replace(':', '-')}-s{repeat}-fold{f:02d}.h5"
        if path.exists():
            return read_fold(path)
        train = np.setdiff1d(np.arange(self.ds.labelled.size), test)
        run_seed = self.cfg.seed + repeat
        label = f"{scheme} {model} fold {f + 1}" + (f" seed {run_seed}" if self.cfg.seeds > 1 else "")
        fold = {
            "network": self.network_fold,
            "baseline": self.baseline_fold,
            "null": self.null_fold,
            "curve": self.curve_fold,
        }[model.kind]
        rec = fold(model, train, test, run_seed, label, f)
        write_fold(path, rec)
        return rec

    def held_out_ids(self, test) -> set:
        return {self.ds.labelled_ids[i] for i in test}

    def baseline_fold(self, model, train, test, run_seed, label, f=0) -> FoldRecord:
        """A baseline fitted on the fold's training samples (ridge_linked: on the genes the fit's wiring links;
        a flux baseline: on E-Flux of the fold, scaled on its training samples)."""
        groups = None if self.ds.groups is None else [self.ds.groups[i] for i in train]
        t0 = time.perf_counter()
        if model.name in FLUX_BASELINES:
            fluxes = self.fold_fluxes(train, test)
            n = len(train)
            predicted = fit_flux_baseline(
                model.name, fluxes, np.arange(n), np.arange(n, n + len(test)), self.ds.y[train], groups, run_seed
            )
            flux_failed = str(fluxes.failed)
        else:
            genes = self.genes_of_fold(model.name, self.held_out_ids(test), train)
            predicted = baselines.fit_predict(
                model.name,
                self.x_labelled[train][:, genes],
                self.ds.y[train],
                groups,
                self.x_labelled[test][:, genes],
                run_seed,
            )
            flux_failed = None
        self.progress(Stage("finetune", label, 1, 1))
        return FoldRecord(test, predicted=predicted, flux_failed=flux_failed).timed(time.perf_counter() - t0)

    def fold_fluxes(self, train, test):
        """E-Flux of the fold's training then held-out labelled samples (``FoldFluxes``: made once per fold)."""
        return self.fluxes.of_fold(self.ds.labelled[train], self.ds.labelled[test])

    def network_fold(self, model, train, test, run_seed, label, f=0) -> FoldRecord:
        """The configured network of strategy ``model.name``: predictions, every network's link weights, the
        fold's own wiring's size (``--wiring ica``) and, for C, the held-out reconstruction."""
        x_test = self.x_labelled[test]
        fold_fit = self.fit(model.name, train, self.held_out_ids(test), run_seed, run_seed, label)
        transform, rows, [fitted] = fold_fit.transform, fold_fit.pool_rows, fold_fit.fitted
        own = self.wirings.of_pool(rows)
        reconstruction, recon_sample = (
            self.reconstruction(transform, rows, run_seed, x_test, own) if model.name == "C" else (None, None)
        )
        return FoldRecord(
            test,
            fitted.record,
            predicted=predict(fitted.encoder, transform.apply(x_test), fitted.columns),
            link_weights=encoder_link_weights(fitted.encoder),  # every network's, on the targets (links.csv)
            wiring_nodes=len(own.phenotype_ids) if self.cfg.wiring else None,  # this fold's own wiring's size
            wiring_links=int(own.protein_phenotype.nnz) if self.cfg.wiring else None,
            reconstruction=reconstruction,
            recon_sample=recon_sample,
        )

    def null_fold(self, model, train, test, run_seed, label, f=0) -> FoldRecord:
        """Every draw of the null model ``model.name``, trained as the real wiring, in one stack."""
        fold_fit = self.fit(
            self.cfg.strategies[0],
            train,
            self.held_out_ids(test),
            run_seed,
            run_seed,
            label,
            wirings=lambda own: self.wirings.nulls(model.name, own),
        )
        transform, fitted = fold_fit.transform, fold_fit.fitted
        x_in = transform.apply(self.x_labelled[test])
        weights = [encoder_link_weights(fi.encoder) for fi in fitted]
        auto_l2 = fitted[0].record.l2_chosen is not None
        return FoldRecord(
            test,
            fitted[0].record,
            predicted_draws=np.stack([predict(fi.encoder, x_in, fi.columns) for fi in fitted]),
            # each draw's links, mean over its ensemble (links.csv's null percentiles)
            link_weights_draws=None if weights[0] is None else np.stack([w.mean(axis=0) for w in weights]),
            steps_draws=np.array([fi.record.finetune_losses.size for fi in fitted]),
            l2_chosen_draws=np.array([fi.record.l2_chosen for fi in fitted]) if auto_l2 else None,
        )

    def models(self) -> list:
        """Every model of the configuration: a learning curve's, or the networks, baselines and null models."""
        own = [Model("network", s) for s in self.cfg.strategies] + [Model("baseline", b) for b in self.cfg.baselines]
        if self.cfg.curve:
            return [Model("curve", inner=m) for m in own]
        return own + [Model("null", k) for k in (self.cfg.nulls.kinds if self.cfg.nulls else ())]

    def curve_fold(self, model, train, test, run_seed, label, f=0) -> FoldRecord:
        """One fold of a learning curve: ``model.inner`` (a network or a baseline) fitted on every subset of the
        fold's training samples that ``cfg.curve`` asks for (``stats.curves.subsets``)."""
        inner = model.inner
        c = self.cfg.curve
        groups = [self.ds.groups[i] for i in train] if self.ds.groups is not None else [str(i) for i in train]
        subs = curve_subsets(groups, list(c.labels), c.draws, list(c.kinds), c.seed, f)
        x_test = self.x_labelled[test]
        t0 = time.perf_counter()
        if inner.kind == "baseline":
            name = inner.name
            genes = self.genes_of_fold(name, self.held_out_ids(test), train)
            x_train, y_train = self.x_labelled[train][:, genes], self.ds.y[train]
            preds = [
                baselines.fit_predict(
                    name,
                    x_train[m],
                    y_train[m],
                    [g for g, keep in zip(groups, m, strict=True) if keep],
                    x_test[:, genes],
                    run_seed,
                )
                for *_, m in subs
            ]
            training = TrainingRecord()
            self.progress(Stage("finetune", label, 1, 1))
        else:
            fold_fit = self.fit(
                inner.name, train, self.held_out_ids(test), run_seed, run_seed, label, subsets=[m for *_, m in subs]
            )
            transform, fitted = fold_fit.transform, fold_fit.fitted
            x_in = transform.apply(x_test)
            preds = [predict(fi.encoder, x_in, fi.columns) for fi in fitted]
            training = fitted[0].record
        return FoldRecord(
            test,
            training,
            predicted_subsets=np.stack(preds),
            subset_keys=np.array([f"{n}|{kind}|{d}".encode() for n, kind, d, _ in subs]),
            subset_sizes=np.array([int(m.sum()) for *_, m in subs]),
        ).timed(time.perf_counter() - t0)

    def run(self, executor=None):
        """Every (scheme, model, repeat) over the same folds, then the final model: a :class:`RunOutcome`.
        ``executor``: an :class:`~sparsenet.runs.plan.Executor` (default: serial, in-process)."""
        done = (executor or Executor()).run(Plan([self]), self.progress)
        return RunOutcome(done.results[0], done.finals[0], done.seconds)

    def final_model(self):
        """The model trained on every labelled sample, kept in the state folder (``train`` writes the run's
        ``model.h5`` from it once, with its intervals); read back when already there."""
        path = self.out / "state" / "final_model.h5"
        strategy = "C" if "C" in self.cfg.strategies else self.cfg.strategies[0]  # the product, when run
        if path.exists():
            return load_checkpoint(path)
        n = self.ds.labelled.size
        fold_fit = self.fit(strategy, np.arange(n), set(), self.cfg.seed, self.cfg.seed, f"final model ({strategy})")
        transform, rows, [fitted] = fold_fit.transform, fold_fit.pool_rows, fold_fit.fitted
        nets, encoder, rec = fitted.nets, fitted.encoder, fitted.record
        params = {}
        for k, (net, member) in enumerate(zip(nets, getattr(encoder, "members", [encoder]), strict=True)):
            prefix = member_prefix(k)
            params.update({prefix + name: v for name, v in net.state_dict().items()})
            if self.cfg.architecture.head == "readout":
                params.update(
                    {f"{prefix}head.{name}": backend.to_numpy(v).copy() for name, v in member.layers[-1].params.items()}
                )
        ck = self._checkpoint(
            strategy,
            params,
            {
                "stage": "final",
                "finetune_stop": rec.stop,
                "samples": int(n),
                **({"l2_chosen": float(rec.l2_chosen)} if rec.l2_chosen is not None else {}),
            },
            {"finetune_losses": rec.finetune_losses, "input_mean": transform.mean, "input_sd": transform.sd},
            self.wirings.of_pool(rows),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, ck)
        return ck

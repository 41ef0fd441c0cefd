"""A study as a plan of independent fits, executed serially in-process (the default) or fanned
out over a Dask cluster (local worker processes, or a running scheduler by address).

Each fit (one model on one fold at one network seed) depends only on its inputs and seeds and
writes its own state file, and pre-trainings are cached by a hash of what they depend on, so
the same plan gives the same numbers however it is executed, and a lost worker or an
interrupted run loses no finished fit: the fit is run again (Dask reschedules it, or ``--resume``
skips what is on disk).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..progress import Stage, quiet
from .folds import make_folds


class FoldSource(Protocol):
    """What a plan runs (``runs.crossval.Runner``, the one runner, is its only kind): a data set and
    configuration whose fits are ``(scheme, model, fold, repeat)``, each run by ``run_fold``, and a final model."""

    ds: object
    cfg: object

    def models(self) -> list: ...

    def run_fold(self, scheme: str, model, fold: int, test: np.ndarray, repeat: int = 0) -> dict: ...

    def final_model(self): ...


@dataclass(frozen=True)
class Fit:
    """One held-out fold of one model (an ``config.model_keys.Model``) at one network seed, of the plan's
    ``run``-th runner."""

    run: int
    scheme: str
    model: object
    repeat: int
    fold: int
    test: tuple

    @property
    def name(self) -> str:
        return f"run{self.run}-{self.scheme}-{self.model}-s{self.repeat}-fold{self.fold}"


@dataclass(frozen=True)
class PlanOutcome:
    """What :meth:`Executor.run` returns: per runner of the plan, its results
    (``{(scheme, model, repeat): [record per fold]}``) and its final checkpoint (None without one); the wall
    time."""

    results: list
    finals: list
    seconds: float


class Plan:
    """Every fit of one or more runners (a train run; the configurations of a robustness sweep),
    then each runner's final model when it has one."""

    def __init__(self, runners):
        self.runners = list(runners)
        self.fits = []
        for r, runner in enumerate(self.runners):
            cfg = runner.cfg
            for scheme in cfg.cv:
                folds = make_folds(runner.ds, scheme, cfg.folds, cfg.seed)
                for repeat in range(cfg.seeds):
                    for model in runner.models():
                        self.fits += [
                            Fit(r, scheme, model, repeat, f, tuple(int(i) for i in test))
                            for f, test in enumerate(folds)
                        ]
        self.finals = [r for r, runner in enumerate(self.runners) if runner.cfg.final_model]

    @property
    def n_tasks(self) -> int:
        return len(self.fits) + len(self.finals)

    def gather(self, records: dict):
        """Fold records (by fit) into each runner's results: {(scheme, model's text, repeat): [record per fold]}."""
        results = [dict() for _ in self.runners]
        for fit in self.fits:
            results[fit.run].setdefault((fit.scheme, str(fit.model), fit.repeat), []).append(records[fit])
        return results


def run_fit(runner: FoldSource, fit: Fit, threads: int | None = None):
    _limit_threads(threads)
    return runner.run_fold(fit.scheme, fit.model, fit.fold, np.asarray(fit.test, dtype=np.int64), fit.repeat)


def run_final(runner: FoldSource, threads: int | None = None) -> bool:
    _limit_threads(threads)
    runner.final_model()
    return True


def _finals(plan: Plan):
    """Each runner's final model (trained, or read back when already on disk), None without one."""
    return [r.final_model() if r.cfg.final_model else None for r in plan.runners]


def _limit_threads(threads):
    """A worker's share of the cores, set when its task starts: Numba's threads, and the BLAS/OpenMP pools
    (threadpoolctl). The BLAS libraries themselves start as in the serial process (no thread-count variables
    at start-up: OpenBLAS picks its kernels' blocking then), so the same call gives the same bits."""
    if threads:
        import numba
        from threadpoolctl import threadpool_limits

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        threadpool_limits(threads)


class Executor:
    """Runs plans: serially in this process (``workers=0``, no scheduler), on a local Dask cluster of
    ``workers`` processes, or on the Dask scheduler at ``scheduler``. Connects when created, so a bad
    address fails before anything is written; use as a context manager (it closes the cluster)."""

    def __init__(self, workers: int = 0, scheduler: str | None = None):
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        if workers and scheduler:
            raise ValueError("give --workers (a local cluster) or --scheduler (a running one), not both")
        self.workers, self.scheduler = workers, scheduler
        self.client = self.cluster = None
        self.threads = None
        if (scheduler or workers) and not _has_distributed():
            raise ValueError(
                "fanning fits out needs Dask: pip install 'dask[distributed]' (or run without --workers/--scheduler)"
            )
        if scheduler:
            self.client = _connect(scheduler)
        elif workers:
            from distributed import Client, LocalCluster

            # each worker gets its share of the cores: N workers do not oversubscribe the machine
            self.threads = max(1, (os.cpu_count() or 1) // workers)
            share = str(self.threads)
            env = {"NUMBA_NUM_THREADS": share, "LOKY_MAX_CPU_COUNT": share}  # BLAS: limited per task
            self.cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                env=env,
            )
            self.client = Client(self.cluster)

    @property
    def description(self) -> str:
        if self.scheduler:
            return f"Dask scheduler {self.scheduler}"
        if self.workers:
            return f"{self.workers} local Dask workers ({self.threads} threads each)"
        return "serial"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def run(self, plan: Plan, progress=None) -> PlanOutcome:
        """Every fit of ``plan``, then each runner's final model."""
        t0 = time.perf_counter()
        if self.client is None:
            records = {fit: run_fit(plan.runners[fit.run], fit) for fit in plan.fits}
            return PlanOutcome(plan.gather(records), _finals(plan), time.perf_counter() - t0)
        return self._run_dask(plan, progress, t0)

    def map(self, fn, shared, items):
        """``(item, fn(shared, item))`` for every item, as each finishes: in this process in order, or as Dask
        tasks with ``shared`` sent to every worker once (a study's draws beside its plans: the flux control).
        A task's own error is raised here; the tasks not yet finished are cancelled."""
        if self.client is None:
            for item in items:
                yield item, fn(shared, item)
            return
        from distributed import as_completed

        on_workers = self.client.scatter(shared, broadcast=True, hash=False)
        futures = {self.client.submit(fn, on_workers, item, pure=False, retries=1): item for item in items}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    def _run_dask(self, plan: Plan, progress, t0):
        from distributed import as_completed

        progress = progress or quiet
        runners = [self.client.scatter(r, broadcast=True, hash=False) for r in plan.runners]
        futures = {}
        for fit in plan.fits:
            futures[
                self.client.submit(run_fit, runners[fit.run], fit, self.threads, key=fit.name, pure=False, retries=1)
            ] = ("fit", fit)
        for r in plan.finals:
            futures[
                self.client.submit(run_final, runners[r], self.threads, key=f"run{r}-final", pure=False, retries=1)
            ] = ("final", r)
        records, done, total = {}, 0, len(futures)
        label = f"fits on {self.description}"
        try:
            for future in as_completed(futures):
                kind, what = futures[future]
                result = future.result()  # a task's own error is raised here, as in a serial run
                if kind == "fit":
                    records[what] = result
                done += 1
                progress(Stage("tasks", label, done, total))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return PlanOutcome(plan.gather(records), _finals(plan), time.perf_counter() - t0)  # finals: from model.h5


def _has_distributed() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def _connect(address: str):
    from distributed import Client

    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(
            f"cannot reach the Dask scheduler at {address!r} ({why[:160]}); check the address "
            "(tcp://HOST:8786) or run locally with --workers N"
        ) from None

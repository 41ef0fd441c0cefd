"""A run's settings, built once: presets as library objects, options over them, every allowed
value listed and checked in one place (as scikit-learn's ``_parameter_constraints``; as black's
``Mode``, the result is passed down and nothing below re-checks it).

``build_config(preset, **options)`` takes flat option names (those of the command line: strategy,
l2, max_steps, ...); an option that is None takes the preset's value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from ..allowed import one_of
from ..data.standardise import INPUTS
from ..masks.build import LEVELS
from ..training.finetune import ANCHORS, EARLY_STOPPING, LOSSES, OPTIMIZERS, TUNE, FinetuneSettings, default_lr
from ..training.network import DECODERS, HEADS, STRATEGIES, Architecture
from ..training.pretrain import PretrainSettings
from .choices import BASELINES, FLUX_BASELINES, NOISE_WHERE, PREDICTORS, SCHEMES, WIRINGS

# What each preset sets; an option given on its own overrides its preset's value.
PRESETS = {
    "default": {
        "strategy": "B",
        "inputs": "standardise",
        "decoder": "linear",
        "head": "readout",
        "pretrain_lr": 0.1,
        "early_stopping": "none",
        "max_steps": 2000,
        "ensemble": 5,
        "loss": "squared",
        "l2": 0.03,
        "init_scale": 0.1,
        "optimizer": "adam",
        "anchor": "zero",
        "pretrain_noise": 0.0,
    },
    "paper": {
        "strategy": "C",
        "inputs": "raw",
        "decoder": "softplus",
        "head": "node",
        "pretrain_lr": 0.1,
        "early_stopping": "none",
        "max_steps": 3000,
        "ensemble": 1,
        "loss": "relative",
        "l2": 0.0,
        "init_scale": 1.0,
        "optimizer": "adam",
        "anchor": "zero",
        "pretrain_noise": 0.0,
    },
}
# Every option with a fixed set of values, and those values.
CHOICES = {
    "strategy": tuple(STRATEGIES),
    "inputs": INPUTS,
    "decoder": tuple(DECODERS),
    "head": tuple(HEADS),
    "loss": LOSSES,
    "early_stopping": EARLY_STOPPING,
    "tune": TUNE,
    "optimizer": OPTIMIZERS,
    "anchor": ANCHORS,
    "cv": SCHEMES,
    "baselines": BASELINES + FLUX_BASELINES,
    "predictor": PREDICTORS,
    "level": LEVELS,
}
ALL = {"baselines": BASELINES}  # what 'all' means where it is not every allowed value (flux baselines: by name)
LISTS = ("strategy", "cv", "baselines")  # options that take a comma list ('all' for every value)


class ConfigError(ValueError):
    """An option value that is not allowed; the message names the option as the command line does."""


@dataclass(frozen=True)
class NullSpec:
    """A control's null wirings: ``draws`` randomised copies of the wiring per null model in ``kinds``
    (``masks.randomise.KINDS``), seeded by ``seed``."""

    kinds: tuple = ("genes", "edges")
    draws: int = 50
    seed: int = 0


@dataclass(frozen=True)
class CurveSpec:
    """A learning curve's subsets: ``labels`` (counts and/or 'all') per fit, ``draws`` per count and way of
    drawing in ``kinds`` (``choices.CURVE_DRAWS``), seeded by ``seed``."""

    labels: tuple = (10, 20, 40, 80, "all")
    draws: int = 5
    kinds: tuple = ("projects", "random")
    seed: int = 0


@dataclass(frozen=True)
class NoiseSpec:
    """Robustness: ``percent`` % noise on ``percent`` % of the samples, in the ``where`` data."""

    where: str = "finetune"  # pretrain | finetune | both
    percent: float = 25.0


@dataclass(frozen=True)
class IcaWiring:
    """Every fit wired to the independent components of its own pre-training pool (``masks.ica``)."""

    kind: str = "ica"
    components: int = 50
    seed: int = 0
    min_genes: int = 3


@dataclass(frozen=True)
class RunConfig:
    """A run's settings. Frozen: built and checked once (``build_config``), never changed after; a variant is
    ``dataclasses.replace(cfg, ...)``, a new configuration."""

    strategies: tuple = ("C",)
    cv: tuple = ("grouped",)
    folds: int = 10
    group_by: str | None = "project"
    seed: int = 0  # the folds' seed, and the first network seed
    seeds: int = 1  # repeats of every fit with network seeds seed, seed+1, ...; the folds stay the same
    device: str = "cpu"  # resolved: cpu or gpu (build_config resolves auto)
    ensemble: int = 1  # networks per fit, from different seeds; their predictions are averaged
    inputs: str = "raw"  # raw | centre | standardise, fitted per fold on training samples (data.standardise)
    architecture: Architecture = field(default_factory=Architecture)
    pretrain: PretrainSettings = field(default_factory=PretrainSettings)
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)
    baselines: tuple = BASELINES
    final_model: bool = True
    noise: NoiseSpec | None = None  # robustness
    nulls: NullSpec | None = None  # control
    curve: CurveSpec | None = None  # learning curve
    wiring: IcaWiring | None = None  # None: the masks file's; else every fit's own, from its pre-training pool

    def __post_init__(self):  # lists given (as JSON reads them) are kept as tuples: nothing to change in place
        for name in ("strategies", "cv", "baselines"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def finetune_lr(self, strategy: str) -> float:
        """The fine-tuning learning rate a network of ``strategy`` uses: the one given, else the strategy's
        default (``training.finetune.default_lr``)."""
        return self.finetune.lr or default_lr(strategy)

    def to_dict(self) -> dict:
        """The settings as given, and the learning rate each strategy's fine-tuning uses (``finetune_lr_used``:
        the report says what ran, not only that none was given)."""
        return {**asdict(self), "finetune_lr_used": {s: self.finetune_lr(s) for s in self.strategies}}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_list(value, name: str) -> list:
    """A comma list of allowed values ('all': every one; for cv 'both': grouped,kfold; for baselines
    'none': no baseline), in order, without repeats."""
    allowed = CHOICES[name]
    if isinstance(value, (list, tuple)):
        value = ",".join(value)
    text = str(value).strip()
    if name == "cv" and text == "both":
        return ["grouped", "kfold"]
    if name == "baselines" and text.lower() == "none":
        return []
    items = list(ALL.get(name, allowed)) if text.lower() == "all" else [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise ConfigError(f"{_flag(name)}: {bad[0] if bad else text!r} is not one of {', '.join(allowed)}")
    return list(dict.fromkeys(items))


def parse_l2(value):
    """A penalty: a number >= 0, or 'auto' (chosen by inner cross-validation, training.penalty)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        l2 = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--l2: give a number >= 0 or 'auto', got {value!r}") from None
    if not l2 >= 0:
        raise ConfigError(f"--l2: give a number >= 0 or 'auto', got {value!r}")
    return l2


def check_choice(name: str, value):
    """``value`` when the option ``name`` allows it (``CHOICES``); else a ConfigError naming the flag."""
    return one_of(_flag(name), value, CHOICES[name], ConfigError)


def _typed(cls, value, name):
    """``value`` as the sub-configuration ``cls`` (given as one, or as the dict ``to_dict`` wrote), or None."""
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, dict):
        names = {f.name for f in fields(cls)}
        unknown = set(value) - names
        if unknown:
            raise TypeError(f"build_config: {name} has unknown key(s) {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})
    raise TypeError(f"build_config: {name} must be a {cls.__name__} or a dict, got {type(value).__name__}")


def _kinds_and_draws(kinds, allowed, flag: str, draws: int) -> tuple:
    """``kinds`` checked against ``allowed`` (in order, without repeats) and ``draws`` at least 1."""
    bad = [k for k in kinds if k not in allowed]
    if bad or not kinds:
        raise ConfigError(f"{flag}: {bad[0] if bad else ''!r} is not one of {', '.join(allowed)}")
    if draws < 1:
        raise ConfigError(f"--draws must be at least 1, got {draws}")
    return tuple(dict.fromkeys(kinds))


def check_nulls(nulls: NullSpec) -> NullSpec:
    from ..masks.randomise import KINDS

    return replace(nulls, kinds=_kinds_and_draws(nulls.kinds, KINDS, "--null", nulls.draws))


def check_curve(curve: CurveSpec) -> CurveSpec:
    from .choices import CURVE_DRAWS, parse_labels

    return replace(
        curve,
        kinds=_kinds_and_draws(curve.kinds, CURVE_DRAWS, "--draw-by", curve.draws),
        labels=tuple(parse_labels(",".join(map(str, curve.labels)))),
    )


def check_noise(noise: NoiseSpec) -> NoiseSpec:
    if noise.where not in NOISE_WHERE:
        raise ConfigError(f"--where: {noise.where!r} is not one of {', '.join(NOISE_WHERE)}")
    if not 0 < noise.percent <= 100:
        raise ConfigError(f"--percent values must be in (0, 100], got {noise.percent:g}")
    return noise


def build_config(
    preset: str = "default",
    *,
    cv="grouped",
    folds: int = 10,
    group_by="project",
    seed: int = 0,
    seeds: int = 1,
    device: str = "cpu",
    baselines="none",
    final_model: bool = True,
    pretrain_samples: int = 1_000_000,
    batch: int = 5000,
    finetune_lr=None,
    tol: float = 1e-4,
    tune: str = "auto",
    wiring: str = "masks",
    ica_components: int = 50,
    noise=None,
    nulls=None,
    curve=None,
    **options,
) -> RunConfig:
    """The RunConfig of ``preset`` with ``options`` over it (strategy, inputs, decoder, head, pretrain_lr,
    early_stopping, max_steps, ensemble, loss, l2, init_scale, optimizer, anchor, pretrain_noise; None: the
    preset's value); ``wiring``: 'masks' (the masks file's) or 'ica' (``ica_components`` independent components
    of each fit's pool, computed on that pool only). ``noise`` (robustness), ``nulls`` (a control) and ``curve``
    (a learning curve): a :class:`NoiseSpec`, :class:`NullSpec`, :class:`CurveSpec` (or its dict), checked here
    too; a learning curve of baselines alone has ``strategy='none'``.
    Raises ConfigError for any value that is not allowed."""
    one_of("--preset", preset, PRESETS, ConfigError)
    unknown = set(options) - set(PRESETS[preset])
    if unknown:
        raise TypeError(f"build_config: unknown option(s) {sorted(unknown)}")
    chosen = {**PRESETS[preset], **{k: v for k, v in options.items() if v is not None}}
    noise, nulls, curve = (
        _typed(NoiseSpec, noise, "noise"),
        _typed(NullSpec, nulls, "nulls"),
        _typed(CurveSpec, curve, "curve"),
    )
    for name in ("inputs", "decoder", "head", "loss", "early_stopping", "optimizer", "anchor"):
        check_choice(name, chosen[name])
    if not 0 <= chosen["pretrain_noise"] < 1:
        raise ConfigError(f"--pretrain-noise: a fraction of genes in [0, 1), got {chosen['pretrain_noise']}")
    check_choice("tune", tune)
    if not (chosen["pretrain_lr"] > 0 and (finetune_lr is None or finetune_lr > 0) and tol >= 0):
        raise ConfigError("--pretrain-lr and --finetune-lr must be positive, --tol not negative")
    chosen["l2"] = parse_l2(chosen["l2"])
    if chosen["init_scale"] < 0 or chosen["max_steps"] < 1 or chosen["ensemble"] < 1:
        raise ConfigError("--init-scale must not be negative, --max-steps and --ensemble at least 1")
    if chosen["l2"] == "auto" and (chosen["strategy"] == "A" or chosen["early_stopping"] != "none"):
        raise ConfigError(
            "--l2 auto fits masked networks (strategies B, C) by Adam's or L-BFGS's own stopping; "
            "not strategy A or --early-stopping inner"
        )
    if chosen["optimizer"] == "lbfgs" and chosen["early_stopping"] != "none":
        raise ConfigError("--early-stopping inner chooses Adam's step count; it does not go with --optimizer lbfgs")
    one_of("--wiring", wiring, WIRINGS, ConfigError)
    no_network = str(chosen["strategy"]).strip().lower() == "none"
    if no_network and curve is None:
        raise ConfigError("--strategy none (baselines only) is for a learning curve")
    strategies = [] if no_network else parse_list(chosen["strategy"], "strategy")
    if wiring == "ica" and (chosen["head"] != "readout" or "A" in strategies):
        raise ConfigError(
            "--wiring ica: the components are no phenotypes, so the network reads them out "
            "(--head readout) and is masked (strategies B, C)"
        )
    if wiring == "ica" and ica_components < 2:
        raise ConfigError(f"--ica-components must be at least 2, got {ica_components}")
    schemes = parse_list(cv, "cv")
    if nulls is not None:
        nulls = check_nulls(nulls)
        if len(strategies) != 1 or strategies[0] not in ("B", "C") or len(schemes) != 1:
            raise ConfigError("control: one strategy (B or C: a wiring to randomise) and one --cv scheme")
    if curve is not None:
        curve = check_curve(curve)
        if len(schemes) != 1:
            raise ConfigError("--cv: one scheme for a learning curve")
    if noise is not None:
        noise = check_noise(noise)
    return RunConfig(
        strategies=strategies,
        cv=schemes,
        folds=folds,
        group_by=group_by or None,
        seed=seed,
        seeds=seeds,
        device=_device(device),
        ensemble=chosen["ensemble"],
        inputs=chosen["inputs"],
        architecture=Architecture(chosen["decoder"], chosen["head"]),
        pretrain=PretrainSettings(
            samples=pretrain_samples, batch=batch, lr=chosen["pretrain_lr"], noise=chosen["pretrain_noise"]
        ),
        finetune=FinetuneSettings(
            lr=finetune_lr,
            max_steps=chosen["max_steps"],
            tol=tol,
            tune=tune,
            loss=chosen["loss"],
            l2=chosen["l2"],
            init_scale=chosen["init_scale"],
            early_stopping=chosen["early_stopping"],
            optimizer=chosen["optimizer"],
            anchor=chosen["anchor"],
        ),
        baselines=parse_list(baselines, "baselines"),
        final_model=final_model,
        noise=noise,
        nulls=nulls,
        curve=curve,
        wiring=IcaWiring(components=int(ica_components), seed=int(seed)) if wiring == "ica" else None,
    )


def _device(device: str) -> str:
    """cpu, gpu or auto resolved once, here, to the device that runs (``backend.resolve_device``): the run's
    layers take ``RunConfig.device`` as it is."""
    from ..backend import resolve_device

    try:
        return resolve_device(device)
    except ValueError as e:
        raise ConfigError(f"--device: {e}") from None


def config_from_dict(d: dict) -> RunConfig:
    """A RunConfig back from ``to_dict()`` (a checkpoint's or a state folder's)."""
    known = {f.name for f in fields(RunConfig)}
    d = {k: v for k, v in d.items() if k in known}
    nested = {
        "architecture": Architecture,
        "pretrain": PretrainSettings,
        "finetune": FinetuneSettings,
        "noise": NoiseSpec,
        "nulls": NullSpec,
        "curve": CurveSpec,
        "wiring": IcaWiring,
    }
    for name, cls in nested.items():
        if isinstance(d.get(name), dict):
            names = {f.name for f in fields(cls)}
            d[name] = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d[name].items() if k in names})
    return RunConfig(**d)


def config_notes(cfg: RunConfig) -> list:
    """What a configuration allows but its user probably did not mean, one line each."""
    notes = []
    l2 = cfg.finetune.l2
    if l2 != "auto" and l2 > 0 and cfg.inputs != "standardise":
        notes.append(
            f"--l2 {l2:g} is sized for standardised inputs; with --inputs {cfg.inputs} (values ~0.1) it "
            "can hold every weight at zero (predictions = the training mean): consider --l2 0"
        )
    return notes

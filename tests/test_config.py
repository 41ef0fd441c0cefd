"""sparsenet.config.run_config: presets with options over them, every allowed value checked once in
build_config, typed sub-configurations (nulls, curve, noise, wiring) checked there too, and a configuration
that cannot change after it is built."""

import dataclasses

import pytest

from sparsenet.config.run_config import (
    CHOICES,
    ConfigError,
    CurveSpec,
    IcaWiring,
    NoiseSpec,
    NullSpec,
    PRESETS,
    RunConfig,
    build_config,
    config_from_dict,
    config_notes,
    parse_list,
)


def test_presets_and_single_options_over_them():
    """Every option given on its own overrides its preset; what is not given comes from the preset; a penalty
    over unscaled inputs is pointed out in one line."""

    def config(preset, **options):
        return build_config(preset, device="cpu", pretrain_samples=1000, batch=100, **options)

    for preset in PRESETS:
        cfg, chosen = config(preset), PRESETS[preset]
        assert cfg.strategies == (chosen["strategy"],) and cfg.inputs == chosen["inputs"]
        assert (
            cfg.finetune.loss,
            cfg.finetune.l2,
            cfg.finetune.init_scale,
            cfg.finetune.max_steps,
            cfg.ensemble,
            cfg.finetune.optimizer,
        ) == (
            chosen["loss"],
            chosen["l2"],
            chosen["init_scale"],
            chosen["max_steps"],
            chosen["ensemble"],
            chosen["optimizer"],
        )
    assert PRESETS["default"]["l2"] > 0 and PRESETS["paper"]["l2"] == 0  # the paper's method has no penalty
    cfg = config("default", l2=0.0, init_scale=1.0, loss="relative", strategy="B,C")
    assert (cfg.finetune.l2, cfg.finetune.init_scale, cfg.finetune.loss, cfg.strategies) == (
        0.0,
        1.0,
        "relative",
        ("B", "C"),
    )
    cfg = config("paper", l2=0.5)
    assert cfg.finetune.l2 == 0.5 and cfg.finetune.loss == "relative" and cfg.strategies == ("C",)
    assert config_notes(config("default")) == config_notes(config("default", inputs="centre", l2=0.0)) == []
    [note] = config_notes(config("default", inputs="centre"))
    assert "--l2 0.03" in note and "--inputs centre" in note


def test_allowed_values_are_checked_once_in_the_library():
    from sparsenet.config.run_config import check_choice

    for option, allowed in CHOICES.items():
        if option in ("cv", "baselines", "strategy", "tune"):
            continue
        refusal = f"--{option.replace('_', '-')} must be one of {', '.join(allowed)}, got 'nonsense'"
        with pytest.raises(ConfigError, match=refusal):
            if option in PRESETS["default"]:
                build_config("default", **{option: "nonsense"})
            else:  # a command's own choice (control --predictor, masks build --level): the same table, one check
                check_choice(option, "nonsense")
    assert parse_list("all", "strategy") == ["A", "B", "C"] and parse_list("both", "cv") == ["grouped", "kfold"]
    assert parse_list("none", "baselines") == [] and parse_list("B,B,C", "strategy") == ["B", "C"]
    with pytest.raises(ConfigError, match="--cv: 'loo' is not one of grouped, kfold, lopo"):
        build_config("default", cv="loo")
    with pytest.raises(ConfigError, match="does not go with --optimizer lbfgs"):
        build_config("default", optimizer="lbfgs", early_stopping="inner")
    with pytest.raises(TypeError, match="unknown option"):
        build_config("default", l3=0.1)


def test_a_command_refuses_a_value_as_the_library_does():
    """The commands hold no allowed values of their own: control --predictor, robustness --strategy and masks
    build --level/--threshold are refused by the library's check, one line, before any data is read."""
    from conftest import one_line_error, sparsenet

    from sparsenet.allowed import one_of

    one_line_error(sparsenet("control", "--predictor", "fba"), "--predictor must be one of network, flux, got 'fba'")
    one_line_error(sparsenet("robustness", "--strategy", "D"), "--strategy must be one of A, B, C, got 'D'")
    one_line_error(
        sparsenet("masks", "build", "e_coli_core", "--threshold", "1.5", "-o", "never.h5"),
        "--threshold must be in (0, 1], got 1.5",
    )
    with pytest.raises(ValueError, match="head must be one of node, readout, got 'x'"):
        one_of("head", "x", ("node", "readout"))
    assert one_of("head", "node", ("node", "readout")) == "node"


def test_a_configuration_is_frozen_and_a_variant_is_a_new_one():
    cfg = build_config("default", cv="grouped", folds=3)
    for name, value in (("nulls", NullSpec()), ("strategies", ("C",)), ("folds", 4)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(cfg, name, value)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.finetune.l2 = 1.0
    with pytest.raises(AttributeError):  # tuples: nothing to change in place either
        cfg.strategies.append("C")
    noisy = dataclasses.replace(cfg, noise=NoiseSpec("finetune", 50.0))
    assert cfg.noise is None and noisy.noise.percent == 50.0


def test_sub_configurations_are_typed_and_checked_by_build_config():
    cfg = build_config("default", nulls={"kinds": ["genes", "genes", "edges"], "draws": 3, "seed": 4})
    assert cfg.nulls == NullSpec(("genes", "edges"), 3, 4)
    with pytest.raises(ConfigError, match="--null: 'shuffle' is not one of genes, edges, density"):
        build_config("default", nulls=NullSpec(("shuffle",), 3, 0))
    with pytest.raises(ConfigError, match="one strategy"):
        build_config("default", strategy="B,C", nulls=NullSpec())
    curve = build_config("default", strategy="none", baselines="mean", curve=CurveSpec(("10", "all"), 2)).curve
    assert curve.labels == (10, "all") and curve.kinds == ("projects", "random")
    with pytest.raises(ConfigError, match="learning curve"):
        build_config("default", strategy="none")
    with pytest.raises(ConfigError, match="--draw-by"):
        build_config("default", curve=CurveSpec(kinds=("sideways",)))
    with pytest.raises(ConfigError, match=r"--percent values must be in \(0, 100\]"):
        build_config("default", noise=NoiseSpec("both", 150.0))
    with pytest.raises(ConfigError, match="--where"):
        build_config("default", noise={"where": "everywhere", "percent": 10})
    with pytest.raises(TypeError, match="unknown key"):
        build_config("default", nulls={"kinds": ["genes"], "n": 3})
    assert build_config("default", wiring="ica", ica_components=7).wiring == IcaWiring(components=7)


def test_a_configuration_survives_its_dict():
    """What a checkpoint or a state folder keeps (to_dict, as JSON) reads back as the same configuration, with
    the same keys as before the sub-configurations were typed (a resumed run compares them)."""
    import json

    cfg = build_config("default", wiring="ica", nulls=NullSpec(("genes",), 2, 1), baselines="mean,ridge")
    d = json.loads(json.dumps(cfg.to_dict()))
    assert d["nulls"] == {"kinds": ["genes"], "draws": 2, "seed": 1}
    assert d["wiring"] == {"kind": "ica", "components": 50, "seed": 0, "min_genes": 3}
    assert config_from_dict(d) == cfg and isinstance(config_from_dict(d), RunConfig)


def test_the_settings_record_the_learning_rate_each_strategy_used():
    """No --finetune-lr: the record says what each strategy's fine-tuning used (A's 1e-3, B's 1e-2), the same
    rate the network spec fits with; a given rate is used and recorded for every strategy. The spec is frozen."""
    import dataclasses

    from sparsenet.training.fitting import NetworkSpec

    cfg = build_config("default", strategy="A,B")
    assert cfg.finetune.lr is None
    used = cfg.to_dict()["finetune_lr_used"]
    for s in ("A", "B"):
        assert used[s] == NetworkSpec(s, cfg.architecture, 1, cfg.finetune).finetune.lr == cfg.finetune_lr(s)
    assert used["A"] < used["B"]
    given = build_config("default", strategy="A,B", finetune_lr=0.005).to_dict()["finetune_lr_used"]
    assert given == {"A": 0.005, "B": 0.005}
    with pytest.raises(dataclasses.FrozenInstanceError):
        NetworkSpec("B").strategy = "A"


def test_the_device_is_resolved_once_in_the_configuration():
    """auto becomes the device that runs (cpu here: no usable GPU), and the run's layers take it as it is; gpu
    without one is refused there, naming the option and the fix."""
    from sparsenet import backend

    cfg = build_config("default", device="auto")
    assert cfg.device == backend.resolve_device("auto") and cfg.device in ("cpu", "gpu")
    if backend.cupy_or_none() is None:
        with pytest.raises(ConfigError, match="--device.*use --device cpu"):
            build_config("default", device="gpu")

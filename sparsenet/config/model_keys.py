"""What one fit of a plan fits, as a typed key: a network strategy, a baseline, a null model's draws or a
learning curve of another model. Its text (``str``) is what results, report keys, file names and fold state
files have always used: 'B', 'baseline:ridge', 'null:genes', 'curve:C', 'curve:baseline:mean'."""

from __future__ import annotations

from dataclasses import dataclass

from ..allowed import one_of

KINDS = ("network", "baseline", "null", "curve")
PREFIXES = {"baseline": "baseline:", "null": "null:", "curve": "curve:"}


@dataclass(frozen=True)
class Model:
    """``kind``: network (``name`` a strategy), baseline (``name`` a baseline), null (``name`` a null model,
    its draws trained as the configuration's strategy) or curve (``inner``, fitted on each subset)."""

    kind: str
    name: str = ""
    inner: Model | None = None

    def __post_init__(self):
        one_of("Model: kind", self.kind, KINDS)
        if (self.kind == "curve") != (self.inner is not None):
            raise ValueError("Model: a curve, and only a curve, has an inner model")

    def __str__(self) -> str:
        if self.kind == "curve":
            return PREFIXES["curve"] + str(self.inner)
        return PREFIXES.get(self.kind, "") + self.name

    @classmethod
    def parse(cls, text: str) -> Model:
        """The model a key names ('B', 'baseline:ridge', 'null:genes', 'curve:...')."""
        for kind, prefix in PREFIXES.items():
            if text.startswith(prefix):
                rest = text[len(prefix) :]
                return cls("curve", inner=cls.parse(rest)) if kind == "curve" else cls(kind, rest)
        return cls("network", text)


def network(strategy: str) -> Model:
    return Model("network", strategy)


def baseline(name: str) -> Model:
    return Model("baseline", name)


def report_key(scheme: str, model) -> str:
    """report.json's key of a scheme's model: 'grouped/B', 'lopo/baseline:ridge'."""
    return f"{scheme}/{model}"


def split_key(key: str) -> tuple:
    """(scheme, model's text) of a report key; a bare model key ('B') has the scheme ''. With :func:`model_of`,
    the one place a key's text is read back."""
    scheme, _, model = key.rpartition("/")  # neither a scheme nor a model holds a '/'
    return scheme, model


def model_of(key: str) -> Model:
    """The model a result key names ('baseline:ridge', or a report's 'grouped/baseline:ridge')."""
    return Model.parse(split_key(key)[1])


def kind_of(key: str) -> str:
    """The kind of model a result key names ('baseline:ridge' -> 'baseline'; 'grouped/B' -> 'network')."""
    return model_of(key).kind


def model_words(model: str) -> str:
    """What a model key means, in words: 'B' -> 'wired network, no pre-training (B)'."""
    from ..config.choices import BASELINE_WORDS
    from ..training.network import STRATEGY_WORDS

    parsed = Model.parse(model)
    if parsed.kind == "baseline":
        return BASELINE_WORDS.get(parsed.name, model)
    return f"{STRATEGY_WORDS.get(model, model)} ({model})"

"""A pathway network's final model: ``ensemble`` networks trained on every labelled sample, kept in one HDF5
file with the hierarchy they are wired by, the classes, the inputs' standardisation and the training settings,
so that ``sparsenet predict`` (or :func:`load_pathway_model`) gives class probabilities for new samples.

A network is kept as its flat parameter buffer (the engine's one buffer per network) and rebuilt from the
hierarchy and the settings: the same layers in the same order, so the buffer lines up by construction.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import h5py
import numpy as np

from .. import backend
from ..h5io import decode_strings, encode_strings, has_format, open_checked
from ..masks.hierarchy import Hierarchy, read_levels, write_levels
from .pathway_network import PathwayTraining, build_network, class_probabilities, fit_network, set_training

FORMAT = "sparsenet-classifier/1"


@dataclass
class PathwayModel:
    """``params[k]``: network k's flat parameter buffer (seed ``seeds[k]``); ``mean``/``sd``: the training
    samples' per-feature standardisation, in ``hierarchy.feature_ids`` order."""

    hierarchy: Hierarchy
    classes: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    training: PathwayTraining
    params: list
    seeds: list
    attrs: dict = dataclasses.field(default_factory=dict)

    @property
    def feature_ids(self) -> list:
        return self.hierarchy.feature_ids

    def networks(self, device: str = "cpu") -> list:
        training = dataclasses.replace(self.training, device=device)
        nets = []
        for buffer, seed in zip(self.params, self.seeds, strict=True):
            net = build_network(self.hierarchy.masks, len(self.classes), training, seed)
            if net.params.size != buffer.size:
                raise ValueError(
                    f"a network of {net.params.size} parameters cannot take the {buffer.size} kept: "
                    "the model file does not match its hierarchy"
                )
            net.params[...] = backend.get_array_module(net.params).asarray(buffer, dtype=net.params.dtype)
            set_training(net, False)
            nets.append(net)
        return nets

    def predict_proba(self, X: np.ndarray, device: str = "cpu") -> np.ndarray:
        """Samples x classes: the networks' mean probability. ``X``: samples x ``feature_ids``, as trained."""
        z = ((np.asarray(X, dtype=np.float64) - self.mean) / self.sd).astype(np.float32)
        return np.mean([class_probabilities(net, z, len(self.classes)) for net in self.networks(device)], axis=0)


def fit_pathway_model(
    hierarchy: Hierarchy, X: np.ndarray, labels, training: PathwayTraining, ensemble: int = 1, seed: int = 0
) -> PathwayModel:
    """``ensemble`` networks (seeds ``seed``, ``seed`` + 1, ...) over ``hierarchy`` trained on every sample of
    ``X`` (samples x ``hierarchy.feature_ids``) and its ``labels``, standardised as the folds are."""
    classes, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    X = np.asarray(X, dtype=np.float64)
    mean, sd = X.mean(axis=0), X.std(axis=0)
    sd[sd == 0] = 1.0
    z = ((X - mean) / sd).astype(np.float32)
    seeds = [seed + k for k in range(ensemble)]
    params = [
        backend.to_numpy(fit_network(hierarchy.masks, z, codes, len(classes), training, s).params).copy() for s in seeds
    ]
    return PathwayModel(hierarchy, classes, mean, sd, training, params, seeds, {"samples": int(X.shape[0])})


def save_pathway_model(path, model: PathwayModel) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["training"] = json.dumps(dataclasses.asdict(model.training))
        f.attrs["seeds"] = json.dumps([int(s) for s in model.seeds])
        f.attrs["info"] = json.dumps(model.attrs)
        f.create_dataset("classes", data=encode_strings([str(c) for c in model.classes]))
        f.create_dataset("mean", data=model.mean)
        f.create_dataset("sd", data=model.sd)
        for k, buffer in enumerate(model.params):
            f.create_dataset(f"network{k}", data=buffer)
        write_levels(f.create_group("hierarchy"), model.hierarchy)


def load_pathway_model(path) -> PathwayModel:
    with open_checked(path, FORMAT, "classifier model file") as f:
        seeds = json.loads(f.attrs["seeds"])
        training = PathwayTraining(**{**json.loads(f.attrs["training"]), "device": "cpu"})
        return PathwayModel(
            read_levels(f["hierarchy"], str(path)),
            np.asarray(decode_strings(f["classes"])),
            f["mean"][()],
            f["sd"][()],
            training,
            [f[f"network{k}"][()] for k in range(len(seeds))],
            seeds,
            json.loads(f.attrs["info"]),
        )


def is_pathway_model_file(path) -> bool:
    return has_format(path, FORMAT)

"""Training checkpoints as safetensors + JSON (never pickles): network, optimiser, loss scaler, progress.

A checkpoint is two files written atomically: ``NAME.safetensors`` with the network's state dict (keys
``model.*``) and the optimiser's per-parameter tensors (``optim.<param index>.<name>``), and ``NAME.json``
with everything else (epoch, step, best metric, early-stopping counter, optimiser hyper-parameters, loss
scaler, the run's fingerprint) and the SHA-256 of the tensor file, so a checkpoint whose two halves do not
belong together is refused. Random number generators need no saving: every epoch's randomness is drawn
from generators seeded by (seed, epoch), so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ssc_core.errors import CheckpointError
from ssc_core.fileio import atomic_write, sha256_file

CHECKPOINT_VERSION = 1


@dataclass
class TrainState:
    """Progress of a run, saved with each checkpoint."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimiser steps taken
    best_metric: float | None = None
    best_epoch: int | None = None
    bad_validations: int = 0  # validations since the last improvement (early stopping)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "best_metric": self.best_metric,
            "best_epoch": self.best_epoch,
            "bad_validations": self.bad_validations,
            "history": self.history,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TrainState:
        return cls(
            int(obj["epoch"]),
            int(obj["step"]),
            None if obj["best_metric"] is None else float(obj["best_metric"]),
            None if obj["best_epoch"] is None else int(obj["best_epoch"]),
            int(obj["bad_validations"]),
            list(obj.get("history", [])),
        )


def _optim_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for name, value in st.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{name}"] = value.detach().to("cpu").contiguous().clone()
            else:
                scalars.setdefault(str(idx), {})[name] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def save_checkpoint(
    folder: Path,
    name: str,
    net: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None,
    scaler: torch.amp.GradScaler | None,
    state: TrainState,
    fingerprint: str,
) -> Path:
    """Write ``name.safetensors`` and ``name.json`` into ``folder`` (atomically, tensors first)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().to("cpu").contiguous().clone() for k, v in net.state_dict().items()}
    meta: dict[str, Any] = {
        "format": "ssc-training-checkpoint",
        "version": CHECKPOINT_VERSION,
        "fingerprint": fingerprint,
        "state": state.to_json(),
    }
    if optimizer is not None:
        opt_tensors, opt_meta = _optim_tensors(optimizer)
        tensors.update(opt_tensors)
        meta["optimizer"] = opt_meta
    if scaler is not None and scaler.is_enabled():
        meta["scaler"] = {k: v for k, v in scaler.state_dict().items() if isinstance(v, (int, float))}
    weights = folder / f"{name}.safetensors"
    with atomic_write(weights) as tmp:
        save_file(tensors, str(tmp))
    meta["sha256"] = sha256_file(weights)
    with atomic_write(folder / f"{name}.json") as tmp:
        Path(tmp).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return weights


def read_checkpoint_meta(folder: Path, name: str) -> dict[str, Any] | None:
    """The JSON half of a checkpoint, or None when there is none."""
    path = folder / f"{name}.json"
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"The checkpoint '{path.name}' is damaged ({exc}).") from None
    if meta.get("format") != "ssc-training-checkpoint" or meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"'{path.name}' is not a training checkpoint of this version.")
    return meta


def load_checkpoint(
    folder: Path,
    name: str,
    net: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scaler: torch.amp.GradScaler | None = None,
    fingerprint: str | None = None,
) -> TrainState:
    """Restore a checkpoint into ``net`` (and the optimiser and scaler); returns the saved progress."""
    from safetensors.torch import load_file

    meta = read_checkpoint_meta(folder, name)
    if meta is None:
        raise CheckpointError(f"There is no checkpoint '{name}' in the training folder.")
    if fingerprint is not None and meta.get("fingerprint") != fingerprint:
        raise CheckpointError(
            "The checkpoint belongs to a training run with other data, network or settings; "
            "resuming it would mix two runs."
        )
    weights = folder / f"{name}.safetensors"
    if not weights.is_file() or sha256_file(weights) != meta.get("sha256"):
        raise CheckpointError(
            f"The checkpoint weights '{weights.name}' are missing or do not match their JSON."
        )
    try:
        tensors = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own types on damaged files
        raise CheckpointError(f"The checkpoint weights '{weights.name}' cannot be read ({exc}).") from None
    model = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        net.load_state_dict(model, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"The checkpoint does not fit the network: {exc}") from None
    if optimizer is not None and "optimizer" in meta:
        opt_meta = meta["optimizer"]
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, idx, pname = key.split(".", 2)
                state.setdefault(int(idx), {})[pname] = value
        for idx, scalars in opt_meta.get("scalars", {}).items():
            state.setdefault(int(idx), {}).update(scalars)
        optimizer.load_state_dict({"state": state, "param_groups": opt_meta["param_groups"]})
    if scaler is not None and "scaler" in meta and scaler.is_enabled():
        scaler.load_state_dict({**scaler.state_dict(), **meta["scaler"]})
    return TrainState.from_json(meta["state"])


def remove_checkpoints(folder: Path) -> None:
    """Delete a run's checkpoints and log (``--restart``)."""
    for name in ("last", "best"):
        for suffix in (".safetensors", ".json"):
            p = folder / f"{name}{suffix}"
            if p.exists():
                os.remove(p)

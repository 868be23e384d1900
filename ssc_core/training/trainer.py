"""The training loop shared by both networks: Adam, mixed precision, checkpoints, early stopping, logs.

One :class:`Trainer` runs a task (:class:`~ssc_core.training.scorer_task.ScorerTask` or
:class:`~ssc_core.training.levels_task.LevelsTask`) for a number of epochs:

* Adam (the paper: lr 1e-4, weight decay 1e-4), a constant learning rate or a cosine decay after a linear
  warm-up;
* mixed precision on CUDA (bfloat16 where the GPU supports it, else float16 with a gradient scaler);
* validation after every ``val_every`` epochs; the **best checkpoint by the task's validation metric**
  (mean MAE) is kept, and training stops early after ``patience`` validations without improvement;
* checkpoints (safetensors + JSON) after every epoch, so ``--resume`` continues where a run stopped, with
  the same result as an uninterrupted run (every epoch's randomness comes from (seed, epoch));
* a progress bar on stderr and a CSV log (one row per epoch: losses, metrics, learning rate, time);
* DistributedDataParallel when started by ``torchrun`` (only process 0 writes files).
"""

from __future__ import annotations

import contextlib
import csv
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ssc_core.constants import TRAIN_LEARNING_RATE, TRAIN_WEIGHT_DECAY
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report
from ssc_core.training.checkpoint import TrainState, load_checkpoint, save_checkpoint
from ssc_core.training.distributed import DistInfo, barrier, broadcast_object, gather_objects
from ssc_core.training.sampling import epoch_seed


class Task(Protocol):
    name: str
    selection_metric: str

    def build_net(self) -> nn.Module: ...
    def steps_per_epoch(self, world: int) -> int: ...
    def batches(self, epoch: int, dist: DistInfo) -> Any: ...
    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor: ...
    def validate(self, net: nn.Module, dist: DistInfo, autocast: Any) -> dict[str, float]: ...


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the paper's by default)."""

    epochs: int
    lr: float = TRAIN_LEARNING_RATE
    weight_decay: float = TRAIN_WEIGHT_DECAY
    schedule: str = "constant"  # or "cosine"
    warmup_epochs: float = 0.0
    patience: int | None = None
    precision: str = "auto"  # auto, fp32, bf16, fp16
    seed: int = 0
    val_every: int = 1
    deterministic: bool = False
    #: Stop after the first epoch that ends past this many minutes of this run (None: no limit). The
    #: learning-rate schedule does not depend on it, so with a constant schedule a run stopped at epoch K
    #: is the same as a run of K epochs.
    time_limit_minutes: float | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError("train for at least one epoch")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown learning-rate schedule {self.schedule!r}")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ValueError(f"unknown precision {self.precision!r}")


@dataclass(frozen=True)
class FitResult:
    """The outcome: the best weights, the final progress and why training ended."""

    best_state: dict[str, torch.Tensor]
    state: TrainState
    stopped: str  # "epochs", "early stopping", "time limit"
    precision: str


def resolve_precision(config: TrainConfig, device: torch.device) -> str:
    if config.precision != "auto":
        return config.precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


class _Bar:
    """A one-line progress bar on stderr (a line per few seconds when stderr is not a terminal)."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total = max(1, total)
        self.label = label
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def update(self, done: int, loss: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not self.tty and now - self.last < 10.0 and done < self.total:
            return
        self.last = now
        elapsed = now - self.t0
        eta = elapsed / done * (self.total - done) if done else 0.0
        filled = int(24 * done / self.total)
        text = (
            f"{self.label} [{'#' * filled}{'.' * (24 - filled)}] {done}/{self.total}  "
            f"loss {loss:.4g}  {elapsed:5.0f} s  ETA {eta:4.0f} s"
        )
        if self.tty:
            sys.stderr.write("\r" + text.ljust(110))
            if done >= self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


class CsvLog:
    """The run's CSV log: one row per epoch; on resume the rows after the checkpoint are dropped."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with open(self.path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    def write(self, history: list[dict[str, Any]]) -> None:
        from ssc_core.fileio import atomic_write

        columns: list[str] = []
        for row in history:
            columns += [c for c in row if c not in columns]
        with atomic_write(self.path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for row in history:
                writer.writerow({k: _fmt(v) for k, v in row.items()})


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return v


class Trainer:
    """Runs a task; see the module docstring."""

    def __init__(
        self,
        task: Task,
        config: TrainConfig,
        work_dir: Path,
        *,
        dist: DistInfo,
        device: torch.device,
        fingerprint: str,
        show_progress: bool = True,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        log: Callable[[str], None] | None = None,
        init_state: dict[str, torch.Tensor] | None = None,
    ) -> None:
        self.init_state = init_state
        self.task = task
        self.config = config
        self.work_dir = work_dir
        self.dist = dist
        self.device = device
        self.fingerprint = fingerprint
        self.show_progress = show_progress and dist.is_main
        self.progress = progress
        self.cancel = cancel
        self.log = log or (lambda _msg: None)
        self.precision = resolve_precision(config, device)

    def _autocast(self) -> Callable[[], contextlib.AbstractContextManager[Any]]:
        if self.precision == "fp32":
            return contextlib.nullcontext
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        dev = self.device.type
        return lambda: torch.autocast(dev, dtype=dtype)

    def _lr(self, step: int, steps_per_epoch: int) -> float:
        c = self.config
        total = max(1, c.epochs * steps_per_epoch)
        warm = c.warmup_epochs * steps_per_epoch
        if warm > 0 and step < warm:
            return c.lr * (step + 1) / warm
        if c.schedule == "cosine":
            t = min(1.0, (step - warm) / max(1.0, total - warm))
            return c.lr * 0.5 * (1.0 + math.cos(math.pi * t))
        return c.lr

    def fit(self, *, resume: bool = False) -> FitResult:
        c, dist = self.config, self.dist
        if c.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        torch.manual_seed(c.seed)  # the same initial weights in every process
        net = self.task.build_net()
        if self.init_state is not None:  # fine-tuning: start from given weights
            net.load_state_dict(self.init_state, strict=True)
        net = net.to(self.device)
        if self.device.type == "cuda" and self.task.name == "scorer":
            net = net.to(memory_format=torch.channels_last)
        model: nn.Module = net
        if dist.distributed:
            from torch.nn.parallel import DistributedDataParallel

            model = DistributedDataParallel(
                net, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        opt = torch.optim.Adam(net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        autocast = self._autocast()
        state = TrainState()
        if resume:
            state = load_checkpoint(
                self.work_dir, "last", net, optimizer=opt, scaler=scaler, fingerprint=self.fingerprint
            )
            self.log(
                f"Resuming after epoch {state.epoch} (best {state.best_metric} at epoch {state.best_epoch})."
            )
        best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        if resume and (self.work_dir / "best.json").is_file():
            holder = self.task.build_net()
            load_checkpoint(self.work_dir, "best", holder, fingerprint=self.fingerprint)
            best_state = {k: v.detach().clone() for k, v in holder.state_dict().items()}
        csv_log = CsvLog(self.work_dir / "log.csv")
        steps = self.task.steps_per_epoch(dist.world_size)
        stopped = "epochs"
        started = time.perf_counter()
        for epoch in range(state.epoch, c.epochs):
            check_cancel(self.cancel)
            t0 = time.perf_counter()
            torch.manual_seed(epoch_seed(c.seed, epoch, stream=100 + dist.rank))  # dropout and the like
            net.train()
            bar = _Bar(steps, f"{self.task.name} epoch {epoch + 1}/{c.epochs}", self.show_progress)
            losses: list[float] = []
            lr = c.lr
            for i, batch in enumerate(self.task.batches(epoch, dist)):
                check_cancel(self.cancel)
                lr = self._lr(state.step, steps)
                for g in opt.param_groups:
                    g["lr"] = lr
                with autocast():
                    loss = self.task.loss(model, batch)
                opt.zero_grad(set_to_none=True)
                if scaler.is_enabled():
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
                state.step += 1
                losses.append(float(loss.detach()))
                bar.update(i + 1, float(np.mean(losses[-20:])))
                report(
                    self.progress, epoch * steps + i + 1, c.epochs * steps, f"Training the {self.task.name}"
                )
            train_loss = float(np.mean([x for part in gather_objects(dist, losses) for x in part]))
            row: dict[str, Any] = {"epoch": epoch + 1, "step": state.step, "lr": lr, "train_loss": train_loss}
            last_epoch = epoch + 1 == c.epochs
            improved = False
            if (epoch + 1) % c.val_every == 0 or last_epoch:
                net.eval()
                metrics = self.task.validate(net, dist, autocast)
                row.update(metrics)
                value = metrics.get(self.task.selection_metric)
                if value is None:  # no validation cases: the last epoch is the best
                    improved = True
                elif math.isfinite(value) and (state.best_metric is None or value < state.best_metric):
                    improved = True
                    state.best_metric = float(value)
                if improved:
                    state.best_epoch = epoch + 1
                    state.bad_validations = 0
                    best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
                else:
                    state.bad_validations += 1
            state.epoch = epoch + 1
            row["seconds"] = round(time.perf_counter() - t0, 2)
            row["best"] = int(improved)
            state.history.append(
                {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()}
            )
            if dist.is_main:
                if improved:
                    save_checkpoint(
                        self.work_dir,
                        "best",
                        net,
                        optimizer=None,
                        scaler=None,
                        state=state,
                        fingerprint=self.fingerprint,
                    )
                save_checkpoint(
                    self.work_dir,
                    "last",
                    net,
                    optimizer=opt,
                    scaler=scaler,
                    state=state,
                    fingerprint=self.fingerprint,
                )
                csv_log.write(state.history)
                self.log(_summary(row, self.task.selection_metric))
            barrier(dist)
            if c.patience is not None and state.bad_validations >= c.patience:
                stopped = "early stopping"
                self.log(f"Early stopping: no improvement in {c.patience} validation(s).")
                break
            if c.time_limit_minutes is not None and epoch + 1 < c.epochs:
                # every process stops at the same epoch: rank 0's clock decides
                late = time.perf_counter() - started >= 60.0 * c.time_limit_minutes
                if broadcast_object(dist, late):
                    stopped = "time limit"
                    self.log(f"Time limit of {c.time_limit_minutes:g} min reached after epoch {epoch + 1}.")
                    break
        return FitResult(best_state, state, stopped, self.precision)


def _summary(row: dict[str, Any], metric: str) -> str:
    parts = [f"epoch {row['epoch']}", f"train loss {row['train_loss']:.4g}"]
    if metric in row:
        parts.append(f"{metric} {row[metric]:.3f}")
    for k, v in row.items():
        if k.startswith("val_kappa_tot") or (k.startswith("val_mae_mm_L")):
            parts.append(f"{k[4:]} {v:.2f}")
    parts.append(f"{row['seconds']:.0f} s" + ("  *best*" if row.get("best") else ""))
    return ", ".join(parts)

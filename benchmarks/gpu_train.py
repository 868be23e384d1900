"""Scorer training throughput on a GPU: the full data pipeline against the bare model step.

Usage::

    python benchmarks/gpu_train.py            # on a GPU machine (about a minute, data generation included)
    python benchmarks/gpu_train.py --smoke    # seconds on a CPU: checks that everything runs

The paper's scorer (ConvNeXt-Tiny, one input channel, 512 x 512) is trained twice in the same run, on the
same device and with the same optimiser and precision:

* **bare**: the model step alone, on random tensors already on the device (the upper bound);
* **pipeline**: the real training batches of :class:`ssc_core.training.scorer_task.ScorerTask`: balanced
  sampling of real samples (level slices and neighbours of phantom patients), data synthesis for half of
  the batch (GG and RET ellipses on healthy slices, procedural textures), normalisation and the random
  affine augmentation, all assembled on the device.

The pipeline must reach at least 80 % of the bare throughput (``ratio`` >= 0.8). The data are built in
process (phantoms from ``generate_phantom`` in worker processes, kept in memory): the script needs torch,
timm, numpy, scipy and safetensors only, no DICOM or spreadsheet libraries. Figures are printed and, when
``$OUT`` is set, written to ``$OUT/gpu_train.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_RATIO = 0.8


def _build_data(n_phantoms: int, matrix: int, size: int, workers: int, seed: int):
    """Phantom patients (half diseased) reduced to scorer samples, in ``workers`` processes."""
    from ssc_core.training.prepare import PrepConfig, prepare_cases
    from ssc_core.training.sources import phantom_cases

    cases = phantom_cases(n_phantoms, seed, matrix=matrix).cases
    arrays, problems = prepare_cases(cases, PrepConfig(scorer_size=size), workers=workers)
    if problems:
        raise RuntimeError("; ".join(str(p) for p in problems))
    return arrays


def _time_steps(step, n_steps: int, sync) -> float:
    sync()
    t0 = time.perf_counter()
    for _ in range(n_steps):
        step()
    sync()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run (seconds) to check the script")
    parser.add_argument("--arch", default=None, help="scorer architecture (default convnext_tiny)")
    parser.add_argument("--size", type=int, default=None, help="input size (default 512)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 32)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per mode (default 40)")
    parser.add_argument("--phantoms", type=int, default=None, help="phantom patients (default 16)")
    parser.add_argument("--workers", type=int, default=None, help="processes generating phantoms")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    args = parser.parse_args(argv)

    import torch

    from ssc_core.ai.spec import ScorerSpec
    from ssc_core.training.distributed import DistInfo
    from ssc_core.training.scorer_task import ScorerRecipe, ScorerTask
    from ssc_core.training.synthesis import SynthesisConfig, texture_bank

    smoke = args.smoke
    arch = args.arch or ("convnext_atto" if smoke else "convnext_tiny")
    size = args.size or (64 if smoke else 512)
    batch = args.batch or (4 if smoke else 32)
    steps = args.steps or (2 if smoke else 40)
    # a mixed cohort of four or more has healthy patients, whose slices are the synthesis backgrounds
    n_phantoms = args.phantoms or (4 if smoke else 16)
    matrix = 96 if smoke else 512
    workers = args.workers or (1 if smoke else max(1, min(16, (os.cpu_count() or 2) - 1)))
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() or 1))

    t0 = time.perf_counter()
    arrays = _build_data(n_phantoms, matrix, size, workers, seed=1)
    t_data = time.perf_counter() - t0
    t1 = time.perf_counter()
    bank = texture_bank(seed=1, variants=2 if smoke else 4, size=min(512, 4 * size))
    t_bank = time.perf_counter() - t1

    spec = ScorerSpec(arch, input_size=size)
    recipe = ScorerRecipe(batch_size=batch, synthesis=SynthesisConfig(reference_size=512))
    task = ScorerTask(spec, arrays, [], recipe, bank, None, seed=1, device=device)
    if task.synthetic_share == 0:
        raise RuntimeError("no healthy slices to synthesise on: use at least 4 phantoms")
    net = task.build_net().to(device).train()
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, weight_decay=1e-4)
    use_amp = device.type == "cuda"
    amp_dtype = torch.bfloat16 if (use_amp and torch.cuda.is_bf16_supported()) else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def train_step(x: torch.Tensor, y: torch.Tensor) -> None:
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
            loss = torch.nn.functional.mse_loss(net(x).float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    # bare: random tensors on the device
    gen = torch.Generator(device=device).manual_seed(0)
    xr = torch.rand((batch, 1, size, size), generator=gen, device=device)
    yr = torch.rand((batch, 3), generator=gen, device=device) * 100.0

    def bare() -> None:
        train_step(xr, yr)

    # pipeline: the real batches, epoch after epoch
    dist = DistInfo()
    state = {"epoch": 0, "it": iter(task.batches(0, dist))}

    def next_batch():
        try:
            return next(state["it"])
        except StopIteration:
            state["epoch"] += 1
            state["it"] = iter(task.batches(state["epoch"], dist))
            return next(state["it"])

    def pipeline() -> None:
        train_step(*next_batch())

    def data_only() -> None:
        next_batch()

    warm = 1 if smoke else 8
    _time_steps(bare, warm, sync)
    _time_steps(pipeline, warm, sync)
    # interleave the two modes twice so that clock boosts and other load affect both alike
    t_bare = t_pipe = 0.0
    for _ in range(2):
        t_bare += _time_steps(bare, steps, sync)
        t_pipe += _time_steps(pipeline, steps, sync)
    t_only = _time_steps(data_only, steps, sync)
    n = 2 * steps * batch
    bare_ips, pipe_ips = n / t_bare, n / t_pipe
    figures = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "arch": arch,
        "input_size": size,
        "batch": batch,
        "precision": str(amp_dtype).replace("torch.", "") if use_amp else "float32",
        "timed_steps_per_mode": 2 * steps,
        "phantoms": n_phantoms,
        "real_samples": int(task.n_real),
        "synthetic_share": task.synthetic_share,
        "data_generation_s": round(t_data, 2),
        "texture_bank_s": round(t_bank, 2),
        "bare_images_per_s": round(bare_ips, 1),
        "pipeline_images_per_s": round(pipe_ips, 1),
        "data_pipeline_alone_images_per_s": round(steps * batch / t_only, 1),
        "ratio": round(pipe_ips / bare_ips, 3),
        "target_ratio": TARGET_RATIO,
        "total_s": round(time.perf_counter() - t0, 1),
        "smoke": smoke,
    }
    figures["passed"] = bool(figures["ratio"] >= TARGET_RATIO)
    print(json.dumps(figures, indent=1))
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "gpu_train.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    return 0 if (figures["passed"] or smoke) else 1


if __name__ == "__main__":
    raise SystemExit(main())

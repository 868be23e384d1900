"""Distributed training: two torchrun processes on the CPU (gloo) agree, and equal one process with the
combined batch (the same global sample plan, gradients averaged)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[3]


def _args(out: Path, cache: Path, batch: int) -> list[str]:
    return [
        "train",
        "scorer",
        "--phantoms",
        "5",
        "--phantom-matrix",
        "64",
        "--phantom-spacing",
        "3",
        "--phantom-seed",
        "4",
        "--folds",
        "2",
        "--out",
        str(out),
        "--cache",
        str(cache),
        "--epochs",
        "1",
        "--batch-size",
        str(batch),
        "--samples-per-epoch",
        "8",
        "--arch",
        "convnext_atto",
        "--input-size",
        "64",
        "--texture-variants",
        "1",
        "--device",
        "cpu",
        "--seed",
        "3",
        "--workers",
        "1",
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.mark.slow
def test_two_gloo_processes_agree_with_one_process(tmp_path):
    cache = tmp_path / "cache"
    single = tmp_path / "single"
    # one process, batch 4 (fills the cache first)
    run = subprocess.run(
        [sys.executable, "-m", "ssc_core", *_args(single, cache, 4)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    ddp = tmp_path / "ddp"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "ssc_core",
            *_args(ddp, cache, 2),
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    digests = dict(re.findall(r"rank (\d)/2: weights sha256 ([0-9a-f]{64})", run.stdout))
    assert set(digests) == {"0", "1"}, run.stdout
    assert digests["0"] == digests["1"], run.stdout
    a = load_file(str(single / "scorer.safetensors"))
    b = load_file(str(ddp / "scorer.safetensors"))
    # two steps of 2 x 2 samples = two steps of 4 samples, up to the order of float sums
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=2e-5, rtol=1e-4)

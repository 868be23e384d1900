"""End to end on tiny networks: ``ssc train levels``, ``ssc train scorer``, ``ssc evaluate``; resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ssc_core.ai.bundle import load_bundle
from ssc_core.cli import build_parser, main
from ssc_core.errors import CheckpointError, OutputNotEmpty
from tests.core.training.conftest import tiny_level_args, tiny_scorer_args

SPLIT = ["--folds", "2", "--test-fraction", "0.2", "--workers", "1"]


def test_train_both_networks_and_evaluate(small_cohort, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    data = ["--data", str(small_cohort / "GohScores.xlsx"), "--scans", str(small_cohort)]
    rc = main(["train", "levels", *data, "--out", str(bundle), "--epochs", "2", *tiny_level_args(), *SPLIT])
    assert rc == 0
    spec_levels = json.loads((bundle / "spec.json").read_text())
    assert spec_levels["provenance"]["level_finder"]["cases"] == {"train": 2, "validation": 2, "test": 1}
    lf_weights = load_file(str(bundle / "level_finder.safetensors"))
    rc = main(
        [
            "train",
            "scorer",
            *data,
            "--out",
            str(bundle),
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--samples-per-epoch",
            "8",
            *tiny_scorer_args(),
            *SPLIT,
            "--name",
            "tiny test bundle",
        ]
    )
    assert rc == 0
    b = load_bundle(bundle)  # a complete, verified bundle
    assert b.display_name == "tiny test bundle"
    assert b.spec.scorer.architecture == "convnext_atto"
    assert b.texture_hu is not None
    assert b.texture_hu.shape == (64, 64)  # cut from a healthy training slice
    assert b.spec.heatmap.texture_source.startswith("training case")
    for k, v in b.level_finder_net.state_dict().items():  # the level finder was kept
        assert torch.equal(v, lf_weights[k])
    prov = b.spec.provenance["scorer"]
    assert prov["recipe"]["synthetic_share"] == 0.5
    assert prov["recipe"]["balanced_sampling"]
    assert prov["data"]["kind"] == "label workbook"
    assert "ssc train scorer" in prov["command"]
    assert "val_mae_mean" in b.spec.evaluation["scorer"]["validation"]
    assert (tmp_path / "bundle.training" / "scorer" / "log.csv").read_text().startswith("epoch,")

    out = tmp_path / "report.xlsx"
    rc = main(["evaluate", "--bundle", str(bundle), *data, "--out", str(out), "--split", "all", "--record"])
    assert rc == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["cases"] == 5
    tot = summary["scores"]["reference levels"]["all"]["TOT"]
    assert tot["n_cases"] == 5
    assert tot["n_obs"] == 25
    assert tot["mae"] is not None
    assert set(summary["level_positions"]) == {"all", "L1", "L2", "L3", "L4", "L5"}
    import openpyxl

    sheets = openpyxl.load_workbook(out, read_only=True).sheetnames
    assert "AI performance" in sheets
    assert "Level positions agreement" in sheets
    recorded = load_bundle(bundle).spec.evaluation["all"]
    assert recorded["headline"]["scorer_tot_mae"] == tot["mae"]


def test_existing_run_needs_resume_or_restart(small_cohort, tmp_path):
    bundle = tmp_path / "b"
    args = [
        "train",
        "levels",
        "--phantoms",
        "5",
        "--phantom-matrix",
        "64",
        "--phantom-spacing",
        "3",
        "--out",
        str(bundle),
        "--epochs",
        "1",
        *tiny_level_args(),
        *SPLIT,
    ]
    assert main(args) == 0
    parsed = build_parser().parse_args(args)
    with pytest.raises(OutputNotEmpty, match="already exists"):
        parsed.func(parsed)  # the error itself, not main's exit code
    assert main([*args, "--restart"]) == 0


def _scorer_opts(tmp_path, epochs: int, *, resume: bool = False, work=None):
    from ssc_core.training.run import DataOptions, TrainOptions
    from ssc_core.training.splits import SplitConfig
    from ssc_core.training.trainer import TrainConfig

    return TrainOptions(
        task="scorer",
        data=DataOptions(
            phantoms=5,
            phantom_seed=3,
            phantom_spacing_mm=3.0,
            phantom_matrix=64,
            cache=tmp_path / "cache",
            split=SplitConfig(0, 0.2, 2),
        ),
        out=tmp_path / f"bundle-{work}",
        work=tmp_path / f"work-{work}",
        config=TrainConfig(epochs=epochs, seed=1),
        arch="convnext_atto",
        input_size=64,
        batch_size=4,
        samples_per_epoch=8,
        texture_variants=1,
        resume=resume,
        device="cpu",
    )


def test_resume_continues_exactly(tmp_path):
    from ssc_core.training.run import train

    quiet = {"log": lambda _m: None}
    straight = train(_scorer_opts(tmp_path, 2, work="a"), **quiet)
    train(_scorer_opts(tmp_path, 1, work="b"), **quiet)
    resumed = train(_scorer_opts(tmp_path, 2, resume=True, work="b"), **quiet)
    assert resumed.weights_sha256 == straight.weights_sha256
    a = load_file(str(tmp_path / "bundle-a" / "scorer.safetensors"))
    b = load_file(str(tmp_path / "bundle-b" / "scorer.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = (tmp_path / "work-b" / "scorer" / "log.csv").read_text().splitlines()
    assert len(log) == 3  # header + one row per epoch, none repeated
    other = _scorer_opts(tmp_path, 3, resume=True, work="b")
    from dataclasses import replace

    with pytest.raises(CheckpointError, match="other data, network or settings"):
        train(replace(other, config=replace(other.config, lr=1e-3)), **quiet)
    assert np.isfinite(resumed.metrics["val_mae_mean"])


def test_time_limit_stops_after_the_epoch_it_passes(tmp_path):
    from dataclasses import replace

    from ssc_core.training.run import train

    quiet = {"log": lambda _m: None}
    limited = _scorer_opts(tmp_path, 3, work="t")
    limited = replace(limited, config=replace(limited.config, time_limit_minutes=0.0))
    stopped = train(limited, **quiet)
    assert stopped.stopped == "time limit"
    spec = json.loads((tmp_path / "bundle-t" / "spec.json").read_text())
    recipe = spec["provenance"]["scorer"]["recipe"]
    assert (recipe["stopped"], recipe["epochs_run"], recipe["time_limit_minutes"]) == ("time limit", 1, 0.0)
    # with the constant schedule, a run stopped at epoch K is a run of K epochs
    one = train(_scorer_opts(tmp_path, 1, work="one"), **quiet)
    assert one.weights_sha256 == stopped.weights_sha256


def test_evaluate_defaults_to_the_test_patients_of_the_bundles_own_cohort(tmp_path, capsys):
    from ssc_core.training.run import train

    train(_scorer_opts(tmp_path, 1, work="e"), log=lambda _m: None)
    bundle = tmp_path / "bundle-e"
    rc = main(["evaluate", "--bundle", str(bundle), "--out", str(tmp_path / "e.xlsx"), "--record"])
    assert rc == 0
    assert "on 1 case(s) (test)" in capsys.readouterr().err  # 5 phantoms, test fraction 0.2
    recorded = json.loads((bundle / "spec.json").read_text())["evaluation"]
    assert "all" not in recorded
    assert recorded["test"]["split"]["part"] == "test"
    assert recorded["test"]["data"]["kind"] == "phantom cohort"

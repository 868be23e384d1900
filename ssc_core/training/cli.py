"""``ssc train scorer|levels`` and ``ssc evaluate``.

Examples::

    ssc train levels --data GohScores.xlsx --scans scans/ --out my-bundle
    ssc train scorer --data GohScores.xlsx --scans scans/ --out my-bundle --arch convnext_tiny --fold 0
    ssc train scorer --data study.sscstudy --session GT --out my-bundle --resume
    torchrun --nproc-per-node 4 -m ssc_core train scorer --data GohScores.xlsx --scans scans/ --out b
    ssc evaluate --bundle my-bundle --data GohScores.xlsx --scans scans/ --split test --out report.xlsx

See docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ssc_core import RESEARCH_USE_NOTICE
from ssc_core.constants import (
    CV_FOLDS,
    SYNTHETIC_SHARE,
    TEST_FRACTION,
    TRAIN_LEARNING_RATE,
    TRAIN_WEIGHT_DECAY,
)


def _add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data (one source)")
    g.add_argument(
        "--data",
        type=Path,
        metavar="FILE",
        help="label workbook in the authors' layout (.xlsx/.csv; needs --scans) or a study file (.sscstudy)",
    )
    g.add_argument("--scans", type=Path, metavar="DIR", help="folder (or list file) of the workbook's scans")
    g.add_argument("--session", metavar="LABEL", help="the study's consensus session (default: the only one)")
    g.add_argument(
        "--phantoms", type=int, metavar="N", help="a phantom cohort of N patients, made in process"
    )
    g.add_argument("--phantom-seed", type=int, default=0, metavar="S", help="seed of the phantom cohort")
    g.add_argument("--phantom-spacing", type=float, default=2.5, metavar="MM", help="phantom slice spacing")
    g.add_argument("--phantom-matrix", type=int, default=512, metavar="PX", help="phantom matrix (pixels)")
    g.add_argument("--skip-bad", action="store_true", help="leave out bad rows and cases instead of stopping")
    s = p.add_argument_group("split")
    s.add_argument(
        "--fold", type=int, default=0, metavar="K", help="cross-validation fold used for validation"
    )
    s.add_argument("--folds", type=int, default=None, metavar="N", help=f"folds (default {CV_FOLDS})")
    s.add_argument(
        "--test-fraction",
        type=float,
        default=None,
        metavar="F",
        help=f"share held out (default {TEST_FRACTION})",
    )
    s.add_argument(
        "--split-seed", type=int, default=None, metavar="S", help="seed of the split (default: --seed)"
    )


def _data_options(args: argparse.Namespace, seed: int, split=None):
    from ssc_core.training.run import DataOptions
    from ssc_core.training.splits import SplitConfig

    workbook = study = None
    if args.data is not None:
        if args.data.suffix.lower() == ".sscstudy":
            study = args.data
        else:
            workbook = args.data
    base = split or SplitConfig(seed)
    cfg = SplitConfig(
        args.split_seed if args.split_seed is not None else base.seed,
        args.test_fraction if args.test_fraction is not None else base.test_fraction,
        args.folds if args.folds is not None else base.n_folds,
    )
    return DataOptions(
        workbook=workbook,
        scans=args.scans,
        study=study,
        session=args.session,
        phantoms=args.phantoms,
        phantom_seed=args.phantom_seed,
        phantom_spacing_mm=args.phantom_spacing,
        phantom_matrix=args.phantom_matrix,
        skip_bad=args.skip_bad,
        cache=getattr(args, "cache", None),
        workers=getattr(args, "workers", 1),
        split=cfg,
        fold=args.fold,
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``evaluate`` to the ``ssc`` parser."""
    p = subparsers.add_parser(
        "train",
        help="train the scorer or the level finder of a model bundle",
        description=(
            "Train one network of a model bundle on labelled scans (a label workbook and its scans, a study "
            "file's consensus session, or a phantom cohort) and write it into the bundle folder, keeping the "
            f"other network. See docs/training.md. {RESEARCH_USE_NOTICE}"
        ),
    )
    p.add_argument("task", choices=("scorer", "levels"), help="which network to train")
    p.add_argument("--out", type=Path, required=True, metavar="BUNDLE_DIR", help="bundle folder to write")
    _add_data_args(p)
    r = p.add_argument_group("recipe (defaults: the paper's)")
    r.add_argument(
        "--arch", help="scorer: convnext_atto..convnext_base; levels: slice_encoder_1d or vgg11_3d"
    )
    r.add_argument("--epochs", type=int, help="epochs (default: scorer 500, levels 200)")
    r.add_argument("--batch-size", type=int, help="samples per step and process (scorer 10; levels 4, vgg 2)")
    r.add_argument("--lr", type=float, default=TRAIN_LEARNING_RATE, help="Adam learning rate")
    r.add_argument("--weight-decay", type=float, default=TRAIN_WEIGHT_DECAY, help="Adam weight decay")
    r.add_argument("--loss", choices=("mse", "l1", "huber"), default="mse", help="regression loss")
    r.add_argument("--schedule", choices=("constant", "cosine"), default="constant", help="learning rate")
    r.add_argument("--warmup", type=float, default=0.0, metavar="EPOCHS", help="linear warm-up")
    r.add_argument("--patience", type=int, metavar="N", help="stop after N validations without improvement")
    r.add_argument("--val-every", type=int, default=1, metavar="N", help="validate every N epochs")
    r.add_argument("--seed", type=int, default=0, help="seed of initialisation, sampling and augmentation")
    r.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        default="auto",
        help="auto: mixed precision on CUDA, fp32 on the CPU",
    )
    r.add_argument(
        "--time-limit",
        type=float,
        metavar="MIN",
        help="stop after the epoch that ends past MIN minutes (the best checkpoint so far is kept)",
    )
    r.add_argument("--deterministic", action="store_true", help="deterministic algorithms only (slower)")
    sc = p.add_argument_group("scorer")
    sc.add_argument("--input-size", type=int, help="scorer input size (default 512)")
    sc.add_argument("--train-size", type=int, help="train at this smaller size (faster; inference stays)")
    sc.add_argument(
        "--synthetic-share", type=float, default=SYNTHETIC_SHARE, help="share of synthetic samples"
    )
    sc.add_argument(
        "--density-weight",
        type=float,
        default=0.0,
        metavar="W",
        help="weight of an auxiliary loss on where the disease is (synthetic masks; 0 = the paper's recipe)",
    )
    sc.add_argument("--samples-per-epoch", type=int, help="samples per epoch (default: real / (1 - share))")
    sc.add_argument(
        "--no-balanced", dest="balanced", action="store_false", help="uniform instead of balanced"
    )
    sc.add_argument(
        "--gg-patch",
        type=Path,
        action="append",
        default=[],
        metavar="IMG",
        help="ground-glass texture patch (repeatable; default: procedural)",
    )
    sc.add_argument(
        "--ret-patch",
        type=Path,
        action="append",
        default=[],
        metavar="IMG",
        help="reticulation texture patch (repeatable; default: procedural)",
    )
    sc.add_argument("--texture-variants", type=int, default=6, help="procedural textures per pattern")
    sc.add_argument(
        "--backgrounds",
        type=Path,
        action="append",
        default=[],
        metavar="SCAN",
        help="extra normal-lung scans whose slices serve as synthesis backgrounds (repeatable)",
    )
    sc.add_argument(
        "--pretrained",
        type=Path,
        metavar="FILE",
        help="ImageNet weights (.safetensors) for the scorer; the stem and head start fresh",
    )
    lv = p.add_argument_group("level finder")
    lv.add_argument("--slice-size", type=int, help="fast finder: in-plane size of the reduced slices")
    lv.add_argument("--widths", help="fast finder: encoder widths, e.g. 16,32,64,96")
    lv.add_argument("--resampled", help="vgg11_3d: resampled grid z,y,x (default 256,256,256)")
    lv.add_argument("--window", type=int, help="vgg11_3d: crop / window length (default 192)")
    o = p.add_argument_group("run")
    o.add_argument(
        "--work", type=Path, metavar="DIR", help="checkpoints, logs, cache (default BUNDLE_DIR.training)"
    )
    o.add_argument("--cache", type=Path, metavar="DIR", help="preprocessing cache (default WORK/cache)")
    o.add_argument("--workers", type=int, default=2, help="processes preparing cases")
    o.add_argument("--resume", action="store_true", help="continue the run in the work folder")
    o.add_argument(
        "--restart", action="store_true", help="discard the run in the work folder and start afresh"
    )
    o.add_argument(
        "--finetune",
        action="store_true",
        help="start from this network's weights in the bundle (e.g. on your own data, or at the full size "
        "after training at a smaller --train-size)",
    )
    o.add_argument("--device", help="auto, cpu, cuda or cuda:N (under torchrun: each process's GPU)")
    o.add_argument("--name", help="display name of the bundle")
    o.add_argument("--description", help="description of the bundle")
    p.set_defaults(func=_run_train)

    e = subparsers.add_parser(
        "evaluate",
        help="evaluate a model bundle against reference labels (the paper's tables)",
        description=(
            "Run a bundle on labelled scans and compare with the labels: MAE with SD, weighted kappa and "
            "ICC(2,1) per pattern, per level and over all levels, level MAE in mm and ICC per level; "
            f"written as a workbook and a JSON summary. {RESEARCH_USE_NOTICE}"
        ),
    )
    e.add_argument("--bundle", type=Path, help="bundle folder (default: the demo bundle)")
    e.add_argument("--out", type=Path, required=True, metavar="REPORT.xlsx", help="workbook to write")
    e.add_argument("--json", type=Path, metavar="FILE", help="JSON summary (default: beside the workbook)")
    _add_data_args(e)
    e.add_argument(
        "--split",
        choices=("all", "test", "val", "train", "development"),
        default=None,
        help="which cases: all, or a part of the split recorded in the bundle (default: test when no data is "
        "given and the bundle's own phantom cohort is used, else all)",
    )
    e.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    e.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    e.add_argument("--record", action="store_true", help="record the figures in the bundle's spec")
    e.set_defaults(func=_run_evaluate)


def _level_params(args: argparse.Namespace) -> dict:
    out: dict = {}
    if args.slice_size:
        out["slice_size"] = args.slice_size
    if args.widths:
        out["widths"] = tuple(int(v) for v in args.widths.split(","))
    if args.resampled:
        out["resampled_shape"] = tuple(int(v) for v in args.resampled.split(","))
    if args.window:
        out["window_slices"] = args.window
    return out


def _command(argv: list[str]) -> str:
    """The command line as typed, with paths reduced to their last part (they may name patients)."""
    parts = ["ssc"]
    for a in argv:
        parts.append(Path(a).name if ("/" in a or "\\" in a) else a)
    return shlex.join(parts)


def _run_train(args: argparse.Namespace) -> int:
    from ssc_core.training.run import TrainOptions, train
    from ssc_core.training.trainer import TrainConfig

    epochs = args.epochs or (500 if args.task == "scorer" else 200)
    config = TrainConfig(
        epochs=epochs,
        lr=args.lr,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        warmup_epochs=args.warmup,
        patience=args.patience,
        precision=args.precision,
        seed=args.seed,
        val_every=args.val_every,
        deterministic=args.deterministic,
        time_limit_minutes=args.time_limit,
    )
    opts = TrainOptions(
        task=args.task,
        data=_data_options(args, args.seed),
        out=args.out,
        config=config,
        work=args.work,
        arch=args.arch,
        batch_size=args.batch_size,
        loss=args.loss,
        device=args.device,
        resume=args.resume,
        restart=args.restart,
        finetune=args.finetune,
        name=args.name,
        description=args.description,
        command=_command(getattr(args, "argv", sys.argv[1:])),
        input_size=args.input_size,
        train_size=args.train_size,
        density_weight=args.density_weight,
        synthetic_share=args.synthetic_share,
        samples_per_epoch=args.samples_per_epoch,
        balanced=args.balanced,
        gg_patches=tuple(args.gg_patch),
        ret_patches=tuple(args.ret_patch),
        texture_variants=args.texture_variants,
        backgrounds=tuple(args.backgrounds),
        pretrained=args.pretrained,
        level_params=_level_params(args),
    )
    result = train(opts, log=lambda m: print(m, file=sys.stderr))
    if result.world_size > 1:
        # every process reports the digest of its weights: they must agree
        print(f"rank {result.rank}/{result.world_size}: weights sha256 {result.weights_sha256}")
        if result.rank != 0:
            return 0
    if result.problems:
        print(f"{len(result.problems)} case(s) were left out (--skip-bad).", file=sys.stderr)
    shown = {k: round(v, 3) for k, v in result.metrics.items()}
    print(
        f"{result.task}: best epoch {result.best_epoch} ({result.stopped}); validation {json.dumps(shown)}; "
        f"bundle {result.bundle}"
    )
    print(RESEARCH_USE_NOTICE)
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from ssc_core.ai.bundle import default_bundle_path, read_spec
    from ssc_core.training.evaluate import evaluate_bundle, headline, write_evaluation
    from ssc_core.training.run import collect_cases, split_cases
    from ssc_core.training.sources import report_problems
    from ssc_core.training.splits import SplitConfig

    bundle = args.bundle or default_bundle_path()
    spec = read_spec(bundle)
    split = None
    recorded_data: dict = {}
    for role in ("scorer", "level_finder"):
        prov = spec.provenance.get(role)
        if isinstance(prov, dict) and prov.get("split"):
            split = SplitConfig.from_json(prov["split"])
            recorded_data = prov.get("data") or {}
            break
    if args.data is None and args.phantoms is None and recorded_data.get("kind") == "phantom cohort":
        # the phantom cohort the bundle was trained on (its test part is held out from training)
        args.phantoms = int(recorded_data["patients"])
        args.phantom_seed = int(recorded_data["cohort_seed"])
        args.phantom_spacing = float(recorded_data["slice_spacing_mm"])
        args.phantom_matrix = int(recorded_data["matrix"])
        if args.split is None:
            args.split = "test"  # the cohort's other patients trained or selected the networks
    if args.split is None:
        args.split = "all"
    data = _data_options(args, args.seed, split)
    collection = collect_cases(data)
    report_problems(list(collection.problems), skip_bad=args.skip_bad, what="evaluation data")
    cases = list(collection.cases)
    if args.split != "all":
        keys = set(split_cases(collection, data.split).part(args.split, data.fold))
        cases = [c for c in cases if c.key in keys]
    print(f"Evaluating '{spec.display_name}' on {len(cases)} case(s) ({args.split}).", file=sys.stderr)
    evaluation = evaluate_bundle(bundle, cases, device=args.device)
    report_problems(list(evaluation.problems), skip_bad=args.skip_bad, what="evaluation cases")
    xlsx, js = write_evaluation(evaluation, args.out, args.json)
    head = headline(evaluation.summary)
    print(json.dumps(head, indent=1))
    if args.record:
        from ssc_core.ai.bundle import update_bundle

        record = {
            "data": collection.description,
            "split": {**data.split.to_json(), "part": args.split, "fold": data.fold},
            "headline": head,
            **evaluation.summary,
        }
        record.pop("bundle_hash", None)  # the hash changes when the spec is rewritten
        update_bundle(bundle, evaluation={"test" if args.split == "test" else args.split: record})
        print(f"Recorded in {bundle}/spec.json", file=sys.stderr)
    print(f"Wrote {xlsx} and {js}. {RESEARCH_USE_NOTICE}")
    return 0

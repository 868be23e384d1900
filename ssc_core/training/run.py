"""``ssc train``: from a data source to a bundle, one network at a time.

:func:`train` is what the command line runs (and what a GUI or a script can call): collect the cases and
check them (every problem reported before anything is trained; ``skip_bad`` leaves the bad ones out),
preprocess them (cached), split them (fixed test set, k-fold cross-validation, seeded), train the network
with :class:`~ssc_core.training.trainer.Trainer`, and write it into the bundle folder, keeping the other
network of a bundle already there. The bundle's spec records the training's provenance (data, split,
recipe, code and library versions, the command) and the validation figures of the chosen checkpoint.

The run's own files live in a *work folder* beside the bundle (``BUNDLE.training`` by default): the
preprocessing cache, and per network the checkpoints, the CSV log and the split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ssc_core.constants import (
    SCORER_BATCH_SIZE,
    SCORER_INPUT_SIZE,
    SYNTHETIC_SHARE,
)
from ssc_core.errors import OutputNotEmpty, TrainingDataError
from ssc_core.progress import CancelToken, ProgressCallback
from ssc_core.training.augment import AffineRanges
from ssc_core.training.data import CaseCollection, TrainingCase
from ssc_core.training.prepare import (
    PART_LEVELS,
    PART_SCORER,
    CaseArrays,
    PrepConfig,
    background_slices,
    prepare_cases,
)
from ssc_core.training.sources import phantom_cases, report_problems, study_cases, workbook_cases
from ssc_core.training.splits import SplitConfig, Splits, make_splits
from ssc_core.training.synthesis import SynthesisConfig
from ssc_core.training.trainer import TrainConfig

#: Public data sets used as synthesis backgrounds, by folder name: what the spec records about them.
KNOWN_BACKGROUNDS = {
    "tcia-pancreas-ct-001": "TCIA Pancreatic-CT-CBCT-SEG, patient Pancreas-CT-CB_001 (CC BY 4.0)",
    "LIDC-IDRI-0001": "TCIA LIDC-IDRI, LIDC-IDRI-0001 (CC BY 3.0)",
    "LIDC-IDRI-0002": "TCIA LIDC-IDRI, LIDC-IDRI-0002 (CC BY 3.0)",
    "LIDC-IDRI-0003": "TCIA LIDC-IDRI, LIDC-IDRI-0003 (CC BY 3.0)",
}


@dataclass(frozen=True)
class DataOptions:
    """Where the cases come from and how they are split."""

    workbook: Path | None = None
    scans: Path | None = None
    study: Path | None = None
    session: str | None = None
    phantoms: int | None = None
    phantom_seed: int = 0
    phantom_spacing_mm: float = 2.5
    phantom_matrix: int = 512
    skip_bad: bool = False
    cache: Path | None = None
    workers: int = 1
    split: SplitConfig = field(default_factory=SplitConfig)
    fold: int = 0


@dataclass(frozen=True)
class TrainOptions:
    """Everything ``ssc train`` takes (see ``ssc train --help``)."""

    task: str  # "scorer" or "levels"
    data: DataOptions
    out: Path
    config: TrainConfig
    work: Path | None = None
    arch: str | None = None
    batch_size: int | None = None
    loss: str = "mse"
    device: str | None = None
    resume: bool = False
    restart: bool = False
    #: Start from the weights of this network in the bundle ``out`` (fine-tuning) instead of afresh.
    finetune: bool = False
    name: str | None = None
    description: str | None = None
    command: str = ""
    # scorer
    input_size: int | None = None
    train_size: int | None = None
    #: Weight of the scorer's auxiliary density loss (0 = the paper's recipe; see scorer_task.DensityHead).
    density_weight: float = 0.0
    synthetic_share: float = SYNTHETIC_SHARE
    samples_per_epoch: int | None = None
    balanced: bool = True
    gg_patches: tuple[Path, ...] = ()
    ret_patches: tuple[Path, ...] = ()
    texture_variants: int = 6
    backgrounds: tuple[Path, ...] = ()
    pretrained: Path | None = None
    synthesis: SynthesisConfig = field(default_factory=SynthesisConfig)
    augment: AffineRanges = field(default_factory=AffineRanges)
    # level finder
    level_params: dict[str, Any] = field(default_factory=dict)

    @property
    def work_dir(self) -> Path:
        return self.work if self.work is not None else self.out.parent / f"{self.out.name}.training"


@dataclass(frozen=True)
class TrainReport:
    """What a run did: where it wrote, how many cases, the chosen epoch and its validation figures."""

    bundle: Path
    task: str
    n_train: int
    n_val: int
    n_test: int
    best_epoch: int | None
    metrics: dict[str, float]
    stopped: str
    problems: tuple[str, ...]
    #: SHA-256 over the chosen weights (equal in every process of a distributed run).
    weights_sha256: str = ""
    rank: int = 0
    world_size: int = 1


# --- data ------------------------------------------------------------------------------------------------


def collect_cases(data: DataOptions) -> CaseCollection:
    """The cases of the chosen source (exactly one of workbook + scans, study, phantoms)."""
    chosen = [data.workbook is not None, data.study is not None, data.phantoms is not None]
    if sum(chosen) != 1:
        raise TrainingDataError(
            "Give exactly one data source: --data WORKBOOK with --scans DIR, --study FILE, or --phantoms N."
        )
    if data.workbook is not None:
        if data.scans is None:
            raise TrainingDataError("A label workbook needs --scans: the folder (or list file) of its scans.")
        return workbook_cases(data.workbook, data.scans)
    if data.study is not None:
        return study_cases(data.study, data.session)
    assert data.phantoms is not None
    return phantom_cases(
        data.phantoms, data.phantom_seed, slice_spacing_mm=data.phantom_spacing_mm, matrix=data.phantom_matrix
    )


def split_cases(collection: CaseCollection, config: SplitConfig) -> Splits:
    """The fixed test set and folds over the collection's cases (stratified by Goh class)."""
    keys = [c.key for c in collection.cases]
    return make_splits(keys, config, {c.key: c.stratum for c in collection.cases})


def load_arrays(
    cases: list[TrainingCase],
    prep: PrepConfig,
    data: DataOptions,
    work_dir: Path,
    *,
    dist: Any,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[list[CaseArrays], list[str]]:
    """Preprocess (process 0 first, filling the cache; then the others read it) and report problems."""
    from ssc_core.training.distributed import barrier, broadcast_object

    cache = data.cache if data.cache is not None else work_dir / "cache"
    arrays: list[CaseArrays] = []
    problems: list[Any] = []
    if dist.is_main:
        arrays, problems = prepare_cases(
            cases, prep, cache_dir=cache, workers=data.workers, progress=progress, cancel=cancel
        )
    barrier(dist)
    if not dist.is_main:
        arrays, problems = prepare_cases(cases, prep, cache_dir=cache, workers=1)
    problems = broadcast_object(dist, problems)
    report_problems(problems, skip_bad=data.skip_bad, what="training cases")
    return arrays, [str(p) for p in problems]


# --- specs -----------------------------------------------------------------------------------------------


def _existing_spec(out: Path):
    from ssc_core.ai.bundle import read_spec
    from ssc_core.ai.spec import SPEC_FILE

    return read_spec(out) if (out / SPEC_FILE).is_file() else None


def scorer_spec_for(opts: TrainOptions):
    from ssc_core.ai.spec import ScorerSpec

    old = _existing_spec(opts.out)
    arch = opts.arch or (old.scorer.architecture if old is not None else "convnext_tiny")
    size = opts.input_size or (old.scorer.input_size if old is not None else SCORER_INPUT_SIZE)
    spec = ScorerSpec(arch, input_size=size)
    spec.validate()
    return spec


def level_spec_for(opts: TrainOptions):
    from ssc_core.ai.spec import LEVEL_FINDER_ARCHITECTURES, LevelFinderSpec

    old = _existing_spec(opts.out)
    arch = opts.arch or (old.level_finder.architecture if old is not None else "slice_encoder_1d")
    if arch not in LEVEL_FINDER_ARCHITECTURES:
        raise TrainingDataError(
            f"Unknown level-finder architecture '{arch}' (known: {', '.join(LEVEL_FINDER_ARCHITECTURES)})."
        )
    params_type = LEVEL_FINDER_ARCHITECTURES[arch]
    if old is not None and old.level_finder.architecture == arch and not opts.level_params:
        params = old.level_finder.params
    else:
        try:
            params = params_type(**_tupled(opts.level_params))
        except TypeError as exc:
            raise TrainingDataError(f"Bad level-finder parameter: {exc}.") from None
    spec = LevelFinderSpec(arch, params)
    spec.validate()
    return spec


def _specs_and_prep(opts: TrainOptions):
    """The spec of the network to train, and what to preprocess: its input, plus the other network's
    input when that is cheap (so that training the other network later finds it in the cache)."""
    from ssc_core.ai.spec import LevelFinderSpec, ScorerSpec

    old = _existing_spec(opts.out)
    if opts.task == "scorer":
        spec = scorer_spec_for(opts)
        other = old.level_finder if old is not None else LevelFinderSpec()
        prep = PrepConfig(
            scorer_size=spec.input_size,
            scorer_clip=(spec.normalization.hu_min, spec.normalization.hu_max),
            level_finder=other if other.architecture == "slice_encoder_1d" else None,
            required=(PART_SCORER,),
        )
        return spec, prep
    spec = level_spec_for(opts)
    scorer = old.scorer if old is not None else ScorerSpec()
    prep = PrepConfig(
        scorer_size=scorer.input_size,
        scorer_clip=(scorer.normalization.hu_min, scorer.normalization.hu_max),
        level_finder=spec,
        required=(PART_LEVELS,),
    )
    return spec, prep


def _tupled(d: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def _new_bundle_spec(opts: TrainOptions):
    from ssc_core.ai.spec import BundleSpec

    return BundleSpec(display_name=opts.name or f"Bundle trained {datetime.now(timezone.utc):%Y-%m-%d}")


# --- provenance --------------------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    import timm
    import torch

    from ssc_core import __version__

    out = {
        "ssc_core": __version__,
        "torch": torch.__version__,
        "timm": timm.__version__,
        "numpy": np.__version__,
    }
    out["python"] = platform.python_version()
    try:
        import subprocess

        root = Path(__file__).resolve().parents[2]
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
        if commit:
            out["git_commit"] = commit
            dirty = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
            if dirty:
                out["git_dirty"] = "yes"
    except (OSError, ValueError):
        pass
    return out


def state_digest(state: dict[str, Any]) -> str:
    """SHA-256 over a state dict's names, shapes and bytes."""
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}|{tuple(t.shape)}|{t.dtype}".encode())
        h.update(
            t.numpy().tobytes() if t.dtype != __import__("torch").bfloat16 else t.float().numpy().tobytes()
        )
    return h.hexdigest()


def fingerprint_of(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return obj.name
    return obj


def _background_notes(paths: tuple[Path, ...]) -> list[str]:
    return [KNOWN_BACKGROUNDS.get(p.name, p.name) for p in paths]


# --- the run -----------------------------------------------------------------------------------------------


def train(
    opts: TrainOptions,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    log: Callable[[str], None] = print,
) -> TrainReport:
    """Train one network of the bundle ``opts.out`` (see the module docstring)."""
    from ssc_core.training.distributed import init_distributed, shutdown

    if opts.task not in ("scorer", "levels"):
        raise ValueError(f"unknown task {opts.task!r}")
    dist, device = init_distributed(opts.device)
    try:
        return _train(opts, dist, device, progress, cancel, log if dist.is_main else (lambda _m: None))
    finally:
        shutdown(dist)


def _train(opts: TrainOptions, dist, device, progress, cancel, log) -> TrainReport:
    from ssc_core.training.trainer import Trainer

    work = opts.work_dir / ("scorer" if opts.task == "scorer" else "levels")
    if dist.is_main:
        if (work / "last.json").is_file() and not (opts.resume or opts.restart):
            raise OutputNotEmpty(
                f"A {opts.task} training run already exists in '{work}'.",
                hint="Continue it with --resume, or start afresh with --restart.",
            )
        if opts.restart:
            from ssc_core.training.checkpoint import remove_checkpoints

            remove_checkpoints(work)
        work.mkdir(parents=True, exist_ok=True)
    collection = collect_cases(opts.data)
    report_problems(list(collection.problems), skip_bad=opts.data.skip_bad, what="training data")
    splits = split_cases(collection, opts.data.split)
    train_keys, val_keys = splits.train_val(opts.data.fold)
    wanted = set(train_keys) | set(val_keys)
    cases = [c for c in collection.cases if c.key in wanted]
    spec, prep = _specs_and_prep(opts)
    log(
        f"{len(collection.cases)} case(s): {len(train_keys)} training, {len(val_keys)} validation (fold "
        f"{opts.data.fold} of {opts.data.split.n_folds}), {len(splits.test)} held out for testing."
    )
    arrays, problems = load_arrays(
        cases, prep, opts.data, opts.work_dir, dist=dist, progress=progress, cancel=cancel
    )
    for p in problems:
        log(f"skipped: {p}")
    by_key = {a.key: a for a in arrays}
    train_arrays = [by_key[k] for k in train_keys if k in by_key]
    val_arrays = [by_key[k] for k in val_keys if k in by_key]
    if not train_arrays:
        raise TrainingDataError("No usable training case is left.")
    if dist.is_main:
        (work / "splits.json").write_text(
            json.dumps(
                {
                    "split": splits.config.to_json(),
                    "fold": opts.data.fold,
                    "test": list(splits.test),
                    "folds": [list(f) for f in splits.folds],
                },
                indent=1,
            ),
            encoding="utf-8",
        )
    task, recipe_json, extra = _make_task(opts, spec, train_arrays, val_arrays, device)
    init_state, init_info = _finetune_start(opts, spec)
    if init_state is not None and hasattr(task, "import_state"):
        init_state = task.import_state(init_state)
    if init_info:
        recipe_json = {**recipe_json, "finetuned_from": init_info}
    fingerprint = fingerprint_of(
        {
            "task": opts.task,
            "spec": _jsonable(spec),
            "data": collection.description,
            "split": splits.config.to_json(),
            "fold": opts.data.fold,
            "recipe": recipe_json,
            "lr": opts.config.lr,
            "weight_decay": opts.config.weight_decay,
            "schedule": opts.config.schedule,
            "seed": opts.config.seed,
        }
    )
    trainer = Trainer(
        task,
        opts.config,
        work,
        dist=dist,
        device=device,
        fingerprint=fingerprint,
        progress=progress,
        cancel=cancel,
        log=log,
        init_state=init_state,
    )
    result = trainer.fit(resume=opts.resume)
    # the weights as the bundle holds them (the scorer trains on fractions; the bundle outputs percent)
    final = task.export_state(result.best_state) if hasattr(task, "export_state") else result.best_state
    best = next((h for h in result.state.history if h.get("epoch") == result.state.best_epoch), {})
    metrics = {k: float(v) for k, v in best.items() if k.startswith("val_") and np.isfinite(v)}
    if dist.is_main:
        _write_bundle(
            opts,
            spec,
            result,
            final,
            collection,
            splits,
            recipe_json,
            metrics,
            extra,
            len(train_arrays),
            len(val_arrays),
            device,
            dist,
        )
        log(f"Wrote the {opts.task} into the bundle '{opts.out}'.")
    return TrainReport(
        opts.out,
        opts.task,
        len(train_arrays),
        len(val_arrays),
        len(splits.test),
        result.state.best_epoch,
        metrics,
        result.stopped,
        tuple(problems),
        state_digest(final),
        dist.rank,
        dist.world_size,
    )


def _finetune_start(opts: TrainOptions, spec) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """With ``finetune``: the bundle's current weights of the network (which must fit ``spec``)."""
    if not opts.finetune:
        return None, None
    from ssc_core.ai.bundle import load_bundle
    from ssc_core.ai.networks import check_state_dict

    old = load_bundle(opts.out)
    role = "scorer" if opts.task == "scorer" else "level_finder"
    net = old.scorer_net if role == "scorer" else old.level_finder_net
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    if getattr(old.spec, role) != dataclasses.replace(spec, weights=getattr(old.spec, role).weights):
        raise TrainingDataError(
            f"Fine-tuning needs the {role.replace('_', ' ')} of the bundle as it is; "
            "leave out the options that change its architecture or input size."
        )
    check_state_dict(_build(spec), state, role.replace("_", " "))
    previous = old.spec.provenance.get(role)
    return state, {"bundle": old.display_name, "bundle_hash": old.hash, "previous": previous}


def _build(spec):
    from ssc_core.ai.networks import build_network

    return build_network(spec)


def _make_task(opts: TrainOptions, spec, train_arrays, val_arrays, device):
    """The task object, the recipe as JSON (for the fingerprint and provenance), and extras for the bundle."""
    extra: dict[str, Any] = {}
    if opts.task == "levels":
        from ssc_core.training.levels_task import FAST_FINDER_AUGMENT, LevelsTask

        batch = opts.batch_size or (2 if spec.architecture == "vgg11_3d" else 4)
        task: Any = LevelsTask(
            spec,
            train_arrays,
            val_arrays,
            batch_size=batch,
            seed=opts.config.seed,
            device=device,
            loss=opts.loss,
        )
        recipe = {
            "batch_size": batch,
            "loss": opts.loss if spec.architecture == "vgg11_3d" else "soft-target cross-entropy",
            "samples": "random 192-slice crops of the 256-resampled scan"
            if spec.architecture == "vgg11_3d"
            else "random z-crops (60-100 % of the scan) of the stack of reduced slices",
            "augmentation": None if spec.architecture == "vgg11_3d" else _jsonable(FAST_FINDER_AUGMENT),
        }
        return task, recipe, extra
    from ssc_core.training.scorer_task import ScorerRecipe, ScorerTask
    from ssc_core.training.synthesis import texture_bank

    recipe_obj = ScorerRecipe(
        batch_size=opts.batch_size or SCORER_BATCH_SIZE,
        samples_per_epoch=opts.samples_per_epoch,
        synthetic_share=opts.synthetic_share,
        balanced=opts.balanced,
        synthesis=opts.synthesis,
        augment=opts.augment,
        train_size=opts.train_size,
        loss=opts.loss,
        density_weight=opts.density_weight,
    )
    bank = None
    if opts.synthetic_share > 0:
        bank = texture_bank(
            gg_patches=opts.gg_patches,
            ret_patches=opts.ret_patches,
            seed=opts.config.seed,
            variants=opts.texture_variants,
        )
    backgrounds = None
    if opts.backgrounds:
        cache = opts.data.cache if opts.data.cache is not None else opts.work_dir / "cache"
        backgrounds = background_slices(
            opts.backgrounds,
            spec.input_size,
            clip=(spec.normalization.hu_min, spec.normalization.hu_max),
            cache_dir=cache,
        )
    scorer_task = ScorerTask(
        spec,
        train_arrays,
        val_arrays,
        recipe_obj,
        bank,
        backgrounds,
        seed=opts.config.seed,
        device=device,
        pretrained=str(opts.pretrained) if opts.pretrained else None,
    )
    recipe = {
        "batch_size": recipe_obj.batch_size,
        "loss": opts.loss,
        "density_weight": opts.density_weight,
        "samples": "each level slice and its neighbours on either side, with the level's label",
        "balanced_sampling": "probability inversely proportional to the frequency of the TOT value"
        if opts.balanced
        else None,
        "samples_per_epoch": scorer_task.epoch_size(1),
        "synthetic_share": scorer_task.synthetic_share,
        "synthesis": opts.synthesis.to_json(),
        "textures": bank.describe() if bank is not None else None,
        "backgrounds": {
            "healthy_training_slices": int((scorer_task.tot == 0).sum()),
            "extra_scans": _background_notes(opts.backgrounds),
            "extra_slices": 0 if backgrounds is None else int(backgrounds.hu.shape[0]),
        },
        "augmentation": _jsonable(opts.augment),
        "train_size": opts.train_size or spec.input_size,
        "pretrained": opts.pretrained.name if opts.pretrained else None,
    }
    extra["healthy"] = list(train_arrays)
    return scorer_task, recipe, extra


def healthy_patch(arrays: list[CaseArrays], patch: int) -> tuple[np.ndarray, str] | None:
    """A ``patch`` x ``patch`` HU cut-out of healthy lung (for heat maps), from a TOT = 0 level slice.

    The window is centred on the lung pixel farthest from the lung's edge of the slice with the most lung,
    so it lies inside the lung.
    """
    from scipy.ndimage import distance_transform_edt

    best = None
    for a in arrays:
        if a.hu is None or a.lung is None or a.centre is None:
            continue
        labels = a.sample_labels()
        for j in np.flatnonzero(a.centre & (labels[:, 0] == 0)):
            area = int(a.lung[j].sum())
            if best is None or area > best[0]:
                best = (area, a, int(j))
    if best is None:
        return None
    _, a, i = best
    assert a.lung is not None
    assert a.hu is not None
    assert a.sample_level is not None
    dist = distance_transform_edt(a.lung[i])
    cy, cx = np.unravel_index(int(np.argmax(dist)), dist.shape)
    h, w = a.lung[i].shape
    y0 = int(np.clip(cy - patch // 2, 0, h - patch))
    x0 = int(np.clip(cx - patch // 2, 0, w - patch))
    cut = a.hu[i, y0 : y0 + patch, x0 : x0 + patch].astype(np.float32)
    source = (
        f"training case {a.key}, level L{int(a.sample_level[i])} slice, rows {y0}-{y0 + patch - 1}, "
        f"columns {x0}-{x0 + patch - 1} (healthy, TOT 0)"
    )
    return cut, source


def _write_bundle(
    opts, spec, result, weights, collection, splits, recipe, metrics, extra, n_train, n_val, device, dist
):
    from ssc_core import RESEARCH_USE_NOTICE
    from ssc_core.ai.bundle import update_bundle

    role = "scorer" if opts.task == "scorer" else "level_finder"
    provenance = {
        "trained_with": f"ssc train {opts.task}",
        "command": opts.command,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": _versions(),
        "device": str(device.type),
        "processes": dist.world_size,
        "precision": result.precision,
        "data": collection.description,
        "cases": {"train": n_train, "validation": n_val, "test": len(splits.test)},
        "split": {**splits.config.to_json(), "fold": opts.data.fold, "stratified_by": "Goh class"},
        "recipe": {
            **recipe,
            "optimizer": "Adam",
            "lr": opts.config.lr,
            "weight_decay": opts.config.weight_decay,
            "schedule": opts.config.schedule,
            "warmup_epochs": opts.config.warmup_epochs,
            "epochs_max": opts.config.epochs,
            "epochs_run": result.state.epoch,
            "best_epoch": result.state.best_epoch,
            "stopped": result.stopped,
            "patience": opts.config.patience,
            "time_limit_minutes": opts.config.time_limit_minutes,
            "seed": opts.config.seed,
            "selection": "lowest validation MAE",
        },
    }
    evaluation = {role: {"validation": {"cases": n_val, **metrics}}}
    old = _existing_spec(opts.out)
    texture = None
    texture_source = None
    if role == "scorer" and (old is None or old.heatmap.texture is None):
        cut = healthy_patch(extra.get("healthy", []), (old or _new_bundle_spec(opts)).heatmap.patch)
        if cut is not None:
            texture, texture_source = cut
    kwargs: dict[str, Any] = {f"{role}_spec": spec, role: weights}
    update_bundle(
        opts.out,
        base=_new_bundle_spec(opts),
        texture_hu=texture,
        texture_source=texture_source,
        provenance={role: provenance, "notice": RESEARCH_USE_NOTICE},
        evaluation=evaluation,
        display_name=opts.name,
        description=opts.description,
        seed=opts.config.seed,
        **kwargs,
    )

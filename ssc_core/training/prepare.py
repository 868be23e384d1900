"""Preprocessing of training cases into compact arrays, in worker processes, with an on-disk cache.

Loading a DICOM series takes seconds and generating a phantom a few; training then needs only a few slices
of each scan. Each case is therefore reduced once, in a pool of worker processes, to a
:class:`CaseArrays`:

* **scorer samples**: each level's slice and its ``neighbours`` on either side (the paper: one), in HU at
  the scorer's input size (as int16), with their classical lung masks (for data synthesis);
* **level-finder input**, exactly as inference computes it (:mod:`ssc_core.ai.preprocess`): the fast
  finder's stack of reduced slices every ``z_step_mm``, or the paper's 256-resampled volume, as float16,
  with its z axis; and the original slice positions.

Every check that needs the scan is made here and reported per case: an unreadable scan, a level outside
the scan, a level slice that shows no lung. The arrays go to ``cache_dir`` as safetensors files (raw
tensors and JSON metadata, nothing executable) keyed by the scan files' identity, the level positions and
the preprocessing settings, so a second run (the other network, a resume, another fold) starts at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ssc_core.constants import LEVELS, MIN_LUNG_FRACTION, SCORER_NEIGHBOURS, SYNTHESIS_MIN_LUNG_FRACTION
from ssc_core.errors import Cancelled, LoadError, SSCError
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report
from ssc_core.training.data import CaseLabels, DataProblem, TrainingCase, path_identity

if TYPE_CHECKING:
    from ssc_core.ai.spec import LevelFinderSpec

#: Version of the cached arrays; bump when preprocessing changes.
CACHE_VERSION = 1


#: The parts of a case's preprocessing, cached separately.
PART_SCORER = "scorer"
PART_LEVELS = "levels"


@dataclass(frozen=True)
class PrepConfig:
    """What to compute for each case: the scorer samples, a level finder's input, or both.

    ``required`` names the parts this run needs; a part that is configured but not required is computed
    too when the scan is loaded anyway (a few tenths of a second per case), so that training the other
    network later finds it in the cache; its problems do not count against the case.
    """

    scorer_size: int | None = None
    scorer_clip: tuple[float, float] = (-1500.0, 1500.0)
    neighbours: int = SCORER_NEIGHBOURS
    #: The level finder whose input to compute (its weights are irrelevant), or None.
    level_finder: LevelFinderSpec | None = None
    required: tuple[str, ...] = (PART_SCORER,)

    @property
    def parts(self) -> tuple[str, ...]:
        out = []
        if self.scorer_size is not None:
            out.append(PART_SCORER)
        if self.level_finder is not None:
            out.append(PART_LEVELS)
        return tuple(out)

    def digest(self, part: str, labels: CaseLabels | None) -> str:
        """Cache digest of one part (the scorer's samples depend on the level positions too)."""
        if part == PART_SCORER:
            z = labels.to_json()["level_z"] if labels is not None else None
            obj: dict[str, Any] = {
                "size": self.scorer_size,
                "clip": list(self.scorer_clip),
                "neighbours": self.neighbours,
                "z": z,
            }
        else:
            assert self.level_finder is not None
            obj = {"lf": dataclasses.asdict(dataclasses.replace(self.level_finder, weights=None))}
        text = json.dumps(
            {"v": CACHE_VERSION, "code": _code_digest(), "part": part, **obj}, sort_keys=True, default=str
        )
        return hashlib.sha256(text.encode()).hexdigest()


_CODE_DIGEST: str | None = None


def _code_digest() -> str:
    """SHA-256 of the code that makes the cached arrays (lung mask, network input), so that a change to
    either invalidates the cache instead of training on stale inputs."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        import ssc_core.ai.preprocess
        import ssc_core.imaging.lung_mask

        h = hashlib.sha256()
        for module in (ssc_core.imaging.lung_mask, ssc_core.ai.preprocess):
            h.update(Path(str(module.__file__)).read_bytes())
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


@dataclass(frozen=True, eq=False)
class CaseArrays:
    """One case, preprocessed (see the module docstring). Arrays absent when not asked for are None."""

    key: str
    where: str
    labels: CaseLabels
    slice_z: np.ndarray  # original slice positions (mm), float64
    hu: np.ndarray | None = None  # (n, S, S) int16
    lung: np.ndarray | None = None  # (n, S, S) bool
    sample_level: np.ndarray | None = None  # (n,) int8: level number of each scorer sample
    centre: np.ndarray | None = None  # (n,) bool: the level's own slice (not a neighbour)
    lf_input: np.ndarray | None = None  # fast: (N, s, s); vgg11_3d: (D, H, W); float16 in [0, 1]
    lf_axis: tuple[float, float, int] | None = None  # first_z, step_z, n of the level finder's z grid

    def sample_labels(self) -> np.ndarray:
        """(n, 3) float32: (TOT, GG, RET) of each scorer sample (its level's label)."""
        assert self.sample_level is not None
        rows = [self.labels.score_vector(LEVELS[int(lv) - 1]) for lv in self.sample_level]
        return np.asarray(rows, dtype=np.float32).reshape(-1, 3)


# --- one case ------------------------------------------------------------------------------------------


def _resize_hu(slices: np.ndarray, size: int, clip: tuple[float, float]) -> np.ndarray:
    """HU slices (n, H, W) -> (n, size, size) int16, resized as the scorer's input is (normalise, resize).

    Normalising first and resizing second is what inference does; the result is mapped back to HU so that
    synthesis can work in HU. A slice already at ``size`` is returned unchanged.
    """
    if slices.shape[-2:] == (size, size):
        return slices.astype(np.int16)
    import torch

    from ssc_core.ai.preprocess import resize_slices

    lo, hi = clip
    x = torch.from_numpy(np.clip(slices.astype(np.float32), lo, hi))
    x = resize_slices(((x - lo) / (hi - lo))[:, None], size)[:, 0]
    return np.rint(x.numpy() * (hi - lo) + lo).astype(np.int16)


def _resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    if mask.shape[-2:] == (size, size):
        return mask
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(mask.astype(np.float32))[:, None]
    return (F.interpolate(t, size=(size, size), mode="nearest")[:, 0] > 0.5).numpy()


def _level_finder_input(volume, spec: LevelFinderSpec) -> tuple[np.ndarray, tuple[float, float, int]]:
    """The level finder's input exactly as inference computes it, as float16, and its z axis."""
    from ssc_core.ai.preprocess import resample_volume, slice_stack
    from ssc_core.ai.spec import VGG3DParams

    params = spec.params
    if isinstance(params, VGG3DParams):
        grid, axis = resample_volume(volume, params.resampled_shape, spec.normalization)
    else:
        grid, axis = slice_stack(volume, params.slice_size, params.z_step_mm, spec.normalization)
    return grid.numpy().astype(np.float16), (axis.first_z, axis.step_z, axis.n)


def _scorer_part(volume, labels: CaseLabels, k_of: dict[int, int], where: str, config: PrepConfig):
    from ssc_core.imaging.lung_mask import lung_fraction, lung_mask

    assert config.scorer_size is not None
    _, dy, dx = volume.spacing
    idx: list[int] = []
    level_of: list[int] = []
    centre: list[bool] = []
    for lv in LEVELS:
        k = k_of[int(lv)]
        for j in range(k - config.neighbours, k + config.neighbours + 1):
            if 0 <= j < volume.n_slices:
                idx.append(j)
                level_of.append(int(lv))
                centre.append(j == k)
    raw = np.stack([np.asarray(volume.axial(j)) for j in idx])
    masks = np.stack([lung_mask(s, pixel_spacing_mm=(dy, dx)) for s in raw])
    problems = []
    for lv in LEVELS:
        j = idx.index(k_of[int(lv)])
        if lung_fraction(masks[j]) < MIN_LUNG_FRACTION:
            problems.append(
                DataProblem(where, f"L{int(lv)}_pos", f"the {lv.label} slice shows no lung to score")
            )
    if problems:
        return None, problems
    part = {
        "hu": _resize_hu(raw, config.scorer_size, config.scorer_clip),
        "lung": _resize_mask(masks, config.scorer_size),
        "sample_level": np.asarray(level_of, dtype=np.int8),
        "centre": np.asarray(centre, dtype=bool),
    }
    return part, []


def prepare_volume(
    volume, labels: CaseLabels, key: str, where: str, config: PrepConfig, parts: tuple[str, ...] | None = None
) -> tuple[dict[str, dict[str, Any]], list[DataProblem]]:
    """Reduce one loaded scan to the arrays of ``parts`` (default: all configured parts).

    Returns the computed parts (name -> arrays) and the problems of the *required* parts; a case with such
    problems gets no parts at all.
    """
    parts = config.parts if parts is None else parts
    problems: list[DataProblem] = []
    k_of: dict[int, int] = {}
    lo, hi = volume.z_range
    for lv in LEVELS:
        z = labels.level_z[lv]
        k = volume.nearest_slice(z)
        if k is None:
            problems.append(
                DataProblem(
                    where,
                    f"L{int(lv)}_pos",
                    f"{lv.label} at z = {z:.1f} mm lies outside the scan ({lo:.1f} to {hi:.1f} mm); "
                    "is the position in the scan's patient coordinates?",
                )
            )
        else:
            k_of[int(lv)] = k
    if problems:
        return {}, problems
    out: dict[str, dict[str, Any]] = {}
    common = {"slice_z": np.asarray(volume.slice_z, dtype=np.float64)}
    if PART_SCORER in parts:
        part, found = _scorer_part(volume, labels, k_of, where, config)
        if part is not None:
            out[PART_SCORER] = {**common, **part}
        elif PART_SCORER in config.required:
            return {}, found
    if PART_LEVELS in parts:
        assert config.level_finder is not None
        lf_input, axis = _level_finder_input(volume, config.level_finder)
        out[PART_LEVELS] = {**common, "lf_input": lf_input, "lf_axis": axis}
    return out, []


def prepare_case(
    case: TrainingCase, config: PrepConfig, parts: tuple[str, ...] | None = None
) -> tuple[dict[str, dict[str, Any]], CaseLabels | None, list[DataProblem]]:
    """Load one case and reduce it; an unreadable scan is a problem of the case, not an exception."""
    try:
        volume, labels = case.load()
    except LoadError as exc:
        return {}, None, [DataProblem(case.where, "scan", f"the scan cannot be read: {exc}")]
    except SSCError as exc:
        return {}, None, [DataProblem(case.where, "scan", str(exc))]
    out, problems = prepare_volume(volume, labels, case.key, case.where, config, parts)
    return out, labels, problems


def _assemble(case: TrainingCase, labels: CaseLabels, parts: dict[str, dict[str, Any]]) -> CaseArrays:
    fields: dict[str, Any] = {}
    for part in parts.values():
        fields.update(part)
    slice_z = fields.pop("slice_z")
    axis = fields.pop("lf_axis", None)
    return CaseArrays(
        case.key,
        case.where,
        labels,
        slice_z,
        lf_axis=None if axis is None else (float(axis[0]), float(axis[1]), int(axis[2])),
        **fields,
    )


# --- cache ---------------------------------------------------------------------------------------------


def _cache_file(cache_dir: Path, case: TrainingCase, config: PrepConfig, part: str) -> Path:
    digest = hashlib.sha256(f"{case.identity()}|{config.digest(part, case.labels)}".encode()).hexdigest()[:24]
    return cache_dir / f"{part}-{digest}.safetensors"


def _save(path: Path, part: dict[str, Any], labels: CaseLabels) -> None:
    from safetensors.numpy import save_file

    from ssc_core.fileio import atomic_write

    tensors = {k: np.ascontiguousarray(v) for k, v in part.items() if isinstance(v, np.ndarray)}
    meta = {"version": CACHE_VERSION, "labels": labels.to_json(), "lf_axis": part.get("lf_axis")}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata={"meta": json.dumps(meta)})


def _load(path: Path) -> tuple[dict[str, Any], CaseLabels] | None:
    from safetensors import safe_open
    from safetensors.numpy import load_file

    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = json.loads((fh.metadata() or {})["meta"])
        tensors: dict[str, Any] = dict(load_file(str(path)))
    except Exception:  # a damaged cache file is rebuilt, never trusted
        return None
    if meta.get("version") != CACHE_VERSION:
        return None
    if meta.get("lf_axis") is not None:
        tensors["lf_axis"] = tuple(meta["lf_axis"])
    return tensors, CaseLabels.from_json(meta["labels"])


def _worker_init() -> None:
    # One thread per worker process: the pool already uses every core.
    import torch

    torch.set_num_threads(1)


def _work(case: TrainingCase, config: PrepConfig, parts: tuple[str, ...]):
    return prepare_case(case, config, parts)


def prepare_cases(
    cases: Sequence[TrainingCase],
    config: PrepConfig,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int = 1,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[list[CaseArrays], list[DataProblem]]:
    """Preprocess ``cases`` (parts found in ``cache_dir`` are read from it), ``workers`` processes at a time.

    Returns the arrays of the good cases (their required parts, and the optional ones where computed), in
    the order of ``cases``, and the problems of the others.
    """
    cache = Path(cache_dir) if cache_dir is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    have: dict[int, dict[str, dict[str, Any]]] = {}
    labels_of: dict[int, CaseLabels] = {}
    todo: dict[int, tuple[str, ...]] = {}
    for i, case in enumerate(cases):
        have[i] = {}
        missing = []
        for part in config.parts:
            hit = _load(_cache_file(cache, case, config, part)) if cache is not None else None
            if hit is None:
                missing.append(part)
                continue
            have[i][part] = hit[0]
            labels_of[i] = case.labels if case.labels is not None else hit[1]
        # load the scan only when a required part is missing; then also compute the optional ones
        if any(p in config.required for p in missing):
            todo[i] = tuple(missing)
    problems: dict[int, list[DataProblem]] = {}
    total = len(cases)
    done = total - len(todo)
    report(progress, done, total, "Preparing cases")

    def finish(i: int, parts: dict[str, dict[str, Any]], labels: CaseLabels | None, found: list[DataProblem]):
        nonlocal done
        if found:
            problems[i] = found
        else:
            assert labels is not None
            labels_of[i] = cases[i].labels or labels
            for name, part in parts.items():
                have[i][name] = part
                if cache is not None:
                    _save(_cache_file(cache, cases[i], config, name), part, labels)
        done += 1
        report(progress, done, total, f"Prepared {done} of {total} cases")

    if workers <= 1 or len(todo) <= 1:
        for i, parts in todo.items():
            check_cancel(cancel)
            finish(i, *prepare_case(cases[i], config, parts))
    else:
        import multiprocessing

        # "spawn": a forked child of a process that already ran torch can deadlock in OpenMP.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
            futures: dict[int, Future] = {i: pool.submit(_work, cases[i], config, p) for i, p in todo.items()}
            try:
                for i in todo:
                    while True:
                        check_cancel(cancel)
                        try:
                            result = futures[i].result(timeout=0.5)
                            break
                        except TimeoutError:
                            continue
                    finish(i, *result)
            except (Cancelled, KeyboardInterrupt):
                for f in futures.values():
                    f.cancel()
                raise
    ordered = [
        _assemble(cases[i], labels_of[i], have[i])
        for i in range(total)
        if i not in problems and all(p in have[i] for p in config.required)
    ]
    flat = [p for i in sorted(problems) for p in problems[i]]
    return ordered, flat


# --- synthesis backgrounds -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Backgrounds:
    """Extra healthy slices for data synthesis (HU int16 and lung masks at the scorer's size)."""

    hu: np.ndarray
    lung: np.ndarray
    sources: tuple[str, ...]


def background_slices(
    paths: Sequence[str | os.PathLike[str]],
    size: int,
    *,
    clip: tuple[float, float] = (-1500.0, 1500.0),
    min_lung_fraction: float = SYNTHESIS_MIN_LUNG_FRACTION,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Backgrounds:
    """Every slice of the given normal-lung scans whose lung covers at least ``min_lung_fraction``.

    These scans must show no lung disease: every slice taken is used as a healthy background (TOT = 0).
    """
    from ssc_core.imaging.loader import load_scan
    from ssc_core.imaging.lung_mask import lung_mask_volume

    hus, lungs, names = [], [], []
    for path in paths:
        p = Path(path)
        ident = hashlib.sha256(
            f"bg|{CACHE_VERSION}|{path_identity(p)}|{size}|{clip}|{min_lung_fraction}".encode()
        ).hexdigest()[:24]
        cached = Path(cache_dir) / f"background-{ident}.safetensors" if cache_dir is not None else None
        if cached is not None and cached.is_file():
            from safetensors.numpy import load_file

            t = load_file(str(cached))
            hus.append(t["hu"])
            lungs.append(t["lung"])
            names.append(p.name)
            continue
        try:
            volume = load_scan(p).volume
        except LoadError as exc:
            raise LoadError(f"The background scan '{p.name}' cannot be read: {exc}") from None
        masks = lung_mask_volume(volume)
        frac = masks.reshape(masks.shape[0], -1).mean(axis=1)
        keep = np.flatnonzero(frac >= min_lung_fraction)
        if keep.size == 0:
            continue
        hu = _resize_hu(np.asarray(volume.hu[keep]), size, clip)
        lung = _resize_mask(masks[keep], size)
        if cached is not None:
            from safetensors.numpy import save_file

            from ssc_core.fileio import atomic_write

            cached.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(cached) as tmp:
                save_file({"hu": hu, "lung": lung}, str(tmp))
        hus.append(hu)
        lungs.append(lung)
        names.append(p.name)
    if not hus:
        return Backgrounds(np.zeros((0, size, size), np.int16), np.zeros((0, size, size), bool), ())
    return Backgrounds(np.concatenate(hus), np.concatenate(lungs), tuple(names))

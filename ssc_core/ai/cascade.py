"""The AI cascade as a generator: find the levels, score their slices, explain the scores with heat maps.

:class:`CascadeRunner` holds a loaded bundle on its device and serves requests; :meth:`CascadeRunner.run`
yields typed events as the work proceeds (:class:`StageProgress`, :class:`LevelsFound`,
:class:`LevelScored`, :class:`HeatmapReady` and finally :class:`CascadeDone`). Every event carries the
``case_id`` and ``request_id`` of its :class:`CascadeRequest`, so a GUI can drop events of a case the reader
has left. The cancel token is checked between small steps (one slice scored, one heat-map batch, one
layer of the paper's 3-D network), so cancelling stops the work within about a second; the generator then
raises :class:`~ssc_core.errors.Cancelled`.

Scores: the raw network output and the display values (rounded to the 5 % grid, clipped to 0..100, TOT
made consistent with GG and RET; :mod:`ssc_core.scoring`). A level outside the scanned range gets no
scores; a level whose slice shows almost no lung (``MIN_LUNG_FRACTION``) gets "no lung" instead of scores.
Research software: every result carries :data:`ssc_core.RESEARCH_USE_NOTICE`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ssc_core.ai.bundle import Bundle
from ssc_core.ai.device import choose_device

# The requests and events live in ssc_core.ai.events (no torch), so that a process receiving them (the
# workstation's window) never loads torch; they are re-exported here.
from ssc_core.ai.events import (
    CascadeDone,
    CascadeEvent,
    CascadeRequest,
    HeatmapReady,
    LevelScored,
    LevelsFound,
    StageProgress,
)
from ssc_core.ai.heatmap import HeatmapJob, derived_scores
from ssc_core.ai.level_finder import LevelFinder, make_level_finder
from ssc_core.ai.preprocess import normalize_np, scorer_input
from ssc_core.ai.results import (
    CascadeResult,
    HeatmapResult,
    LevelFinding,
    LevelResult,
    LevelStatus,
    SliceScores,
)
from ssc_core.constants import LEVELS, MIN_LUNG_FRACTION, Level
from ssc_core.errors import InferenceError, SSCError
from ssc_core.imaging.lung_mask import lung_fraction, lung_mask
from ssc_core.imaging.volume import CTVolume
from ssc_core.progress import CancelToken, check_cancel

# --- the runner ---------------------------------------------------------------------------------------


def _wrap_failure(exc: BaseException) -> InferenceError:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return InferenceError(
            "The GPU ran out of memory while running the AI.",
            hint="Close other programs using the GPU, or run on the CPU (set SSC_DEVICE=cpu).",
        )
    return InferenceError(f"The AI cascade failed: {type(exc).__name__}: {exc}")


class CascadeRunner:
    """A bundle ready for inference on one device (CUDA when present, else all CPU cores)."""

    def __init__(self, bundle: Bundle, device: str | torch.device | None = None) -> None:
        self.device = choose_device(device)
        self.bundle = bundle.to(self.device)
        self.spec = bundle.spec
        self.level_finder: LevelFinder = make_level_finder(
            bundle.spec.level_finder, bundle.level_finder_net, self.device
        )
        self.scorer = bundle.scorer_net
        self._order = [self.spec.scorer.outputs.index(name) for name in ("TOT", "GG", "RET")]
        # Slices per scorer pass: the five levels at once on a GPU; one at a time on a CPU, where batching
        # gains nothing measurable and a single pass (0.1 s for ConvNeXt-Atto, up to 1 s for -Tiny) keeps
        # cancelling prompt.
        self._score_batch = 5 if self.device.type == "cuda" else 1

    # --- scoring ----------------------------------------------------------------------------------

    def raw_scores(self, slices_hu: np.ndarray) -> np.ndarray:
        """Raw (TOT, GG, RET) for each axial slice (B, H, W) in HU: (B, 3) float64."""
        sc = self.spec.scorer
        with torch.inference_mode():
            x = scorer_input(slices_hu, sc.normalization, sc.input_size, self.device)
            out = self.scorer(x).to("cpu", torch.float64).numpy()
        return out[:, self._order]

    def score_slice(
        self, slice_hu: np.ndarray, pixel_spacing: tuple[float, float]
    ) -> tuple[SliceScores | None, float]:
        """Scores of one slice (None when it shows almost no lung) and its lung fraction."""
        return self.score_slices([slice_hu], pixel_spacing)[0]

    def score_slices(
        self,
        slices_hu: Sequence[np.ndarray],
        pixel_spacing: tuple[float, float],
        cancel: CancelToken | None = None,
    ) -> list[tuple[SliceScores | None, float]]:
        """Scores and lung fraction of each slice; slices with almost no lung get None (no scores).

        The slices with lung go through the scorer together on a GPU, one at a time on a CPU (so that a
        cancel is honoured within about a second).
        """
        fractions = [lung_fraction(lung_mask(s, pixel_spacing_mm=pixel_spacing)) for s in slices_hu]
        todo = [i for i, f in enumerate(fractions) if f >= MIN_LUNG_FRACTION]
        out: list[tuple[SliceScores | None, float]] = [(None, f) for f in fractions]
        step = self._score_batch
        for start in range(0, len(todo), step):
            check_cancel(cancel)
            chunk = todo[start : start + step]
            raw = self.raw_scores(np.stack([np.asarray(slices_hu[i]) for i in chunk]))
            for i, (tot, gg, ret) in zip(chunk, raw):
                out[i] = (SliceScores.from_raw(tot, gg, ret), fractions[i])
        return out

    # --- the cascade --------------------------------------------------------------------------------

    def run(self, request: CascadeRequest, cancel: CancelToken | None = None) -> Iterator[CascadeEvent]:
        """Levels, scores, then the requested heat maps; see the module docstring for the events."""
        try:
            yield from self._run(request, cancel)
        except SSCError:
            raise
        except (RuntimeError, ValueError, MemoryError) as exc:
            raise _wrap_failure(exc) from exc

    def _run(self, request: CascadeRequest, cancel: CancelToken | None) -> Iterator[CascadeEvent]:
        case_id, request_id = request.case_id, request.request_id
        vol = request.volume
        t0 = time.perf_counter()
        check_cancel(cancel)
        yield StageProgress(
            case_id, request_id, stage="levels", done=0, total=1, message="Finding the levels"
        )
        if request.slices is not None:
            findings = self._given_findings(vol, request.slices)
        else:
            findings = self.level_finder.find(vol, cancel=cancel)
        yield LevelsFound(case_id, request_id, findings=findings)

        results: list[LevelResult] = []
        _, dy, dx = vol.spacing
        # Score in scorer-sized chunks and report each level as soon as its chunk is done (one level at a
        # time on a CPU, the five together on a GPU).
        step = self._score_batch
        for start in range(0, len(findings), step):
            chunk = findings[start : start + step]
            inside = [f for f in chunk if f.slice_index is not None]
            slices = [vol.axial(f.slice_index) for f in inside if f.slice_index is not None]
            scored = dict(zip((f.level for f in inside), self.score_slices(slices, (dy, dx), cancel)))
            for finding in chunk:
                scores, frac = scored.get(finding.level, (None, None))
                result = LevelResult(finding.level, finding, scores, frac)
                results.append(result)
                yield LevelScored(case_id, request_id, result=result)
                yield StageProgress(
                    case_id,
                    request_id,
                    stage="scores",
                    done=len(results),
                    total=len(findings),
                    message="Scoring",
                )
        cascade = CascadeResult(
            case_id=request.case_id,
            request_id=request.request_id,
            bundle_hash=self.bundle.hash,
            bundle_name=self.bundle.display_name,
            levels=tuple(results),
            device=str(self.device),
            seconds=time.perf_counter() - t0,
        )
        heatmaps: list[HeatmapResult] = []
        result_of = {r.level: r for r in results}
        for level in request.heatmaps:
            r = result_of.get(Level.parse(level))
            if r is None:
                continue  # a level the request did not place
            if r.finding.slice_index is None or r.scores is None:
                continue  # outside the scan or no lung: nothing to explain
            for event in self.heatmap_events(
                request, level=r.level, slice_index=r.finding.slice_index, cancel=cancel
            ):
                if isinstance(event, HeatmapReady):
                    heatmaps.append(event.heatmap)
                yield event
        yield CascadeDone(case_id, request_id, result=cascade, heatmaps=tuple(heatmaps))

    @staticmethod
    def _given_findings(vol: CTVolume, slices: Mapping[Level, int]) -> tuple[LevelFinding, ...]:
        """Findings at given slice indices (levels not given are left out)."""
        out = []
        for level in LEVELS:
            if level not in slices:
                continue
            k = int(slices[level])
            if not 0 <= k < vol.n_slices:
                raise InferenceError(
                    f"{level.label} is placed on slice {k}, but the scan has {vol.n_slices} slices."
                )
            out.append(LevelFinding(level, float(vol.slice_z[k]), k, LevelStatus.FOUND))
        return tuple(out)

    # --- heat maps -----------------------------------------------------------------------------------

    def heatmap_events(
        self,
        request: CascadeRequest,
        *,
        level: Level | None,
        slice_index: int,
        cancel: CancelToken | None = None,
        batch_size: int | None = None,
    ) -> Iterator[CascadeEvent]:
        """The heat map of one slice: progress per batch of positions, then :class:`HeatmapReady`."""
        try:
            yield from self._heatmap_events(request, level, slice_index, cancel, batch_size)
        except SSCError:
            raise
        except (RuntimeError, ValueError, MemoryError) as exc:
            raise _wrap_failure(exc) from exc

    def _heatmap_events(
        self,
        request: CascadeRequest,
        level: Level | None,
        slice_index: int,
        cancel: CancelToken | None,
        batch_size: int | None,
    ) -> Iterator[CascadeEvent]:
        case_id, request_id = request.case_id, request.request_id
        if self.bundle.texture_hu is None:
            raise InferenceError(
                "This model bundle has no healthy-texture patch, so it cannot draw heat maps."
            )
        t0 = time.perf_counter()
        vol = request.volume
        hu = np.asarray(vol.axial(slice_index))
        _, dy, dx = vol.spacing
        mask = lung_mask(hu, pixel_spacing_mm=(dy, dx))
        sc, hm = self.spec.scorer, self.spec.heatmap
        image = normalize_np(hu, sc.normalization)
        texture = normalize_np(self.bundle.texture_hu, sc.normalization)
        size = sc.input_size
        resized = hu.shape != (size, size)
        net_image, net_mask = image, mask
        if resized:
            net_image = _resize(image, size, "bilinear")
            net_mask = _resize(mask.astype(np.float32), size, "nearest") > 0.5
        job = HeatmapJob(
            self.scorer,
            net_image,
            net_mask,
            texture,
            patch=hm.patch,
            stride=hm.stride,
            blur=hm.blur,
            batch_size=batch_size,
        )
        yield StageProgress(
            case_id, request_id, stage="heatmap", done=0, total=job.total, message="Heat map", level=level
        )
        for p in job.steps(cancel):
            yield StageProgress(
                case_id,
                request_id,
                stage="heatmap",
                done=p.done,
                total=p.total,
                message="Heat map",
                level=level,
            )
        arrays = job.result()
        values = arrays.values[self._order]
        covered = arrays.covered
        if resized:
            values = np.stack([_resize(v, hu.shape, "bilinear") for v in values])
            covered = _resize(covered.astype(np.float32), hu.shape, "nearest") > 0.5
            values = values * covered
        base = tuple(arrays.base_scores[i] for i in self._order)
        heat = HeatmapResult(
            case_id=request.case_id,
            request_id=request.request_id,
            bundle_hash=self.bundle.hash,
            level=level,
            slice_index=slice_index,
            values=values.astype(np.float32),
            covered=covered,
            base_scores=base,
            derived=derived_scores(values, mask, hm.threshold),
            threshold=hm.threshold,
            positions=arrays.positions_evaluated,
            seconds=time.perf_counter() - t0,
        )
        yield HeatmapReady(case_id, request_id, heatmap=heat)


def _resize(a: np.ndarray, shape: int | Sequence[int], mode: str) -> np.ndarray:
    size = (shape, shape) if isinstance(shape, int) else tuple(shape)
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None]
    if mode == "nearest":
        out = F.interpolate(t, size=size, mode="nearest")
    else:
        out = F.interpolate(t, size=size, mode="bilinear", align_corners=False)
    return out[0, 0].numpy()


def run_cascade(
    request: CascadeRequest,
    bundle: Bundle,
    *,
    device: str | torch.device | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[CascadeEvent]:
    """Convenience: a :class:`CascadeRunner` for ``bundle`` running one request."""
    return CascadeRunner(bundle, device).run(request, cancel)


def collect(events: Iterator[CascadeEvent]) -> CascadeDone:
    """Run an event stream to the end and return its :class:`CascadeDone`."""
    done = None
    for event in events:
        if isinstance(event, CascadeDone):
            done = event
    if done is None:  # pragma: no cover - run() always ends with CascadeDone or raises
        raise InferenceError("The AI cascade ended without a result.")
    return done

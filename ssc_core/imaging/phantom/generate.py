"""``generate_phantom``: a synthetic chest CT with its ground truth, deterministic from a seed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ssc_core.constants import LEVELS, Level
from ssc_core.imaging.phantom.anatomy import REFERENCE_MATRIX, Anatomy, draw_anatomy
from ssc_core.imaging.phantom.disease import DiseaseField, DiseaseSpec, level_scores_from_percent
from ssc_core.imaging.phantom.lungs import Lungs
from ssc_core.imaging.phantom.mediastinum import CH_HULL, N_CHANNELS, build_mediastinum
from ssc_core.imaging.phantom.render import SliceComposer
from ssc_core.imaging.phantom.skeleton import Skeleton, clavicle_tubes
from ssc_core.imaging.phantom.thorax import Thorax
from ssc_core.imaging.phantom.tubes import SliceGrid, TubeRasteriser, TubeSet
from ssc_core.imaging.phantom.vessels import grow_trees
from ssc_core.imaging.volume import CTVolume, SeriesInfo
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report
from ssc_core.scoring import LevelPlacement, LevelScores

#: Bump when a change of the generator changes the phantom drawn from a given seed.
PHANTOM_VERSION = "1"
SLICE_SPACING_RANGE_MM = (0.5, 3.0)
PIXEL_LIMITS_MM = (0.5, 1.0)


@dataclass(frozen=True, eq=False)
class Phantom:
    """A synthetic chest CT and its exact ground truth.

    ``level_z`` holds the world z (mm, LPS) of L1..L5 from the anatomy; ``lung_mask`` is the exact lung
    region (z, y, x); per slice, ``tot_percent``/``gg_percent``/``ret_percent`` are the diseased shares of
    the lung area (0 on slices without lung) and ``level_scores`` the five levels' scores on the 5 % grid.
    ``gg_mask`` and ``ret_mask`` are the inserted disease regions (None for a healthy phantom).
    ``landmarks`` gives the world z of named anatomical landmarks.
    """

    seed: int
    volume: CTVolume
    level_z: Mapping[Level, float]
    lung_mask: np.ndarray
    tot_percent: np.ndarray
    gg_percent: np.ndarray
    ret_percent: np.ndarray
    level_scores: Mapping[Level, LevelScores]
    disease: DiseaseSpec | None
    gg_mask: np.ndarray | None = None
    ret_mask: np.ndarray | None = None
    landmarks: Mapping[str, float] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.disease is None

    @property
    def level_slices(self) -> dict[Level, int]:
        """Index of the slice nearest to each level."""
        return {lv: int(np.argmin(np.abs(self.volume.slice_z - z))) for lv, z in self.level_z.items()}

    def placements(self) -> dict[Level, LevelPlacement]:
        """The five levels as :class:`LevelPlacement` records (world z and slice index)."""
        idx = self.level_slices
        return {lv: LevelPlacement(lv, self.level_z[lv], idx[lv]) for lv in LEVELS}


def generate_phantom(
    seed: int,
    *,
    slice_spacing_mm: float = 2.5,
    pixel_mm: float | None = None,
    disease: DiseaseSpec | None = None,
    matrix: int = REFERENCE_MATRIX,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Phantom:
    """Generate the synthetic chest CT of patient ``seed``.

    Parameters
    ----------
    seed
        Any integer; the same seed gives the same patient (anatomy, noise and disease texture), byte for
        byte. Anatomy does not depend on ``slice_spacing_mm``, ``matrix`` or ``disease``: those only change
        how the same patient is sampled or whether disease is inserted.
    slice_spacing_mm
        Distance between slices, 0.5-3 mm; slices are contiguous (thickness = spacing).
    pixel_mm
        Pixel size of the 512 matrix (0.6-0.8 mm drawn from the seed when None). The field of view is
        ``512 * pixel_mm``.
    disease
        ``None`` for healthy lungs, else the extent of ground glass and reticulation per level.
    matrix
        Pixels per side (512 for a real-looking scan; smaller values render the same patient coarsely,
        for fast tests).
    progress, cancel
        Progress per slice; a set cancel token raises :class:`~ssc_core.errors.Cancelled`.

    Returns
    -------
    Phantom
        The volume (slice 0 most cranial, world LPS) and its ground truth.
    """
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not SLICE_SPACING_RANGE_MM[0] <= slice_spacing_mm <= SLICE_SPACING_RANGE_MM[1]:
        raise ValueError(f"slice spacing must be 0.5-3 mm, got {slice_spacing_mm:g}")
    if pixel_mm is not None and not PIXEL_LIMITS_MM[0] <= pixel_mm <= PIXEL_LIMITS_MM[1]:
        raise ValueError(f"pixel size must be 0.5-1.0 mm, got {pixel_mm:g}")
    if not 64 <= matrix <= 1024:
        raise ValueError(f"matrix must be 64-1024 pixels, got {matrix}")
    anat = draw_anatomy(seed, pixel_mm=pixel_mm)
    check_cancel(cancel)
    px = anat.fov_mm / matrix
    ox, oy, oz = anat.world_offset
    grid = SliceGrid(matrix, px, -(matrix - 1) * px / 2.0 - ox, -(matrix - 1) * px / 2.0 - oy)
    top_world = round(anat.z_top + oz, 1)
    n_slices = math.floor((anat.z_top - anat.z_bottom) / slice_spacing_mm) + 1
    slice_z_world = top_world - slice_spacing_mm * np.arange(n_slices)
    slice_z = slice_z_world - oz

    thorax = Thorax(anat)
    med = build_mediastinum(anat, thorax)
    lungs = Lungs(anat, thorax, med)
    tree_rng = np.random.default_rng(np.random.SeedSequence([anat.seed, 0x7EE5]))
    trees = grow_trees(lungs, med.roots, tree_rng)
    check_cancel(cancel)
    skeleton = Skeleton(anat, thorax, grid)
    tubes = TubeSet.concat([med.tubes, trees, clavicle_tubes(anat, thorax, skeleton.z_manubrium)])
    is_hull = tubes.channel == CH_HULL
    raster = TubeRasteriser(tubes.select(~is_hull), slice_z, slice_spacing_mm, grid, N_CHANNELS)
    # the central mediastinal structures are closed into the mediastinal envelope on a ~2.5 mm grid
    f = max(1, round(2.5 / px))
    n_coarse = -(-matrix // f)
    coarse = SliceGrid(n_coarse, px * f, grid.x0 + (f - 1) * px / 2.0, grid.y0 + (f - 1) * px / 2.0)
    hull = tubes.select(is_hull).with_channel(0)
    hull_raster = TubeRasteriser(hull, slice_z, slice_spacing_mm, coarse, 1)
    level_z = anat.level_z
    field_ = None
    if disease is not None:
        disease_rng = np.random.default_rng(np.random.SeedSequence([anat.seed, 0xD15E]))
        field_ = DiseaseField(
            disease, level_z, matrix, px, anat.cavity_w, anat.cavity_d, anat.z_bottom, anat.z_top, disease_rng
        )
    composer = SliceComposer(
        anat, thorax, med, lungs, skeleton, raster, grid, slice_spacing_mm, field_, n_slices, hull_raster
    )

    hu = np.empty((n_slices, matrix, matrix), dtype=np.int16)
    lung_mask = np.empty((n_slices, matrix, matrix), dtype=bool)
    gg_mask = np.zeros_like(lung_mask) if disease is not None else None
    ret_mask = np.zeros_like(lung_mask) if disease is not None else None
    pct = np.zeros((n_slices, 3))
    for k in range(n_slices):
        check_cancel(cancel)
        res = composer.compose(k, float(slice_z[k]))
        np.clip(res.hu, -1024.0, 3071.0, out=res.hu)
        hu[k] = np.rint(res.hu)
        lung_mask[k] = res.lung
        if gg_mask is not None and ret_mask is not None and res.gg is not None and res.ret is not None:
            gg_mask[k] = res.gg
            ret_mask[k] = res.ret
        pct[k] = res.percent
        report(progress, k + 1, n_slices, "Generating phantom")

    level_world = {lv: float(z + oz) for lv, z in level_z.items()}
    volume = CTVolume.from_array(
        hu,
        (slice_spacing_mm, px, px),
        top_z=top_world,
        origin_xy=(-(matrix - 1) * px / 2.0, -(matrix - 1) * px / 2.0),
        info=SeriesInfo(
            description=f"Synthetic chest phantom v{PHANTOM_VERSION} (seed {seed})",
            kernel="SYNTHETIC-LUNG",
            slice_thickness_mm=slice_spacing_mm,
            manufacturer="SSc Scoring Workstation",
            model="chest phantom",
            source_format="phantom",
        ),
    )
    for arr in (lung_mask, gg_mask, ret_mask, pct):
        if arr is not None:
            arr.flags.writeable = False
    scores = {}
    for lv in LEVELS:
        k = int(np.argmin(np.abs(slice_z_world - level_world[lv])))
        scores[lv] = level_scores_from_percent(*pct[k]) if disease is not None else LevelScores(0, 0, 0)
    landmarks = {
        "lung_apex_right": anat.z_apex_r + oz,
        "lung_apex_left": anat.z_apex_l + oz,
        "aortic_arch_top": anat.z_arch_top + oz,
        "carina": oz,
        "venous_confluence": anat.z_confluence + oz,
        "right_dome_top": anat.z_dome_r + oz,
        "left_dome_top": anat.z_dome_l + oz,
        "tracheal_junction": float(med.carina_junction[2] + oz),
    }
    return Phantom(
        seed=int(seed),
        volume=volume,
        level_z=level_world,
        lung_mask=lung_mask,
        tot_percent=pct[:, 0],
        gg_percent=pct[:, 1],
        ret_percent=pct[:, 2],
        level_scores=scores,
        disease=disease,
        gg_mask=gg_mask,
        ret_mask=ret_mask,
        landmarks=landmarks,
    )


def phantom_anatomy(seed: int, *, pixel_mm: float | None = None) -> Anatomy:
    """The drawn anatomy of patient ``seed`` (sizes and landmark heights in the phantom frame)."""
    return draw_anatomy(seed, pixel_mm=pixel_mm)

"""Data synthesis: ground glass and reticulation inserted into healthy slices, with exact labels.

The paper's remedy for label imbalance (Jia et al., Sci Rep 2024; DOMAIN.md section 4): on a healthy slice
(TOT = 0) insert GG texture into 1-3 random ellipses and RET texture into 1-3 others (random centre,
orientation and axis lengths of 1-150 px at a 512 matrix), cropped to the lung mask with faded edges, the
texture rotated by up to +-180 degrees and scaled by 95-105 %. The labels are the inserted areas over the
lung area: GG, RET, and TOT = their union.

Details that the paper leaves open, decided here:

* Ellipse centres are drawn uniformly from the slice's lung pixels (a centre outside the lungs would
  usually insert nothing); the axis lengths are full diameters, each drawn uniformly from the range.
* The label area of a pattern is the union of its ellipses inside the lung mask (binary masks, before the
  fade); the fade is a Gaussian blur of the ellipse mask (SD ``fade_sigma_px``), so the visible pattern is
  50 % strong at the ellipse's edge and the labelled and visible areas agree.
* Procedural textures (:mod:`ssc_core.imaging.textures`, as in the phantom) are HU *increases* added to the
  parenchyma while sparing vessels and other soft tissue (the definition of ground glass); texture patches
  supplied by the user (real CT cut-outs) *replace* the slice under the faded mask, as the authors did.

Everything is batched in torch on the batch's device: a whole batch is synthesised in a few tensor
operations, on the GPU when training runs there. The random parameters are drawn ahead of time
(:func:`draw_synthesis`) with a seeded numpy generator, so synthesis is reproducible across processes.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ssc_core.constants import (
    LUNG_WINDOW,
    SCORER_INPUT_SIZE,
    SYNTHESIS_AXIS_PX,
    SYNTHESIS_ELLIPSES,
    SYNTHESIS_FADE_SIGMA_PX,
    SYNTHESIS_TEXTURE_ROTATION_DEG,
    SYNTHESIS_TEXTURE_SCALE_RANGE,
)
from ssc_core.errors import TrainingDataError

#: Most ellipses a pattern can have (the upper end of any configured range).
MAX_ELLIPSES = 3
#: Procedural texture tiles: side (pixels) and pixel size (mm) they are drawn at.
TEXTURE_TILE = 512
TEXTURE_PIXEL_MM = 0.7
#: HU below which ``apply_pattern`` applies the full change (see ``textures.apply_pattern``).
_SPARE_FULL_BELOW_HU = -500.0


@dataclass(frozen=True)
class SynthesisConfig:
    """Ranges of the random insertion (the paper's by default; pixel sizes at ``reference_size``)."""

    ellipses: tuple[int, int] = SYNTHESIS_ELLIPSES
    axis_px: tuple[float, float] = SYNTHESIS_AXIS_PX
    texture_rotation_deg: float = SYNTHESIS_TEXTURE_ROTATION_DEG
    texture_scale: tuple[float, float] = SYNTHESIS_TEXTURE_SCALE_RANGE
    fade_sigma_px: float = SYNTHESIS_FADE_SIGMA_PX
    reference_size: int = SCORER_INPUT_SIZE

    def __post_init__(self) -> None:
        lo, hi = self.ellipses
        if not 0 <= lo <= hi <= MAX_ELLIPSES or hi == 0:
            raise ValueError(f"ellipses per pattern must lie in 0..{MAX_ELLIPSES}, got {self.ellipses}")
        if not 0 < self.axis_px[0] <= self.axis_px[1]:
            raise ValueError(f"ellipse axis lengths must be positive and increasing, got {self.axis_px}")

    def to_json(self) -> dict[str, Any]:
        return {
            "ellipses_per_pattern": list(self.ellipses),
            "axis_lengths_px": list(self.axis_px),
            "texture_rotation_deg": self.texture_rotation_deg,
            "texture_scale": list(self.texture_scale),
            "fade_sigma_px": self.fade_sigma_px,
            "reference_size": self.reference_size,
        }


# --- textures --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PatternTextures:
    """Texture tiles of one pattern: (K, T, T) float32, HU increases ("add") or HU values ("replace")."""

    tiles: torch.Tensor
    mode: str
    source: str

    def to(self, device: torch.device | str) -> PatternTextures:
        return PatternTextures(self.tiles.to(device), self.mode, self.source)


@dataclass(frozen=True, eq=False)
class TextureBank:
    """The GG and RET textures synthesis draws from."""

    gg: PatternTextures
    ret: PatternTextures

    def to(self, device: torch.device | str) -> TextureBank:
        return TextureBank(self.gg.to(device), self.ret.to(device))

    def describe(self) -> dict[str, str]:
        return {"GG": self.gg.source, "RET": self.ret.source}


def procedural_textures(
    pattern: str,
    *,
    seed: int = 0,
    variants: int = 6,
    size: int = TEXTURE_TILE,
    pixel_mm: float = TEXTURE_PIXEL_MM,
) -> PatternTextures:
    """Periodic GG or RET tiles from :mod:`ssc_core.imaging.textures`, parameters varied per tile.

    The ranges follow the phantom's disease (``DiseaseSpec.random``), a little wider: ground glass +120 to
    +320 HU with mottling; reticulation lines +350 to +650 HU, 3-7 mm mesh, with the faint haze between the
    lines that the phantom also draws (12 % of the line strength).
    """
    from ssc_core.imaging import textures

    rng = np.random.default_rng([int(seed), 0x7E47, 0 if pattern == "GG" else 1])
    tiles = []
    for _ in range(variants):
        if pattern == "GG":
            t = textures.ground_glass_field(
                (size, size),
                rng,
                pixel_mm=pixel_mm,
                mean_hu=float(rng.uniform(120.0, 320.0)),
                grain_mm=float(rng.uniform(1.0, 2.5)),
                mottle=float(rng.uniform(0.2, 0.45)),
            )
        elif pattern == "RET":
            line_hu = float(rng.uniform(350.0, 650.0))
            t = textures.reticulation_field(
                (size, size),
                rng,
                pixel_mm=pixel_mm,
                cell_mm=float(rng.uniform(3.0, 7.0)),
                line_hu=line_hu,
                continuity=float(rng.uniform(0.55, 0.8)),
            ) + np.float32(0.12 * line_hu)
        else:
            raise ValueError(f"unknown pattern {pattern!r}")
        tiles.append(t.astype(np.float32))
    return PatternTextures(
        torch.from_numpy(np.stack(tiles)), "add", f"procedural (ssc_core.imaging.textures, seed {seed})"
    )


def read_patch(path: str | os.PathLike[str]) -> np.ndarray:
    """A texture patch file as a 2-D float32 array of HU.

    ``.npy`` files and volume/DICOM files (read by SimpleITK; a 3-D file gives its middle slice) hold HU. An
    8-bit image (PNG, JPEG, TIFF...) is taken as shown at the lung window (W 1500 / L -600): 0 = -1350 HU,
    255 = +150 HU. 16-bit and float images hold HU as stored.
    """
    p = Path(path)
    if not p.is_file():
        raise TrainingDataError(f"The texture patch '{p.name}' does not exist.")
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise TrainingDataError(f"The texture patch '{p.name}' cannot be read ({exc}).") from None
        data = np.asarray(arr, dtype=np.float32)
        eight_bit = arr.dtype == np.uint8
    else:
        import SimpleITK as sitk

        try:
            img = sitk.ReadImage(str(p))
        except RuntimeError as exc:
            raise TrainingDataError(
                f"The texture patch '{p.name}' is not a readable image ({exc})."
            ) from None
        if img.GetNumberOfComponentsPerPixel() > 1:  # an RGB screenshot: take its grey value
            img = sitk.VectorIndexSelectionCast(img, 0)
        arr = sitk.GetArrayFromImage(img)
        eight_bit = arr.dtype == np.uint8
        data = arr.astype(np.float32)
    if data.ndim == 3:
        data = data[data.shape[0] // 2]
    if data.ndim != 2 or min(data.shape) < 16:
        raise TrainingDataError(
            f"The texture patch '{p.name}' must be a 2-D image of at least 16 x 16 pixels, got {data.shape}."
        )
    if not np.isfinite(data).all():
        raise TrainingDataError(f"The texture patch '{p.name}' holds non-finite values.")
    if eight_bit:
        data = LUNG_WINDOW.lower + data / np.float32(255.0) * np.float32(LUNG_WINDOW.width)
    return data.astype(np.float32)


def patch_textures(paths: Sequence[str | os.PathLike[str]], *, size: int = TEXTURE_TILE) -> PatternTextures:
    """Tiles from user patches: each mirrored into a seamless periodic tile and repeated to ``size``."""
    tiles = []
    names = []
    for path in paths:
        patch = read_patch(path)
        periodic = np.concatenate([patch, patch[::-1]], axis=0)
        periodic = np.concatenate([periodic, periodic[:, ::-1]], axis=1)
        reps = (-(-size // periodic.shape[0]), -(-size // periodic.shape[1]))
        tiles.append(np.tile(periodic, reps)[:size, :size].astype(np.float32))
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
        names.append(f"{Path(path).name} (sha256 {digest})")
    if not tiles:
        raise ValueError("no texture patches given")
    return PatternTextures(torch.from_numpy(np.stack(tiles)), "replace", "patches: " + ", ".join(names))


def texture_bank(
    *,
    gg_patches: Sequence[str | os.PathLike[str]] = (),
    ret_patches: Sequence[str | os.PathLike[str]] = (),
    seed: int = 0,
    variants: int = 6,
    size: int = TEXTURE_TILE,
) -> TextureBank:
    """GG and RET textures: the user's patches where given, procedural tiles otherwise."""
    gg = (
        patch_textures(gg_patches, size=size)
        if gg_patches
        else procedural_textures("GG", seed=seed, variants=variants, size=size)
    )
    ret = (
        patch_textures(ret_patches, size=size)
        if ret_patches
        else procedural_textures("RET", seed=seed, variants=variants, size=size)
    )
    return TextureBank(gg, ret)


# --- random parameters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthesisParams:
    """Random parameters of n synthetic samples (numpy, drawn ahead; moved to torch at render time).

    Per pattern p in (gg, ret): ``count`` (n,) ellipses used; ``centre_u`` (n, 3) in [0, 1): which lung
    pixel (in raster order) is the centre; ``axes`` (n, 3, 2) axis lengths in reference pixels; ``angle``
    (n, 3) ellipse orientation (radians); ``texture`` (n,) tile index; ``tex_rotation`` (n,) degrees;
    ``tex_scale`` (n,); ``tex_offset`` (n, 2) in tile pixels.
    """

    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.arrays["gg_count"].shape[0])

    def take(self, idx: np.ndarray | slice) -> SynthesisParams:
        return SynthesisParams({k: v[idx] for k, v in self.arrays.items()})


def draw_synthesis(
    rng: np.random.Generator, n: int, bank_sizes: tuple[int, int], config: SynthesisConfig = SynthesisConfig()
) -> SynthesisParams:
    """Draw the parameters of ``n`` synthetic samples (``bank_sizes``: tiles of GG and of RET)."""
    out: dict[str, np.ndarray] = {}
    lo_n, hi_n = config.ellipses
    for name, k in (("gg", bank_sizes[0]), ("ret", bank_sizes[1])):
        out[f"{name}_count"] = rng.integers(lo_n, hi_n + 1, n).astype(np.int64)
        out[f"{name}_centre_u"] = rng.random((n, MAX_ELLIPSES)).astype(np.float64)
        out[f"{name}_axes"] = rng.uniform(config.axis_px[0], config.axis_px[1], (n, MAX_ELLIPSES, 2)).astype(
            np.float32
        )
        out[f"{name}_angle"] = rng.uniform(0.0, math.pi, (n, MAX_ELLIPSES)).astype(np.float32)
        out[f"{name}_texture"] = rng.integers(0, k, n).astype(np.int64)
        rot = config.texture_rotation_deg
        out[f"{name}_tex_rotation"] = rng.uniform(-rot, rot, n).astype(np.float32)
        out[f"{name}_tex_scale"] = rng.uniform(config.texture_scale[0], config.texture_scale[1], n).astype(
            np.float32
        )
        out[f"{name}_tex_offset"] = rng.uniform(0.0, 1.0, (n, 2)).astype(np.float32)
    return SynthesisParams(out)


# --- rendering -------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Synthesised:
    """A synthesised batch: HU slices, labels (TOT, GG, RET) in percent, and the label masks."""

    hu: torch.Tensor  # (B, H, W) float32
    labels: torch.Tensor  # (B, 3) float32
    gg_mask: torch.Tensor  # (B, H, W) bool, inside the lung
    ret_mask: torch.Tensor  # (B, H, W) bool, inside the lung


def _lung_pixels(lung: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, col) of the lung pixel number floor(u * n_lung) in raster order, per sample: u is (B, k)."""
    b, h, w = lung.shape
    cums = torch.cumsum(lung.reshape(b, -1).to(torch.float64), dim=1)
    n = cums[:, -1:].clamp(min=1.0)
    target = torch.floor(u.to(torch.float64) * n) + 1.0
    idx = torch.searchsorted(cums, target.contiguous()).clamp(max=h * w - 1)
    return (idx // w).to(torch.float32), (idx % w).to(torch.float32)


def _ellipses(
    lung: torch.Tensor,
    count: torch.Tensor,
    centre_u: torch.Tensor,
    axes: torch.Tensor,
    angle: torch.Tensor,
    px_scale: float,
) -> torch.Tensor:
    """Union of each sample's first ``count`` ellipses: (B, H, W) bool."""
    _b, h, w = lung.shape
    cy, cx = _lung_pixels(lung, centre_u)
    yy = torch.arange(h, device=lung.device, dtype=torch.float32).view(1, 1, h, 1)
    xx = torch.arange(w, device=lung.device, dtype=torch.float32).view(1, 1, 1, w)
    dy = yy - cy[..., None, None]
    dx = xx - cx[..., None, None]
    c = torch.cos(angle)[..., None, None]
    s = torch.sin(angle)[..., None, None]
    a = (axes[..., 0] * (0.5 * px_scale))[..., None, None]  # half-axes from the axis lengths
    bb = (axes[..., 1] * (0.5 * px_scale))[..., None, None]
    u = (dx * c + dy * s) / a
    v = (-dx * s + dy * c) / bb
    inside = (u * u + v * v) <= 1.0
    active = torch.arange(MAX_ELLIPSES, device=lung.device).view(1, -1) < count.view(-1, 1)
    return (inside & active[..., None, None]).any(dim=1)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, H, W), zero outside the image."""
    if sigma <= 0:
        return x
    r = max(1, math.ceil(3.0 * sigma))
    t = torch.arange(-r, r + 1, device=x.device, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).to(x.dtype)
    y = F.conv2d(x[:, None], k.view(1, 1, 1, -1), padding=(0, r))
    y = F.conv2d(y, k.view(1, 1, -1, 1), padding=(r, 0))
    return y[:, 0]


def _sample_texture(
    tex: PatternTextures,
    index: torch.Tensor,
    rotation: torch.Tensor,
    scale: torch.Tensor,
    offset: torch.Tensor,
    h: int,
    w: int,
) -> torch.Tensor:
    """Each sample's tile, rotated by ``rotation`` degrees, scaled, shifted and wrapped: (B, H, W)."""
    tiles = tex.tiles[index]  # (B, T, T)
    t = tiles.shape[-1]
    ang = rotation.to(torch.float32) * (math.pi / 180.0)
    c, s = torch.cos(ang) / scale, torch.sin(ang) / scale
    yy = torch.arange(h, device=tiles.device, dtype=torch.float32).view(1, h, 1) - h / 2.0
    xx = torch.arange(w, device=tiles.device, dtype=torch.float32).view(1, 1, w) - w / 2.0
    c, s = c.view(-1, 1, 1), s.view(-1, 1, 1)
    tx = c * xx + s * yy + offset[:, 0].view(-1, 1, 1) * t
    ty = -s * xx + c * yy + offset[:, 1].view(-1, 1, 1) * t
    tx = torch.remainder(tx, t)
    ty = torch.remainder(ty, t)
    grid = torch.stack([(tx + 0.5) / t * 2.0 - 1.0, (ty + 0.5) / t * 2.0 - 1.0], dim=-1)
    out = F.grid_sample(tiles[:, None], grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out[:, 0]


def spare_soft_tissue(hu: torch.Tensor) -> torch.Tensor:
    """Weight of a pattern on each pixel: 1 on parenchyma, falling to 0 over 200 HU above -500 HU.

    The torch twin of the sparing in :func:`ssc_core.imaging.textures.apply_pattern` (vessels, fissures and
    the chest wall keep their density, so vessels stay visible through ground glass).
    """
    return ((_SPARE_FULL_BELOW_HU + 200.0 - hu) / 200.0).clamp(0.0, 1.0)


def synthesise(
    hu: torch.Tensor,
    lung: torch.Tensor,
    params: SynthesisParams,
    bank: TextureBank,
    config: SynthesisConfig = SynthesisConfig(),
) -> Synthesised:
    """Insert GG and RET into healthy slices ``hu`` (B, H, W, HU) with lung masks ``lung`` (B, H, W).

    Returns the new slices and their labels: GG = |GG ellipses & lung| / |lung|, RET likewise, TOT = |(GG |
    RET) & lung| / |lung|, in percent. Runs on the device of ``hu``.
    """
    dev = hu.device
    b, h, w = hu.shape
    if len(params) != b:
        raise ValueError(f"{len(params)} parameter sets for {b} slices")
    lung = lung.to(dev, torch.bool)
    px_scale = h / float(config.reference_size)
    arr = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dev) for k, v in params.arrays.items()}
    base = hu.to(torch.float32)
    weights = {}
    masks = {}
    for name in ("gg", "ret"):
        ell = _ellipses(
            lung,
            arr[f"{name}_count"],
            arr[f"{name}_centre_u"],
            arr[f"{name}_axes"],
            arr[f"{name}_angle"],
            px_scale,
        )
        masks[name] = ell & lung
        weights[name] = _gaussian_blur(ell.to(torch.float32), config.fade_sigma_px * px_scale) * lung
    n_lung = lung.reshape(b, -1).sum(dim=1).clamp(min=1).to(torch.float32)
    gg_area = masks["gg"].reshape(b, -1).sum(dim=1).to(torch.float32)
    ret_area = masks["ret"].reshape(b, -1).sum(dim=1).to(torch.float32)
    tot_area = (masks["gg"] | masks["ret"]).reshape(b, -1).sum(dim=1).to(torch.float32)
    labels = torch.stack([tot_area, gg_area, ret_area], dim=1) * (100.0 / n_lung[:, None])

    out = base
    spare = spare_soft_tissue(base)
    added = torch.zeros_like(base)
    for name, tex in (("gg", bank.gg), ("ret", bank.ret)):
        texture = _sample_texture(
            tex,
            arr[f"{name}_texture"],
            arr[f"{name}_tex_rotation"],
            arr[f"{name}_tex_scale"],
            arr[f"{name}_tex_offset"],
            h,
            w,
        )
        wgt = weights[name]
        if tex.mode == "add":
            added = added + wgt * texture
        else:
            out = out * (1.0 - wgt) + texture * wgt
    out = out + spare * added
    return Synthesised(out, labels, masks["gg"], masks["ret"])
